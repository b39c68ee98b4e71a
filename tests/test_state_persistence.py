"""bot.app.StatePersistence: a damaged conversation state file is set aside; writes are atomic (issue 13, #7)."""

from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path

import pytest
from telegram.ext import ExtBot

from bot.app import StatePersistence


def _persistence(path: Path) -> StatePersistence:
    persistence = StatePersistence(filepath=path, update_interval=5)
    persistence.set_bot(ExtBot("123456:TEST-token"))
    return persistence


async def _good_file(path: Path) -> bytes:
    writer = _persistence(path)
    await writer.update_conversation("report", (42,), 3)
    await writer.update_user_data(42, {"lang": "zh"})
    await writer.flush()
    return path.read_bytes()


@pytest.mark.parametrize("damage", ["garbage", "empty", "truncated", "not_a_dict"])
async def test_a_damaged_state_file_is_moved_aside_with_one_warning(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "rectbot.db.state"
    good = await _good_file(path)
    path.write_bytes({"garbage": b"\x00\xffnot a pickle at all" * 10, "empty": b"", "truncated": good[: len(good) // 2],
                      "not_a_dict": pickle.dumps([1, 2, 3])}[damage])
    damaged = path.read_bytes()
    with caplog.at_level(logging.WARNING):
        persistence = _persistence(path)
        assert await persistence.get_conversations("report") == {}
        assert await persistence.get_user_data() == {}
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "damaged" in warnings[0].getMessage()
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("rectbot.db.state.damaged-")]
    assert len(aside) == 1 and aside[0].read_bytes() == damaged
    assert not path.exists()
    await persistence.update_conversation("report", (7,), 1)
    await persistence.flush()
    assert await _persistence(path).get_conversations("report") == {(7,): 1}  # a good file again


async def test_a_failed_write_leaves_the_previous_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "rectbot.db.state"
    good = await _good_file(path)
    persistence = _persistence(path)
    await persistence.get_conversations("report")

    def crash(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        await persistence.update_conversation("report", (43,), 5)  # PTB writes on every change
    monkeypatch.undo()
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rectbot.db.state"]  # no temporary file left
