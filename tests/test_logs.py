"""Operator logs (bot/logs.py): event lines in text and JSON, redaction of the token everywhere, quiet libraries."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from bot.cli.common import T, setup_logging
from bot.cli.entry import build_parser
from bot.errors import StartupError
from bot.logs import (
    QUIET_LOGGERS,
    JsonFormatter,
    LogFormat,
    RedactingFilter,
    configure,
    event_text,
    log_event,
    make_handler,
    redact,
)
from bot.settings import Settings, load_settings

TOKEN = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"
SECRET = "hook-secret-xyz"


def capture(fmt: LogFormat, secrets: tuple[str, ...] = (TOKEN, SECRET)) -> tuple[logging.Logger, io.StringIO]:
    """A logger of its own with the real handler on it (the root logger is left alone)."""
    stream = io.StringIO()
    logger = logging.getLogger(f"test.logs.{fmt}.{id(stream)}")
    logger.handlers[:] = [make_handler(fmt, secrets, stream)]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger, stream


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


@pytest.fixture
def root_restored() -> Iterator[None]:
    """configure() changes the root logger and the library levels: put them back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    yield
    root.handlers[:], root.level = handlers, level
    for name, lvl in levels.items():
        logging.getLogger(name).setLevel(lvl)
    logging.captureWarnings(False)


# --------------------------------------------------------------------------- text lines

def test_event_text_is_the_name_then_key_value_fields() -> None:
    assert event_text("sweep done", {"due": 3, "queued": 2, "ms": 12}) == "sweep done due=3 queued=2 ms=12"


def test_event_text_quotes_values_that_would_not_split_cleanly() -> None:
    text = event_text("x", {"bureau": "海盐县 财政局", "eq": "a=b", "empty": "", "none": None, "ok": True})
    assert text == 'x bureau="海盐县 财政局" eq="a=b" empty="" none=- ok=true'


def test_text_format_is_one_human_readable_line() -> None:
    logger, stream = capture("text")
    log_event(logger, "delivery round", sent=5, failed=0, pending=2)
    [line] = lines(stream)
    assert line.endswith(f"INFO {logger.name}: delivery round sent=5 failed=0 pending=2")


def test_log_event_below_the_level_writes_nothing() -> None:
    logger, stream = capture("text")
    logger.setLevel(logging.WARNING)
    log_event(logger, "sweep done", due=1)
    assert stream.getvalue() == ""


# --------------------------------------------------------------------------- JSON lines

def test_json_line_has_ts_level_logger_event_and_the_fields_as_keys() -> None:
    logger, stream = capture("json")
    log_event(logger, "bulletin issued", week="2026-W11", recipients=4, explain=0)
    [line] = lines(stream)
    obj = json.loads(line)
    assert obj["level"] == "INFO" and obj["logger"] == logger.name and obj["event"] == "bulletin issued"
    assert obj["week"] == "2026-W11" and obj["recipients"] == 4 and obj["explain"] == 0
    assert obj["ts"].endswith("Z")
    assert datetime.fromisoformat(obj["ts"].replace("Z", "+00:00")).utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_json_keeps_chinese_readable_and_stringifies_other_values() -> None:
    logger, stream = capture("json")
    log_event(logger, "rectbot started", bureau="海盐县财政局", path=Path("/tmp/x.db"), ok=None)
    line = lines(stream)[0]
    assert "海盐县财政局" in line  # not \\u escapes: an operator can read it
    obj = json.loads(line)
    assert obj["path"] == "/tmp/x.db" and obj["ok"] is None


def test_json_fields_never_overwrite_the_fixed_keys() -> None:
    logger, stream = capture("json")
    log_event(logger, "x", level="mine", event="mine", ts=1)
    obj = json.loads(lines(stream)[0])
    assert obj["level"] == "INFO" and obj["event"] == "x"
    assert obj["level_"] == "mine" and obj["event_"] == "mine" and obj["ts_"] == 1


def test_json_plain_record_carries_its_text_as_the_event() -> None:
    logger, stream = capture("json")
    logger.warning("delivery: person %s is unreachable", 7)
    obj = json.loads(lines(stream)[0])
    assert obj["event"] == "delivery: person 7 is unreachable" and obj["level"] == "WARNING"


def test_json_exception_is_one_exc_string_on_the_same_line() -> None:
    logger, stream = capture("json")
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        logger.exception("delivery: a drain round failed; retrying shortly")
    [line] = lines(stream)
    obj = json.loads(line)
    assert isinstance(obj["exc"], str)
    assert obj["exc"].startswith("Traceback") and "ValueError: boom" in obj["exc"]


def test_json_formatter_alone_formats_an_exception() -> None:
    try:
        raise KeyError("k")
    except KeyError:
        import sys
        record = logging.LogRecord("n", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    obj = json.loads(JsonFormatter().format(record))
    assert "KeyError" in obj["exc"] and obj["event"] == "failed"


# --------------------------------------------------------------------------- no secrets

def test_redact_replaces_secrets_and_any_bot_url_token() -> None:
    other = "555:some-other-token-of-another-bot"
    text = (f"POST https://api.telegram.org/bot{TOKEN}/getUpdates and /file/bot{other}/documents/a.pdf"
            f" secret={SECRET} bare {TOKEN}")
    out = redact(text, (TOKEN, SECRET))
    assert TOKEN not in out and SECRET not in out and other not in out
    assert "/bot****/getUpdates" in out and "/file/bot****/documents/a.pdf" in out


def test_redact_leaves_ordinary_paths_alone() -> None:
    text = 'File "/work/rectbot/bot/app.py", line 3 in /bottles'
    assert redact(text, ()) == text


def test_a_token_shaped_string_is_redacted_even_when_not_configured() -> None:
    assert redact(f"token {TOKEN}", ()) == "token ****"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_no_secret_in_any_part_of_a_record(fmt: LogFormat) -> None:
    logger, stream = capture(fmt)
    url = f"https://api.telegram.org/bot{TOKEN}/sendMessage"
    logger.info('HTTP Request: POST %s "HTTP/1.1 200 OK"', url)            # in the arguments (httpx's style)
    logger.warning(f"webhook secret {SECRET} rejected")                     # in the message itself
    log_event(logger, "odd", url=url, secret=SECRET)                         # in an event's fields
    try:
        raise ConnectionError(f"cannot reach {url}")
    except ConnectionError:
        logger.exception("network error")                                   # in a traceback
    output = stream.getvalue()
    assert TOKEN not in output and SECRET not in output
    assert output.count("bot****") >= 3
    if fmt == "json":
        assert all(json.loads(line) for line in lines(stream))


def test_the_filter_is_on_the_handler_so_library_loggers_pass_it(root_restored: None) -> None:
    stream = io.StringIO()
    configure("text", (TOKEN,), stream=stream)
    logging.getLogger("telegram.ext.Application").error("Bot API at /bot%s/getMe failed", TOKEN)
    assert TOKEN not in stream.getvalue() and "/bot****/getMe" in stream.getvalue()


def test_redacting_filter_survives_a_bad_format_string() -> None:
    record = logging.LogRecord("n", logging.INFO, __file__, 1, "%d", ("x",), None)
    assert RedactingFilter((TOKEN,)).filter(record) is True


# --------------------------------------------------------------------------- libraries stay quiet

def test_httpx_and_apscheduler_info_lines_are_dropped_their_warnings_kept(root_restored: None) -> None:
    stream = io.StringIO()
    configure("json", (TOKEN,), stream=stream)
    logging.getLogger("httpx").info("HTTP Request: POST https://api.telegram.org/bot%s/getUpdates", TOKEN)
    logging.getLogger("apscheduler.executors.default").info('Running job "sweep" (scheduled at …)')
    logging.getLogger("apscheduler.scheduler").warning("Run time of job was missed")
    logging.getLogger("bot.jobs").info("kept")
    events = [json.loads(line)["event"] for line in lines(stream)]
    assert events == ["Run time of job was missed", "kept"]


def test_python_warnings_go_through_the_log(root_restored: None) -> None:
    import warnings

    stream = io.StringIO()
    configure("json", (), stream=stream)
    warnings.warn("something deprecated", DeprecationWarning, stacklevel=1)
    [line] = lines(stream)
    assert json.loads(line)["logger"] == "py.warnings"


# --------------------------------------------------------------------------- setting and flag

def test_setting_default_is_text_and_json_is_accepted() -> None:
    assert Settings().logging.format == "text"
    assert Settings(logging={"format": "json"}).logging.format == "json"  # type: ignore[arg-type]


def test_a_bad_format_setting_is_one_line_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "rectbot.toml"
    config.write_text('[logging]\nformat = "xml"\n', encoding="utf-8")
    with pytest.raises(StartupError) as info:
        load_settings(config)
    assert info.value.render(T) == ('配置项 logging.format 有误：不是允许的取值。'
                                    '允许的取值：text、json，例如 format = "text"')


def test_run_takes_log_format() -> None:
    parser = build_parser()
    assert parser.parse_args(["run", "--log-format", "json"]).log_format == "json"
    assert parser.parse_args(["run"]).log_format is None
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--log-format", "xml"])


@pytest.mark.parametrize(("setting", "flag", "json_expected"),
                         [("text", None, False), ("json", None, True), ("json", "text", False), ("text", "json", True)])
def test_the_flag_overrides_the_setting(root_restored: None, setting: LogFormat, flag: LogFormat | None,
                                        json_expected: bool) -> None:
    settings = Settings(logging={"format": setting}, telegram={"token": TOKEN})  # type: ignore[arg-type]
    setup_logging(settings, flag)
    [handler] = logging.getLogger().handlers
    assert isinstance(handler.formatter, JsonFormatter) is json_expected
    assert any(isinstance(f, RedactingFilter) and TOKEN in f.secrets for f in handler.filters)


# --------------------------------------------------------------------------- the events themselves

async def test_an_applied_import_is_one_event_with_its_row_counts(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    from bot.logs import EVENT_ATTR, FIELDS_ATTR
    from tests.test_cases import make_world
    from tests.test_ledger import import_bytes, xlsx_bytes

    world = await make_world(tmp_path / "logs.db")
    try:
        row = ["县教育局", "甲", "抽查复核", "", "", "", "A1", "", "", "", "", "", ""]
        with caplog.at_level(logging.INFO, logger="bot.ledger"):
            await import_bytes(world.db, xlsx_bytes([row, row]), "x.xlsx")
    finally:
        await world.db.close()
    [rec] = [r for r in caplog.records if getattr(r, EVENT_ATTR, None) == "import applied"]
    assert getattr(rec, FIELDS_ATTR) == {"rows": 1, "existing": 0, "skipped": 0, "departments": 0, "by": "cli"}
    assert rec.getMessage() == "import applied rows=1 existing=0 skipped=0 departments=0 by=cli"
