"""Button data codecs: the wire strings stay what rectbot always sent, garbage parses to None."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.callbacks import (
    DIGEST,
    EXTENSION,
    LEDGER,
    NEW_CASE,
    OPEN_CASE,
    RECEIPT,
    REPORT,
    REVIEW,
    Callback,
    CallbackCodec,
)
from bot.digests import SECTIONS

CODECS = [NEW_CASE, RECEIPT, LEDGER, REPORT, OPEN_CASE, REVIEW, EXTENSION, DIGEST]


@pytest.mark.parametrize(("codec", "action", "values", "wire"), [
    (NEW_CASE, "dept", (12,), "new:dept:12"),
    (NEW_CASE, "skip", (), "new:skip"),
    (NEW_CASE, "conf", ("1",), "new:conf:1"),
    (NEW_CASE, "field", ("doc_no",), "new:field:doc_no"),
    (RECEIPT, "ack", (7,), "case:ack:7"),
    (LEDGER, "go", ("a1b2c3d4e5f6",), "ledger:go:a1b2c3d4e5f6"),
    (REPORT, "p", ("not_yet", 31), "rp:p:not_yet:31"),
    (REPORT, "goto", ("summary", 31), "rp:goto:summary:31"),
    (REPORT, "c", (5,), "rp:c:5"),
    (OPEN_CASE, "o", (5,), "cs:o:5"),
    (REVIEW, "falsely_reported", (9,), "rv:falsely_reported:9"),
    (REVIEW, "due", ("default",), "rv:due:default"),
    (EXTENSION, "approve", (3,), "ex:approve:3"),
    (DIGEST, "overdue", (), "dg:overdue"),
])
def test_wire_strings_round_trip(codec: CallbackCodec, action: str, values: tuple[int | str, ...],
                                 wire: str) -> None:
    assert codec.build(action, *values) == wire
    assert codec.parse(wire) == Callback(action, values)
    assert codec.pattern().match(wire)
    assert codec.pattern(action).match(wire)


@pytest.mark.parametrize("data", [
    None, "", "garbage", "rv:close:abc", "rv:close:", "rv:close:1:2", "rv:close:-1", "rv:close:1234567890",
    "rv:close:1\n", "rv:bogus:1", "rv:due:later", "new:conf:2", "new:dept:１", "new:src:中文", "rp:p:done",
    "case:ack:", "ledger:go:", "ledger:maybe:abc", "dg:", "dg:everything", "cs:o:1" + "1" * 70, "rp:c:٣",
])
def test_garbage_parses_to_none(data: str | None) -> None:
    for codec in CODECS:
        assert codec.parse(data) is None
        assert data is None or not codec.pattern().match(data)


def test_the_digest_codec_knows_every_section() -> None:
    assert tuple(DIGEST.actions) == SECTIONS


def test_parse_picks_the_journey() -> None:
    assert REVIEW.parse("ex:approve:1") is None
    assert EXTENSION.parse("ex:approve:1") == Callback("approve", (1,))
    assert not REVIEW.pattern("close").match("rv:open:1")
    assert REVIEW.pattern("open", "close").match("rv:open:1")
    assert NEW_CASE.any_pattern.match("new:whatever")


def test_values_are_typed() -> None:
    parsed = REPORT.parse("rp:p:done:42")
    assert parsed is not None
    assert parsed.text(0) == "done"
    assert parsed.number() == 42


def test_build_refuses_what_would_not_parse_back() -> None:
    with pytest.raises(ValueError):
        REVIEW.build("close", "1")  # a str where an int belongs
    with pytest.raises(ValueError):
        REVIEW.build("close", -1)
    with pytest.raises(ValueError):
        REVIEW.build("close")
    with pytest.raises(ValueError):
        LEDGER.build("go", "a:b")
    with pytest.raises(KeyError):
        REVIEW.build("approve", 1)


def test_build_refuses_data_over_64_bytes() -> None:
    codec = CallbackCodec("longprefix", {"a": (str, str)})
    assert len(codec.build("a", "x" * 20, "y" * 20).encode()) <= 64
    with pytest.raises(ValueError, match="64 bytes"):
        codec.build("a", "x" * 40, "y" * 40)


@given(st.integers(min_value=0, max_value=999_999_999))
def test_ids_round_trip(n: int) -> None:
    for codec, action in ((RECEIPT, "ack"), (REVIEW, "close"), (EXTENSION, "other"), (OPEN_CASE, "o")):
        assert codec.parse(codec.build(action, n)) == Callback(action, (n,))


@given(st.text(max_size=80))
def test_parse_never_raises(data: str) -> None:
    for codec in CODECS:
        parsed = codec.parse(data)
        if parsed is not None:
            assert codec.build(parsed.action, *parsed.values) == data
