"""Records the sandbox keeps about what users and the bot did.

Objects handed to tests are *live*: a :class:`SentMessage` returned by a wait
helper later reflects edits and deletion, so a test can hold on to it.
"""

from __future__ import annotations

import random
import struct
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ApiCall",
    "CallbackAnswer",
    "CallbackQueryRecord",
    "CommandsCall",
    "Fault",
    "FloodViolations",
    "GroupInfo",
    "MessageEdit",
    "RandomFaults",
    "SentMessage",
    "StoredFile",
    "UserInfo",
    "image_size",
]

FAULT_KINDS = frozenset({"400", "403", "429", "500", "502", "slow", "disconnect"})


@dataclass
class StoredFile:
    """A file known to the sandbox, uploaded by a user or by the bot."""

    file_id: str
    file_unique_id: str
    data: bytes
    kind: str  # "document" | "photo" | "voice"
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None
    width: int = 0
    height: int = 0
    duration: int = 0

    @property
    def file_size(self) -> int:
        """Size in bytes, as Telegram reports it."""
        return len(self.data)

    def file_dict(self) -> dict[str, Any]:
        """The ``File`` object of ``getFile``."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
            "file_path": self.file_path,
        }

    def media_dict(self) -> dict[str, Any]:
        """The ``Document`` / ``PhotoSize`` / ``Voice`` object inside a Message."""
        d: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
        }
        if self.kind == "photo":
            d.update(width=self.width, height=self.height)
        elif self.kind == "voice":
            d.update(duration=self.duration, mime_type=self.mime_type or "audio/ogg")
        else:
            if self.file_name is not None:
                d["file_name"] = self.file_name
            if self.mime_type is not None:
                d["mime_type"] = self.mime_type
        return d


@dataclass
class MessageEdit:
    """One successful edit (``editMessageText`` / ``editMessageReplyMarkup``)."""

    method: str
    text: str | None
    caption: str | None
    reply_markup: dict[str, Any] | None
    at: float = field(default_factory=time.time)


@dataclass
class SentMessage:
    """A message in a chat: sent by the bot (``from_bot``) or by a sandbox user."""

    chat_id: int
    message_id: int
    date: int
    from_bot: bool
    sender_id: int
    method: str  # "sendMessage", "sendDocument", ... or "user" for user messages
    text: str | None = None  # as displayed: markup parsed away, like Telegram
    source_text: str | None = None  # exactly what the bot sent
    parse_mode: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    reply_to_message_id: int | None = None
    document: StoredFile | None = None
    photo: StoredFile | None = None
    voice: StoredFile | None = None
    original_text: str | None = field(default=None, repr=False)
    edits: list[MessageEdit] = field(default_factory=list)
    edit_date: int | None = None
    deleted: bool = False
    sent_at: float = field(default_factory=time.monotonic)
    consumed: bool = field(default=False, repr=False)

    @property
    def button_rows(self) -> list[list[tuple[str, str | None]]]:
        """Inline keyboard as rows of ``(text, callback_data)`` (``None`` for URL buttons)."""
        markup = self.reply_markup or {}
        rows = markup.get("inline_keyboard") or []
        return [[(str(b.get("text", "")), b.get("callback_data")) for b in row] for row in rows]

    @property
    def buttons(self) -> list[tuple[str, str | None]]:
        """Inline buttons flattened in reading order as ``(text, callback_data)``."""
        return [button for row in self.button_rows for button in row]

    def button_data(self, text: str) -> str:
        """``callback_data`` of the button labelled ``text`` (exact match, else substring)."""
        buttons = self.buttons
        for label, data in buttons:
            if label == text and data is not None:
                return data
        for label, data in buttons:
            if text in label and data is not None:
                return data
        raise KeyError(f"no callback button {text!r} in message {self.message_id}: {buttons}")

    @property
    def reply_keyboard(self) -> list[list[str]]:
        """Texts of a ``ReplyKeyboardMarkup`` (empty if there is none)."""
        rows = (self.reply_markup or {}).get("keyboard") or []
        return [[b if isinstance(b, str) else str(b.get("text", "")) for b in row] for row in rows]

    @property
    def content(self) -> str:
        """Text or caption, whichever the message has (``""`` if neither)."""
        return self.text if self.text is not None else (self.caption or "")

    @property
    def text_history(self) -> list[str | None]:
        """The original text followed by the text after each edit."""
        return [self.original_text, *[e.text for e in self.edits]]

    @property
    def file(self) -> StoredFile | None:
        """The document, photo or voice attached, if any."""
        return self.document or self.photo or self.voice

    @property
    def document_bytes(self) -> bytes:
        """Bytes of the attached file; raises if the message has none."""
        f = self.file
        if f is None:
            raise ValueError(f"message {self.message_id} has no file")
        return f.data


@dataclass
class CallbackAnswer:
    """Arguments of one ``answerCallbackQuery`` call."""

    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int
    at: float = field(default_factory=time.time)


@dataclass
class CallbackQueryRecord:
    """A button press made through the sandbox, and the bot's answer if any."""

    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str | None
    answer: CallbackAnswer | None = None


@dataclass
class CommandsCall:
    """One ``setMyCommands`` / ``deleteMyCommands`` call."""

    method: str
    commands: list[dict[str, str]]
    scope: dict[str, Any]
    language_code: str
    at: float = field(default_factory=time.time)


@dataclass
class ApiCall:
    """One request the bot made, with the HTTP status it got."""

    method: str
    params: dict[str, Any]
    status: int = 0
    at: float = field(default_factory=time.time)


@dataclass
class Fault:
    """An injected failure; ``times=None`` means until :meth:`clear_faults`."""

    method: str  # lower-case method name or "*"
    kind: str
    times: int | None = 1
    chat_id: int | None = None
    retry_after: int = 5
    delay: float = 1.0
    description: str | None = None
    hits: int = 0

    def matches(self, method: str, chat_id: int | None) -> bool:
        """Whether this fault applies to a call of ``method`` for ``chat_id``."""
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method not in ("*", method.lower()):
            return False
        return self.chat_id is None or self.chat_id == chat_id

    @property
    def exhausted(self) -> bool:
        """True once it fired ``times`` times."""
        return self.times is not None and self.hits >= self.times


@dataclass
class RandomFaults:
    """Seeded probabilistic faults: every matching call draws once and meets at most one kind.

    ``rates`` maps a fault kind to its probability per call (they must sum to at most 1);
    ``retry_after`` is the inclusive range a 429's ``retry_after`` is drawn from. The draws come
    from ``random.Random(seed)``, so a run is reproducible as far as the order of calls is.
    """

    method: str  # lower-case method name or "*"
    rates: dict[str, float]
    seed: int
    chat_ids: frozenset[int] | None = None
    retry_after: tuple[int, int] = (5, 5)
    delay: float = 1.0
    description: str | None = None
    calls: int = 0
    hits: dict[str, int] = field(default_factory=dict)
    met: list[tuple[str, int | None]] = field(default_factory=list)  # (kind, chat id) per fault, in order
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def draw(self, method: str, chat_id: int | None) -> Fault | None:
        """The fault this call meets (a one-shot :class:`Fault`), or ``None``; counts the call."""
        if self.method not in ("*", method.lower()):
            return None
        if self.chat_ids is not None and chat_id not in self.chat_ids:
            return None
        self.calls += 1
        roll = self.rng.random()
        for kind, rate in self.rates.items():
            if roll < rate:
                self.hits[kind] = self.hits.get(kind, 0) + 1
                self.met.append((kind, chat_id))
                retry_after = self.rng.randint(*self.retry_after)
                return Fault(self.method, kind, 1, chat_id, retry_after, self.delay, self.description, hits=1)
            roll -= rate
        return None


@dataclass(frozen=True)
class FloodViolations:
    """Snapshot of flood-limit violations (``by_kind`` keys: see :mod:`.flood`)."""

    total: int
    by_kind: dict[str, int]
    by_chat: dict[int, int]


def image_size(data: bytes) -> tuple[int, int]:
    """Width/height from PNG, GIF or JPEG headers; ``(1, 1)`` if unknown.

    Telegram reports photo dimensions; parsing headers avoids an imaging
    dependency while keeping PhotoSize objects realistic.
    """
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return int(w), int(h)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        w, h = struct.unpack("<HH", data[6:10])
        return int(w), int(h)
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            seg_len = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(w), int(h)
            i += 2 + seg_len
    return 1, 1


@dataclass
class UserInfo:
    """A Telegram user simulated by the sandbox."""

    id: int
    first_name: str
    username: str | None = None
    last_name: str | None = None
    language_code: str | None = None

    def user_dict(self) -> dict[str, Any]:
        """The ``User`` object Telegram embeds in updates."""
        d: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            d["last_name"] = self.last_name
        if self.username:
            d["username"] = self.username
        if self.language_code:
            d["language_code"] = self.language_code
        return d

    def chat_dict(self) -> dict[str, Any]:
        """The private ``Chat`` with this user (chat id == user id)."""
        d: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            d["last_name"] = self.last_name
        if self.username:
            d["username"] = self.username
        return d


@dataclass
class GroupInfo:
    """A group chat (negative id) the bot is a member of."""

    id: int
    title: str
    type: str = "group"  # or "supergroup"
    member_ids: set[int] = field(default_factory=set)

    def chat_dict(self) -> dict[str, Any]:
        """The group ``Chat`` object."""
        return {"id": self.id, "type": self.type, "title": self.title}
