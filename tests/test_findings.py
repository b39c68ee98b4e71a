"""bot/findings.split_findings: which findings texts are numbered lists answered item by item."""

from __future__ import annotations

import pytest

from bot.findings import split_findings


@pytest.mark.parametrize("text", [
    "1. 资金拨付滞后\n2. 绩效目标不明确\n3. 档案管理不规范",
    "1、资金拨付滞后；2、绩效目标不明确；3、档案管理不规范。",
    "（1）资金拨付滞后（2）绩效目标不明确（3）档案管理不规范",
    "(1) 资金拨付滞后\n(2) 绩效目标不明确\n(3) 档案管理不规范",
    "一、资金拨付滞后\n二、绩效目标不明确\n三、档案管理不规范",
    "①资金拨付滞后②绩效目标不明确③档案管理不规范",
    "存在问题如下：1．资金拨付滞后；2．绩效目标不明确；3．档案管理不规范",
])
def test_each_numbering_style_gives_the_three_items(text: str) -> None:
    assert split_findings(text) == ["资金拨付滞后", "绩效目标不明确", "档案管理不规范"]


@pytest.mark.parametrize("text", [
    "", None, "资金拨付滞后", "1. 资金拨付滞后",                       # not a list of two or more
    "拨付率仅1.5%，2026.3月才下达", "资金拨付滞后2.3个月",             # decimals are not numbering
    "2. 绩效目标不明确\n3. 档案管理不规范",                              # does not start at 1
])
def test_texts_that_are_not_numbered_lists(text: str | None) -> None:
    assert split_findings(text) == []


def test_the_outer_numbering_wins_and_sub_points_stay_inside() -> None:
    text = "一、资金管理方面：（1）拨付滞后；（2）结余较大。\n二、绩效管理方面：目标不明确。"
    assert split_findings(text) == ["资金管理方面：（1）拨付滞后；（2）结余较大", "绩效管理方面：目标不明确"]


def test_numbers_out_of_sequence_are_part_of_the_text_and_ten_plus_counts() -> None:
    assert split_findings("1. 共有3、4个项目滞后\n2. 目标不明确") == ["共有3、4个项目滞后", "目标不明确"]
    many = "\n".join(f"{n}、问题{n}" for n in range(1, 13))
    assert split_findings(many) == [f"问题{n}" for n in range(1, 13)]
    cn = "\n".join(f"{w}、问题" for w in ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二"])
    assert len(split_findings(cn)) == 12
