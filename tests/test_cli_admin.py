"""The administrator's command line: departments, invitations, backups, migrations."""

from __future__ import annotations

import os
import sqlite3
import stat
from datetime import datetime
from pathlib import Path

import pytest

from bot.cli import main


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for key in [k for k in __import__("os").environ if k.startswith("RECTBOT_")]:
        monkeypatch.delenv(key)
    path = tmp_path / "rectbot.toml"
    path.write_text(f'[storage]\ndatabase = "{tmp_path / "r.db"}"\n', encoding="utf-8")
    return path


def run(cfg: Path, *args: str) -> int:
    return main(["--config", str(cfg), *args])


def test_department_and_invitation_flow(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(cfg, "department", "add", "县教育局") == 0
    assert run(cfg, "department", "add", "县教育局") == 2
    assert "已存在" in capsys.readouterr().err
    assert run(cfg, "department", "list") == 0
    assert capsys.readouterr().out.strip() == "县教育局"

    assert run(cfg, "invite", "--role", "liaison", "--department", "县教育局") == 0
    out = capsys.readouterr().out.strip().splitlines()
    code = out[-1]
    assert len(code) == 11 and code[5] == "-" and code.isascii() and "县教育局" in out[0]

    assert run(cfg, "invite", "--role", "liaison", "--department", "教育") == 2
    err = capsys.readouterr().err
    assert "县教育局" in err and "没有名为" in err
    assert run(cfg, "invite", "--role", "supervisor") == 0
    capsys.readouterr()

    db = sqlite3.connect(cfg.parent / "r.db")
    assert db.execute("SELECT count(*) FROM invitations").fetchone() == (2,)
    hashes = [r[0] for r in db.execute("SELECT code_hash FROM invitations")]
    assert code not in hashes
    assert db.execute("SELECT count(*) FROM audit_log WHERE action = 'invitation.create'").fetchone() == (2,)
    db.close()


def test_invite_needs_department_for_liaisons(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(cfg, "invite", "--role", "liaison") == 2
    assert "部门" in capsys.readouterr().err


def test_backup_and_upgrade(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(cfg, "department", "add", "县民政局") == 0
    target = cfg.parent / "backup" / "copy.db"
    assert run(cfg, "backup", str(target)) == 0
    assert "integrity_check: ok" in capsys.readouterr().out
    copy = sqlite3.connect(target)
    assert copy.execute("SELECT name FROM departments").fetchall() == [("县民政局",)]
    copy.close()
    assert run(cfg, "backup", str(cfg.parent / "r.db")) == 2
    assert run(cfg, "db", "upgrade") == 0
    assert "结构版本" in capsys.readouterr().out


def test_usage_errors_exit_2(cfg: Path) -> None:
    with pytest.raises(SystemExit) as info:
        run(cfg, "invite", "--role", "emperor")
    assert info.value.code == 2


# --- issue 13, finding 9: number arguments are validated -------------------------------------------

@pytest.mark.parametrize("days", ["0", "-3", "366", "100000000", "seven"])
def test_invite_days_out_of_range_is_a_usage_error(cfg: Path, days: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run(cfg, "invite", "--role", "supervisor", "--days", days)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--days" in err and ("1 到 365" in err or "整数" in err)
    assert not (cfg.parent / "r.db").exists() or sqlite3.connect(cfg.parent / "r.db").execute(
        "SELECT count(*) FROM invitations").fetchone() == (0,)


def test_invite_days_is_honoured_at_the_bounds(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for days in ("1", "365"):
        assert run(cfg, "invite", "--role", "supervisor", "--days", days) == 0
    capsys.readouterr()
    db = sqlite3.connect(cfg.parent / "r.db")
    spans = [round((datetime.fromisoformat(e) - datetime.fromisoformat(c)).total_seconds() / 86400)
             for c, e in db.execute("SELECT created_at, expires_at FROM invitations ORDER BY id")]
    db.close()
    assert spans == [1, 365]


# --- finding 10: backup never deletes what is at the target ----------------------------------------

def test_backup_refuses_existing_targets_and_force_replaces_only_regular_files(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(cfg, "department", "add", "县民政局") == 0
    old = cfg.parent / "old.db"
    old.write_bytes(b"last week's backup")
    assert run(cfg, "backup", str(old)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "已存在" in err and "--force" in err
    assert old.read_bytes() == b"last week's backup"

    assert run(cfg, "backup", str(old), "--force") == 0
    assert "integrity_check: ok" in capsys.readouterr().out
    copy = sqlite3.connect(old)
    assert copy.execute("SELECT name FROM departments").fetchall() == [("县民政局",)]
    copy.close()

    node = cfg.parent / "node"
    os.mkfifo(node)  # stands in for the device node of the report: anything that is not a regular file
    assert run(cfg, "backup", str(node), "--force") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "不是普通文件" in err
    assert stat.S_ISFIFO(node.lstat().st_mode)
    assert not [p.name for p in cfg.parent.iterdir() if p.name.endswith(".tmp")]
