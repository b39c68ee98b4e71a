"""Never silent (issue 10, item 1): typed text matched to buttons, mistyped commands, questions in words."""

from __future__ import annotations

import re

import pytest

from bot.commands import COMMANDS
from bot.guidance import command_word, keyword_hint, role_hint, suggest_commands
from bot.i18n import translator_for_locale
from bot.text import pick_label

SOURCES = ["事前绩效评估", "绩效目标审核", "绩效运行监控", "绩效评价", "抽查复核", "考核排名靠后"]


@pytest.mark.parametrize(("typed", "expected"), [
    ("绩效评价", 3), (" 绩效评价 ", 3), ("评价", 3), ("我选绩效评价", 3), ("抽查", 4), ("考核", 5),
    ("绩效", None), ("", None), ("asdfgh", None),
])
def test_typed_text_picks_one_button_or_none(typed: str, expected: int | None) -> None:
    assert pick_label(SOURCES, typed) == expected


def test_labels_are_compared_without_punctuation_width_or_case() -> None:
    assert pick_label(["是，涉密", "否"], "是") == 0
    assert pick_label(["是，涉密", "否"], "是涉密") == 0
    assert pick_label(["Yes, confidential", "No"], "ＮＯ") == 1
    assert pick_label(["确认", "修改", "取消"], "确认！") == 0
    assert pick_label(["优", "良", "中", "差", "跳过"], "良") == 1


@pytest.mark.parametrize(("typed", "role", "expected"), [
    ("/reprot", "liaison", ["report"]),
    ("/Reprot@rectbot 12", "liaison", ["report"]),
    ("/reveiw", "supervisor", ["review"]),
    ("/reveiw", "liaison", []),          # a liaison is never pointed at a supervisor's command
    ("/xyzzy", "liaison", []),
])
def test_suggestions_come_from_the_senders_commands(typed: str, role: str, expected: list[str]) -> None:
    assert suggest_commands(typed, role) == expected


def test_several_close_commands_are_all_offered() -> None:
    assert set(suggest_commands("/cas", "liaison")) >= {"case", "cases"}
    assert command_word("/Cas@bot x") == "cas"


@pytest.mark.parametrize(("text", "command"), [
    ("你好，请问怎么报送整改材料？", "/report"),
    ("我们想申请延期，整改来不及", "/extend"),
    ("整改期限是哪天截止？", "/cases"),
])
def test_a_liaisons_question_points_to_the_command(text: str, command: str) -> None:
    zh = translator_for_locale("zh_CN")
    hint = keyword_hint(text, "liaison")
    assert hint is not None and command in zh._(hint)


def test_hints_only_name_commands_the_role_has() -> None:
    zh = translator_for_locale("zh_CN")
    for role in ("liaison", "supervisor", "admin"):
        names = {f"/{c.name}" for c in COMMANDS if role in c.roles}
        texts = [zh._(role_hint(role))]
        texts += [zh._(h) for h in {keyword_hint(w, role) for w in ("报送", "延期", "期限", "审核", "登记", "逾期",
                                                                     "导出")} if h]
        for text in texts:
            named = {n.split("：")[0].rstrip("。") for n in re.findall(r"/[a-z]+[^\s，；]*", text)}
            assert named <= names, (role, text, named - names)
    assert keyword_hint("asdfgh", "liaison") is None
