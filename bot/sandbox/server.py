# ruff: noqa: ASYNC109 - the await_* twins take `timeout` to mirror the wait_for_* API exactly.
"""HTTP front of the sandbox (tornado, loopback only) and its test-facing API.

The server runs on its own thread and event loop so it works the same for
synchronous tests, for async tests running a PTB ``Application`` in-process,
and for a bot started as a subprocess (``rectbot run``) pointed at
``base_url=f"{server.api_url}/bot"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import mimetypes
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

import tornado.httpclient
import tornado.httpserver
import tornado.iostream
import tornado.netutil
import tornado.web

from .models import (
    FAULT_KINDS,
    ApiCall,
    CallbackAnswer,
    CallbackQueryRecord,
    CommandsCall,
    Fault,
    FloodViolations,
    GroupInfo,
    RandomFaults,
    SentMessage,
    UserInfo,
)
from .params import ApiError, Params, Upload
from .state import MAX_UPLOAD, SandboxState

__all__ = ["LOOPBACK", "SandboxServer", "SandboxUser"]

LOOPBACK = "127.0.0.1"
log = logging.getLogger("bot.sandbox")
T = TypeVar("T")
_TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_NOT_FOUND = {"ok": False, "error_code": 404, "description": "Not Found"}


def _chat(chat: int | SandboxUser) -> int:
    return chat.id if isinstance(chat, SandboxUser) else int(chat)


def _fault_error(fault: Fault) -> ApiError:
    """The Telegram-shaped answer for an injected failure."""
    if fault.kind == "429":
        return ApiError(429, f"Too Many Requests: retry after {fault.retry_after}", retry_after=fault.retry_after)
    if fault.kind == "500":
        return ApiError(500, fault.description or "Internal Server Error")
    if fault.kind == "502":
        return ApiError(502, fault.description or "Bad Gateway")
    if fault.kind == "403":
        return ApiError(403, fault.description or "Forbidden: bot was blocked by the user")
    detail = fault.description or "injected error"
    return ApiError(400, detail if detail.startswith("Bad Request") else f"Bad Request: {detail}")


class _Disconnect(Exception):
    """Injected fault: drop the connection without answering."""


class SandboxUser:
    """Handle for a simulated Telegram user; every action queues a real update."""

    def __init__(self, server: SandboxServer, info: UserInfo) -> None:
        self.server = server
        self.info = info

    @property
    def id(self) -> int:
        """User id, also the id of the private chat with the bot."""
        return self.info.id

    chat_id = id

    def __repr__(self) -> str:
        return f"SandboxUser(id={self.id}, first_name={self.info.first_name!r}, username={self.info.username!r})"

    def send_text(
        self, text: str, *, reply_to: SentMessage | int | None = None, chat_id: int | None = None
    ) -> dict[str, Any]:
        """Send a text message (optionally replying to a message); returns the Message."""
        return self.server.send_text(self.id, text, reply_to=reply_to, chat_id=chat_id)

    def send_command(self, command: str, args: str = "", *, chat_id: int | None = None) -> dict[str, Any]:
        """Send ``/command args`` with a ``bot_command`` entity, e.g. ``send_command("start", "CODE")``."""
        return self.server.send_command(self.id, command, args, chat_id=chat_id)

    def send_document(
        self,
        filename: str,
        data: bytes,
        mime_type: str | None = None,
        caption: str | None = None,
        *,
        chat_id: int | None = None,
        reply_to: SentMessage | int | None = None,
    ) -> dict[str, Any]:
        """Send a file as a document; the bot can getFile + download it."""
        return self.server.send_document(
            self.id, filename, data, mime_type, caption, chat_id=chat_id, reply_to=reply_to
        )

    def send_photo(self, data: bytes, caption: str | None = None, *, chat_id: int | None = None) -> dict[str, Any]:
        """Send a photo (PNG/JPEG bytes)."""
        return self.server.send_photo(self.id, data, caption, chat_id=chat_id)

    def send_voice(self, data: bytes, duration: int = 1, *, chat_id: int | None = None) -> dict[str, Any]:
        """Send a voice note."""
        return self.server.send_voice(self.id, data, duration, chat_id=chat_id)

    def press(self, message: SentMessage | int, text: str | None = None, *, data: str | None = None) -> str:
        """Press an inline button by label, or with arbitrary (forged) ``data``; returns the query id."""
        return self.server.press_button(self.id, message, text, data=data)

    def block_bot(self) -> None:
        """Block the bot: sends get 403 and a ``my_chat_member`` update is queued."""
        self.server.block(self.id, notify=True)

    def unblock_bot(self) -> None:
        """Unblock the bot (and queue the matching ``my_chat_member`` update)."""
        self.server.unblock(self.id, notify=True)

    def messages(self) -> list[SentMessage]:
        """Bot messages in the private chat, in order."""
        return self.server.messages(self.id)

    def last_message(self) -> SentMessage | None:
        """Latest bot message in the private chat."""
        return self.server.last_message(self.id)

    def wait_for_message(
        self, predicate: Callable[[SentMessage], bool] | None = None, timeout: float = 10
    ) -> SentMessage:
        """See :meth:`SandboxServer.wait_for_message`."""
        return self.server.wait_for_message(self.id, predicate, timeout)

    async def await_message(
        self, predicate: Callable[[SentMessage], bool] | None = None, timeout: float = 10
    ) -> SentMessage:
        """See :meth:`SandboxServer.await_message`."""
        return await self.server.await_message(self.id, predicate, timeout)


class _ApiHandler(tornado.web.RequestHandler):
    """``/bot<TOKEN>/<method>``: parse parameters, dispatch, answer JSON."""

    def initialize(self, server: SandboxServer) -> None:
        self.server = server
        self.closed = False

    def on_connection_close(self) -> None:
        self.closed = True
        self.server._notify_soon()

    def _params(self) -> Params:
        values: dict[str, Any] = {k: v[-1].decode("utf-8", "replace") for k, v in self.request.query_arguments.items()}
        uploads: dict[str, Upload] = {}
        ctype = self.request.headers.get("Content-Type", "")
        if self.request.method == "POST" and self.request.body:
            if ctype.startswith("application/json"):
                try:
                    body = json.loads(self.request.body)
                except ValueError:
                    raise ApiError(400, "Bad Request: can't parse JSON object") from None
                if not isinstance(body, dict):
                    raise ApiError(400, "Bad Request: can't parse JSON object")
                values.update(body)
            else:
                values.update({k: v[-1].decode("utf-8", "replace") for k, v in self.request.body_arguments.items()})
                for name, parts in self.request.files.items():
                    part = parts[-1]
                    uploads[name] = Upload(part.filename, part.body, part.content_type or None)
        return Params(values, uploads)

    async def get(self, token: str, method: str) -> None:
        try:
            params = self._params()
        except ApiError as exc:
            status, body = exc.code, exc.payload()
        else:
            try:
                status, body = await self.server._dispatch(token, method, params, lambda: self.closed)
            except _Disconnect:
                if self.request.connection is not None:
                    self.request.connection.close()  # type: ignore[attr-defined]
                return
        if self.closed:
            return
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        with contextlib.suppress(tornado.iostream.StreamClosedError):
            await self.finish(json.dumps(body, ensure_ascii=False))

    post = get


class _FileHandler(tornado.web.RequestHandler):
    """``/file/bot<TOKEN>/<file_path>``: download stored bytes."""

    def initialize(self, server: SandboxServer) -> None:
        self.server = server

    def get(self, token: str, path: str) -> None:
        state = self.server._state
        if not _TOKEN_RE.match(token):
            self._json(404, _NOT_FOUND)
            return
        if token not in state.tokens:
            self._json(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            return
        with state.lock:
            stored = state.files_by_path.get(path)
        if stored is None:
            self._json(404, _NOT_FOUND)
            return
        self.set_header("Content-Type", stored.mime_type or "application/octet-stream")
        self.finish(stored.data)

    def _json(self, status: int, body: dict[str, Any]) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))


class _NotFoundHandler(tornado.web.RequestHandler):
    def get(self, *args: str) -> None:
        self.set_status(404)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(_NOT_FOUND))

    post = get


class SandboxServer:
    """A fake Telegram Bot API on ``127.0.0.1`` for end-to-end tests.

    ``with SandboxServer() as server:`` or ``server.start()`` / ``server.stop()``.
    Point PTB at it with ``base_url=server.base_url`` and
    ``base_file_url=server.base_file_url``.
    """

    def __init__(
        self,
        token: str = "123456:SANDBOX-token",
        bot_username: str = "rectbot_test",
        *,
        bot_first_name: str = "RectBot",
        host: str = LOOPBACK,
        port: int = 0,
        enforce_flood: bool = True,
        extra_tokens: tuple[str, ...] = (),
    ) -> None:
        if host != LOOPBACK:
            raise ValueError(f"the sandbox only binds {LOOPBACK}, refusing {host!r}")
        if not _TOKEN_RE.match(token):
            raise ValueError(f"malformed bot token {token!r} (expected '<digits>:<secret>')")
        self._state = SandboxState(token, bot_username, bot_first_name, extra_tokens, enforce_flood)
        self._host = host
        self._requested_port = port
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._stop_event: asyncio.Event | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self._closing = False
        self._next_user_id = 700_000_001
        self._next_group_id = -4_000_000_001

    # --------------------------------------------------------------- lifecycle
    def start(self) -> SandboxServer:
        """Bind a free (or the given) port on 127.0.0.1 and serve on a daemon thread."""
        if self._thread is not None:
            raise RuntimeError("sandbox already started")
        self._thread = threading.Thread(target=self._run, name="rectbot-sandbox", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("sandbox did not start within 10 s")
        if self._startup_error is not None:
            self._thread.join(5)
            self._thread = None
            raise RuntimeError(f"sandbox failed to start: {self._startup_error}") from self._startup_error
        return self

    def stop(self) -> None:
        """Stop serving (pending long polls return ``[]``) and join the thread."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        if self._stop_event is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._stop_event.set)
        thread.join(10)
        self._thread = None
        self._state.on_update = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start()
            self._startup_error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        app = tornado.web.Application(
            [
                (r"/bot([^/]*)/([^/]*)", _ApiHandler, {"server": self}),
                (r"/file/bot([^/]*)/(.+)", _FileHandler, {"server": self}),
                (r"(.*)", _NotFoundHandler),
            ],
            log_function=lambda handler: log.debug(
                "%s %s -> %s",
                handler.request.method,
                handler.request.path.split("/")[-1],
                handler.get_status(),
            ),
        )
        sockets = tornado.netutil.bind_sockets(self._requested_port, address=LOOPBACK, family=socket.AF_INET)
        http = tornado.httpserver.HTTPServer(app, max_body_size=MAX_UPLOAD + 1024 * 1024)
        http.add_sockets(sockets)
        self._port = int(sockets[0].getsockname()[1])
        self._stop_event = asyncio.Event()
        self._closing = False
        loop = asyncio.get_running_loop()

        def on_update() -> None:
            loop.call_soon_threadsafe(self._notify)

        self._state.on_update = on_update
        webhook_task = asyncio.create_task(self._webhook_loop())
        self._ready.set()
        await self._stop_event.wait()
        self._closing = True
        http.stop()
        self._notify()
        await asyncio.sleep(0.05)  # let woken long polls answer
        webhook_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
            await asyncio.wait_for(http.close_all_connections(), 2)
            await webhook_task

    # ------------------------------------------------------------ HTTP side
    def _notify(self) -> None:
        """Wake every coroutine waiting for a state change (runs on the sandbox loop)."""
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def _notify_soon(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._notify)

    def _change_future(self) -> asyncio.Future[None]:
        """Register *before* inspecting state so no change is missed."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        return fut

    async def _dispatch(
        self, token: str, method: str, params: Params, is_closed: Callable[[], bool]
    ) -> tuple[int, dict[str, Any]]:
        state = self._state
        if not _TOKEN_RE.match(token):
            return 404, dict(_NOT_FOUND)
        if token not in state.tokens:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        name = method.lower()
        handler: Callable[[Params], Any] | None = getattr(state, f"m_{name}", None)
        if handler is None and name != "getupdates":
            return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
        call = ApiCall(method, params.loggable())
        with state.lock:
            state.calls.append(call)
            if name == "getupdates":
                state.poll_count += 1
        try:
            try:
                chat_id = params.get_int("chat_id")
            except ApiError:
                chat_id = None
            fault = state.take_fault(name, chat_id)
            if fault is not None:
                if fault.kind == "slow":
                    await asyncio.sleep(fault.delay)
                elif fault.kind == "disconnect":
                    call.status = 0
                    raise _Disconnect
                else:
                    raise _fault_error(fault)
            if name == "getupdates":
                result = await self._get_updates(params, is_closed)
            else:
                assert handler is not None
                with state.lock:
                    result = handler(params)
            status, body = 200, {"ok": True, "result": result}
        except ApiError as exc:
            status, body = exc.code, exc.payload()
        except (_Disconnect, asyncio.CancelledError):
            raise
        except Exception as exc:  # a sandbox bug or input it cannot handle: fail loudly, Telegram-shaped
            log.exception("sandbox error in %s", method)
            with state.lock:
                state.internal_errors.append(f"{method}: {exc!r}")
            status = 500
            body = {"ok": False, "error_code": 500, "description": f"Internal Server Error: sandbox: {exc!r}"}
        with state.lock:
            call.status = status
            state.changed.notify_all()
        return status, body

    async def _get_updates(self, params: Params, is_closed: Callable[[], bool]) -> list[dict[str, Any]]:
        """Real long polling: answer as soon as an update exists or ``timeout`` passes."""
        state = self._state
        loop = asyncio.get_running_loop()
        timeout = max(0.0, params.get_float("timeout", 0.0))
        deadline = loop.time() + timeout
        with state.lock:
            state.poll_generation += 1
            generation = state.poll_generation
        self._notify()  # an older poll of the same bot is now superseded
        while True:
            fut = self._change_future()
            with state.lock:
                if generation != state.poll_generation:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that only one bot "
                        "instance is running",
                    )
                updates = state.poll_updates(params)
            remaining = deadline - loop.time()
            if updates or remaining <= 0 or self._closing or is_closed():
                return updates
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(fut, remaining)

    async def _webhook_loop(self) -> None:
        """Deliver queued updates one by one to a loopback webhook, like Telegram."""
        client = tornado.httpclient.AsyncHTTPClient(force_instance=True)
        state = self._state
        try:
            while not self._closing:
                fut = self._change_future()
                with state.lock:
                    hook = dict(state.webhook) if state.webhook else None
                    state.updates[:] = [u for u in state.updates if state.update_type(u) in state.allowed_updates]
                    update = state.updates[0] if hook and state.updates else None
                if hook is None or update is None:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(fut, 1.0)
                    continue
                headers = {"Content-Type": "application/json"}
                if hook.get("secret_token"):
                    headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
                error: str | None = None
                try:
                    response = await client.fetch(
                        hook["url"],
                        method="POST",
                        body=json.dumps(update),
                        headers=headers,
                        raise_error=False,
                        request_timeout=10,
                    )
                    if not 200 <= response.code < 300:
                        error = f"Wrong response from the webhook: {response.code} {response.reason}"
                except Exception as exc:  # recorded like Telegram's last_error_message
                    error = f"Connection failed: {exc}"
                with state.lock:
                    if error is None:
                        if state.updates and state.updates[0]["update_id"] == update["update_id"]:
                            state.updates.pop(0)
                            state.confirmed_update_id = update["update_id"]
                    elif state.webhook is not None:
                        state.webhook["last_error_message"] = error
                        state.webhook["last_error_date"] = int(time.time())
                    state.changed.notify_all()
                if error is not None:
                    await asyncio.sleep(0.2)
        finally:
            client.close()

    # --------------------------------------------------------------- addresses
    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("sandbox not started")
        return self._port

    @property
    def api_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def base_url(self) -> str:
        """PTB ``base_url``: ``{api_url}/bot``."""
        return f"{self.api_url}/bot"

    @property
    def base_file_url(self) -> str:
        """PTB ``base_file_url``: ``{api_url}/file/bot``."""
        return f"{self.api_url}/file/bot"

    @property
    def token(self) -> str:
        """The main accepted bot token."""
        return self._state.token

    @property
    def bot_id(self) -> int:
        """The bot's user id (the token's numeric prefix)."""
        return self._state.bot_id

    @property
    def bot_username(self) -> str:
        """The bot's username as getMe reports it."""
        return self._state.bot_username

    # ---------------------------------------------------------- users, chats
    def create_user(
        self,
        user_id: int | None = None,
        first_name: str = "测试用户",
        username: str | None = None,
        language_code: str | None = "zh-hans",
        last_name: str | None = None,
    ) -> SandboxUser:
        """Create (or replace) a user; its private chat with the bot has the same id."""
        with self._state.lock:
            if user_id is None:
                user_id = self._next_user_id
                self._next_user_id += 1
            info = UserInfo(int(user_id), first_name, username, last_name, language_code)
            self._state.users[info.id] = info
            return SandboxUser(self, info)

    def user(self, user_id: int) -> SandboxUser:
        """Handle for an existing user."""
        with self._state.lock:
            return SandboxUser(self, self._state.users[user_id])

    def create_group(self, title: str = "测试群", chat_id: int | None = None, *, supergroup: bool = False) -> int:
        """Create a group chat (negative id) containing the bot; returns its chat id."""
        with self._state.lock:
            if chat_id is None:
                chat_id = self._next_group_id
                self._next_group_id -= 1
            if chat_id >= 0:
                raise ValueError("group chat ids are negative")
            self._state.groups[chat_id] = GroupInfo(chat_id, title, "supergroup" if supergroup else "group")
            return chat_id

    def _user_id(self, user: int | SandboxUser) -> int:
        return user.id if isinstance(user, SandboxUser) else int(user)

    @staticmethod
    def _mid(message: SentMessage | int | None) -> int | None:
        return message.message_id if isinstance(message, SentMessage) else message

    # ------------------------------------------------------------ user actions
    def send_text(
        self,
        user: int | SandboxUser,
        text: str,
        *,
        reply_to: SentMessage | int | None = None,
        chat_id: int | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A user sends text; ``reply_to`` fills ``reply_to_message`` from the stored message."""
        return self._state.user_message(
            self._user_id(user), chat_id, text=text, entities=entities, reply_to=self._mid(reply_to)
        )

    def send_command(
        self, user: int | SandboxUser, command: str, args: str = "", *, chat_id: int | None = None
    ) -> dict[str, Any]:
        """A user sends ``/command [args]`` (``@botname`` added in groups, like clients do)."""
        head = "/" + command.lstrip("/")
        if chat_id is not None and chat_id < 0 and "@" not in head:
            head += f"@{self.bot_username}"
        text = f"{head} {args}" if args else head
        entity = {"type": "bot_command", "offset": 0, "length": len(head.encode("utf-16-le")) // 2}
        return self.send_text(user, text, chat_id=chat_id, entities=[entity])

    def send_document(
        self,
        user: int | SandboxUser,
        filename: str,
        data: bytes,
        mime_type: str | None = None,
        caption: str | None = None,
        *,
        chat_id: int | None = None,
        reply_to: SentMessage | int | None = None,
    ) -> dict[str, Any]:
        """A user sends a document; its bytes are served by getFile + download."""
        mime = mime_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        with self._state.lock:
            stored = self._state.store_file(data, "document", file_name=filename, mime_type=mime)
        return self._state.user_message(
            self._user_id(user), chat_id, document=stored, caption=caption, reply_to=self._mid(reply_to)
        )

    def send_photo(
        self, user: int | SandboxUser, data: bytes, caption: str | None = None, *, chat_id: int | None = None
    ) -> dict[str, Any]:
        """A user sends a photo (``photo`` is a one-size PhotoSize list)."""
        with self._state.lock:
            stored = self._state.store_file(data, "photo", mime_type="image/jpeg")
        return self._state.user_message(self._user_id(user), chat_id, photo=stored, caption=caption)

    def send_voice(
        self, user: int | SandboxUser, data: bytes, duration: int = 1, *, chat_id: int | None = None
    ) -> dict[str, Any]:
        """A user sends a voice note (``voice`` with duration and audio/ogg)."""
        with self._state.lock:
            stored = self._state.store_file(data, "voice", mime_type="audio/ogg", duration=duration)
        return self._state.user_message(self._user_id(user), chat_id, voice=stored)

    def press_button(
        self,
        user: int | SandboxUser,
        message: SentMessage | int,
        text: str | None = None,
        *,
        data: str | None = None,
        chat_id: int | None = None,
    ) -> str:
        """Press the inline button labelled ``text`` on a bot message, or send forged ``data``.

        ``message`` is a :class:`SentMessage` or a message id (in the user's
        private chat unless ``chat_id`` is given). Returns the callback query id.
        """
        uid = self._user_id(user)
        with self._state.lock:
            if isinstance(message, SentMessage):
                chat, mid = message.chat_id, message.message_id
            else:
                chat, mid = (uid if chat_id is None else chat_id), int(message)
            if data is None:
                if text is None:
                    raise ValueError("press_button needs the button text or explicit data")
                target = self._state.message(chat, mid)
                if target is None:
                    raise KeyError(f"no message {mid} in chat {chat}")
                data = target.button_data(text)
            return self._state.press_button(uid, chat, mid, data)

    # ----------------------------------------------------------------- reading
    def messages(self, chat: int | SandboxUser | None = None) -> list[SentMessage]:
        """Bot messages (incl. deleted ones, see ``.deleted``) of a chat, or of all chats, in order."""
        with self._state.lock:
            if chat is None:
                every = [m for ms in self._state.chat_messages.values() for m in ms if m.from_bot]
                return sorted(every, key=lambda m: m.sent_at)
            return [m for m in self._state.chat_messages.get(_chat(chat), []) if m.from_bot]

    def history(self, chat: int | SandboxUser) -> list[SentMessage]:
        """All messages of a chat, the users' and the bot's, in order."""
        with self._state.lock:
            return list(self._state.chat_messages.get(_chat(chat), []))

    def message(self, chat: int | SandboxUser, message_id: int) -> SentMessage:
        """A stored message by id (raises ``KeyError``)."""
        with self._state.lock:
            m = self._state.message(_chat(chat), message_id)
        if m is None:
            raise KeyError(f"no message {message_id} in chat {_chat(chat)}")
        return m

    def last_message(self, chat: int | SandboxUser) -> SentMessage | None:
        """The latest bot message in a chat."""
        ms = self.messages(chat)
        return ms[-1] if ms else None

    def edited_messages(self, chat: int | SandboxUser | None = None) -> list[SentMessage]:
        """Bot messages that were edited at least once (see ``.edits``/``.text_history``)."""
        return [m for m in self.messages(chat) if m.edits]

    def mark_read(self, chat: int | SandboxUser | None = None) -> None:
        """Make the ``wait_for_message`` family ignore every bot message sent so far."""
        with self._state.lock:
            for m in self.messages(chat):
                m.consumed = True

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        """All ``answerCallbackQuery`` calls, in order."""
        with self._state.lock:
            return list(self._state.callback_answers)

    def callback_query(self, query_id: str) -> CallbackQueryRecord:
        """The press and, once answered, its ``.answer``."""
        with self._state.lock:
            return self._state.callback_queries[query_id]

    def callback_answer(self, query_id: str) -> CallbackAnswer | None:
        """The bot's answer to a press, if it answered yet."""
        return self.callback_query(query_id).answer

    def commands(self, scope: dict[str, Any] | None = None, language_code: str = "") -> list[tuple[str, str]]:
        """Current ``setMyCommands`` list for a scope/language as ``(command, description)``."""
        key = SandboxState._scope_key(scope)
        with self._state.lock:
            return [(c["command"], c["description"]) for c in self._state.commands.get((key, language_code), [])]

    @property
    def commands_calls(self) -> list[CommandsCall]:
        """Every ``setMyCommands``/``deleteMyCommands`` call."""
        with self._state.lock:
            return list(self._state.commands_calls)

    def chat_actions(self, chat: int | SandboxUser | None = None) -> list[str]:
        """``sendChatAction`` actions, in order."""
        with self._state.lock:
            return [a for c, a in self._state.chat_actions if chat is None or c == _chat(chat)]

    def calls(self, method: str | None = None) -> list[ApiCall]:
        """Requests the bot made (case-insensitive method filter), with their HTTP status."""
        with self._state.lock:
            return [c for c in self._state.calls if method is None or c.method.lower() == method.lower()]

    def file_bytes(self, file_id: str) -> bytes:
        """Bytes of any stored file."""
        with self._state.lock:
            return self._state.files[file_id].data

    @property
    def pending_updates(self) -> int:
        """Updates not yet confirmed by the bot (via ``offset`` or webhook 2xx)."""
        with self._state.lock:
            return len(self._state.updates)

    @property
    def internal_errors(self) -> list[str]:
        """Unexpected sandbox exceptions (answered as 500); e2e fixtures should assert it stays empty."""
        with self._state.lock:
            return list(self._state.internal_errors)

    def bot_setting(self, method: str, language_code: str = "") -> Any:
        """What a ``setMyDescription``/``setMyShortDescription``/``setMyName``/``setChatMenuButton``
        call stored; key: setter name and language code (chat id as str for ``setChatMenuButton``)."""
        with self._state.lock:
            return self._state.bot_settings.get((method.lower(), language_code))

    @property
    def poll_count(self) -> int:
        """Number of getUpdates requests received."""
        with self._state.lock:
            return self._state.poll_count

    @property
    def webhook_url(self) -> str | None:
        """URL set by ``setWebhook``, if any."""
        with self._state.lock:
            return self._state.webhook["url"] if self._state.webhook else None

    def reset(self) -> None:
        """Forget everything (users, messages, faults, counters) but keep serving."""
        self._state.reset()
        self._notify_soon()

    # ----------------------------------------------------- faults and flooding
    def inject(
        self,
        method: str,
        kind: str | int,
        times: int | None = 1,
        *,
        chat_id: int | None = None,
        retry_after: int = 5,
        delay: float = 1.0,
        description: str | None = None,
    ) -> Fault:
        """Make the next ``times`` calls of ``method`` ("*" = any) fail or be slow.

        ``kind``: "429" (``retry_after``), "500", "502", "403", "400"
        (``description``), "slow" (answer after ``delay`` s, normally), or
        "disconnect" (drop the connection). ``times=None`` = until
        :meth:`clear_faults`. Failed calls store nothing.
        """
        kind = str(kind)
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {sorted(FAULT_KINDS)}")
        fault = Fault(method.lower(), kind, times, chat_id, retry_after, delay, description)
        with self._state.lock:
            self._state.faults.append(fault)
        return fault

    def inject_random(
        self,
        method: str,
        rates: dict[str, float],
        *,
        seed: int,
        chat_ids: set[int] | frozenset[int] | None = None,
        retry_after: tuple[int, int] = (5, 5),
        delay: float = 1.0,
        description: str | None = None,
    ) -> RandomFaults:
        """Make each call of ``method`` ("*" = any) meet a fault with the given probabilities.

        ``rates`` maps fault kinds (as for :meth:`inject`) to a probability per call, e.g.
        ``{"429": 0.10, "500": 0.05, "slow": 0.02}``; a call meets at most one. Draws come from
        ``random.Random(seed)``. Faults injected with :meth:`inject` are consumed first. The
        returned record counts ``calls`` and ``hits`` per kind; :meth:`clear_faults` removes it.
        """
        unknown = set(rates) - FAULT_KINDS
        if unknown:
            raise ValueError(f"unknown fault kind(s) {sorted(unknown)}; use some of {sorted(FAULT_KINDS)}")
        if any(r < 0 for r in rates.values()) or sum(rates.values()) > 1:
            raise ValueError("fault rates must be non-negative and sum to at most 1")
        low, high = retry_after
        if not 0 <= low <= high:
            raise ValueError("retry_after must be a (low, high) range with 0 <= low <= high")
        faults = RandomFaults(method.lower(), {str(k): float(v) for k, v in rates.items()}, seed,
                              frozenset(chat_ids) if chat_ids is not None else None, (low, high), delay, description)
        with self._state.lock:
            self._state.random_faults.append(faults)
        return faults

    def clear_faults(self) -> None:
        """Remove all injected faults, random ones included (not blocks: see :meth:`unblock`)."""
        with self._state.lock:
            self._state.faults.clear()
            self._state.random_faults.clear()

    def block(self, chat: int | SandboxUser, *, notify: bool = False) -> None:
        """Every call for this chat gets 403 (blocked by the user / kicked) until :meth:`unblock`."""
        cid = _chat(chat)
        with self._state.lock:
            self._state.blocked.add(cid)
            if notify and cid in self._state.users:
                self._state.member_status_update(cid, "member", "kicked")

    def unblock(self, chat: int | SandboxUser, *, notify: bool = False) -> None:
        """Undo :meth:`block`."""
        cid = _chat(chat)
        with self._state.lock:
            self._state.blocked.discard(cid)
            if notify and cid in self._state.users:
                self._state.member_status_update(cid, "kicked", "member")

    @property
    def enforce_flood(self) -> bool:
        """Answer 429 on flood violations (default); if False only count them."""
        return self._state.enforce_flood

    @enforce_flood.setter
    def enforce_flood(self, value: bool) -> None:
        with self._state.lock:
            self._state.enforce_flood = value

    @property
    def violations(self) -> FloodViolations:
        """Flood-limit violations so far: ``total``, ``by_kind``, ``by_chat``."""
        return self._state.flood_violations()

    def reset_violations(self) -> None:
        """Zero the counters and forget send history."""
        with self._state.lock:
            self._state.violation_kinds.clear()
            self._state.violation_chats.clear()
            self._state.flood.reset()

    # ------------------------------------------------------------------ waiting
    def wait_until(self, check: Callable[[], T | None], timeout: float = 10, what: str = "condition") -> T:
        """Block until ``check()`` (run under the lock) returns something truthy."""
        deadline = time.monotonic() + timeout
        with self._state.changed:
            while True:
                result = check()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"sandbox: timed out after {timeout} s waiting for {what}")
                self._state.changed.wait(min(remaining, 0.25))

    async def await_until(self, check: Callable[[], T | None], timeout: float = 10, what: str = "condition") -> T:
        """Async twin of :meth:`wait_until`; polls with ``asyncio.sleep`` so the caller's loop runs."""
        deadline = time.monotonic() + timeout
        while True:
            with self._state.lock:
                result = check()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(f"sandbox: timed out after {timeout} s waiting for {what}")
            await asyncio.sleep(0.01)

    def _take(
        self, chat: int, count: int, predicate: Callable[[SentMessage], bool] | None
    ) -> Callable[[], list[SentMessage] | None]:
        if predicate is not None and not callable(predicate):
            raise TypeError(f"predicate must be callable, got {predicate!r} (timeout is a separate argument)")

        def check() -> list[SentMessage] | None:
            found = [
                m
                for m in self._state.chat_messages.get(chat, [])
                if m.from_bot and not m.consumed and (predicate is None or predicate(m))
            ][:count]
            if len(found) < count:
                return None
            for m in found:
                m.consumed = True
            return found

        return check

    def _describe(self, chat: int) -> str:
        with self._state.lock:
            lines = [
                f"  #{m.message_id}{' (read)' if m.consumed else ''}: {m.content[:80]!r} buttons={m.buttons}"
                for m in self._state.chat_messages.get(chat, [])
                if m.from_bot
            ]
        return f"bot messages in chat {chat}:\n" + ("\n".join(lines) or "  (none)")

    def wait_for_message(
        self,
        chat: int | SandboxUser,
        predicate: Callable[[SentMessage], bool] | None = None,
        timeout: float = 10,
    ) -> SentMessage:
        """Return the oldest *unread* bot message in the chat matching ``predicate``.

        The returned message becomes read, so successive calls walk through the
        bot's replies in order; non-matching messages stay unread.
        """
        return self.wait_for_messages(chat, 1, timeout, predicate)[0]

    def wait_for_messages(
        self,
        chat: int | SandboxUser,
        count: int,
        timeout: float = 10,
        predicate: Callable[[SentMessage], bool] | None = None,
    ) -> list[SentMessage]:
        """Like :meth:`wait_for_message` for the next ``count`` matching messages (timeout 3rd, as
        in ``wait_for_messages(chat_id, count, timeout)``)."""
        cid = _chat(chat)
        try:
            return self.wait_until(self._take(cid, count, predicate), timeout, f"{count} message(s)")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n{self._describe(cid)}") from None

    async def await_message(
        self,
        chat: int | SandboxUser,
        predicate: Callable[[SentMessage], bool] | None = None,
        timeout: float = 10,
    ) -> SentMessage:
        """Async twin of :meth:`wait_for_message`."""
        return (await self.await_messages(chat, 1, timeout, predicate))[0]

    async def await_messages(
        self,
        chat: int | SandboxUser,
        count: int,
        timeout: float = 10,
        predicate: Callable[[SentMessage], bool] | None = None,
    ) -> list[SentMessage]:
        """Async twin of :meth:`wait_for_messages`."""
        cid = _chat(chat)
        try:
            return await self.await_until(self._take(cid, count, predicate), timeout, f"{count} message(s)")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n{self._describe(cid)}") from None

    def _edited(
        self, chat: int, message_id: int, predicate: Callable[[SentMessage], bool] | None, min_edits: int
    ) -> Callable[[], SentMessage | None]:
        def check() -> SentMessage | None:
            m = self._state.message(chat, message_id)
            if m is None or len(m.edits) < min_edits:
                return None
            return m if predicate is None or predicate(m) else None

        return check

    def wait_for_edit(
        self,
        chat: int | SandboxUser,
        message_id: int,
        predicate: Callable[[SentMessage], bool] | None = None,
        timeout: float = 10,
        *,
        min_edits: int = 1,
    ) -> SentMessage:
        """Wait until the message was edited ``min_edits`` times and ``predicate`` holds."""
        check = self._edited(_chat(chat), message_id, predicate, min_edits)
        return self.wait_until(check, timeout, f"edit of message {message_id}")

    async def await_edit(
        self,
        chat: int | SandboxUser,
        message_id: int,
        predicate: Callable[[SentMessage], bool] | None = None,
        timeout: float = 10,
        *,
        min_edits: int = 1,
    ) -> SentMessage:
        """Async twin of :meth:`wait_for_edit`."""
        check = self._edited(_chat(chat), message_id, predicate, min_edits)
        return await self.await_until(check, timeout, f"edit of message {message_id}")

    def _answered(self, query_id: str) -> Callable[[], CallbackAnswer | None]:
        return lambda: self._state.callback_queries[query_id].answer

    def wait_for_callback_answer(self, query_id: str, timeout: float = 10) -> CallbackAnswer:
        """Wait until the bot answered the callback query."""
        return self.wait_until(self._answered(query_id), timeout, f"answer to callback query {query_id}")

    async def await_callback_answer(self, query_id: str, timeout: float = 10) -> CallbackAnswer:
        """Async twin of :meth:`wait_for_callback_answer`."""
        return await self.await_until(self._answered(query_id), timeout, f"answer to callback query {query_id}")

    def wait_for_updates_consumed(self, timeout: float = 10) -> None:
        """Wait until the bot fetched and confirmed every queued update."""
        self.wait_until(lambda: not self._state.updates, timeout, "the bot to confirm all updates")

    async def await_updates_consumed(self, timeout: float = 10) -> None:
        """Async twin of :meth:`wait_for_updates_consumed`."""
        await self.await_until(lambda: not self._state.updates, timeout, "the bot to confirm all updates")

    def run_coroutine(self, coro: Awaitable[T], timeout: float = 10) -> T:
        """Run ``coro`` on the sandbox loop (rarely needed; for tools and the CLI)."""
        if self._loop is None:
            raise RuntimeError("sandbox not started")

        async def wrapper() -> T:
            return await coro

        return asyncio.run_coroutine_threadsafe(wrapper(), self._loop).result(timeout)
