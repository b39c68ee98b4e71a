"""The composition root's Telegram-free half: every table and service, built explicitly.

bot/app.py calls this and adds the Telegram side (handlers, the channel adapter, jobs); the
CLI and the tests call it too, so what exists never depends on which modules were imported.
Adding a notification kind: a member in bot.domain.Kind, its renderer in the feature module,
one line in `build_renderers` (a test fails until all three agree).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path

from bot import bulletin, case_text, delivery, digests, extensions, reminders, reports, review, spotcheck
from bot.clock import Clock
from bot.domain import Kind
from bot.notify import RendererRegistry
from bot.people import bootstrap_admins
from bot.schedules import build_calendar
from bot.services import Services
from bot.settings import Settings
from storage.db import Database

# Kinds that wait for reminders.send_window on working days; everything else goes out at once.
WINDOWED_KINDS = frozenset({Kind.REMINDER, Kind.OVERDUE, Kind.ESCALATION, Kind.DIGEST, Kind.CALENDAR_MISSING,
                            Kind.BULLETIN, Kind.BULLETIN_SHEET, Kind.BULLETIN_LINE})


def build_renderers(files_root: Path) -> RendererRegistry:
    """One renderer per notification kind; `files_root` is the evidence folder (settings.storage.files)."""
    return RendererRegistry(
        renderers={
            Kind.FEEDBACK_CARD: case_text.render_feedback_card,
            Kind.DEADLINE_CHANGED: case_text.render_deadline_changed,
            Kind.DEADLINE_RECOMPUTED: case_text.render_deadline_recomputed,
            Kind.RECEIPT_RECORDED: case_text.render_receipt_recorded,
            Kind.RECEIPT_ACKNOWLEDGED: case_text.render_receipt_acknowledged,
            Kind.REPORT_SUBMITTED: reports.render_report_submitted,
            Kind.REVIEW_CARD: review.render_review_card,
            Kind.REVIEW_EVIDENCE: functools.partial(review.render_review_evidence, files_root=files_root),
            Kind.REVIEW_DECIDED: review.render_review_decided,
            Kind.EXTENSION_REQUEST: extensions.render_extension_request,
            Kind.EXTENSION_DECIDED: extensions.render_extension_decided,
            Kind.SPOT_CHECK_OPENED: spotcheck.render_spot_check_opened,
            Kind.REMINDER: reminders.render_reminder,
            Kind.OVERDUE: reminders.render_overdue,
            Kind.ESCALATION: reminders.render_escalation,
            Kind.DIGEST: digests.render_digest_notification,
            Kind.CALENDAR_MISSING: digests.render_calendar_missing,
            Kind.NO_REACHABLE_LIAISON: delivery.render_no_reachable_liaison,
            Kind.BULLETIN: bulletin.render_bulletin, Kind.BULLETIN_SHEET: bulletin.render_bulletin_sheet,
            Kind.BULLETIN_LINE: bulletin.render_bulletin_line,
        },
        windowed=WINDOWED_KINDS,
        grouped={
            Kind.REMINDER: reminders.render_reminder_list,
            Kind.OVERDUE: reminders.render_overdue_list,
            Kind.ESCALATION: reminders.render_escalation_list,
        },
    )


def history_labels() -> Mapping[str, str]:
    """How every audited case action reads in /case: each module's own table, merged once."""
    return {**case_text.HISTORY_LABELS, **review.HISTORY_LABELS, **extensions.HISTORY_LABELS,
            **spotcheck.HISTORY_LABELS, **reminders.HISTORY_LABELS}


async def open_services(settings: Settings, clock: Clock) -> Services:
    """Open the database, build the calendar and the tables, make sure the configured admins exist."""
    db = await Database.open(settings.storage.database)
    svc = Services(
        settings=settings, db=db, clock=clock, calendar=await build_calendar(db),
        renderers=build_renderers(settings.storage.files), history_labels=history_labels(),
    )
    await bootstrap_admins(db, settings.bureau.admins, now=clock.now())
    return svc
