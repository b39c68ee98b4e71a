"""The one sanitiser for text we store (ledger import, case registration).

Text reaches us from chat, spreadsheets and Telegram profiles. A single control character
(BEL typed in /new, a NUL in an imported cell) used to make every later XLSX export fail, so
stored text is cleaned once, on the way in: Unicode NFC, no C0/C1 control characters except
newline and tab (multi-line fields only), no bidi overrides that would make a cell read
differently from what it contains, no lone surrogates or non-characters, and a length limit
with the caller's own message. bot/sheets.py guards the output side for data stored earlier.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from bot.errors import N_, DomainError

# C0 except \t \n \r, DEL, C1; bidi embeddings/overrides/isolates; lone surrogates; U+FFFE/U+FFFF.
_DROP = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]")
_NEWLINES = re.compile("\r\n?|[\u2028\u2029\x85]")

TOO_LONG = N_("The text is too long ({limit} characters at most).")


def strip_controls(value: str) -> str:
    """Drop what is never meant to be stored (control, bidi, surrogate and non-characters); keeps \\t \\n."""
    return _DROP.sub("", _NEWLINES.sub("\n", value))


def clean_text(value: str | None, *, max_len: int | None, multiline: bool = False, too_long: str = TOO_LONG) -> str:
    """NFC, control characters stripped, trimmed; single-line text has every whitespace run made one space.

    Raises DomainError(`too_long`, limit=max_len) when the cleaned text is longer than `max_len`
    (refusing beats silently cutting a finding in half).
    """
    value = value or ""
    if value.isprintable():
        # The common case (a ledger cell, a typed line): no control, format, separator or surrogate
        # character, so nothing to strip, and the only whitespace is the ASCII space.
        text = unicodedata.normalize("NFC", value)
        text = text.strip(" ") if multiline or "  " not in text else " ".join(text.split())
    else:
        text = unicodedata.normalize("NFC", strip_controls(value))
        text = text.strip() if multiline else " ".join(text.split())
    if max_len is not None and len(text) > max_len:
        raise DomainError(too_long, limit=max_len)
    return text


def size_text(n: int) -> str:
    """A file size in one style everywhere (0.6 KB, 12.0 KB, 3.4 MB): people compare sizes at a glance,
    and bytes next to kilobytes (594 B beside 1 KB) read as different kinds of number."""
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:.1f} MB"
    return f"{max(n / 1024, 0.1):.1f} KB"


def label_key(text: str) -> str:
    """What a typed word and a button label are compared by: width-folded (NFKC), case-folded, without
    spaces and punctuation (是，涉密 ≈ 是涉密, ＹＥＳ ≈ yes)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")


def pick_label(labels: Sequence[str], typed: str) -> int | None:
    """Which button a person meant by typing instead of tapping: the label typed exactly, else the one
    label it begins, else the one label containing it, else the one label contained in it (我选绩效评价).
    None when nothing or several fit: guessing between two buttons would be worse than asking again."""
    word = label_key(typed)
    keys = [label_key(label) for label in labels]
    if not word:
        return None
    for test in (lambda k: k == word, lambda k: k.startswith(word), lambda k: word in k,
                 lambda k: bool(k) and k in word):
        hits = [i for i, k in enumerate(keys) if k and test(k)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            return None
    return None
