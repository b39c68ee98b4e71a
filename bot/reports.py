"""Rectification reports (整改落实情况报告): drafts, evidence, submission.

A liaison's report is a draft row in SQLite from the first step: every step (measures, status,
reason, evidence) is written at once, so a restart, a timeout or a crash loses nothing and
/report resumes where the draft stands (reports.step). Submitting fixes the report date, says
whether it was on time, moves the case to "reported" and queues the review card for the
supervisors and a notice for the department's other liaisons.

Evidence is stored under settings.storage.files/<case_id>/<sha256>.<ext>: the path comes from
the content hash and a whitelisted extension, never from the name the user gave the file.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bot.case_text import case_title
from bot.cases import OPEN_STATUSES
from bot.clock import iso
from bot.dates import format_deadline
from bot.domain import (
    Case,
    CaseStatus,
    Decision,
    EvidenceFile,
    ItemStatus,
    Kind,
    Notification,
    Person,
    Progress,
    Report,
    ReportItem,
    ReportState,
    Review,
    Role,
    Step,
)
from bot.errors import DomainError, NotAuthorized
from bot.findings import split_findings
from bot.i18n import N_, Translator
from bot.notify import Rendered
from bot.paging import PAGE_SIZE, Page, window
from bot.people import actor_of, require_role
from bot.reminders import Light, traffic_light
from bot.text import size_text
from bot.workcalendar import WorkCalendar
from storage import cases as cases_repo
from storage import people as people_repo
from storage import reports as repo
from storage.db import Database, audit
from storage.outbox import enqueue

PROGRESS_NAMES = {
    Progress.DONE: N_("rectified"),
    Progress.PARTLY: N_("partly rectified"),
    Progress.NOT_YET: N_("not yet rectified"),
}
ITEM_STATUS_NAMES = {
    ItemStatus.DONE: N_("completed"),
    ItemStatus.IN_PROGRESS: N_("being rectified"),
    ItemStatus.CANNOT: N_("cannot be rectified"),
}






# A unit may report while the case runs, after a return, and after a non-compliance finding
# (rectifying late is still rectifying: the budget hold is lifted when the case is closed).
REPORTABLE_STATUSES = (*OPEN_STATUSES, CaseStatus.REFUSED, CaseStatus.INADEQUATE, CaseStatus.FALSELY_REPORTED)
# What a liaison sees under /cases: everything not closed.
VISIBLE_OPEN_STATUSES = (CaseStatus.PENDING_FEEDBACK, CaseStatus.REPORTED, *REPORTABLE_STATUSES)

MAX_MEASURES_CHARS = 8000
MAX_REASON_CHARS = 2000
MAX_EVIDENCE_FILES = 20
MAX_EVIDENCE_BYTES = 20 * 1024 * 1024  # Telegram's getFile download limit for bots

# Whitelisted extensions → the MIME type stored with the file.
EVIDENCE_TYPES: Mapping[str, str] = {
    "pdf": "application/pdf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt": "application/vnd.ms-powerpoint",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "wps": "application/vnd.ms-works",   # WPS Writer
    "et": "application/vnd.ms-excel",    # WPS Spreadsheets
    "jpg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "heic": "image/heic",
}
_EXT_ALIASES = {"jpeg": "jpg", "heif": "heic"}
_MIME_TO_EXT = {
    "application/pdf": "pdf", "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.ms-powerpoint": "ppt",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    "image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp", "image/heic": "heic",
    "image/heif": "heic",
}
_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# What the first bytes of each type look like: a renamed .exe is not a PDF.
_SIGNATURES: Mapping[str, tuple[bytes, ...]] = {
    "pdf": (b"%PDF",), "doc": (_OLE,), "xls": (_OLE,), "ppt": (_OLE,), "wps": (_OLE,), "et": (_OLE,),
    "docx": (_ZIP,), "xlsx": (_ZIP,), "pptx": (_ZIP,),
    "jpg": (b"\xff\xd8\xff",), "png": (b"\x89PNG\r\n\x1a\n",), "gif": (b"GIF87a", b"GIF89a"),
}

UNSUPPORTED_FILE = N_(
    "Sorry, I cannot accept this file. Please send a PDF, an Office or WPS file (doc, docx, xls, xlsx, ppt, "
    "pptx, wps, et) or a picture (jpg, png, gif, webp, heic)."
)


# --------------------------------------------------------------------------- presentation helpers


@dataclass(frozen=True)
class DeadlineStatus:
    light: Light
    working_days_left: int      # working days after today up to and including the due day
    overdue_working_days: int   # working days past the due day (0 unless overdue)


def deadline_status(case: Case, today: date, calendar: WorkCalendar) -> DeadlineStatus:
    """The report deadline's traffic light (bot.reminders.traffic_light, as reminders and digests use)."""
    if case.due_on is None:
        return DeadlineStatus(Light.NONE, 0, 0)
    return DeadlineStatus(*traffic_light(case.due_on, today, calendar))


def describe_deadline(case: Case, today: date, calendar: WorkCalendar, t: Translator) -> str:
    """🟡 2026年3月5日（星期四） · 2 working days left / 🔴 … · 4 working days overdue."""
    status = deadline_status(case, today, calendar)
    when = format_deadline(case.due_on, case.due_provisional, t)
    if status.light is Light.RED:
        extra = t.ngettext("{n} working day overdue", "{n} working days overdue",
                           status.overdue_working_days).format(n=status.overdue_working_days)
    elif status.light is Light.NONE:
        return f"{status.light.emoji} {when}"
    elif case.due_on == today:
        extra = t._("last day today")
    else:
        extra = t.ngettext("{n} working day left", "{n} working days left",
                           status.working_days_left).format(n=status.working_days_left)
    return f"{status.light.emoji} {when} · {extra}"


# --------------------------------------------------------------------------- authorization


async def case_for_liaison(db: Database, person: Person | None, case_id: int) -> Case:
    """The case, if `person` is a liaison of its department; other cases do not exist for them."""
    liaison = require_role(person, Role.LIAISON)
    case = await cases_repo.get_case(db, case_id)
    if case is None or case.department_id != liaison.department_id:
        raise NotAuthorized(N_("Case #{id} is not one of your department's cases."), id=case_id)
    return case


def _require_reportable(case: Case) -> None:
    if case.status == CaseStatus.REPORTED:
        raise DomainError(N_("A report on case #{id} is already awaiting the bureau's review."), id=case.id)
    if case.status == CaseStatus.CLOSED:
        raise DomainError(N_("Case #{id} is already closed."), id=case.id)
    if case.status not in REPORTABLE_STATUSES:
        raise DomainError(N_("Case #{id} cannot take a report yet: the feedback has not been received."),
                          id=case.id)


async def open_cases_for(db: Database, person: Person | None) -> list[Case]:
    """A liaison's department's cases that are not closed, soonest deadline first."""
    liaison = require_role(person, Role.LIAISON)
    ids = await repo.cases_with_status(db, VISIBLE_OPEN_STATUSES, department_id=liaison.department_id)
    found = [await cases_repo.get_case(db, i) for i in ids]
    return [c for c in found if c is not None]


async def open_cases_page(db: Database, person: Person | None, number: int,
                          statuses: Sequence[CaseStatus] = VISIBLE_OPEN_STATUSES) -> Page[Case]:
    """Page `number` of the liaison's department's cases of `statuses` (by default every one not
    closed), soonest deadline first: a COUNT and one LIMITed query, so a department with hundreds of
    cases costs one page (issue 14). The role is checked on every call: a ◀ ▶ press is user input."""
    liaison = require_role(person, Role.LIAISON)
    department = liaison.department_id
    total = 0 if department is None else await cases_repo.count_department_cases(db, department, statuses)
    number, pages, offset = window(total, number)
    found = await cases_repo.department_cases_page(db, department, statuses, limit=PAGE_SIZE,
                                                   offset=offset) if total and department is not None else []
    return Page(tuple(found), number, pages, total)


def is_reportable(case: Case) -> bool:
    return case.status in REPORTABLE_STATUSES


# --------------------------------------------------------------------------- drafts


async def last_return(db: Database, case_id: int, *, before_report: int | None = None) -> Review | None:
    """The bureau's decision on the case's last decided report (why a resubmission is needed), if any;
    with `before_report`, the decision that preceded that report."""
    previous = await repo.latest_decided_report(db, case_id, before_id=before_report)
    return await repo.review_of(db, previous.id) if previous else None


def resubmission_lines(report: Report, previous: Review | None, t: Translator, *, confidential: bool) -> list[str]:
    """第2次报送 and why: the round, the last decision and its words (not for confidential cases)."""
    if report.round <= 1:
        return []
    lines = [t._("Submission no. {n}").format(n=report.round)]
    if previous is not None and previous.note and not confidential:
        if previous.decision == Decision.RETURN_FOR_REWORK:
            lines.append(t._("Reason for return: {note}").format(note=previous.note))
        else:
            lines.append(t._("Last review opinion: {note}").format(note=previous.note))
    return lines


@dataclass(frozen=True)
class Draft:
    report: Report
    case: Case
    evidence: list[EvidenceFile]
    resumed: bool = False
    items: tuple[ReportItem, ...] = ()  # 逐条整改: one per numbered finding (empty for a free-text report)

    @property
    def step(self) -> Step:
        return Step(self.report.step)


async def load_draft(db: Database, person: Person | None, report_id: int) -> Draft:
    """The person's own draft by id (stale or forged ids are refused)."""
    liaison = require_role(person, Role.LIAISON)
    report = await repo.get_report(db, report_id)
    if report is None or report.author_id != liaison.id or report.state != ReportState.DRAFT:
        raise DomainError(N_("This report draft no longer exists. Send /report to start again."))
    case = await case_for_liaison(db, liaison, report.case_id)
    return Draft(report, case, await repo.evidence_of(db, report.id), items=tuple(await repo.items_of(db, report.id)))


async def current_draft(db: Database, person: Person | None) -> Draft | None:
    """The draft /report resumes: the one this liaison worked on last."""
    liaison = require_role(person, Role.LIAISON)
    report = await repo.latest_draft_of(db, liaison.id)
    if report is None:
        return None
    case = await cases_repo.get_case(db, report.case_id)
    if case is None or case.department_id != liaison.department_id:
        return None
    return Draft(report, case, await repo.evidence_of(db, report.id), resumed=True,
                 items=tuple(await repo.items_of(db, report.id)))


async def start_draft(db: Database, person: Person | None, case_id: int, *, now: datetime) -> Draft:
    """Open (or resume) this liaison's draft on the case; one draft per case and author."""
    case = await case_for_liaison(db, person, case_id)
    assert person is not None
    _require_reportable(case)
    async with db.transaction() as conn:
        existing = await repo.draft_of(conn, case.id, person.id)
        if existing is not None:
            await repo.update_report(conn, existing.id, {"updated_at": iso(now)})
            report_id, resumed = existing.id, True
        else:
            # A resubmission starts from the last decided report: its measures and (references to) its files.
            previous = await repo.latest_decided_report(conn, case.id)
            round_no = await repo.next_round(conn, case.id)
            report_id = await repo.insert_draft(conn, case.id, person.id, iso(now), round_no=round_no,
                                                measures=previous.measures if previous else "")
            copied = await repo.copy_evidence(conn, previous.id, report_id, iso(now)) if previous else 0
            resumed = False
            after: dict[str, Any] = {"case_id": case.id, "round": round_no}
            findings = finding_items(case)
            if findings:  # 逐条整改: answer each numbered finding, starting from the last report's answers
                earlier = {i.item_no: i.measures for i in await repo.items_of(conn, previous.id)} if previous else {}
                await repo.insert_items(conn, report_id, [earlier.get(n, "") for n in range(1, len(findings) + 1)])
                await repo.update_report(conn, report_id, {"step": Step.ITEMS})
                after["items"] = len(findings)
            if previous is not None:
                after.update(from_report=previous.id, evidence_copied=copied)
            await audit(conn, actor=actor_of(person), action="report.draft", entity="report", entity_id=report_id,
                        after=after, at=now)
    report = await repo.get_report(db, report_id)
    assert report is not None
    return Draft(report, case, await repo.evidence_of(db, report_id), resumed=resumed,
                 items=tuple(await repo.items_of(db, report_id)))


async def _save(db: Database, person: Person | None, report_id: int, changes: dict[str, Any], *,
                now: datetime) -> Draft:
    await load_draft(db, person, report_id)
    async with db.transaction() as conn:
        await repo.update_report(conn, report_id, {**changes, "updated_at": iso(now)})
    return await load_draft(db, person, report_id)


def _clean_text(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


async def add_measures(db: Database, person: Person | None, report_id: int, text: str, *, now: datetime) -> Draft:
    """Append one message to the measures taken (a report may take several messages)."""
    draft = await load_draft(db, person, report_id)
    piece = _clean_text(text)
    if not piece:
        raise DomainError(N_("Please describe the measures taken in words."))
    measures = f"{draft.report.measures}\n{piece}" if draft.report.measures else piece
    if len(measures) > MAX_MEASURES_CHARS:
        raise DomainError(N_("The measures are too long ({limit} characters at most). Attach the full text as "
                             "a file instead."), limit=MAX_MEASURES_CHARS)
    return await _save(db, person, report_id, {"measures": measures, "step": Step.MEASURES}, now=now)


async def replace_measures(db: Database, person: Person | None, report_id: int, *, now: datetime) -> Draft:
    """Edit → rewrite the measures: clear them and ask again."""
    return await _save(db, person, report_id, {"measures": "", "step": Step.MEASURES}, now=now)


async def finish_measures(db: Database, person: Person | None, report_id: int, *, now: datetime) -> Draft:
    draft = await load_draft(db, person, report_id)
    if not draft.report.measures:
        raise DomainError(N_("Please describe the measures taken first."))
    nxt = Step.SUMMARY if draft.report.progress else Step.PROGRESS
    return await _save(db, person, report_id, {"step": nxt}, now=now)


async def set_progress(db: Database, person: Person | None, report_id: int, progress: str, *,
                       now: datetime) -> Draft:
    try:
        value = Progress(progress)
    except ValueError:
        raise DomainError(N_("Unknown rectification status.")) from None
    draft = await load_draft(db, person, report_id)
    if value is Progress.DONE:
        nxt = Step.SUMMARY if draft.evidence or draft.report.step == Step.SUMMARY else Step.EVIDENCE
        changes: dict[str, Any] = {"progress": value, "reason": None, "step": nxt}
    else:
        changes = {"progress": value, "step": Step.REASON}
    return await _save(db, person, report_id, changes, now=now)


async def set_reason(db: Database, person: Person | None, report_id: int, text: str, *, now: datetime) -> Draft:
    """Why the rectification is partial or not done yet (required for those two statuses)."""
    draft = await load_draft(db, person, report_id)
    reason = _clean_text(text)
    if not reason:
        raise DomainError(N_("Please give the reason in words."))
    if len(reason) > MAX_REASON_CHARS:
        raise DomainError(N_("The reason is too long ({limit} characters at most)."), limit=MAX_REASON_CHARS)
    nxt = Step.SUMMARY if draft.evidence else Step.EVIDENCE
    return await _save(db, person, report_id, {"reason": reason, "step": nxt}, now=now)


async def goto_step(db: Database, person: Person | None, report_id: int, step: str, *, now: datetime) -> Draft:
    """Edit: go back to one step (measures, status or evidence) or on to the summary."""
    try:
        wanted = Step(step)
    except ValueError:
        raise DomainError(N_("This button is no longer valid.")) from None
    draft = await load_draft(db, person, report_id)
    if wanted is Step.SUMMARY:
        if draft.items and current_item(draft) is not None:
            wanted = Step.ITEMS
        elif not draft.report.measures:
            wanted = Step.MEASURES
        elif not draft.report.progress:
            wanted = Step.PROGRESS
        elif draft.report.progress != Progress.DONE and not draft.report.reason:
            wanted = Step.REASON
    return await _save(db, person, report_id, {"step": wanted}, now=now)


async def cancel_draft(db: Database, person: Person | None, report_id: int, *, now: datetime) -> Case:
    """Throw the draft away (its evidence rows go with it; stored files are shared by content)."""
    draft = await load_draft(db, person, report_id)
    async with db.transaction() as conn:
        await repo.delete_draft(conn, report_id)
        await audit(conn, actor=actor_of(person), action="report.cancel", entity="report", entity_id=report_id,
                    before={"case_id": draft.case.id, "measures": draft.report.measures,
                            "evidence": [e.sha256 for e in draft.evidence]}, at=now)
    return draft.case


# --------------------------------------------------------------------------- 逐条整改 (item by item)


def finding_items(case: Case) -> list[str]:
    """The numbered findings a report answers one by one; none for a confidential case (whose findings
    never go through the chat) or when the findings are not a numbered list."""
    return [] if case.confidential else split_findings(case.findings)


def current_item(draft: Draft) -> ReportItem | None:
    """The first item still without a status: the one the conversation asks about."""
    return next((i for i in draft.items if i.status is None), None)


def _item(draft: Draft, item_no: int) -> ReportItem:
    found = next((i for i in draft.items if i.item_no == item_no), None)
    if found is None:
        raise DomainError(N_("This button is no longer valid."))
    return found


def overall_progress(items: Sequence[ReportItem]) -> Progress:
    """The report's status from its items: all completed → rectified; none → not yet; else partly."""
    statuses = [i.status for i in items]
    if all(s is ItemStatus.DONE for s in statuses):
        return Progress.DONE
    if all(s is ItemStatus.CANNOT for s in statuses):
        return Progress.NOT_YET
    return Progress.PARTLY


def composed_measures(items: Sequence[ReportItem]) -> str:
    """The report's measures as one text (ledger export, history): 1. … 2. …"""
    return "\n".join(f"{i.item_no}. {i.measures}" for i in items)


async def add_item_measures(db: Database, person: Person | None, report_id: int, text: str, *,
                            now: datetime) -> Draft:
    """Append one message to the measures of the item being asked about."""
    draft = await load_draft(db, person, report_id)
    item = current_item(draft)
    if item is None:
        return await add_measures(db, person, report_id, text, now=now)
    piece = _clean_text(text)
    if not piece:
        raise DomainError(N_("Please describe the measures taken in words."))
    measures = f"{item.measures}\n{piece}" if item.measures else piece
    if sum(len(i.measures) for i in draft.items) + len(piece) > MAX_MEASURES_CHARS:
        raise DomainError(N_("The measures are too long ({limit} characters at most). Attach the full text as "
                             "a file instead."), limit=MAX_MEASURES_CHARS)
    async with db.transaction() as conn:
        await repo.update_item(conn, report_id, item.item_no, measures=measures, status=None)
        await repo.update_report(conn, report_id, {"step": Step.ITEMS, "updated_at": iso(now)})
    return await load_draft(db, person, report_id)


async def set_item_status(db: Database, person: Person | None, report_id: int, item_no: int, status: str, *,
                          now: datetime) -> Draft:
    """The status of one item; after the last one the report's measures and status follow from the items."""
    try:
        value = ItemStatus(status)
    except ValueError:
        raise DomainError(N_("Unknown rectification status.")) from None
    draft = await load_draft(db, person, report_id)
    item = _item(draft, item_no)
    if not item.measures:
        raise DomainError(N_("Please describe the measures taken for item {n} first."), n=item_no)
    items = [replace(i, status=value) if i.item_no == item_no else i for i in draft.items]
    changes: dict[str, Any] = {"step": Step.ITEMS, "updated_at": iso(now)}
    if all(i.status is not None for i in items):
        progress = overall_progress(items)
        changes.update(measures=composed_measures(items), progress=progress)
        if progress is Progress.DONE:
            changes.update(reason=None, step=Step.SUMMARY if draft.evidence else Step.EVIDENCE)
        else:
            changes["step"] = Step.REASON
    async with db.transaction() as conn:
        await repo.update_item(conn, report_id, item_no, measures=item.measures, status=value)
        await repo.update_report(conn, report_id, changes)
    return await load_draft(db, person, report_id)


async def rewrite_item(db: Database, person: Person | None, report_id: int, item_no: int, *,
                       now: datetime) -> Draft:
    """Clear one item's measures and status, and ask for it again."""
    draft = await load_draft(db, person, report_id)
    _item(draft, item_no)
    async with db.transaction() as conn:
        await repo.update_item(conn, report_id, item_no, measures="", status=None)
        await repo.update_report(conn, report_id, {"step": Step.ITEMS, "updated_at": iso(now)})
    return await load_draft(db, person, report_id)


async def restart_items(db: Database, person: Person | None, report_id: int, *, now: datetime) -> Draft:
    """Edit → 逐条修改: go through the items again (measures kept, each status asked again)."""
    draft = await load_draft(db, person, report_id)
    if not draft.items:
        raise DomainError(N_("This button is no longer valid."))
    async with db.transaction() as conn:
        await repo.clear_item_statuses(conn, report_id)
        await repo.update_report(conn, report_id, {"step": Step.ITEMS, "updated_at": iso(now)})
    return await load_draft(db, person, report_id)


# --------------------------------------------------------------------------- evidence


def evidence_extension(file_name: str | None, mime_type: str | None) -> str:
    """The whitelisted extension of an upload, from its name or else its MIME type; refuses the rest."""
    ext = ""
    if file_name and "." in file_name:
        ext = file_name.rsplit(".", 1)[1].strip().lower()
        ext = _EXT_ALIASES.get(ext, ext)
    if ext not in EVIDENCE_TYPES:
        ext = _MIME_TO_EXT.get((mime_type or "").split(";")[0].strip().lower(), "") if not ext else ""
    if ext not in EVIDENCE_TYPES:
        raise DomainError(UNSUPPORTED_FILE)
    return ext


def check_download_size(size: int | None) -> None:
    """Before downloading any file a person sent: Telegram lets bots download 20 MB at most."""
    if size is not None and size > MAX_EVIDENCE_BYTES:
        raise DomainError(N_("This file is larger than 20 MB, the most I can receive. Please send a smaller or "
                             "compressed file, or split it."))


def check_evidence(file_name: str | None, mime_type: str | None, size: int | None) -> str:
    """Before downloading: type and size."""
    ext = evidence_extension(file_name, mime_type)
    check_download_size(size)
    return ext


def content_matches(ext: str, data: bytes) -> bool:
    """Whether the bytes look like the claimed type (images without a fixed signature are trusted)."""
    if ext == "webp":
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    if ext == "heic":
        return data[4:8] == b"ftyp"
    sigs = _SIGNATURES.get(ext)
    return sigs is None or any(data.startswith(s) for s in sigs)


_IMAGE_TYPES = ("jpg", "png", "gif", "webp", "heic")


def sniff_image(data: bytes) -> str | None:
    """The image type the bytes actually are (a photo has no name, and its MIME type is a guess)."""
    return next((ext for ext in _IMAGE_TYPES if content_matches(ext, data)), None)


def _display_name(file_name: str | None, ext: str, sha: str) -> str:
    """The user's file name for display only: no folders, no control characters, bounded length."""
    name = (file_name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    name = re.sub(r"\s+", " ", name)[:120]
    return name or f"{'photo' if ext in ('jpg', 'png', 'webp', 'heic', 'gif') else 'file'}-{sha[:8]}.{ext}"


def _write_file(root: Path, relative: str, data: bytes) -> None:
    target = root / relative
    if target.exists() and target.stat().st_size == len(data):
        return  # same content already stored (the name is its hash)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class EvidenceAdded:
    draft: Draft
    file: EvidenceFile
    duplicate: bool


async def add_evidence(
    db: Database, person: Person | None, report_id: int, *, data: bytes, file_name: str | None,
    mime_type: str | None, telegram_file_id: str | None, files_root: Path, now: datetime,
) -> EvidenceAdded:
    """Store one evidence file (hash-named, type checked against its content) and attach it to the draft."""
    draft = await load_draft(db, person, report_id)
    ext = check_evidence(file_name, mime_type, len(data))
    if not data:
        raise DomainError(N_("This file is empty."))
    if not content_matches(ext, data) and file_name is None and sniff_image(data):
        ext = sniff_image(data) or ext  # a photo: trust its bytes, not the MIME type it came with
    if not content_matches(ext, data):
        raise DomainError(N_("This file does not look like a real {ext} file. Please check it and send it "
                             "again."), ext=ext.upper())
    sha = hashlib.sha256(data).hexdigest()
    for existing in draft.evidence:
        if existing.sha256 == sha:
            return EvidenceAdded(draft, existing, True)
    if len(draft.evidence) >= MAX_EVIDENCE_FILES:
        raise DomainError(N_("A report can carry at most {n} files."), n=MAX_EVIDENCE_FILES)
    relative = f"{draft.case.id}/{sha}.{ext}"
    await asyncio.to_thread(_write_file, Path(files_root), relative, data)
    name = _display_name(file_name, ext, sha)
    async with db.transaction() as conn:
        evidence_id = await repo.insert_evidence(
            conn, report_id=report_id, file_name=name, mime_type=EVIDENCE_TYPES[ext], size=len(data), sha256=sha,
            path=relative, telegram_file_id=telegram_file_id, at=iso(now),
        )
        step = draft.report.step if draft.report.step in (Step.SUMMARY, Step.ITEMS) else Step.EVIDENCE
        await repo.update_report(conn, report_id, {"updated_at": iso(now), "step": step})
        await audit(conn, actor=actor_of(person), action="report.evidence", entity="report", entity_id=report_id,
                    after={"file": name, "sha256": sha, "size": len(data), "type": ext}, at=now)
    fresh = await load_draft(db, person, report_id)
    added = next(e for e in fresh.evidence if e.id == evidence_id)
    return EvidenceAdded(fresh, added, False)


async def clear_evidence(db: Database, person: Person | None, report_id: int, *, now: datetime) -> Draft:
    await load_draft(db, person, report_id)
    async with db.transaction() as conn:
        removed = await repo.delete_evidence(conn, report_id)
        await repo.update_report(conn, report_id, {"updated_at": iso(now), "step": Step.EVIDENCE})
        await audit(conn, actor=actor_of(person), action="report.evidence_clear", entity="report",
                    entity_id=report_id, after={"removed": removed}, at=now)
    return await load_draft(db, person, report_id)


def evidence_path(files_root: Path, evidence: EvidenceFile) -> Path:
    """Where a stored evidence file is; refuses anything that would leave the files folder."""
    root = Path(files_root).resolve()
    path = (root / evidence.path).resolve()
    if root not in path.parents:
        raise DomainError(N_("This evidence file is missing."))
    return path


# --------------------------------------------------------------------------- submission


@dataclass(frozen=True)
class Submitted:
    report: Report
    case: Case
    evidence: list[EvidenceFile]


async def submit_report(
    db: Database, person: Person | None, report_id: int, *, now: datetime, today: date,
) -> Submitted:
    """Submit: record the report date and whether it was on time; queue the review card."""
    draft = await load_draft(db, person, report_id)
    assert person is not None
    report, case = draft.report, draft.case
    _require_reportable(case)
    if draft.items and current_item(draft) is not None:
        raise DomainError(N_("Please answer every numbered finding first."))
    if not report.measures:
        raise DomainError(N_("Please describe the measures taken first."))
    if not report.progress:
        raise DomainError(N_("Please choose the rectification status first."))
    if report.progress != Progress.DONE and not report.reason:
        raise DomainError(N_("Please give the reason why the rectification is not complete."))
    on_time = case.due_on is None or today <= case.due_on
    supervisors = await people_repo.people_with_role(db, Role.SUPERVISOR)
    colleagues = [p for p in await people_repo.liaisons_of(db, case.department_id) if p.id != person.id]
    async with db.transaction() as conn:
        fresh = await cases_repo.get_case(conn, case.id)
        assert fresh is not None
        _require_reportable(fresh)
        if await repo.submitted_report_of_case(conn, case.id) is not None:
            raise DomainError(N_("A report on case #{id} is already awaiting the bureau's review."), id=case.id)
        round_no = await repo.next_round(conn, case.id)  # counted again: another draft may have gone first
        await repo.update_report(conn, report.id, {
            "state": ReportState.SUBMITTED, "step": Step.SUMMARY, "submitted_at": iso(now),
            "submitted_on": today, "on_time": on_time, "updated_at": iso(now), "round": round_no,
        })
        await cases_repo.update_case(conn, case.id, {"status": CaseStatus.REPORTED, "next_action_at": now,
                                                     "updated_at": now})
        await audit(conn, actor=actor_of(person), action="report.submit", entity="report", entity_id=report.id,
                    after={"case_id": case.id, "progress": report.progress, "on_time": on_time, "round": round_no,
                           "submitted_on": today.isoformat(), "evidence": len(draft.evidence)}, at=now)
        await audit(conn, actor=actor_of(person), action="case.reported", entity="case", entity_id=case.id,
                    before={"status": fresh.status},
                    after={"status": CaseStatus.REPORTED.value, "report_id": report.id, "on_time": on_time,
                           "submitted_on": today.isoformat(), "round": round_no}, at=now)
        notes = [Notification(key=f"report:{report.id}:review_card:p{s.id}", person_id=s.id, kind=Kind.REVIEW_CARD,
                              payload={"report_id": report.id}, not_before=now, case_id=case.id)
                 for s in supervisors]
        if not case.confidential:
            notes += [Notification(key=f"report:{report.id}:evidence:{e.id}:p{s.id}", person_id=s.id,
                                   kind=Kind.REVIEW_EVIDENCE, payload={"report_id": report.id, "evidence_id": e.id},
                                   not_before=now, case_id=case.id)
                      for s in supervisors for e in draft.evidence]
        notes += [Notification(key=f"report:{report.id}:submitted:p{c.id}", person_id=c.id, kind=Kind.REPORT_SUBMITTED,
                               payload={"report_id": report.id}, not_before=now, case_id=case.id)
                  for c in colleagues]
        await enqueue(conn, notes, now=now)
    submitted = await repo.get_report(db, report.id)
    updated_case = await cases_repo.get_case(db, case.id)
    assert submitted is not None and updated_case is not None
    return Submitted(submitted, updated_case, draft.evidence)


# --------------------------------------------------------------------------- rendering


def progress_name(progress: str | None, t: Translator) -> str:
    if not progress:
        return "—"
    return t._(PROGRESS_NAMES[Progress(progress)])


def item_lines(case: Case, items: Sequence[ReportItem], t: Translator) -> list[str]:
    """逐条整改 side by side: each numbered finding, then its measures and status."""
    findings = finding_items(case)
    lines: list[str] = []
    for item in items:
        finding = findings[item.item_no - 1] if item.item_no <= len(findings) else "—"
        status = t._(ITEM_STATUS_NAMES[item.status]) if item.status else "—"
        lines += [t._("{n}. Finding: {finding}").format(n=item.item_no, finding=finding),
                  "   " + t._("Measures: {measures}").format(measures=(item.measures or "—").replace("\n", "\n   ")),
                  "   " + t._("Status: {status}").format(status=status)]
    return lines


def report_body(case: Case, report: Report, evidence: Sequence[EvidenceFile], t: Translator, *,
                with_content: bool = True, items: Sequence[ReportItem] = ()) -> list[str]:
    """The lines a summary or review card shows about a report (content hidden for confidential cases)."""
    lines = [
        t._("Status: {status}").format(status=progress_name(report.progress, t)),
    ]
    if report.reason:
        lines.append(t._("Reason: {reason}").format(reason=report.reason) if with_content
                     else t._("Reason: given"))
    if with_content and items:
        lines.append(t._("Item by item (逐条整改):"))
        lines += item_lines(case, items, t)
    elif with_content:
        lines.append(t._("Measures taken:"))
        lines.append(report.measures or "—")
    if with_content:
        if evidence:
            lines.append(t.ngettext("Evidence: {n} file", "Evidence: {n} files", len(evidence)).format(n=len(evidence)))
            lines += [f"  · {e.file_name} ({_size(e.size)})" for e in evidence]
        else:
            lines.append(t._("Evidence: none"))
    return lines


def _size(n: int) -> str:
    return size_text(n)


async def render_report_submitted(db: Database, t: Translator, payload: Mapping[str, Any]) -> Rendered:
    """To the department's other liaisons: a colleague has reported."""
    report = await repo.get_report(db, int(payload["report_id"]))
    if report is None:
        return Rendered(t._("A report was withdrawn."))
    case = await cases_repo.get_case(db, report.case_id)
    assert case is not None
    when = report.submitted_on or report.created_at.date()
    return Rendered(t._("{author} submitted the rectification report on {case} on {date}. It now awaits the "
                        "bureau's review.").format(author=report.author_name, case=case_title(t, case),
                                                   date=format_deadline(when, False, t)))


async def case_of_reply(db: Database, person: Person, replied_message_id: int) -> int | None:
    """The case a bot message this person replied to was about (a reminder, a feedback card…), if any."""
    return await repo.case_of_message(db, person.id, replied_message_id)
