"""Operator-facing logs: one line per event, text or JSON, and never a secret.

An operator greps for a stable event name ("sweep done") and reads its key=value fields; a log
collector wants one JSON object per line. `log_event` writes both from one call: the text line is
the record's message, the event name and fields ride on the record for `JsonFormatter`. The
`RedactingFilter` sits on the handler, so every record of every library passes it (PTB and httpx put
the bot token into request URLs). The event table is in docs/OPERATIONS.md.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")

EVENT_ATTR = "rectbot_event"
FIELDS_ATTR = "rectbot_fields"
REDACTED = "****"
# Libraries that log at INFO for every request or every job run (httpx: each Bot API URL, which
# carries the token; apscheduler: "Running job" every second): warnings and errors only.
QUIET_LOGGERS = ("httpx", "httpcore", "apscheduler", "telegram.ext.Updater")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# A Bot API URL's token segment (/bot<token>/getMe, /file/bot<token>/…) and anything shaped like a
# bot token (<bot id>:<35 characters>): redacted even when it is not this bot's configured token.
_URL_TOKEN = re.compile(r"(/bot)[^/\s\"':]*:[^/\s\"']+")
_TOKEN_SHAPE = re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}")
_RESERVED = frozenset({"ts", "level", "logger", "event", "exc", "stack"})
_BARE = re.compile(r"^[^\s=\"'\\]+$")


def log_event(logger: logging.Logger, event: str, /, *, severity: int = logging.INFO, **fields: Any) -> None:
    """Log `event key=value …` as one record; JsonFormatter turns the fields into keys."""
    if not logger.isEnabledFor(severity):
        return
    logger.log(severity, "%s", event_text(event, fields), stacklevel=2,
               extra={EVENT_ATTR: event, FIELDS_ATTR: dict(fields)})


def event_text(event: str, fields: Mapping[str, Any]) -> str:
    """`sweep done cases=3 ms=12`: values with spaces, quotes or = are JSON-quoted so the line splits cleanly."""
    return " ".join([event, *(f"{key}={_text_value(value)}" for key, value in fields.items())])


def _text_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return text if _BARE.match(text) else json.dumps(text, ensure_ascii=False)


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def redact(text: str, secrets: Iterable[str]) -> str:
    """The configured secrets, any Bot API URL's token segment and anything shaped like a bot token → ****."""
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    text = _URL_TOKEN.sub(rf"\1{REDACTED}", text)
    return _TOKEN_SHAPE.sub(REDACTED, text)


class RedactingFilter(logging.Filter):
    """On the handler: whatever a library logs (message, event fields, traceback), no secret reaches the output."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Longest first, so a secret containing another is replaced whole.
        self.secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it to logging's own error report
            return True
        record.msg, record.args = redact(message, self.secrets), None
        fields = getattr(record, FIELDS_ATTR, None)
        if isinstance(fields, dict):
            setattr(record, FIELDS_ATTR, {k: redact(v, self.secrets) if isinstance(v, str) else v
                                          for k, v in fields.items()})
        if record.exc_info and not record.exc_text:  # formatted once here, so both formatters print it redacted
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (ISO 8601 UTC), level, logger, event, the event's fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            # A record not written by log_event (a library's, a warning) carries its text as the event.
            "event": getattr(record, EVENT_ATTR, None) or record.getMessage(),
        }
        fields = getattr(record, FIELDS_ATTR, None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                out[f"{key}_" if key in _RESERVED else key] = _json_value(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False)  # newlines inside are escaped: still one line


def make_handler(fmt: LogFormat, secrets: Iterable[str], stream: TextIO | None = None) -> logging.Handler:
    """A stream handler in the chosen format with the redaction filter on it."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RedactingFilter(secrets))
    return handler


def configure(fmt: LogFormat, secrets: Iterable[str], *, level: int = logging.INFO,
              stream: TextIO | None = None) -> logging.Handler:
    """The root logger's only handler; the chatty libraries at WARNING; Python warnings into the log too
    (so a JSON log stays JSON on every line)."""
    handler = make_handler(fmt, secrets, stream)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    return handler
