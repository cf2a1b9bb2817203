"""What "Gửi ngay" would send, sending it, and the history of runs (the daily command's and the
administrators'), for the reminders page.

The preview and the button call the same planning and sending as `flask reminders send`
(`plan_reminders`, `send_reminders`), so what is previewed is what goes.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session, selectinload

from ..audit import record
from ..models import AuditLog, ReminderRun, User, utcnow
from ..tracking.progress import refresh_pending
from .services import Reminder, Settings, plan_reminders, send_reminders

KIND_LABELS = {"learner": "Nhắc học viên", "digest": "Tổng hợp cho người quản lý"}


@dataclass
class PreviewRow:
    kind: str
    full_name: str
    email: str
    subject: str


@dataclass
class Preview:
    """The reminders a run started now would send; nothing is written or sent to build it."""

    rows: list[PreviewRow] = field(default_factory=list)
    #: already sent earlier today, so a run now would skip them
    skipped: int = 0

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(row.kind for row in self.rows)
        return {kind: counted[kind] for kind in KIND_LABELS}


class SendRefused(RuntimeError):
    """A run started too soon after the previous one; `allowed_at` says when one may start."""

    def __init__(self, allowed_at: datetime) -> None:
        super().__init__(f"next run allowed at {allowed_at.isoformat()}")
        self.allowed_at = allowed_at


def preview(session: Session, settings: Settings, now: datetime | None = None) -> Preview:
    """Plan without sending: who would get which reminder now (names in one query)."""
    now = now or utcnow()
    plan = plan_reminders(session, settings, now)
    return Preview(_rows(session, plan.reminders), plan.skipped)


def _rows(session: Session, reminders: list[Reminder]) -> list[PreviewRow]:
    names = dict(session.execute(select(User.id, User.full_name).where(
        User.id.in_({reminder.user_id for reminder in reminders}))).all()) if reminders else {}
    return [PreviewRow(reminder.kind, names.get(reminder.user_id, ""), reminder.email, reminder.subject)
            for reminder in reminders]


def next_allowed_at(session: Session, interval: timedelta) -> datetime | None:
    """When "Gửi ngay" may run again, or None if it may now: one run per `interval`, whoever started
    the last one, so a double click or two administrators at once do not start two runs."""
    # A manager's reminder from the people list (a few learners, audited as "reminders.nudged") is
    # not a run of everything: it must not hold back the administrator's.
    nudges = select(AuditLog.object_id).where(AuditLog.action == "reminders.nudged",
                                              AuditLog.object_type == ReminderRun.__tablename__)
    last = session.scalar(select(ReminderRun.started_at).where(cast(ReminderRun.id, String).not_in(nudges))
                          .order_by(ReminderRun.started_at.desc()).limit(1))
    if last is not None and last + interval > utcnow():
        return last + interval
    return None


def send_now(session: Session, mailer, settings: Settings, actor: User, *, interval: timedelta) -> ReminderRun:
    """Run the reminders now on an administrator's behalf, audited; raises SendRefused if the last
    run started less than `interval` ago. Commits (each message is claimed before it is sent)."""
    allowed_at = next_allowed_at(session, interval)
    if allowed_at is not None:
        raise SendRefused(allowed_at)
    now = utcnow()
    refresh_pending(session)  # as the daily command does: due dates passed since the last count
    plan = plan_reminders(session, settings, now)
    run = send_reminders(session, mailer, plan, now=now, triggered_by=actor)
    record(session, actor, "reminders.sent_now", run,
           after={"learner_emails": run.learner_emails, "digests": run.digests, "skipped": run.skipped,
                  "failures": run.failures},
           summary=f"Gửi ngay: {run.learner_emails} thư nhắc học viên, {run.digests} bản tổng hợp, "
                   f"{run.failures} thư lỗi")
    session.commit()
    return run


def recent_runs(session: Session, limit: int) -> list[ReminderRun]:
    """The latest runs, newest first, with who started them."""
    return list(session.scalars(select(ReminderRun).options(selectinload(ReminderRun.triggered_by))
                                .order_by(ReminderRun.started_at.desc(), ReminderRun.id.desc()).limit(limit)))
