"""Telegram's documented flood limits, as a pure, clock-injectable checker.

The rule (all windows are sliding, measured with ``time.monotonic`` when the
sandbox processes the request, and only *accepted* sends are remembered, so a
bot that honours ``retry_after`` always gets through on its retry):

* private chat: a send violates if the previous accepted send to the same chat
  was less than ``1.0 - 0.05`` s ago (1 message/s, 50 ms jitter tolerance);
* group chat (negative chat id): a send violates if 20 accepted sends to that
  chat happened within the last ``60 - 0.05`` s (20 messages/minute);
* whole bot: a send violates if 30 accepted sends (any chat) happened within
  the last ``1.0 - 0.05`` s (30 messages/s).

The chat-level rule is checked before the bot-wide one; one rejected request
counts as exactly one violation, of the first kind that failed.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

__all__ = ["GLOBAL", "GROUP", "PRIVATE", "FloodLimiter", "FloodVerdict"]

PRIVATE = "private_chat"
GROUP = "group_chat"
GLOBAL = "global"

TOLERANCE = 0.05
PRIVATE_INTERVAL = 1.0
GLOBAL_LIMIT, GLOBAL_WINDOW = 30, 1.0
GROUP_LIMIT, GROUP_WINDOW = 20, 60.0


@dataclass(frozen=True)
class FloodVerdict:
    """Why a send was refused and what Telegram would put in ``retry_after``."""

    kind: str
    retry_after: int


class FloodLimiter:
    """Remembers accepted send times; not thread-safe (the sandbox holds its lock)."""

    def __init__(self) -> None:
        self._last_private: dict[int, float] = {}
        self._group: dict[int, deque[float]] = {}
        self._global: deque[float] = deque()

    @staticmethod
    def _retry(seconds: float) -> int:
        return max(1, math.ceil(seconds))

    def check(self, chat_id: int, now: float) -> FloodVerdict | None:
        """Return a verdict if a send to ``chat_id`` at ``now`` breaks a limit."""
        if chat_id < 0:
            times = self._group.get(chat_id, deque())
            while times and now - times[0] >= GROUP_WINDOW - TOLERANCE:
                times.popleft()
            if len(times) >= GROUP_LIMIT:
                return FloodVerdict(GROUP, self._retry(times[0] + GROUP_WINDOW - now))
        else:
            last = self._last_private.get(chat_id)
            if last is not None and now - last < PRIVATE_INTERVAL - TOLERANCE:
                return FloodVerdict(PRIVATE, self._retry(last + PRIVATE_INTERVAL - now))
        while self._global and now - self._global[0] >= GLOBAL_WINDOW - TOLERANCE:
            self._global.popleft()
        if len(self._global) >= GLOBAL_LIMIT:
            return FloodVerdict(GLOBAL, self._retry(self._global[0] + GLOBAL_WINDOW - now))
        return None

    def record(self, chat_id: int, now: float) -> None:
        """Remember an accepted (stored) send."""
        if chat_id < 0:
            self._group.setdefault(chat_id, deque()).append(now)
        else:
            self._last_private[chat_id] = now
        self._global.append(now)

    def reset(self) -> None:
        """Forget all history (e.g. between tests sharing one server)."""
        self._last_private.clear()
        self._group.clear()
        self._global.clear()
