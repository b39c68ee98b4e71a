"""Every message id must have a natural zh_CN translation; placeholders must survive translation."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import i18n_update  # noqa: E402

PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def test_every_msgid_has_a_zh_cn_translation() -> None:
    missing = i18n_update.missing("zh_CN")
    assert missing == [], f"untranslated zh_CN messages: {missing}"


def test_translations_keep_placeholders() -> None:
    with (ROOT / "locales/zh_CN/LC_MESSAGES/rectbot.po").open("rb") as fh:
        catalog = read_po(fh, locale="zh_CN")
    problems = []
    for msg in catalog:
        if not msg.id:
            continue
        ids = msg.id if isinstance(msg.id, tuple) else (msg.id,)
        strings = msg.string if isinstance(msg.string, tuple) else (msg.string,)
        for source, translated in zip(ids, strings, strict=False):
            if translated and set(PLACEHOLDER.findall(source)) != set(PLACEHOLDER.findall(translated)):
                problems.append((source, translated))
    assert problems == []


def test_translator_picks_locale_per_recipient() -> None:
    from bot.i18n import translator_for_locale

    assert translator_for_locale("en")._("administrator") == "administrator"
    assert translator_for_locale("zh_CN")._("administrator") == "管理员"
    assert translator_for_locale(None)._("administrator") == "管理员"  # zh_CN is the default
