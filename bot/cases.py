"""Case lifecycle: registration, feedback, deadlines per source, status changes."""

from __future__ import annotations

from enum import StrEnum

from bot.i18n import N_


class Source(StrEnum):
    EX_ANTE = "ex_ante"
    TARGET_REVIEW = "target_review"
    MONITORING = "monitoring"
    EVALUATION = "evaluation"
    SPOT_CHECK = "spot_check"
    RANKING = "ranking"


class Grade(StrEnum):
    EXCELLENT = "excellent"  # 优
    GOOD = "good"            # 良
    FAIR = "fair"            # 中
    POOR = "poor"            # 差


class CaseStatus(StrEnum):
    PENDING_FEEDBACK = "pending_feedback"   # 待反馈: feedback not yet received by the unit
    IN_PROGRESS = "in_progress"             # 整改中: the report clock runs
    REPORTED = "reported"                   # 已报告: a report awaits review
    CLOSED = "closed"                       # 已销号
    RETURNED = "returned"                   # 退回补充: rework with a new deadline
    REFUSED = "refused"                     # 拒不整改
    INADEQUATE = "inadequate"               # 整改不到位
    FALSELY_REPORTED = "falsely_reported"   # 虚报


# Statuses whose report deadline is still running (reminders and overdue escalation apply).
OPEN_STATUSES = (CaseStatus.IN_PROGRESS, CaseStatus.RETURNED)

SOURCE_NAMES = {
    Source.EX_ANTE: N_("ex-ante performance assessment"),
    Source.TARGET_REVIEW: N_("performance target review"),
    Source.MONITORING: N_("performance monitoring"),
    Source.EVALUATION: N_("performance evaluation"),
    Source.SPOT_CHECK: N_("spot check"),
    Source.RANKING: N_("low assessment ranking"),
}

GRADE_NAMES = {Grade.EXCELLENT: "优", Grade.GOOD: "良", Grade.FAIR: "中", Grade.POOR: "差"}

STATUS_NAMES = {
    CaseStatus.PENDING_FEEDBACK: N_("awaiting feedback"),
    CaseStatus.IN_PROGRESS: N_("rectifying"),
    CaseStatus.REPORTED: N_("reported"),
    CaseStatus.CLOSED: N_("closed"),
    CaseStatus.RETURNED: N_("returned for rework"),
    CaseStatus.REFUSED: N_("refused to rectify"),
    CaseStatus.INADEQUATE: N_("rectification inadequate"),
    CaseStatus.FALSELY_REPORTED: N_("falsely reported"),
}
