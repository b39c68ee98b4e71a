"""Words people read: no internal code in a case's history, 北京时间 for the zone, one size style, one term
per concept (issue 10, item 8)."""

from __future__ import annotations

import ast
import re
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.messages.pofile import read_po

from bot import case_text
from bot.bootstrap import history_labels
from bot.dates import zone_label
from bot.domain import AuditEntry, Case, CaseStatus, Decision, Grade, Source
from bot.i18n import translator_for_locale
from bot.text import size_text

ROOT = Path(__file__).resolve().parents[1]
ZH = translator_for_locale("zh_CN")
CJK = re.compile(r"[\u3400-\u9fff]")


def _value_sets() -> dict[str, list[str]]:
    """What an f-string's placeholder in an action code can be (action=f"case.review.{choice.value}")."""
    return {"choice.value": [d.value for d in Decision]}


def case_actions_written() -> set[str]:
    """Every audit action code the code writes about a case: each call with `action=` whose `entity` is
    "case" or not given there (helpers such as _record_receipt pass the action on to their audit call)."""
    found: set[str] = set()
    for path in [*(ROOT / "bot").rglob("*.py"), *(ROOT / "storage").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            kw = {k.arg: k.value for k in node.keywords if k.arg}
            action, entity = kw.get("action"), kw.get("entity")
            if action is None or (isinstance(entity, ast.Constant) and entity.value != "case"):
                continue
            if isinstance(action, ast.Constant) and isinstance(action.value, str) and "." in action.value:
                found.add(action.value)  # event codes are dotted (argparse's action="store_true" is not one)
            elif isinstance(action, ast.JoinedStr):
                head = "".join(str(p.value) for p in action.values if isinstance(p, ast.Constant))
                holes = [ast.unparse(p.value) for p in action.values if isinstance(p, ast.FormattedValue)]
                assert len(holes) == 1 and holes[0] in _value_sets(), f"{path}: cannot expand {ast.unparse(action)}"
                found |= {head + v for v in _value_sets()[holes[0]]}
    return found


def test_the_scan_sees_the_known_actions() -> None:
    actions = case_actions_written()
    assert {"case.register", "case.review.return_for_rework", "case.receipt_acknowledged", "extension.request",
            "case.spot_check_open", "case.progress_note"} <= actions


def test_every_case_event_has_a_chinese_history_label() -> None:
    labels = history_labels()
    missing = sorted(a for a in case_actions_written() if a not in labels)
    assert missing == [], f"audit actions without a history label: {missing}"
    untranslated = sorted(a for a in case_actions_written() if not CJK.search(ZH._(labels[a])))
    assert untranslated == [], f"history labels without Chinese: {untranslated}"


def _case(due_rule: str) -> Case:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    return Case(
        id=1, department_id=1, department_name="县教育局", project="义务教育补助", source=Source.EVALUATION,
        grade=Grade.GOOD, findings="", suggestions="", feedback_doc_no="", created_by="cli", created_at=at,
        updated_at=at, status=CaseStatus.RETURNED, feedback_sent_on=date(2026, 11, 2),
        feedback_received_on=date(2026, 11, 3), due_on=date(2026, 12, 16), due_rule=due_rule,
    )


def test_case_page_shows_no_codes() -> None:
    """The bug: /case 1 showed （return_for_rework:1） and an unlabelled action showed its code."""
    at = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    history = [
        AuditEntry(at, "person:7", "case.review.return_for_rework", None, None),
        AuditEntry(at, "person:99", "case.something_new", None, None),
        AuditEntry(at, "telegram:5", "case.register", None, None),
    ]
    for rule in ("return_for_rework:1", "extension:3", "weird_rule"):
        text = case_text.render_case(ZH, _case(due_rule=rule), history, {7: "王督办"}, ZoneInfo("Asia/Shanghai"),
                                     history_labels())
        for code in ("return_for_rework", "extension:", "weird_rule", "case.", "person:", "telegram:"):
            assert code not in text, (code, text)
    assert "退回" in case_text.rule_detail(ZH, "return_for_rework:1")
    assert "延期" in case_text.rule_detail(ZH, "extension:3")


def test_zone_reads_as_beijing_time_or_an_offset() -> None:
    assert zone_label("Asia/Shanghai", ZH) == "北京时间"
    winter = datetime(2026, 1, 5, tzinfo=UTC)
    assert zone_label("Europe/Berlin", ZH, at=winter) == "UTC+1"
    assert zone_label("Asia/Kolkata", ZH, at=winter) == "UTC+05:30"
    assert zone_label("America/New_York", ZH, at=winter) == "UTC-5"
    assert "Asia" not in zone_label("Asia/Tokyo", ZH)


def test_sizes_in_one_style() -> None:
    assert [size_text(n) for n in (0, 594, 1024, 1229, 3_565_158)] == ["0.1 KB", "0.6 KB", "1.0 KB", "1.2 KB",
                                                                          "3.4 MB"]


# One term per concept (docs/ARCHITECTURE.md, 术语): the word people read, and the ones no zh_CN message uses.
RETIRED_TERMS = {"证明材料": "佐证材料", "原因": "理由"}
SOURCE_TERM = ("依据：{source}", "来源：{source}")


def test_one_term_per_concept_in_zh_cn() -> None:
    with (ROOT / "locales/zh_CN/LC_MESSAGES/rectbot.po").open("rb") as fh:
        catalog = read_po(fh, locale="zh_CN")
    offenders = []
    for msg in catalog:
        strings = msg.string if isinstance(msg.string, tuple) else (msg.string,)
        for text in strings:
            offenders += [(term, text) for term in RETIRED_TERMS if term in (text or "")]
            if text == SOURCE_TERM[0]:
                offenders.append(("依据", text))
    assert offenders == [], f"use {RETIRED_TERMS} and 来源 for a case's source: {offenders}"
