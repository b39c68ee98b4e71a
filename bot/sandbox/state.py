"""Everything the sandbox knows, and the Bot API methods operating on it.

All mutation happens under :attr:`SandboxState.lock` (an ``RLock``) because
the HTTP side runs on the sandbox thread while tests act and read from their
own thread.  Every change notifies :attr:`SandboxState.changed` so synchronous
waiters wake immediately; the HTTP side additionally gets ``on_update`` to
wake long polls on its event loop.
"""

from __future__ import annotations

import itertools
import json
import mimetypes
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from .flood import FloodLimiter
from .formatting import EntityParseError, UnsupportedParseMode, parse_text, utf16_len
from .models import (
    ApiCall,
    CallbackAnswer,
    CallbackQueryRecord,
    CommandsCall,
    Fault,
    FloodViolations,
    GroupInfo,
    MessageEdit,
    RandomFaults,
    SentMessage,
    StoredFile,
    UserInfo,
    image_size,
)
from .params import ApiError, Params, Upload, bad_request

__all__ = ["DEFAULT_ALLOWED_UPDATES", "SandboxState"]

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_DOWNLOAD = 20 * 1024 * 1024
MAX_UPLOAD = 50 * 1024 * 1024
ALL_UPDATE_TYPES = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
)
# Telegram's default when allowed_updates is empty/unset.
DEFAULT_ALLOWED_UPDATES = frozenset(ALL_UPDATE_TYPES) - {
    "chat_member",
    "message_reaction",
    "message_reaction_count",
}
MAX_INLINE_BUTTONS = 100  # Telegram: "reply markup is too long" beyond 100 inline buttons
MAX_INLINE_ROW = 8  # buttons per inline-keyboard row
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)


class SandboxState:
    """The fake Telegram's data plus the implementation of each Bot API method."""

    def __init__(
        self,
        token: str,
        bot_username: str,
        bot_first_name: str,
        extra_tokens: tuple[str, ...] = (),
        enforce_flood: bool = True,
    ) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.token = token
        self.tokens = frozenset((token, *extra_tokens))
        prefix = token.split(":", 1)[0]
        self.bot_id = int(prefix) if prefix.isdigit() else 100000
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.enforce_flood = enforce_flood
        self.on_update: Callable[[], None] | None = None
        self._ids = itertools.count(1)
        # Survives reset(): a running bot's getUpdates offset must keep matching new updates.
        self.next_update_id = 1
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget users, chats, messages, updates, faults and counters."""
        with self.lock:
            self.users: dict[int, UserInfo] = {}
            self.groups: dict[int, GroupInfo] = {}
            self.chat_messages: dict[int, list[SentMessage]] = {}
            self.next_message_id: dict[int, int] = {}
            self.files: dict[str, StoredFile] = {}
            self.files_by_path: dict[str, StoredFile] = {}
            self.updates: list[dict[str, Any]] = []
            self.confirmed_update_id = 0  # highest update_id the bot confirmed via offset
            self.allowed_updates: frozenset[str] = DEFAULT_ALLOWED_UPDATES
            self.callback_queries: dict[str, CallbackQueryRecord] = {}
            self.callback_answers: list[CallbackAnswer] = []
            self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
            self.commands_calls: list[CommandsCall] = []
            self.chat_actions: list[tuple[int, str]] = []
            self.faults: list[Fault] = []
            self.random_faults: list[RandomFaults] = []
            self.blocked: set[int] = set()
            self.flood = FloodLimiter()
            self.violation_kinds: dict[str, int] = {}
            self.violation_chats: dict[int, int] = {}
            self.webhook: dict[str, Any] | None = None
            self.calls: list[ApiCall] = []
            self.poll_generation = 0
            self.poll_count = 0
            self.internal_errors: list[str] = []
            self.bot_settings: dict[tuple[str, str], Any] = {}
            self._touch()

    def _touch(self) -> None:
        self.changed.notify_all()

    def _new_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self.next_update_id, kind: payload}
        self.next_update_id += 1
        self.updates.append(update)
        self._touch()
        if self.on_update is not None:
            self.on_update()
        return update

    def bot_user_dict(self) -> dict[str, Any]:
        """The bot's ``User`` object (``from`` of its messages)."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def chat_dict(self, chat_id: int) -> dict[str, Any]:
        """The ``Chat`` object for a known chat id."""
        if chat_id in self.users:
            return self.users[chat_id].chat_dict()
        if chat_id in self.groups:
            return self.groups[chat_id].chat_dict()
        raise bad_request("chat not found")

    def _alloc_message_id(self, chat_id: int) -> int:
        mid = self.next_message_id.get(chat_id, 1)
        self.next_message_id[chat_id] = mid + 1
        return mid

    def _uid(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}{secrets.token_hex(6)}"

    def store_file(
        self,
        data: bytes,
        kind: str,
        file_name: str | None = None,
        mime_type: str | None = None,
        duration: int = 0,
    ) -> StoredFile:
        """Keep bytes so getFile and the download endpoint can serve them."""
        n = next(self._ids)
        folder = {"document": "documents", "photo": "photos", "voice": "voice"}[kind]
        ext = os.path.splitext(file_name or "")[1]
        if not ext:
            ext = {"photo": ".jpg", "voice": ".oga"}.get(kind) or mimetypes.guess_extension(mime_type or "") or ""
        width, height = image_size(data) if kind == "photo" else (0, 0)
        stored = StoredFile(
            file_id=f"SBX{kind[:3].upper()}{n:06d}{secrets.token_hex(8)}",
            file_unique_id=f"U{n:06d}{secrets.token_hex(3)}",
            data=data,
            kind=kind,
            file_path=f"{folder}/file_{n}{ext}",
            file_name=file_name,
            mime_type=mime_type,
            width=width,
            height=height,
            duration=duration,
        )
        self.files[stored.file_id] = stored
        self.files_by_path[stored.file_path] = stored
        return stored

    def message(self, chat_id: int, message_id: int) -> SentMessage | None:
        """Any stored message (user's or bot's) by id."""
        for m in self.chat_messages.get(chat_id, []):
            if m.message_id == message_id:
                return m
        return None

    def message_dict(self, m: SentMessage, *, with_reply: bool = True) -> dict[str, Any]:
        """The ``Message`` object Telegram would return/deliver for ``m``."""
        sender = self.bot_user_dict() if m.from_bot else self.users[m.sender_id].user_dict()
        d: dict[str, Any] = {
            "message_id": m.message_id,
            "from": sender,
            "chat": self.chat_dict(m.chat_id),
            "date": m.date,
        }
        if m.text is not None:
            d["text"] = m.text
            if m.entities:
                d["entities"] = m.entities
        if m.document is not None:
            d["document"] = m.document.media_dict()
        if m.photo is not None:
            d["photo"] = [m.photo.media_dict()]
        if m.voice is not None:
            d["voice"] = m.voice.media_dict()
        if m.caption is not None:
            d["caption"] = m.caption
            if m.caption_entities:
                d["caption_entities"] = m.caption_entities
        if m.edit_date is not None:
            d["edit_date"] = m.edit_date
        if m.reply_markup and "inline_keyboard" in m.reply_markup:
            d["reply_markup"] = m.reply_markup
        if with_reply and m.reply_to_message_id is not None:
            replied = self.message(m.chat_id, m.reply_to_message_id)
            if replied is not None:
                d["reply_to_message"] = self.message_dict(replied, with_reply=False)
        return d

    def _append(self, m: SentMessage) -> None:
        self.chat_messages.setdefault(m.chat_id, []).append(m)
        self._touch()

    # ----------------------------------------------------------- user actions
    def user_message(
        self,
        user_id: int,
        chat_id: int | None,
        *,
        text: str | None = None,
        entities: list[dict[str, Any]] | None = None,
        caption: str | None = None,
        reply_to: int | None = None,
        document: StoredFile | None = None,
        photo: StoredFile | None = None,
        voice: StoredFile | None = None,
    ) -> dict[str, Any]:
        """Store a user's message and queue the ``message`` update; returns the Message."""
        with self.lock:
            if user_id not in self.users:
                raise KeyError(f"unknown sandbox user {user_id}; create_user() first")
            chat = user_id if chat_id is None else chat_id
            if chat < 0:
                group = self.groups.get(chat)
                if group is None:
                    raise KeyError(f"unknown sandbox group {chat}; create_group() first")
                group.member_ids.add(user_id)
            if reply_to is not None and self.message(chat, reply_to) is None:
                raise KeyError(f"no message {reply_to} in chat {chat} to reply to")
            m = SentMessage(
                chat_id=chat,
                message_id=self._alloc_message_id(chat),
                date=int(time.time()),
                from_bot=False,
                sender_id=user_id,
                method="user",
                text=text,
                source_text=text,
                original_text=text,
                entities=list(entities or []),
                caption=caption,
                reply_to_message_id=reply_to,
                document=document,
                photo=photo,
                voice=voice,
                consumed=True,
            )
            self._append(m)
            payload = self.message_dict(m)
            self._new_update("message", payload)
            return payload

    def press_button(self, user_id: int, chat_id: int, message_id: int, data: str | None) -> str:
        """Queue a ``callback_query`` update for a press on a bot message."""
        with self.lock:
            user = self.users.get(user_id)
            if user is None:
                raise KeyError(f"unknown sandbox user {user_id}")
            m = self.message(chat_id, message_id)
            if m is None or not m.from_bot:
                raise KeyError(f"no bot message {message_id} in chat {chat_id}")
            query_id = str(next(self._ids) * 1_000_003 + secrets.randbelow(1000))
            self.callback_queries[query_id] = CallbackQueryRecord(query_id, user_id, chat_id, message_id, data)
            payload: dict[str, Any] = {
                "id": query_id,
                "from": user.user_dict(),
                "message": self.message_dict(m),
                "chat_instance": str(abs(chat_id) * 7 + self.bot_id),
            }
            if data is not None:
                payload["data"] = data
            self._new_update("callback_query", payload)
            return query_id

    def member_status_update(self, user_id: int, old: str, new: str) -> None:
        """Queue ``my_chat_member`` (user blocked/unblocked the bot in private)."""
        with self.lock:
            user = self.users[user_id]
            bot = self.bot_user_dict()
            self._new_update(
                "my_chat_member",
                {
                    "chat": user.chat_dict(),
                    "from": user.user_dict(),
                    "date": int(time.time()),
                    "old_chat_member": {
                        "status": old,
                        "user": bot,
                        **({"until_date": 0} if old == "kicked" else {}),
                    },
                    "new_chat_member": {
                        "status": new,
                        "user": bot,
                        **({"until_date": 0} if new == "kicked" else {}),
                    },
                },
            )

    # ------------------------------------------------------------ API helpers
    def take_fault(self, method: str, chat_id: int | None) -> Fault | None:
        """Consume the first matching injected fault, else draw from the random ones, if any."""
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, chat_id):
                    fault.hits += 1
                    self._touch()
                    return fault
            for random_faults in self.random_faults:
                drawn = random_faults.draw(method, chat_id)
                if drawn is not None:
                    self._touch()
                    return drawn
            return None

    def flood_violations(self) -> FloodViolations:
        """Snapshot of the counters."""
        with self.lock:
            return FloodViolations(
                total=sum(self.violation_kinds.values()),
                by_kind=dict(self.violation_kinds),
                by_chat=dict(self.violation_chats),
            )

    def _check_chat(self, chat_id: int) -> None:
        if chat_id not in self.users and chat_id not in self.groups:
            raise bad_request("chat not found")
        if chat_id in self.blocked:
            if chat_id < 0:
                raise ApiError(403, "Forbidden: bot was kicked from the group chat")
            raise ApiError(403, "Forbidden: bot was blocked by the user")

    def _chat_id(self, p: Params) -> int:
        raw = p.raw("chat_id")
        if raw is None or raw == "":
            raise bad_request("chat_id is empty")
        if isinstance(raw, str) and raw.startswith("@"):
            for uid, user in self.users.items():
                if user.username and user.username.lower() == raw[1:].lower():
                    return uid
            raise bad_request("chat not found")
        chat_id = p.get_int("chat_id")
        assert chat_id is not None
        return chat_id

    def _flood_gate(self, chat_id: int) -> None:
        now = time.monotonic()
        verdict = self.flood.check(chat_id, now)
        if verdict is not None:
            self.violation_kinds[verdict.kind] = self.violation_kinds.get(verdict.kind, 0) + 1
            self.violation_chats[chat_id] = self.violation_chats.get(chat_id, 0) + 1
            self._touch()
            if self.enforce_flood:
                raise ApiError(
                    429,
                    f"Too Many Requests: retry after {verdict.retry_after}",
                    retry_after=verdict.retry_after,
                )
        self.flood.record(chat_id, now)

    def _markup(self, p: Params) -> dict[str, Any] | None:
        markup = p.get_json("reply_markup", "reply keyboard markup JSON object")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is not None:
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad_request('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays')
            if sum(len(r) for r in rows) > MAX_INLINE_BUTTONS or any(len(r) > MAX_INLINE_ROW for r in rows):
                raise bad_request("reply markup is too long")
            for row in rows:
                for button in row:
                    if not isinstance(button, dict) or not button.get("text"):
                        raise bad_request("text buttons are unallowed in the inline keyboard")
                    data = button.get("callback_data")
                    if data is not None and not 1 <= len(str(data).encode("utf-8")) <= 64:
                        raise bad_request("BUTTON_DATA_INVALID")
                    if not any(
                        k in button
                        for k in (
                            "callback_data",
                            "url",
                            "switch_inline_query",
                            "switch_inline_query_current_chat",
                            "web_app",
                            "login_url",
                            "callback_game",
                            "pay",
                            "copy_text",
                            "switch_inline_query_chosen_chat",
                        )
                    ):
                        raise bad_request("text buttons are unallowed in the inline keyboard")
        return markup

    @staticmethod
    def _parse(text: str, p: Params, mode_param: str, entities_param: str) -> tuple[str, list[dict[str, Any]]]:
        entities = p.get_json(entities_param)
        try:
            return parse_text(text, p.get_str(mode_param), entities if isinstance(entities, list) else None)
        except EntityParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
        except UnsupportedParseMode:
            raise bad_request("unsupported parse_mode") from None

    def _reply_to(self, p: Params, chat_id: int) -> int | None:
        params = p.get_json("reply_parameters")
        allow = p.get_bool("allow_sending_without_reply")
        mid: int | None
        if isinstance(params, dict):
            mid = int(params["message_id"]) if "message_id" in params else None
            allow = bool(params.get("allow_sending_without_reply", allow))
            other = params.get("chat_id")
            if other is not None and int(other) != chat_id:
                raise bad_request("replies to messages in other chats are not supported by the sandbox")
        else:
            mid = p.get_int("reply_to_message_id")
        if mid is None:
            return None
        if self.message(chat_id, mid) is None:
            if allow:
                return None
            raise bad_request("message to be replied not found")
        return mid

    def _send(self, method: str, p: Params, build: Callable[[SentMessage], None]) -> dict[str, Any]:
        chat_id = self._chat_id(p)
        self._check_chat(chat_id)
        reply_to = self._reply_to(p, chat_id)
        markup = self._markup(p)
        m = SentMessage(
            chat_id=chat_id,
            message_id=0,
            date=int(time.time()),
            from_bot=True,
            sender_id=self.bot_id,
            method=method,
            reply_markup=markup,
            reply_to_message_id=reply_to,
        )
        build(m)  # may raise 400 before anything is stored
        self._flood_gate(chat_id)  # may raise 429; nothing stored then
        m.message_id = self._alloc_message_id(chat_id)
        m.sent_at = time.monotonic()
        self._append(m)
        return self.message_dict(m)

    def _caption(self, p: Params, m: SentMessage) -> None:
        caption = p.get_str("caption")
        if caption:
            plain, entities = self._parse(caption, p, "parse_mode", "caption_entities")
            if utf16_len(plain) > MAX_CAPTION:
                raise bad_request("message caption is too long")
            m.caption, m.caption_entities, m.parse_mode = plain, entities, p.get_str("parse_mode")
            m.source_text = caption

    def _input_file(self, p: Params, name: str, kind: str) -> StoredFile:
        value = p.get_file(name)
        if value is None:
            raise bad_request(f"there is no {name} in the request")
        if isinstance(value, Upload):
            if len(value.data) > MAX_UPLOAD:
                raise ApiError(413, "Request Entity Too Large")
            if not value.data:
                raise bad_request("file must be non-empty")
            mime = value.content_type
            if not mime or mime == "application/octet-stream":
                mime = mimetypes.guess_type(value.filename)[0] or mime or "application/octet-stream"
            return self.store_file(value.data, kind, file_name=value.filename or None, mime_type=mime)
        if value in self.files:
            return self.files[value]
        if value.startswith(("http://", "https://")):
            # Never fetch anything: the sandbox must not leave the loopback interface.
            raise bad_request("failed to get HTTP URL content")
        raise bad_request("wrong file identifier/HTTP URL specified")

    # ------------------------------------------------------------ API methods
    # Each ``m_<lowercase method>`` runs under the lock and returns the result.
    def m_getme(self, p: Params) -> Any:
        return {
            **self.bot_user_dict(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def m_sendmessage(self, p: Params) -> Any:
        text = p.get_str("text")
        if not text or not text.strip():
            raise bad_request("message text is empty")

        def build(m: SentMessage) -> None:
            plain, entities = self._parse(text, p, "parse_mode", "entities")
            if not plain.strip():
                raise bad_request("message text is empty")
            if utf16_len(plain) > MAX_TEXT:
                raise bad_request("message is too long")
            m.text, m.entities, m.source_text, m.original_text = plain, entities, text, plain
            m.parse_mode = p.get_str("parse_mode")

        return self._send("sendMessage", p, build)

    def m_senddocument(self, p: Params) -> Any:
        def build(m: SentMessage) -> None:
            m.document = self._input_file(p, "document", "document")
            self._caption(p, m)

        return self._send("sendDocument", p, build)

    def m_sendphoto(self, p: Params) -> Any:
        def build(m: SentMessage) -> None:
            m.photo = self._input_file(p, "photo", "photo")
            self._caption(p, m)

        return self._send("sendPhoto", p, build)

    def _edit_target(self, p: Params) -> SentMessage:
        if p.get_str("inline_message_id"):
            raise bad_request("inline messages are not supported by the sandbox")
        chat_id = self._chat_id(p)
        self._check_chat(chat_id)
        mid = p.require_int("message_id")
        m = self.message(chat_id, mid)
        if m is None or m.deleted:
            raise bad_request("message to edit not found")
        if not m.from_bot:
            raise bad_request("message can't be edited")
        return m

    def _apply_edit(self, m: SentMessage, method: str, markup: dict[str, Any] | None) -> dict[str, Any]:
        m.reply_markup = markup
        m.edit_date = int(time.time())
        m.edits.append(MessageEdit(method, m.text, m.caption, markup))
        self._touch()
        return self.message_dict(m)

    def m_editmessagetext(self, p: Params) -> Any:
        m = self._edit_target(p)
        text = p.get_str("text")
        if not text or not text.strip():
            raise bad_request("message text is empty")
        if m.text is None:
            raise bad_request("there is no text in the message to edit")
        plain, entities = self._parse(text, p, "parse_mode", "entities")
        if utf16_len(plain) > MAX_TEXT:
            raise bad_request("MESSAGE_TOO_LONG")
        # Like Telegram: an edit without reply_markup removes the inline keyboard.
        markup = self._markup(p)
        if plain == m.text and entities == m.entities and markup == m.reply_markup:
            raise bad_request(NOT_MODIFIED)
        m.text, m.entities, m.source_text, m.parse_mode = plain, entities, text, p.get_str("parse_mode")
        return self._apply_edit(m, "editMessageText", markup)

    def m_editmessagereplymarkup(self, p: Params) -> Any:
        m = self._edit_target(p)
        markup = self._markup(p)
        if markup == m.reply_markup:
            raise bad_request(NOT_MODIFIED)
        return self._apply_edit(m, "editMessageReplyMarkup", markup)

    def m_deletemessage(self, p: Params) -> Any:
        chat_id = self._chat_id(p)
        if chat_id not in self.users and chat_id not in self.groups:
            raise bad_request("chat not found")
        m = self.message(chat_id, p.require_int("message_id"))
        if m is None or m.deleted:
            raise bad_request("message to delete not found")
        if not m.from_bot and chat_id < 0:
            raise bad_request("message can't be deleted")
        m.deleted = True
        self._touch()
        return True

    def m_answercallbackquery(self, p: Params) -> Any:
        qid = p.get_str("callback_query_id")
        if not qid:
            raise bad_request("callback_query_id is empty")
        record = self.callback_queries.get(qid)
        if record is None or record.answer is not None:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        text = p.get_str("text")
        if text is not None and len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        answer = CallbackAnswer(
            callback_query_id=qid,
            text=text,
            show_alert=p.get_bool("show_alert"),
            url=p.get_str("url"),
            cache_time=p.get_int("cache_time", 0) or 0,
        )
        record.answer = answer
        self.callback_answers.append(answer)
        self._touch()
        return True

    def m_getfile(self, p: Params) -> Any:
        fid = p.get_str("file_id")
        if not fid:
            raise bad_request("file_id is empty")
        stored = self.files.get(fid)
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.file_size > MAX_DOWNLOAD:
            raise bad_request("file is too big")
        return stored.file_dict()

    @staticmethod
    def _scope_key(scope: Any) -> str:
        if scope is None:
            scope = {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise bad_request("can't parse BotCommandScope JSON object")
        return json.dumps(scope, sort_keys=True)

    def m_setmycommands(self, p: Params) -> Any:
        commands = p.get_json("commands", "commands JSON object")
        if not isinstance(commands, list):
            raise bad_request("commands must be an Array")
        clean: list[dict[str, str]] = []
        for c in commands:
            if not isinstance(c, dict) or not _COMMAND_RE.match(str(c.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            desc = str(c.get("description", ""))
            if not 1 <= len(desc) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": str(c["command"]), "description": desc})
        if len(clean) > 100:
            raise bad_request("too many commands")
        scope = p.get_json("scope", "BotCommandScope JSON object")
        key = self._scope_key(scope)
        lang = p.get_str("language_code") or ""
        self.commands[(key, lang)] = clean
        self.commands_calls.append(CommandsCall("setMyCommands", clean, json.loads(key), lang))
        self._touch()
        return True

    def m_getmycommands(self, p: Params) -> Any:
        key = self._scope_key(p.get_json("scope", "BotCommandScope JSON object"))
        return list(self.commands.get((key, p.get_str("language_code") or ""), []))

    def m_deletemycommands(self, p: Params) -> Any:
        key = self._scope_key(p.get_json("scope", "BotCommandScope JSON object"))
        lang = p.get_str("language_code") or ""
        self.commands.pop((key, lang), None)
        self.commands_calls.append(CommandsCall("deleteMyCommands", [], json.loads(key), lang))
        self._touch()
        return True

    def m_sendchataction(self, p: Params) -> Any:
        chat_id = self._chat_id(p)
        self._check_chat(chat_id)
        action = p.get_str("action")
        if not action:
            raise bad_request("action is empty")
        self.chat_actions.append((chat_id, action))
        self._touch()
        return True

    def _drop_pending(self, p: Params) -> None:
        if p.get_bool("drop_pending_updates"):
            if self.updates:
                self.confirmed_update_id = self.updates[-1]["update_id"]
            self.updates.clear()
            self._touch()

    def m_deletewebhook(self, p: Params) -> Any:
        self._drop_pending(p)
        self.webhook = None
        self._touch()
        return True

    def m_setwebhook(self, p: Params) -> Any:
        url = p.get_str("url") or ""
        if not url:
            return self.m_deletewebhook(p)
        parts = urlsplit(url)
        # Only loopback targets: the sandbox never contacts any other address.
        if parts.scheme not in ("http", "https") or parts.hostname != "127.0.0.1":
            raise bad_request("bad webhook: the sandbox only delivers to http://127.0.0.1")
        secret = p.get_str("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise bad_request("secret token contains unallowed characters")
        allowed = p.get_json("allowed_updates")
        if isinstance(allowed, list):
            self.allowed_updates = frozenset(allowed) or DEFAULT_ALLOWED_UPDATES
        self._drop_pending(p)
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "last_error_message": None,
            "last_error_date": None,
        }
        self._touch()
        if self.on_update is not None:
            self.on_update()
        return True

    def m_getwebhookinfo(self, p: Params) -> Any:
        info: dict[str, Any] = {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
        }
        if self.webhook and self.webhook.get("last_error_date"):
            info["last_error_date"] = self.webhook["last_error_date"]
            info["last_error_message"] = self.webhook["last_error_message"]
        if self.allowed_updates != DEFAULT_ALLOWED_UPDATES:
            info["allowed_updates"] = sorted(self.allowed_updates)
        return info

    def m_getchat(self, p: Params) -> Any:
        chat_id = self._chat_id(p)
        chat = self.chat_dict(chat_id)
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
            },
        }

    def m_editmessagecaption(self, p: Params) -> Any:
        m = self._edit_target(p)
        if m.file is None:
            raise bad_request("there is no caption in the message to edit")
        before = (m.caption, m.caption_entities, m.reply_markup)
        caption = p.get_str("caption") or ""
        plain, entities = self._parse(caption, p, "parse_mode", "caption_entities") if caption else ("", [])
        if utf16_len(plain) > MAX_CAPTION:
            raise bad_request("message caption is too long")
        markup = self._markup(p)
        if (plain or None, entities, markup) == before:
            raise bad_request(NOT_MODIFIED)
        m.caption, m.caption_entities, m.source_text = plain or None, entities, caption or None
        return self._apply_edit(m, "editMessageCaption", markup)

    # Profile settings some bots set in post_init: stored per language, readable back.
    def _set_setting(self, method: str, p: Params, field: str, limit: int) -> Any:
        value = p.get_str(field) or ""
        if len(value) > limit:
            raise bad_request(f"{field} is too long")
        self.bot_settings[(method, p.get_str("language_code") or "")] = value
        self._touch()
        return True

    def _get_setting(self, method: str, p: Params, field: str, fallback: str = "") -> Any:
        return {field: self.bot_settings.get((method, p.get_str("language_code") or ""), fallback)}

    def m_setmydescription(self, p: Params) -> Any:
        return self._set_setting("setmydescription", p, "description", 512)

    def m_getmydescription(self, p: Params) -> Any:
        return self._get_setting("setmydescription", p, "description")

    def m_setmyshortdescription(self, p: Params) -> Any:
        return self._set_setting("setmyshortdescription", p, "short_description", 120)

    def m_getmyshortdescription(self, p: Params) -> Any:
        return self._get_setting("setmyshortdescription", p, "short_description")

    def m_setmyname(self, p: Params) -> Any:
        return self._set_setting("setmyname", p, "name", 64)

    def m_getmyname(self, p: Params) -> Any:
        return self._get_setting("setmyname", p, "name", self.bot_first_name)

    def m_setchatmenubutton(self, p: Params) -> Any:
        button = p.get_json("menu_button", "menu button JSON object") or {"type": "default"}
        self.bot_settings[("setchatmenubutton", str(p.get_int("chat_id") or ""))] = button
        self._touch()
        return True

    def m_getchatmenubutton(self, p: Params) -> Any:
        key = ("setchatmenubutton", str(p.get_int("chat_id") or ""))
        return self.bot_settings.get(key, {"type": "commands"})

    def m_logout(self, p: Params) -> Any:
        return True

    def m_close(self, p: Params) -> Any:
        return True

    # getUpdates is async (long polling); this is its synchronous core.
    def poll_updates(self, p: Params) -> list[dict[str, Any]]:
        """Confirm by ``offset``, apply ``allowed_updates``, return up to ``limit`` updates."""
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
                "delete the webhook first",
            )
        offset = p.get_int("offset")
        limit = max(1, min(100, p.get_int("limit", 100) or 100))
        allowed = p.get_json("allowed_updates")
        if isinstance(allowed, list):
            self.allowed_updates = frozenset(allowed) or DEFAULT_ALLOWED_UPDATES
        if offset is not None:
            if offset < 0:
                del self.updates[: max(0, len(self.updates) + offset)]
            else:
                kept = [u for u in self.updates if u["update_id"] >= offset]
                if len(kept) != len(self.updates):
                    self.confirmed_update_id = max(self.confirmed_update_id, offset - 1)
                    self.updates[:] = kept
                    self._touch()
        # Telegram never generates updates of non-allowed types: drop them.
        self.updates[:] = [u for u in self.updates if self.update_type(u) in self.allowed_updates]
        return self.updates[:limit]

    @staticmethod
    def update_type(update: dict[str, Any]) -> str:
        """The payload key of an update (``message``, ``callback_query``...)."""
        return next(k for k in update if k != "update_id")
