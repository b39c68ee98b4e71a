from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.errors import StartupError
from bot.i18n import translator_for_locale
from bot.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
ZH = translator_for_locale("zh_CN")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rectbot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_file_and_environment_layering(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write(tmp_path, '[telegram]\ntoken = "1:SECRET-TOKEN-XYZ"\n[reminders]\nsweep_seconds = 30\n')
    monkeypatch.setenv("RECTBOT_REMINDERS__SWEEP_SECONDS", "5")
    monkeypatch.setenv("RECTBOT_BUREAU__ADMINS", "11, 22")
    monkeypatch.setenv("RECTBOT_TELEGRAM__API_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("RECTBOT_STORAGE__DATABASE", str(tmp_path / "x.db"))
    s = load_settings(cfg)
    assert s.reminders.sweep_seconds == 5  # environment beats the file
    assert s.bureau.admins == [11, 22]
    assert s.telegram.base_url == "http://127.0.0.1:9/bot"
    assert s.telegram.base_file_url == "http://127.0.0.1:9/file/bot"
    assert s.storage.database == tmp_path / "x.db"
    assert s.bureau.name == "海盐县财政局" and s.bureau.timezone == "Asia/Shanghai"
    assert s.reminders.before_due_working_days == [10, 3, 1, 0]
    assert s.escalation.levels == [1, 10] and s.escalation.digest_time == "08:30"
    masked = s.masked()
    assert "SECRET-TOKEN" not in str(masked) and masked["telegram"]["token"].startswith("****")


def test_json_list_in_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECTBOT_ESCALATION__LEVELS", "[2, 5]")
    assert load_settings(write(tmp_path, "")).escalation.levels == [2, 5]


@pytest.mark.parametrize(
    ("toml", "env", "needle"),
    [
        ("[reminders]\nsweep_seconds = \"abc\"\n", {}, "reminders.sweep_seconds"),
        ("", {"RECTBOT_REMINDERS__SWEEP_SECONDS": "abc"}, "reminders.sweep_seconds"),
        ("[reminders]\nsend_window = \"17:00-09:00\"\n", {}, "reminders.send_window"),
        ("[escalation]\ndigest_time = \"25:00\"\n", {}, "escalation.digest_time"),
        ("[bureau]\ntimezone = \"Mars/Olympus\"\n", {}, "bureau.timezone"),
        ("[telegram]\nmode = \"carrier-pigeon\"\n", {}, "telegram.mode"),
        ("[telegram]\ntokn = \"x\"\n", {}, "telegram.tokn"),
        ("[escalation]\nlevels = [10, 1]\n", {}, "escalation.levels"),
        ("not = [valid\n", {}, "第 1 行"),
    ],
)
def test_bad_settings_name_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, toml: str, env: dict[str, str], needle: str
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(StartupError) as info:
        load_settings(write(tmp_path, toml))
    text = info.value.render(ZH)
    assert needle in text and "\n" not in text


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RECTBOT_")}
    full_env["PYTHONPATH"] = str(ROOT)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=60)


def assert_one_clear_line(result: subprocess.CompletedProcess[str], needle: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert needle in lines[0]


def test_cli_bad_setting_exits_2_with_one_line(tmp_path: Path) -> None:
    result = run_cli("run", cwd=tmp_path, env={"RECTBOT_REMINDERS__SWEEP_SECONDS": "soon"})
    assert_one_clear_line(result, "reminders.sweep_seconds")


def test_cli_missing_token_exits_2(tmp_path: Path) -> None:
    result = run_cli("run", cwd=tmp_path)
    assert_one_clear_line(result, "telegram.token")


def test_cli_corrupt_database_exits_2(tmp_path: Path) -> None:
    db = tmp_path / "rectbot.db"
    db.write_bytes(b"this is not sqlite" * 500)
    before = db.read_bytes()
    result = run_cli("run", cwd=tmp_path, env={"RECTBOT_TELEGRAM__TOKEN": "1:abcdefgh"})
    assert_one_clear_line(result, "已损坏")
    assert db.read_bytes() == before  # nothing touched
    assert "1:abcdefgh" not in result.stderr


def test_cli_unwritable_database_path_exits_2(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli("department", "list", cwd=tmp_path,
                     env={"RECTBOT_STORAGE__DATABASE": str(blocker / "sub" / "rectbot.db")})
    assert_one_clear_line(result, "无法创建数据库所在目录")


def test_cli_unwritable_evidence_folder_exits_2(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli("run", cwd=tmp_path, env={"RECTBOT_TELEGRAM__TOKEN": "1:abcdefgh",
                                               "RECTBOT_STORAGE__FILES": str(blocker / "evidence")})
    assert_one_clear_line(result, "佐证材料目录")


def test_cli_config_masks_token(tmp_path: Path) -> None:
    result = run_cli("config", cwd=tmp_path, env={"RECTBOT_TELEGRAM__TOKEN": "987654:VERY-SECRET-VALUE"})
    assert result.returncode == 0
    assert "VERY-SECRET" not in result.stdout and '"token": "****' in result.stdout
    assert '"name": "海盐县财政局"' in result.stdout


def test_config_file_option_and_missing_file(tmp_path: Path) -> None:
    cfg = write(tmp_path, '[bureau]\nname = "测试县财政局"\n')
    ok = run_cli("--config", str(cfg), "config", cwd=tmp_path)
    assert ok.returncode == 0 and "测试县财政局" in ok.stdout
    # ./rectbot.toml is read when present
    assert "测试县财政局" in run_cli("config", cwd=tmp_path).stdout
    missing = run_cli("--config", str(tmp_path / "nope.toml"), "config", cwd=tmp_path)
    assert_one_clear_line(missing, "找不到配置文件")


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        # a choice lists its values and gives a correct example
        ("[telegram]\nmode = \"carrier-pigeon\"\n",
         "配置项 telegram.mode 有误：不是允许的取值。允许的取值：polling、webhook，例如 mode = \"polling\""),
        # the send window's example is a send window (it was 08:30, a digest time)
        ("[reminders]\nsend_window = \"9-17:30\"\n", "send_window = \"09:00-17:30\""),
        ("[reminders]\nsend_window = \"17:00-09:00\"\n", "send_window = \"09:00-17:30\""),
        ("[escalation]\ndigest_time = \"25:00\"\n", "digest_time = \"08:30\""),
        ("[webhook]\nport = 0\n", "port = 8443"),
        # TOML syntax errors name the line, in Chinese
        ("[telegram]\nmode = polling\n", "第 2 行第 8 列有语法错误：取值无效"),
        ("[telegram]\nmode = \"polling\"\nmode = \"webhook\"\n", "第 3 行"),
    ],
)
def test_bad_settings_say_what_is_allowed(tmp_path: Path, toml: str, expected: str) -> None:
    with pytest.raises(StartupError) as info:
        load_settings(write(tmp_path, toml))
    text = info.value.render(ZH)
    assert expected in text and "\n" not in text
    assert not any(word in text for word in ("Invalid", "expected", "line ", "Input should")), text


def test_unreadable_settings_file_is_one_chinese_line(tmp_path: Path) -> None:
    with pytest.raises(StartupError) as info:
        load_settings(tmp_path)  # a folder
    assert "找不到配置文件" in info.value.render(ZH)
    err = PermissionError(13, "Permission denied", "x.toml")
    from bot.errors import os_error_reason

    assert os_error_reason(err).render(ZH) == "没有访问权限"
