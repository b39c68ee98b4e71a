"""`rectbot demo --interactive`: the same world, and the newcomer plays one of the people."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO


def run_interactive(out: Path | None, *, color: bool = True, lang: str = "zh_CN",
                    stdin: TextIO | None = None, stream: TextIO | None = None) -> int:
    raise NotImplementedError
