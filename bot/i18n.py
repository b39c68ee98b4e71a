"""Translations: gettext catalogs chosen per recipient.

Message ids in the code are English; zh_CN is the default locale and must be complete.
Jobs run without an Update, so a translator is picked from the recipient's stored locale,
never from a global "current language".
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.errors import N_

__all__ = ["DEFAULT_LOCALE", "N_", "SUPPORTED_LOCALES", "WEEKDAYS", "Translator", "normalize_locale",
           "translator_for_locale"]

DOMAIN = "rectbot"
LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DEFAULT_LOCALE = "zh_CN"
SUPPORTED_LOCALES = ("zh_CN", "en")


def normalize_locale(code: str | None) -> str:
    """Map user input or Telegram language codes (zh, zh-hans, en-US, …) to a supported locale."""
    if not code:
        return DEFAULT_LOCALE
    c = code.strip().lower().replace("-", "_")
    if c.startswith("en"):
        return "en"
    return DEFAULT_LOCALE


class Translator:
    """A gettext catalog plus the locale it speaks; `_` is the short alias used in code."""

    def __init__(self, locale: str, catalog: gettext.NullTranslations) -> None:
        self.locale = locale
        self._catalog = catalog

    def gettext(self, msgid: str) -> str:
        return self._catalog.gettext(msgid)

    def _(self, msgid: str) -> str:
        return self._catalog.gettext(msgid)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._catalog.ngettext(singular, plural, n)


def _load_catalog(locale: str) -> gettext.NullTranslations:
    """Prefer the compiled .mo; fall back to compiling the .po in memory so a checkout works as-is."""
    folder = LOCALES_DIR / locale / "LC_MESSAGES"
    mo, po = folder / f"{DOMAIN}.mo", folder / f"{DOMAIN}.po"
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as fh:
            return gettext.GNUTranslations(fh)
    if po.exists():
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=locale, domain=DOMAIN)
        buf = io.BytesIO()
        write_mo(buf, catalog, use_fuzzy=False)
        buf.seek(0)
        return gettext.GNUTranslations(buf)
    return gettext.NullTranslations()


@cache
def translator_for_locale(locale: str | None) -> Translator:
    loc = normalize_locale(locale)
    return Translator(loc, _load_catalog(loc))


WEEKDAYS = (N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"),
            N_("Saturday"), N_("Sunday"))
