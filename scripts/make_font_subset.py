"""Rebuild bot/fonts/NotoSansCJKsc-Regular-subset.otf: Noto Sans CJK SC Regular cut to GB2312 + ASCII + punctuation.

Usage: python scripts/make_font_subset.py NotoSansCJK-Regular.ttc (or NotoSansCJKsc-Regular.otf)
The source is the OFL-licensed Noto Sans CJK (e.g. Debian's fonts-noto-cjk package, or the
googlefonts/noto-cjk release); the SC face is taken from a collection. GB2312 covers all 6,763
hanzi of the national standard, so every ordinary department name renders; tests/test_chart.py
checks every name and label the bot draws against the font's character map.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

OUT = Path(__file__).resolve().parents[1] / "bot" / "fonts" / "NotoSansCJKsc-Regular-subset.otf"
EXTRA = "·—–…‘’“”、。，：；！？（）【】《》〈〉「」『』〔〕％＋－×÷±≤≥↑↓→←▲▼●○■□★☆✓✗№℃￥"


def characters() -> str:
    chars = {chr(i) for i in range(0x20, 0x7F)} | set(EXTRA)
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            with contextlib.suppress(UnicodeDecodeError):
                chars.add(bytes([hi, lo]).decode("gb2312"))
    return "".join(sorted(chars))


def main(source: str) -> int:
    if source.lower().endswith((".ttc", ".otc")):
        face = next(f for f in TTCollection(source).fonts if f["name"].getDebugName(4).endswith(" SC"))
        tmp = OUT.with_suffix(".full.otf")
        face.save(tmp)
        source = str(tmp)
    opts = subset.Options()
    opts.layout_features = ["*"]
    opts.name_IDs = ["*"]
    opts.name_languages = ["*"]
    opts.notdef_outline = True
    font: TTFont = subset.load_font(source, opts)
    sub = subset.Subsetter(opts)
    sub.populate(text=characters())
    sub.subset(font)
    subset.save_font(font, str(OUT), opts)
    OUT.with_suffix(".full.otf").unlink(missing_ok=True)
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
