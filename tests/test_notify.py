"""The channel-neutral message helpers."""

from __future__ import annotations

from bot.notify import split_text


def test_split_text_keeps_lines_whole_and_every_part_within_the_limit() -> None:
    text = "\n".join(f"第{i}行：" + "问" * (i * 37 % 300) for i in range(200))
    parts = split_text(text, 4096)
    assert len(parts) > 1 and all(0 < len(p) <= 4096 for p in parts)
    assert "\n".join(parts) == text  # nothing lost, cut only at line ends
    long_line = "字" * 10_000
    cut = split_text(long_line, 4096)
    assert [len(p) for p in cut] == [4096, 4096, 1808] and "".join(cut) == long_line
    assert split_text("", 4096) == [""] and split_text("短", 4096) == ["短"]
