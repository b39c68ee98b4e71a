"""One clock passed everywhere, so tests and demos can run on simulated time."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware UTC datetime."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class OffsetClock:
    """Real time shifted so that it started at `start`; time keeps flowing (for e2e tests and demos)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._offset = start.astimezone(UTC) - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset


class FileClock:
    """Simulated time another process moves forward without a restart (`testing.clock_file`, for the demo).

    The file holds one line, `<aware ISO instant> <time.time() when written>`: now is that instant plus
    the real time since. Re-read only when the file's mtime changes; a missing or half-written file
    keeps the last reading (or `start`). Write it with `write_clock_file`, and only ever forward.
    """

    def __init__(self, path: Path, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._path = path
        self._stamp = -1
        self._offset = start.astimezone(UTC) - datetime.now(UTC)

    def now(self) -> datetime:
        try:
            stamp = self._path.stat().st_mtime_ns
            if stamp != self._stamp:
                instant, written = self._path.read_text(encoding="utf-8").split()
                at = datetime.fromisoformat(instant)
                if at.tzinfo is None:
                    raise ValueError(instant)
                self._offset = at.astimezone(UTC) - datetime.fromtimestamp(float(written), UTC)
                self._stamp = stamp
        except (OSError, ValueError):
            pass
        return datetime.now(UTC) + self._offset


def write_clock_file(path: Path, instant: datetime) -> None:
    """Set a `FileClock` to `instant` from now on (written beside, then renamed: never read half-written)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{instant.isoformat()} {time.time()!r}\n", encoding="utf-8")
    os.replace(tmp, path)


def clock_for(clock_start: str | None, clock_file: str | None = None) -> Clock:
    """The clock `testing.clock_start` / `testing.clock_file` ask for; the system clock without them.

    The bot, the CLI and the demo all build theirs here, so an imported case is planned on the same
    simulated time the bot then sweeps on.
    """
    start = datetime.fromisoformat(clock_start) if clock_start else None
    if clock_file:
        return FileClock(Path(clock_file), start or datetime.now(UTC))
    if start is not None:
        return OffsetClock(start)
    return SystemClock()


class FakeClock:
    """Stands still until moved; for unit tests of time-dependent policy."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self._now += delta


def monotonic() -> float:
    return time.monotonic()


def iso(dt: datetime) -> str:
    """How timestamps are stored: UTC, ISO 8601, second precision."""
    return dt.astimezone(UTC).isoformat(timespec="seconds")
