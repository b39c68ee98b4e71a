"""bot.text.clean_text's fast path for printable text gives exactly what the full cleaning gives."""

from __future__ import annotations

import random
import unicodedata

import pytest

from bot import text
from bot.errors import DomainError

# Characters the full cleaning treats specially, beside plain ones (CJK, ASCII, a combining accent).
ALPHABET = [" ", "  ", "a", "中", "\t", "\n", "\r", "\u3000", "\u00a0", "\u202e", "\x00", "\x85", "\u2028",
            "e\u0301", "\ufeff", "\u200b", "Ａ", "\ud800", "\uffff", "。", "\x7f", "\u2066", "\u1680", "\u205f"]


def full_cleaning(value: str, *, multiline: bool) -> str:
    cleaned = unicodedata.normalize("NFC", text.strip_controls(value))
    return cleaned.strip() if multiline else " ".join(cleaned.split())


@pytest.mark.parametrize("multiline", [False, True])
def test_the_fast_path_matches_the_full_cleaning(multiline: bool) -> None:
    rng = random.Random(20261202)
    for _ in range(20_000):
        value = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 8)))
        assert text.clean_text(value, max_len=None, multiline=multiline) == full_cleaning(value, multiline=multiline)


def test_examples() -> None:
    assert text.clean_text("  县教育局  ", max_len=None) == "县教育局"
    assert text.clean_text("教师  培训 经费", max_len=None) == "教师 培训 经费"
    assert text.clean_text(" 财绩〔2026〕1号  附件 ", max_len=None, multiline=True) == "财绩〔2026〕1号  附件"
    assert text.clean_text("cafe\u0301", max_len=None) == "caf\u00e9"          # NFC on the fast path too
    with pytest.raises(DomainError):
        text.clean_text("x" * 11, max_len=10)
