"""The bulletin's bar chart: 按期整改率 by department, as a PNG, in the font shipped with the package.

matplotlib's object API (Figure + the Agg canvas), never pyplot: no global figure state, no display.
Text is drawn with FontProperties pointing at bot/fonts (Noto Sans CJK SC, OFL), so Chinese renders
on a bare machine; `missing_characters` tells which characters of a text the font lacks (the tests
check every department name and label with it).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.font_manager import FontProperties

# matplotlib and fontTools are imported where a chart is drawn, not at import: they cost `rectbot run`
# about half a second and 70 MB at every start, for a chart drawn once a week (docs/PERFORMANCE.md).

FONT = Path(__file__).resolve().parent / "fonts" / "NotoSansCJKsc-Regular-subset.otf"


@dataclass(frozen=True)
class Bar:
    label: str                  # the department's name
    value: Fraction | None      # 按期整改率 (None: nothing fell due; drawn as an empty bar marked "—")


@cache
def _cmap() -> frozenset[int]:
    from fontTools.ttLib import TTFont

    font = TTFont(FONT, lazy=True)
    try:
        return frozenset(font.getBestCmap())
    finally:
        font.close()


def missing_characters(texts: Iterable[str]) -> set[str]:
    """Characters (other than whitespace) of `texts` that the shipped font cannot draw."""
    cmap = _cmap()
    return {ch for text in texts for ch in text if not ch.isspace() and ord(ch) not in cmap}


def _font(size: float) -> FontProperties:
    from matplotlib.font_manager import FontProperties

    return FontProperties(fname=str(FONT), size=size)


def _percent(value: Fraction | None) -> str:
    if value is None:
        return "—"
    tenths = (value * 1000 + Fraction(1, 2)) // 1
    return f"{tenths / 10:.1f}%"


def bar_chart(title: str, subtitle: str, bars: Sequence[Bar], axis_label: str) -> bytes:
    """A horizontal bar chart, best at the top, the value at the end of each bar; PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ordered = sorted(bars, key=lambda b: (-(b.value if b.value is not None else Fraction(-1)), b.label))
    height = max(3.0, 1.2 + 0.34 * len(ordered))
    fig = Figure(figsize=(9.0, height), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ys = list(range(len(ordered)))[::-1]
    values = [float(b.value * 100) if b.value is not None else 0.0 for b in ordered]
    colours = ["#c0392b" if v < 60 else "#e6a23c" if v < 80 else "#2e86c1" for v in values]
    ax.barh(ys, values, color=colours, height=0.65)
    ax.set_yticks(ys, [b.label for b in ordered], fontproperties=_font(10))
    ax.set_xlim(0, 112)
    ax.set_xticks([0, 20, 40, 60, 80, 100], ["0", "20", "40", "60", "80", "100"], fontproperties=_font(9))
    ax.set_xlabel(axis_label, fontproperties=_font(10))
    for y, v, b in zip(ys, values, ordered, strict=True):
        ax.text(v + 1, y, _percent(b.value), va="center", fontproperties=_font(9))
    ax.spines[["top", "right"]].set_visible(False)
    ax.margins(y=0.01)
    fig.suptitle(title, fontproperties=_font(14))
    ax.set_title(subtitle, fontproperties=_font(10), color="#555555")
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
