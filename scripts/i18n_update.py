"""Extract message ids, merge them into the .po catalogs, optionally set translations.

    python scripts/i18n_update.py                 # extract + merge (keeps existing translations)
    python scripts/i18n_update.py --set zh.json   # also apply {"msgid": "中文"} translations
    python scripts/i18n_update.py --compile       # write .mo files (done by the test command)
    python scripts/i18n_update.py --check         # exit 1 when a zh_CN msgid lacks a translation
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
DOMAIN = "rectbot"
SOURCES = ("bot", "handlers", "storage")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
LANGS = ("zh_CN", "en")


def extract() -> Catalog:
    template = Catalog(project="rectbot", domain=DOMAIN, charset="utf-8")
    for folder in SOURCES:
        method_map = [("**.py", "python")]
        for filename, lineno, message, comments, _ctx in extract_from_dir(
            str(ROOT / folder), method_map=method_map, keywords=KEYWORDS
        ):
            if "sandbox" in filename.split(os.sep):
                continue
            template.add(message, locations=[(f"{folder}/{filename}", lineno)], auto_comments=comments)
    return template


def po_path(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(lang: str) -> Catalog:
    path = po_path(lang)
    if not path.exists():
        return Catalog(locale=lang, domain=DOMAIN, project="rectbot", charset="utf-8")
    with path.open("rb") as fh:
        return read_po(fh, locale=lang, domain=DOMAIN)


def write_atomic(path: Path, catalog: Catalog, *, mo: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        if mo:
            write_mo(fh, catalog, use_fuzzy=False)
        else:
            write_po(fh, catalog, width=100, sort_output=False, omit_header=False, include_previous=False)
    os.replace(tmp, path)


def update(translations: dict[str, str]) -> None:
    template = extract()
    with (LOCALES / f"{DOMAIN}.pot").open("wb") as fh:
        write_po(fh, template, width=100)
    for lang in LANGS:
        catalog = read(lang)
        # A copy per language: Catalog.update adopts the template's new Message objects, so setting a
        # zh_CN translation on a shared one would also write Chinese into the en catalog.
        catalog.update(copy.deepcopy(template), no_fuzzy_matching=True)
        catalog.obsolete.clear()
        if lang == "zh_CN":
            for msg in catalog:
                if msg.id and isinstance(msg.id, str) and msg.id in translations:
                    msg.string = translations[msg.id]
                elif msg.id and isinstance(msg.id, tuple) and msg.id[0] in translations:
                    value = translations[msg.id[0]]
                    msg.string = (value, value)
        write_atomic(po_path(lang), catalog)


def missing(lang: str = "zh_CN") -> list[str]:
    catalog = read(lang)
    template_ids = {m.id if isinstance(m.id, str) else m.id[0] for m in extract() if m.id}
    out = []
    for msgid in sorted(template_ids):
        msg = catalog.get(msgid)
        if msg is None or not msg.string or (isinstance(msg.string, tuple) and not all(msg.string)):
            out.append(msgid)
    return out


def compile_all() -> None:
    for lang in LANGS:
        write_atomic(po_path(lang).with_suffix(".mo"), read(lang), mo=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", type=Path, help="JSON file of zh_CN translations to apply")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    if args.compile:
        compile_all()
        return 0
    if args.check:
        gaps = missing()
        for msgid in gaps:
            print(f"untranslated: {msgid!r}")
        return 1 if gaps else 0
    translations = json.loads(args.set.read_text(encoding="utf-8")) if args.set else {}
    update(translations)
    gaps = missing()
    print(f"{len(gaps)} zh_CN message(s) without a translation", file=sys.stderr)
    for msgid in gaps:
        print(json.dumps(msgid, ensure_ascii=False), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
