"""The bureau's rectification ledger (整改台账): XLSX/CSV import and XLSX export.

Import is two steps so nothing half-happens: `plan_import` reads and validates every row and
sorts them into new / already present / bad; `apply_import` writes the new ones in batches
(one transaction each) and refuses while any row is bad unless the caller confirmed importing
only the good rows. A case is identified by department + project + source + feedback document
number, so importing the same file twice, or importing an export, adds nothing. Column names,
source and grade words are the ledger's own vocabulary (ledger-columns.md), hence Chinese data
here rather than translated messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.budget import suggestion_label
from bot.cases import OPEN_STATUSES, CaseDeadlines, CaseDraft, case_values, compute_case_deadlines, require_bureau
from bot.clock import iso
from bot.confidential import shown
from bot.domain import CaseStatus, Grade, Person, Source
from bot.errors import DomainError, Msg, RectbotError
from bot.i18n import N_, Translator, translator_for_locale
from bot.ladder import FILLS, Colour, colour_of
from bot.logs import log_event
from bot.people import actor_of, normalize_department_name
from bot.periods import Period, parse_date
from bot.reminders import first_action_at
from bot.settings import Settings
from bot.sheet_reader import LIMITS, Limits, check_upload, read_rows
from bot.sheets import XlsxSheet, csv_bytes, solid_fill
from bot.workcalendar import WorkCalendar
from storage import cases as repo
from storage import people as people_repo
from storage.db import Database, audit

log = logging.getLogger(__name__)

# (key, canonical Chinese header, English alias, required on import)
IMPORT_COLUMNS: tuple[tuple[str, str, str, bool], ...] = (
    ("department", "部门", "department", True),
    ("project", "项目名称", "project", True),
    ("source", "来源", "source", True),
    ("grade", "评价等级", "grade", False),
    ("findings", "存在问题", "findings", False),
    ("suggestions", "整改建议", "suggestions", False),
    ("feedback_doc_no", "反馈文号", "feedback_doc_no", False),
    ("evaluation_ended_on", "评价结束日期", "evaluation_ended_on", False),
    ("feedback_sent_on", "反馈日期", "feedback_sent_on", False),
    ("feedback_received_on", "收到反馈日期", "feedback_received_on", False),
    ("due_on", "整改期限", "due_on", False),
    ("period", "期限", "period", False),
    ("confidential", "涉密", "confidential", False),
)
EXPORT_EXTRA: tuple[tuple[str, str, str], ...] = (
    ("case_id", "编号", "case_id"),
    ("feedback_due_on", "反馈期限", "feedback_due_on"),
    ("deadline_status", "期限状态", "deadline_status"),
    ("status", "状态", "status"),
    ("ladder", "督办等级", "ladder"),           # the three-colour ladder (bot/ladder.py), the cell in its colour
    ("reported_on", "报告日期", "reported_on"),
    ("overdue_working_days", "逾期工作日", "overdue_working_days"),
    ("review_outcome", "审核结果", "review_outcome"),
    ("budget_consequence", "预算建议", "budget_consequence"),
    ("liaisons", "联络员", "liaisons"),
)
# The export's column order: the number first, then the import columns, then the tracking columns.
EXPORT_ORDER = ("case_id", *(c[0] for c in IMPORT_COLUMNS), *(c[0] for c in EXPORT_EXTRA[1:]))
HEADERS = {key: zh for key, zh, _en, _req in IMPORT_COLUMNS} | {key: zh for key, zh, _en in EXPORT_EXTRA}

LADDER_LABELS = {Colour.NONE: "", Colour.BLUE: "蓝", Colour.YELLOW: "黄", Colour.RED: "红"}
SOURCE_LABELS = {
    Source.EX_ANTE: "事前绩效评估", Source.TARGET_REVIEW: "绩效目标审核", Source.MONITORING: "绩效运行监控",
    Source.EVALUATION: "绩效评价", Source.SPOT_CHECK: "抽查复核", Source.RANKING: "考核排名",
}
_SOURCE_WORDS = {
    **{label: s.value for s, label in SOURCE_LABELS.items()}, **{s.value: s.value for s in Source},
    "事前绩效评估退回": "ex_ante", "事前评估": "ex_ante", "目标审核": "target_review",
    "绩效运行监控异常": "monitoring", "运行监控": "monitoring", "绩效监控": "monitoring",
    "评价": "evaluation", "抽查": "spot_check", "考核排名靠后": "ranking", "排名靠后": "ranking",
}
GRADE_LABELS = {Grade.EXCELLENT: "优", Grade.GOOD: "良", Grade.FAIR: "中", Grade.POOR: "差"}
_GRADE_WORDS = {
    **{label: g.value for g, label in GRADE_LABELS.items()}, **{g.value: g.value for g in Grade},
    "优秀": "excellent", "良好": "good", "中等": "fair", "较差": "poor",
}
_YES = {"是", "y", "yes", "true", "1", "涉密", "√"}
_NO = {"", "否", "n", "no", "false", "0", "不涉密", "非涉密"}
STATUS_LABELS = {
    CaseStatus.PENDING_FEEDBACK: "待反馈", CaseStatus.IN_PROGRESS: "整改中", CaseStatus.REPORTED: "已报告",
    CaseStatus.CLOSED: "已销号", CaseStatus.RETURNED: "退回补充", CaseStatus.REFUSED: "拒不整改",
    CaseStatus.INADEQUATE: "整改不到位", CaseStatus.FALSELY_REPORTED: "虚报",
}
OVERDUE_LABEL = "逾期"
DECISION_LABELS = {"close": "销号", "return_for_rework": "退回补充", "refused": "拒不整改",
                   "inadequate": "整改不到位", "falsely_reported": "虚报"}
CONFIDENTIAL_PLACEHOLDER = "（涉密事项）"

BATCH_ROWS = 1000            # rows a statement (~50 ms of SQLite here)
TRANSACTION_ROWS = 10_000    # rows a transaction: a few a file (each commit writes the index pages it touched)
MAX_ROWS = LIMITS.rows
_YIELD_ROWS = 100
_BUILD_YIELD_ROWS = 20   # ~0.5 ms of building between turns of the event loop


# --------------------------------------------------------------------------- reading files


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[tuple[int, list[Any]]]   # (row number as the user sees it in the file, cells)


@dataclass(frozen=True)
class LedgerFile:
    """An upload that passed the checks needing no unpacking; `load_table` parses it in a worker."""

    name: str
    kind: str
    data: bytes = field(repr=False)
    limits: Limits = LIMITS


def _norm_header(text: Any) -> str:
    return "".join(unicodedata.normalize("NFKC", str(text or "")).split()).lower()


_HEADER_KEYS = {
    **{_norm_header(zh): key for key, zh, _en, _r in IMPORT_COLUMNS},
    **{_norm_header(en): key for key, _zh, en, _r in IMPORT_COLUMNS},
    **{_norm_header(zh): key for key, zh, _en in EXPORT_EXTRA},
    **{_norm_header(en): key for key, _zh, en in EXPORT_EXTRA},
}


def read_table(data: bytes, filename: str, *, limits: Limits = LIMITS) -> LedgerFile:
    """Check an .xlsx/.csv upload without unpacking it (size, zip directory, encoding); parsing waits for
    `plan_import` (or `load_table`), which runs it in a memory-capped worker off the event loop."""
    return LedgerFile(filename, check_upload(data, filename, limits), data, limits)


async def load_table(source: LedgerFile | Table, *, isolate: bool = True) -> Table:
    """The first sheet (or the CSV) as header + data rows, empty rows skipped, row numbers as in the file."""
    if isinstance(source, Table):
        return source
    sheet = await read_rows(source.data, source.kind, source.name, source.limits, isolate=isolate)
    if sheet.peak_rss_kb:
        log.info("parsed %s: %d rows, worker peak RSS %d MB", source.name, len(sheet.rows), sheet.peak_rss_kb // 1024)
    if not sheet.rows:
        raise DomainError(N_("The file {name} is empty."), name=source.name)
    _header_row, header = sheet.rows[0]
    return Table([str(h or "").strip() for h in header], sheet.rows[1:])


def _blank(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        v = value.strip()
        return v or None
    return value


# --------------------------------------------------------------------------- validating rows


@dataclass(frozen=True)
class RowError:
    row: int
    reasons: list[Msg]

    def render(self, t: Translator) -> str:
        return t._("Row {row}: {reasons}").format(row=self.row, reasons="；".join(r.render(t) for r in self.reasons))


@dataclass(frozen=True)
class PlannedRow:
    row: int
    draft: CaseDraft
    case_id_in_file: int | None = None


@dataclass
class ImportPlan:
    total: int = 0
    new: list[PlannedRow] = field(default_factory=list)
    existing: int = 0                 # already in the ledger (same identity, or an exported row)
    duplicates: int = 0               # repeated inside the file itself
    bad: list[RowError] = field(default_factory=list)
    new_departments: list[str] = field(default_factory=list)


def _msg(exc: RectbotError) -> Msg:
    return Msg(exc.msgid, **exc.params)


def _text(value: Any) -> str:
    if type(value) is str:   # nearly every cell (CSV: all): the same result as below, without the checks
        return value.strip()
    v = _blank(value)
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, datetime | date):
        return v.isoformat()[:10]
    return str(v).strip()


# A ledger repeats the same few hundred dates in 50,000 rows: each text is parsed once (only
# successes are cached; a bad date raises every time).
_parse_date = functools.lru_cache(maxsize=4096)(parse_date)


def _date(value: Any, column: str) -> date | None:
    if type(value) is str:
        known = _DATE_TEXTS.get(value)
        if known is not None:
            return known
    v = _blank(value)
    if v is None:
        return None
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    text = str(v).strip()
    if " " in text and text.split(" ", 1)[1].strip("0: ") == "":  # "2026-03-05 00:00:00"
        text = text.split(" ", 1)[0]
    try:
        parsed = _parse_date(text)
    except RectbotError:
        raise DomainError(N_('{column}: cannot read the date "{text}" (write 2026-03-05, 2026/3/5 or 2026年3月5日).'),
                          column=column, text=text[:30]) from None
    if type(value) is str and len(_DATE_TEXTS) < 4096:
        _DATE_TEXTS[value] = parsed
    return parsed


# Cell text → its date, for the texts read before (a cell's whole text: no trimming or parsing again).
_DATE_TEXTS: dict[str, date] = {}


def _row_draft(cells: dict[str, Any]) -> tuple[CaseDraft, int | None]:
    """One row → a normalized draft (DomainError with the first problem of each field collected)."""
    reasons: list[Msg] = []

    def grab(key: str, fn: Callable[[Any], Any]) -> Any:
        try:
            return fn(cells.get(key))
        except RectbotError as exc:
            reasons.append(_msg(exc))
            return None

    department = normalize_department_name(_text(cells.get("department")))
    project = _text(cells.get("project"))
    if not department:
        reasons.append(Msg(N_("{column} is empty."), column=HEADERS["department"]))
    if not project:
        reasons.append(Msg(N_("{column} is empty."), column=HEADERS["project"]))
    source_text = _text(cells.get("source"))
    source = _SOURCE_WORDS.get(source_text) or _SOURCE_WORDS.get(source_text.lower())
    if not source:
        reasons.append(Msg(N_('{column}: unknown source "{text}" (use 事前绩效评估, 绩效目标审核, 绩效运行监控, '
                              '绩效评价, 抽查复核 or 考核排名).'), column=HEADERS["source"], text=source_text[:30]))
    grade_text = _text(cells.get("grade"))
    grade = _GRADE_WORDS.get(grade_text) or _GRADE_WORDS.get(grade_text.lower()) if grade_text else None
    if grade_text and not grade:
        reasons.append(Msg(N_('{column}: unknown grade "{text}" (use 优, 良, 中 or 差).'), column=HEADERS["grade"],
                           text=grade_text[:30]))
    conf_text = _text(cells.get("confidential")).lower()
    if conf_text in _YES:
        confidential = True
    elif conf_text in _NO:
        confidential = False
    else:
        confidential = False
        reasons.append(Msg(N_('{column}: write 是 or 否, not "{text}".'), column=HEADERS["confidential"],
                           text=conf_text[:30]))
    dates: dict[str, date | None] = {}
    for key in ("evaluation_ended_on", "feedback_sent_on", "feedback_received_on", "due_on"):
        try:
            dates[key] = _date(cells.get(key), HEADERS[key])
        except RectbotError as exc:
            reasons.append(_msg(exc))
            dates[key] = None
    period_text = _text(cells.get("period"))
    period = grab("period", lambda v: str(Period.parse(period_text)) if period_text else None)
    case_id_text = _text(cells.get("case_id"))
    case_id = int(case_id_text) if case_id_text.isdigit() else None
    if reasons:
        raise _RowInvalid(reasons)
    draft = CaseDraft(
        department_name=department, project=project, source=str(source), grade=grade,
        findings=_text(cells.get("findings")), suggestions=_text(cells.get("suggestions")),
        feedback_doc_no=_text(cells.get("feedback_doc_no")), evaluation_ended_on=dates["evaluation_ended_on"],
        feedback_sent_on=dates["feedback_sent_on"], feedback_received_on=dates["feedback_received_on"],
        period=period, explicit_due_on=dates["due_on"], confidential=confidential,
    )
    try:
        return draft.normalized(), case_id
    except RectbotError as exc:
        raise _RowInvalid([_msg(exc)]) from None


class _RowInvalid(Exception):
    def __init__(self, reasons: list[Msg]) -> None:
        super().__init__("invalid row")
        self.reasons = reasons


def _drop_computed_due(draft: CaseDraft, calendar: WorkCalendar) -> CaseDraft:
    """An exported 整改期限 that merely repeats the computed deadline is not an explicit deadline."""
    if draft.explicit_due_on is None:
        return draft
    computed = compute_case_deadlines(source=draft.source, evaluation_ended_on=draft.evaluation_ended_on,
                                      feedback_received_on=draft.feedback_received_on, period=draft.period,
                                      explicit_due_on=None, calendar=calendar)
    if computed.due_on == draft.explicit_due_on:
        from dataclasses import replace

        return replace(draft, explicit_due_on=None)
    return draft


def _ident(draft: CaseDraft) -> tuple[str, str, str, str]:
    """The ledger's identity of a row: department, project, source, feedback document number."""
    return (draft.department_name, draft.project, draft.source, draft.feedback_doc_no)


class _RowChecker:
    """Validates a sheet's rows as they come (the header first): bad rows, in-file duplicates, valid drafts."""

    def __init__(self) -> None:
        self.index: dict[str, int] | None = None   # column key → cell position, once the header is read
        self.missing: list[str] = []
        self.total = 0
        self.plan = ImportPlan()
        self.seen: set[tuple[str, str, str, str]] = set()
        self.valid: list[tuple[int, CaseDraft, int | None, tuple[str, str, str, str]]] = []   # with its _ident

    def header(self, headers: Sequence[str]) -> None:
        index: dict[str, int] = {}
        for i, h in enumerate(headers):
            key = _HEADER_KEYS.get(_norm_header(h))
            if key and key not in index:
                index[key] = i
        self.index = index
        self.missing = [zh for key, zh, _en, required in IMPORT_COLUMNS if required and key not in index]

    async def frame(self, rows: list[tuple[int, list[Any]]]) -> None:
        """One frame from the worker; the sheet's first row is its header."""
        if self.index is None:
            if not rows:
                return
            (_number, header), rows = rows[0], rows[1:]
            self.header([str(h or "").strip() for h in header])
        await self.rows(rows)

    async def rows(self, rows: Sequence[tuple[int, list[Any]]]) -> None:
        self.total += len(rows)
        if self.missing:
            return   # reported once the whole file is read
        index = self.index or {}
        plan, seen, valid = self.plan, self.seen, self.valid
        for n, (number, cells) in enumerate(rows, start=1):
            if n % _YIELD_ROWS == 0:
                await asyncio.sleep(0)
            width = len(cells)
            values = {key: (cells[i] if i < width else None) for key, i in index.items()}
            try:
                draft, case_id = _row_draft(values)
            except _RowInvalid as exc:
                plan.bad.append(RowError(number, exc.reasons))
                continue
            ident = _ident(draft)
            if ident in seen:
                plan.duplicates += 1
                continue
            seen.add(ident)
            valid.append((number, draft, case_id, ident))


async def plan_import(db: Database, calendar: WorkCalendar, table: LedgerFile | Table, *,
                      isolate: bool = True) -> ImportPlan:
    """Parse (in a worker) and validate every row, sorting it into new / already present / duplicate / bad.

    Writes nothing. The rows are validated frame by frame as the worker sends them, while it parses
    the next ones; validation yields to the event loop every `_YIELD_ROWS` rows so that a big file
    does not hold up other people's updates. A refusal of the file (its size, a broken row) comes
    before the report of missing columns, as when the whole file was read first.
    """
    check = _RowChecker()
    if isinstance(table, Table):
        check.header(table.headers)
        await check.rows(table.rows)
    else:
        sheet = await read_rows(table.data, table.kind, table.name, table.limits, isolate=isolate,
                                on_rows=check.frame)
        if sheet.peak_rss_kb:
            log.info("parsed %s: %d rows, worker peak RSS %d MB", table.name, check.total, sheet.peak_rss_kb // 1024)
        if check.index is None:
            raise DomainError(N_("The file {name} is empty."), name=table.name)
    if check.missing:
        raise DomainError(N_("The file lacks the required column(s): {columns}."), columns="、".join(check.missing))
    index = check.index or {}
    is_export = "deadline_status" in index or "case_id" in index
    departments = {d.name for d in await people_repo.list_departments(db)}
    plan = check.plan
    plan.total = check.total
    seen = check.seen
    new_departments: dict[str, None] = {}
    valid = check.valid
    # Only the file's own keys and ids are looked up (memory follows the file, not the database).
    existing = await repo.existing_keys(db, seen)
    wanted_ids = [case_id for _n, _d, case_id, _i in valid if case_id is not None]
    by_id = await repo.case_ids_with_departments(db, wanted_ids) if wanted_ids else {}
    for number, draft, case_id, ident in valid:
        if ident in existing or (case_id is not None
                                      and by_id.get(case_id) == (draft.department_name, draft.source)):
            plan.existing += 1
            continue
        if is_export:
            draft = _drop_computed_due(draft, calendar)
        if draft.department_name not in departments:
            new_departments[draft.department_name] = None
        plan.new.append(PlannedRow(number, draft, case_id))
    plan.new_departments = list(new_departments)
    return plan


@dataclass(frozen=True)
class ImportResult:
    added: int
    existing: int
    duplicates: int
    skipped_bad: int
    departments_created: list[str]


Progress = Callable[[int, int], Awaitable[None]]


async def apply_import(
    db: Database, calendar: WorkCalendar, plan: ImportPlan, *, actor: Person | None, now: datetime,
    skip_invalid: bool = False, progress: Progress | None = None, batch_rows: int = BATCH_ROWS,
    settings: Settings | None = None, transaction_rows: int = TRANSACTION_ROWS,
) -> ImportResult:
    """Write the plan's new rows: one storage statement a `batch_rows` rows (storage.cases.import_case_rows), about
    `transaction_rows` a transaction; refuses while rows are bad unless confirmed. With `settings`,
    each row's first sweep is planned now (bot.reminders.first_action_at) instead of every imported
    case being due at once.

    A pipeline, so that Python and SQLite work at the same time: this coroutine builds the next batch
    (yielding every `_YIELD_ROWS` rows) while a writer task's statement runs in aiosqlite's thread."""
    require_bureau(actor)
    if plan.bad and not skip_invalid:
        raise DomainError(N_("{n} row(s) have problems, so nothing was imported."), n=len(plan.bad))
    actor_s = actor_of(actor)
    known = {d.name: d.id for d in await people_repo.list_departments(db)}
    total = len(plan.new)
    batches: asyncio.Queue[_Batch | None] = asyncio.Queue(maxsize=2)
    writer = asyncio.create_task(_write_batches(db, batches, known, actor=actor_s, now=now, total=total,
                                                progress=progress, transaction_rows=transaction_rows))
    try:
        builder = _BatchBuilder(calendar, now=now, settings=settings, created_by=actor_s, known=known)
        rows = by_department(plan.new)
        for start in range(0, total, batch_rows):
            await _put(batches, await builder.build(rows[start:start + batch_rows]), writer)
        await _put(batches, None, writer)
        added, created = await writer
    finally:
        if not writer.done():
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
    result = ImportResult(added, plan.existing + (total - added), plan.duplicates,
                          len(plan.bad) if skip_invalid else 0, created)
    log_event(log, "import applied", rows=added, existing=result.existing, skipped=result.skipped_bad,
              departments=len(created), by=actor_s)
    return result


def by_department(rows: Sequence[PlannedRow]) -> list[PlannedRow]:
    """The rows department by department, in the order the departments first appear in the file and
    in the file's order within each: a ledger kept by department keeps its order (and its case numbers
    follow its rows), and the indexes that lead with the department grow in a few places instead of
    all over (interleaved departments cost SQLite's inserts twice the time)."""
    first: dict[str, int] = {}
    for row in rows:
        first.setdefault(row.draft.department_name, len(first))
    return sorted(rows, key=lambda row: first[row.draft.department_name])


@dataclass(frozen=True)
class _Batch:
    rows: list[list[Any]]     # storage.cases.ImportRows rows
    count: int
    departments: list[str]    # names of its rows that were not in the ledger when the import began


class _BatchBuilder:
    """Planned rows → batches: the case values, the first sweep, the stored form, per distinct inputs
    where the work is the same (deadlines, first sweep, dates), not per row."""

    def __init__(self, calendar: WorkCalendar, *, now: datetime, settings: Settings | None, created_by: str,
                 known: dict[str, int]) -> None:
        self.calendar, self.now, self.settings, self.created_by, self.known = calendar, now, settings, created_by, known
        self.deadlines: dict[tuple[Any, ...], CaseDeadlines] = {}
        self.planned: dict[tuple[Any, ...], datetime | None] = {}
        self.rows = repo.ImportRows()
        # Stored rows by everything but the department and the free texts: the deadlines, status and
        # first sweep follow from the rest, so case_values runs once per distinct key (a few hundred a file).
        self.templates: dict[tuple[Any, ...], list[Any]] = {}

    async def build(self, chunk: Sequence[PlannedRow]) -> _Batch:
        out: list[list[Any]] = []
        fresh: dict[str, None] = {}
        calendar, now, settings, known, templates = self.calendar, self.now, self.settings, self.known, self.templates
        for n, planned_row in enumerate(chunk, start=1):
            if n % _BUILD_YIELD_ROWS == 0:
                # Often: the writer sends its next statement only at a turn of the loop, SQLite idles till then.
                await asyncio.sleep(0)
            draft = planned_row.draft
            name = draft.department_name
            if name not in known:
                fresh[name] = None
            key = (draft.source, draft.grade, draft.evaluation_ended_on, draft.feedback_sent_on,
                   draft.feedback_received_on, draft.period, draft.explicit_due_on, draft.confidential)
            template = templates.get(key)
            if template is None:
                # The department's id is resolved by name in SQL: 0 only stands for "not known here".
                new = case_values(draft, department_id=0, calendar=calendar, created_by=self.created_by,
                                  now=now, received_by="import", cache=self.deadlines)
                at = new.next_action_at if settings is None else first_action_at(
                    new, calendar=calendar, now=now, settings=settings, cache=self.planned)
                template = templates[key] = self.rows.row(name, new, at)
            out.append(self.rows.with_texts(template, name, draft.project, draft.findings, draft.suggestions,
                                            draft.feedback_doc_no))
        return _Batch(out, len(out), list(fresh))


async def _put(batches: asyncio.Queue[_Batch | None], batch: _Batch | None, writer: asyncio.Task[Any]) -> None:
    """Queue a batch for the writer, or raise the writer's error if it stopped (it takes no more)."""
    put = asyncio.ensure_future(batches.put(batch))
    await asyncio.wait({put, writer}, return_when=asyncio.FIRST_COMPLETED)
    if not put.done():   # the writer stopped, so nobody takes the batch: its error is the import's
        put.cancel()
        writer.result()
        raise RuntimeError("the import writer ended before the last batch")


async def _write_batches(db: Database, batches: asyncio.Queue[_Batch | None], known: dict[str, int], *,
                         actor: str, now: datetime, total: int, progress: Progress | None,
                         transaction_rows: int) -> tuple[int, list[str]]:
    """Write queued batches, about `transaction_rows` a transaction (a few per file: each commit
    writes every index page the rows touched); a new department with the first batch that needs it.
    Progress is reported after each commit."""
    at = iso(now)
    added = done = 0
    created: list[str] = []
    batch = await batches.get()
    while batch is not None:
        async with db.transaction() as conn:
            made: dict[str, int] = {}
            rows = 0
            while batch is not None and rows < transaction_rows:
                for name in batch.departments:
                    if name not in known and name not in made:
                        dept = await people_repo.insert_department(conn, name, at)
                        await audit(conn, actor=actor, action="department.add", entity="department",
                                    entity_id=dept.id, after={"name": name, "via": "import"}, at=now)
                        made[name] = dept.id
                added += await repo.import_case_rows(conn, batch.rows, actor=actor, at=at)
                rows += batch.count
                if rows < transaction_rows:
                    batch = await batches.get()
        # Only after the commit: a rolled-back transaction must not leave names behind.
        known.update(made)
        created.extend(made)
        done += rows
        if progress is not None:
            await progress(done, total)
        if batch is not None:   # the transaction was full: the next one starts with the next batch
            batch = await batches.get()
    return added, created


def describe_plan(t: Translator, plan: ImportPlan, *, max_errors: int = 30) -> str:
    """The report shown before importing: counts and each bad row with its reason."""
    lines = [t._("{total} row(s) read: {new} new, {existing} already in the ledger, {bad} with problems.").format(
        total=plan.total, new=len(plan.new), existing=plan.existing, bad=len(plan.bad))]
    if plan.duplicates:
        lines.append(t._("{n} row(s) repeat an earlier row of the same file and are skipped.").format(
            n=plan.duplicates))
    if plan.new_departments:
        lines.append(t._("New departments will be created: {names}").format(
            names="、".join(plan.new_departments[:20]) + ("…" if len(plan.new_departments) > 20 else "")))
    for err in plan.bad[:max_errors]:
        lines.append(err.render(t))
    if len(plan.bad) > max_errors:
        lines.append(t._("… and {n} more row(s) with problems.").format(n=len(plan.bad) - max_errors))
    return "\n".join(lines)


def describe_result(t: Translator, result: ImportResult) -> str:
    lines = [t._("Imported {added} case(s); {existing} were already in the ledger.").format(
        added=result.added, existing=result.existing)]
    if result.skipped_bad:
        lines.append(t._("{n} row(s) with problems were not imported.").format(n=result.skipped_bad))
    if result.departments_created:
        lines.append(t._("Departments created: {names}").format(names="、".join(result.departments_created)))
    return "\n".join(lines)


# --------------------------------------------------------------------------- export


# The ledger is the bureau's Chinese spreadsheet: its cells are Chinese whoever exports it.
LEDGER_T = translator_for_locale("zh_CN")


async def ledger_rows(
    db: Database, calendar: WorkCalendar, today: date, *, redact_confidential: bool = False,
    department_id: int | None = None, blue_working_days: int = 5, levels: Sequence[int] = (1, 10),
) -> list[dict[str, Any]]:
    """Every case as a ledger row (keys as EXPORT_ORDER); dates stay `date` objects.

    `blue_working_days` and `levels` are the ladder's settings (ladder.blue_working_days, escalation.levels).
    """
    cases = await repo.list_cases(db, department_id=department_id)
    extras = await repo.ledger_extras(db)
    liaisons = await repo.liaison_names_by_department(db)
    out = []
    for c in cases:
        overdue = 0
        if c.status in OPEN_STATUSES and c.due_on is not None and c.due_on < today:
            overdue = calendar.working_days_between(c.due_on, today)
        ex = extras.get(c.id)
        review = ""
        if ex and ex.review_decision:
            review = DECISION_LABELS.get(ex.review_decision, ex.review_decision)
            if ex.review_note:
                review += f"：{ex.review_note}"
        row: dict[str, Any] = {
            "case_id": c.id, "department": c.department_name, "project": c.project,
            "source": SOURCE_LABELS.get(Source(c.source), c.source),
            "grade": GRADE_LABELS.get(Grade(c.grade), c.grade) if c.grade else "",
            "findings": c.findings, "suggestions": c.suggestions,
            "feedback_doc_no": c.feedback_doc_no, "evaluation_ended_on": c.evaluation_ended_on,
            "feedback_sent_on": c.feedback_sent_on, "feedback_received_on": c.feedback_received_on,
            "due_on": c.due_on, "period": _period_label(c.period), "confidential": "是" if c.confidential else "否",
            "feedback_due_on": c.feedback_due_on,
            "deadline_status": ("暂定" if c.due_provisional or (c.due_on is None and c.feedback_due_provisional)
                                else ("正式" if c.due_on or c.feedback_due_on else "")),
            "status": OVERDUE_LABEL if overdue else STATUS_LABELS.get(CaseStatus(c.status), c.status),
            "ladder": LADDER_LABELS[colour_of(c.due_on, today, calendar, blue_working_days=blue_working_days,
                                              levels=levels) if c.status in OPEN_STATUSES else Colour.NONE],
            "reported_on": ex.reported_on if ex else None, "overdue_working_days": overdue,
            "review_outcome": review, "budget_consequence": suggestion_label(c, LEDGER_T),
            "liaisons": "、".join(liaisons.get(c.department_id, [])),
        }
        # Every column passes the one confidentiality rule (bot/confidential.py), new columns included.
        out.append({key: shown(c, key, value, redact=redact_confidential,
                               placeholder=CONFIDENTIAL_PLACEHOLDER if key == "project" else None)
                    for key, value in row.items()})
    return out


def _period_label(period: str | None) -> str:
    if not period:
        return ""
    p = Period.parse(period)
    unit = {"m": "个月", "d": "日", "wd": "个工作日"}[p.unit.value]
    return f"{p.amount}{unit}"


_WIDTHS = {"case_id": 7, "department": 18, "project": 28, "source": 14, "grade": 8, "findings": 40,
           "suggestions": 40, "feedback_doc_no": 20, "period": 10, "confidential": 6, "deadline_status": 9,
           "status": 10, "overdue_working_days": 10, "review_outcome": 24, "budget_consequence": 16,
           "liaisons": 16}
_DATE_KEYS = {"evaluation_ended_on", "feedback_sent_on", "feedback_received_on", "due_on", "feedback_due_on",
              "reported_on"}


def write_xlsx(rows: Sequence[dict[str, Any]]) -> bytes:
    """Frozen header, sensible widths, real Excel dates, overdue rows highlighted; text is never a formula."""
    sheet = XlsxSheet("整改台账", [_WIDTHS.get(key, 13 if key in _DATE_KEYS else 12) for key in EXPORT_ORDER])
    sheet.header([HEADERS[key] for key in EXPORT_ORDER])
    overdue_fill = solid_fill("FFF4CCCC")
    ladder_column = EXPORT_ORDER.index("ladder")
    ladder_fills = {LADDER_LABELS[c]: solid_fill(argb) for c, argb in FILLS.items()}
    for row in rows:
        own = ladder_fills.get(row["ladder"])
        sheet.row([row[k] for k in EXPORT_ORDER], fill=overdue_fill if row["overdue_working_days"] else None,
                  fills={ladder_column: own} if own is not None else None)
    return sheet.to_bytes()


def write_csv(rows: Sequence[dict[str, Any]]) -> bytes:
    """UTF-8 with BOM so that Excel opens the Chinese correctly; risky text cells get the OWASP ' prefix."""
    return csv_bytes([HEADERS[k] for k in EXPORT_ORDER], ([row[k] for k in EXPORT_ORDER] for row in rows))


async def export_ledger(
    db: Database, calendar: WorkCalendar, today: date, *, fmt: str = "xlsx", redact_confidential: bool = False,
    blue_working_days: int = 5, levels: Sequence[int] = (1, 10),
) -> tuple[bytes, int]:
    """The whole ledger as file content and its row count (the ladder's settings as in `ledger_rows`)."""
    rows = await ledger_rows(db, calendar, today, redact_confidential=redact_confidential,
                             blue_working_days=blue_working_days, levels=levels)
    # Writing 5,000 rows takes a second or two: in a thread, so the event loop keeps serving others.
    content = await asyncio.to_thread(write_csv if fmt == "csv" else write_xlsx, rows)
    return content, len(rows)


# --------------------------------------------------------------------------- uploads waiting for a decision

IMPORTS_FOLDER = "imports"            # under settings.storage.files
PENDING_IMPORT_MAX_AGE = timedelta(hours=24)


def pending_import_path(files_root: Path, token: str, file_name: str) -> Path:
    """Where an upload with bad rows waits for 导入/取消 (named by the token its buttons carry)."""
    return Path(files_root) / IMPORTS_FOLDER / f"{token}{Path(file_name).suffix.lower()}"


def purge_stale_imports(files_root: Path, *, now: float, max_age: timedelta = PENDING_IMPORT_MAX_AGE) -> int:
    """Delete uploads nobody confirmed or cancelled within `max_age`; returns how many (blocking: run in a thread)."""
    folder = Path(files_root) / IMPORTS_FOLDER
    removed = 0
    if not folder.is_dir():
        return 0
    for path in folder.iterdir():
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to delete
            if path.is_file() and now - path.stat().st_mtime > max_age.total_seconds():
                path.unlink()
                removed += 1
    return removed
