"""The administrator's command line: departments, invitations, backups, migrations."""

from __future__ import annotations

import sqlite3
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
    assert len(code) >= 12 and code.isascii() and "县教育局" in out[0]

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
