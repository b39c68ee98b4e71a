"""Manual use: ``python -m bot.sandbox --port 8081`` then chat with the bot from the terminal.

Point the bot at the printed ``api_url`` (``telegram.api_url`` in rectbot's
config). Lines typed are sent by one simulated user; ``:help`` lists the
other actions. Binds 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import shlex
import threading
import time
from pathlib import Path

from .server import SandboxServer, SandboxUser

HELP = """\
text                      send a text message (/command args works too)
:reply MSG_ID text        reply to a message
:press MSG_ID label       press an inline button by its label
:data MSG_ID data         press with arbitrary callback data
:doc PATH [caption]       send a file as a document
:user ID [first_name]     act as another user (created if needed)
:block / :unblock         block or unblock the bot as the current user
:inject METHOD KIND [N]   fault injection (429, 500, 502, 403, 400, slow, disconnect)
:violations               flood-limit violations so far
:quit                     stop"""


def _watch(server: SandboxServer, stop: threading.Event) -> None:
    """Print bot messages and edits as they happen."""
    seen: dict[tuple[int, int], int] = {}
    while not stop.is_set():
        for m in server.messages():
            key = (m.chat_id, m.message_id)
            version = len(m.edits) + (1 if m.deleted else 0)
            if seen.get(key) == version:
                continue
            label = "new" if key not in seen else ("deleted" if m.deleted else "edited")
            seen[key] = version
            extra = f" [file {m.file.file_name or m.file.file_path}, {m.file.file_size} B]" if m.file else ""
            print(f"\n<< bot -> {m.chat_id} #{m.message_id} ({label}): {m.content}{extra}")
            for row in m.button_rows:
                print("   " + "  ".join(f"[{text} | {data}]" for text, data in row))
        time.sleep(0.2)


def _act(server: SandboxServer, user: SandboxUser, line: str) -> SandboxUser | None:
    """Run one typed line; returns the (possibly switched) user, ``None`` to quit."""
    if not line.startswith(":"):
        if line.startswith("/"):
            command, _, rest = line[1:].partition(" ")
            user.send_command(command, rest)
        elif line:
            user.send_text(line)
        return user
    parts = shlex.split(line[1:]) or ["help"]
    cmd, args = parts[0], parts[1:]
    if cmd == "quit":
        return None
    if cmd == "help":
        print(HELP)
    elif cmd == "reply":
        user.send_text(" ".join(args[1:]), reply_to=int(args[0]))
    elif cmd in ("press", "data"):
        mid, value = int(args[0]), " ".join(args[1:])
        qid = user.press(mid, value) if cmd == "press" else user.press(mid, data=value)
        try:
            answer = server.wait_for_callback_answer(qid, timeout=5)
            print(f"<< answer: {answer.text!r} alert={answer.show_alert}")
        except TimeoutError:
            print("<< (no answerCallbackQuery within 5 s)")
    elif cmd == "doc":
        path = Path(args[0])
        user.send_document(path.name, path.read_bytes(), caption=" ".join(args[1:]) or None)
    elif cmd == "user":
        uid = int(args[0])
        try:
            return server.user(uid)
        except KeyError:
            return server.create_user(uid, args[1] if len(args) > 1 else f"user{uid}")
    elif cmd == "block":
        user.block_bot()
    elif cmd == "unblock":
        user.unblock_bot()
    elif cmd == "inject":
        server.inject(args[0], args[1], int(args[2]) if len(args) > 2 else 1)
    elif cmd == "violations":
        print(server.violations)
    else:
        print(f"unknown command :{cmd} (:help)")
    return user


def main(argv: list[str] | None = None) -> None:
    """Serve until ``:quit``/EOF/Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m bot.sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456:SANDBOX-token")
    parser.add_argument("--username", default="rectbot_test")
    parser.add_argument("--user-id", type=int, default=1001)
    parser.add_argument("--first-name", default="测试用户")
    parser.add_argument("--no-flood", action="store_true", help="count flood violations but do not answer 429")
    ns = parser.parse_args(argv)

    server = SandboxServer(ns.token, ns.username, port=ns.port, enforce_flood=not ns.no_flood).start()
    user: SandboxUser | None = server.create_user(ns.user_id, ns.first_name)
    print(f"sandbox Bot API at {server.api_url}  token {server.token}")
    print(f"PTB: base_url={server.base_url!r} base_file_url={server.base_file_url!r}")
    print(f"you are user {ns.user_id}; :help for commands")
    stop = threading.Event()
    threading.Thread(target=_watch, args=(server, stop), daemon=True).start()
    try:
        while user is not None:
            try:
                line = input("> ").strip()
            except EOFError:
                break
            try:
                user = _act(server, user, line)
            except (KeyError, ValueError, IndexError, OSError) as exc:
                print(f"error: {exc}")
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.stop()


if __name__ == "__main__":
    main()
