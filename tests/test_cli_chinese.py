"""The CLI speaks Chinese throughout: --help, usage, argparse errors, file errors (issue 10, item 8)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli.common import argparse_error_text, file_error
from bot.cli.entry import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
ENGLISH = re.compile(r"usage:|positional arguments|options:|show this help|the following arguments|invalid choice|"
                     r"unrecognized arguments|No such file|Permission denied|Traceback")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("RECTBOT_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("args", [["--help"], ["deadline", "--help"], ["invite", "--help"], ["calendar", "--help"]])
def test_help_is_chinese(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(args)
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("用法：rectbot") and "显示本帮助并退出" in out
    assert not ENGLISH.search(out), out


def test_deadline_help_names_its_arguments_in_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["deadline", "--help"])
    out = capsys.readouterr().out
    assert "起算日 期限" in out and "计算期限" in out and "参数" in out and "选项" in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["deadline"], "rectbot deadline：缺少必填参数：起算日、期限（用法见：rectbot deadline --help）"),
        (["deadline", "明天"], "缺少必填参数：期限"),
        (["invite", "--role", "boss"], "--role：boss 不是允许的取值，可选：admin、supervisor、liaison"),
        (["frob"], "frob 不是允许的取值"),
        (["deadline", "明天", "2个月", "--bogus"], "无法识别的参数：--bogus"),
        (["calendar", "show", "明年"], "年份：不是有效的年份：明年"),
        (["invite", "--role"], "--role 后面需要填写一个值"),
    ],
)
def test_usage_errors_are_one_chinese_line(capsys: pytest.CaptureFixture[str], args: list[str],
                                           expected: str) -> None:
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(args)
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1, err
    assert not ENGLISH.search(err), err


def test_unknown_argparse_messages_pass_through() -> None:
    assert argparse_error_text("something new") == "something new"


def test_file_errors_are_chinese(tmp_path: Path) -> None:
    assert file_error(FileNotFoundError(2, "No such file or directory", "a.xlsx")) == \
        "无法使用文件 a.xlsx：文件或文件夹不存在"
    assert "没有访问权限" in file_error(PermissionError(13, "Permission denied", "b.toml"))
    missing = run("--config", str(tmp_path / "nope.toml"), "config", cwd=tmp_path)
    assert missing.returncode == 2 and "找不到配置文件" in missing.stderr and not ENGLISH.search(missing.stderr)
    imported = run("import", str(tmp_path / "nope.xlsx"), cwd=tmp_path)
    assert imported.returncode == 2 and "文件或文件夹不存在" in imported.stderr, imported.stderr
    assert not ENGLISH.search(imported.stderr)


def test_main_turns_a_stray_os_error_into_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)

    def boom(*_args: object) -> int:
        raise IsADirectoryError(21, "Is a directory", "x")

    monkeypatch.setattr("bot.cli.entry.load_settings", lambda _config: None)
    parser = build_parser()
    monkeypatch.setattr("bot.cli.entry.build_parser", lambda: parser)
    args = parser.parse_args(["config"])
    monkeypatch.setattr(parser, "parse_args", lambda _argv=None: args)
    args.func = boom
    assert main([]) == 2
    assert capsys.readouterr().err.strip() == "无法使用文件 x：这是一个文件夹，不是文件"


def test_deadline_says_beijing_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["deadline", "2026-03-05", "2个月"]) == 0
    out = capsys.readouterr().out
    assert "（北京时间）" in out and "Asia/Shanghai" not in out
