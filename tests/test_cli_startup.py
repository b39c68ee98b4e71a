"""Start-up refusals through the real `rectbot` process: one stderr line, exit 2, never a traceback.

Issue 13: a read-only database (finding 6) and a zero-length one (finding 11). Read-only is made
with `chattr +i` because the tests run as root, who ignores permission bits.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.immutable import immutable

ROOT = Path(__file__).resolve().parents[1]


def _install(tmp_path: Path) -> tuple[Path, Path]:
    """A config with a token (so `run` gets as far as the storage checks) and its database path."""
    data = tmp_path / "data"
    data.mkdir()
    database = data / "rectbot.db"
    config = tmp_path / "rectbot.toml"
    config.write_text(
        f'[telegram]\ntoken = "123456:TEST-token"\napi_url = "http://127.0.0.1:9"\n'
        f'[storage]\ndatabase = "{database}"\nfiles = "{tmp_path / "files"}"\n',
        encoding="utf-8",
    )
    return config, database


def rectbot(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECTBOT_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "bot", "--config", str(config), *args], cwd=config.parent,
                          env=env, capture_output=True, text=True, timeout=60)


def assert_one_line_refusal(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def _checkpointed(database: Path) -> None:
    """Fold the WAL into the file and remove it, as a clean shutdown leaves things."""
    conn = sqlite3.connect(database)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)


@pytest.mark.parametrize("command", [("department", "add", "县民政局"), ("invite", "--role", "supervisor"),
                                     ("department", "list"), ("run",)])
def test_an_immutable_database_is_refused_in_one_line(tmp_path: Path, command: tuple[str, ...]) -> None:
    config, database = _install(tmp_path)
    assert rectbot(config, "department", "add", "县教育局").returncode == 0
    _checkpointed(database)
    before = database.read_bytes()
    with immutable(database):
        result = rectbot(config, *command)
    assert_one_line_refusal(result, str(database), "只读")
    assert database.read_bytes() == before


def test_a_read_only_database_folder_is_refused_in_one_line(tmp_path: Path) -> None:
    config, database = _install(tmp_path)
    assert rectbot(config, "department", "add", "县教育局").returncode == 0
    _checkpointed(database)
    with immutable(database.parent):
        result = rectbot(config, "run")
    assert_one_line_refusal(result, str(database), "只读")


@pytest.mark.parametrize("command", [("run",), ("department", "list"), ("deadline", "2026-03-05", "2m")])
def test_a_zero_length_database_is_refused_naming_the_file(tmp_path: Path, command: tuple[str, ...]) -> None:
    config, database = _install(tmp_path)
    database.write_bytes(b"")
    result = rectbot(config, *command)
    assert_one_line_refusal(result, str(database), "0 字节")
    assert database.read_bytes() == b""
    assert sorted(p.name for p in database.parent.iterdir()) == ["rectbot.db"]


def test_a_missing_database_is_still_created(tmp_path: Path) -> None:
    config, database = _install(tmp_path)
    result = rectbot(config, "department", "list")
    assert result.returncode == 0, result.stderr
    assert database.stat().st_size > 0
