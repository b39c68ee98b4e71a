"""Issue 13, finding 11: ledger uploads waiting for 导入/取消 do not pile up on the server."""

from __future__ import annotations

import os
import time
from pathlib import Path

from bot.ledger import PENDING_IMPORT_MAX_AGE, pending_import_path, purge_stale_imports


def test_uploads_older_than_a_day_are_purged_and_fresh_ones_kept(tmp_path: Path) -> None:
    now = time.time()
    old = pending_import_path(tmp_path, "aaaa", "台账.XLSX")
    fresh = pending_import_path(tmp_path, "bbbb", "ledger.csv")
    old.parent.mkdir(parents=True)
    for path in (old, fresh):
        path.write_bytes(b"PK")
    day = PENDING_IMPORT_MAX_AGE.total_seconds()
    os.utime(old, (now - day - 60, now - day - 60))
    os.utime(fresh, (now - day + 60, now - day + 60))
    assert old.name == "aaaa.xlsx" and old.parent == tmp_path / "imports"
    assert purge_stale_imports(tmp_path, now=now) == 1
    assert not old.exists() and fresh.exists()
    assert purge_stale_imports(tmp_path, now=now) == 0


def test_no_imports_folder_is_nothing_to_purge(tmp_path: Path) -> None:
    assert purge_stale_imports(tmp_path / "missing", now=time.time()) == 0
