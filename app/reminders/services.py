"""Who is reminded of what, and sending it once a day at most.

Learners whose due date is near or past get an email about each such course. Every manager gets
a digest of their subtree: the figures, the overdue people they are directly responsible for
(the deepest managed agency above the person is theirs), and the people still overdue a week
after the due date under the heads directly below them, so a stalled unit reaches the next head
up the tree.
"""
from __future__ import annotations

import smtplib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..audit import record
from ..formatting import VIETNAM, format_datetime_local, format_percent
from ..models import Agency, Course, ManagerScope, ReminderMessage, ReminderRun, User, utcnow
from ..tracking.services import agency_report, people_rows

SUBJECT_PREFIX = "[Học ứng xử trên MXH]"
#: the longest list of names in one digest section; the rest are counted
DIGEST_LIST_LIMIT = 50


@dataclass
class Settings:
    base_url: str
    days_before_due: int = 3
    escalate_after_days: int = 7

    @classmethod
    def from_config(cls, config) -> Settings:
        return cls(base_url=config["PUBLIC_BASE_URL"].rstrip("/"),
                   days_before_due=config["REMINDER_DAYS_BEFORE_DUE"],
                   escalate_after_days=config["ESCALATE_AFTER_DAYS"])


@dataclass
class Reminder:
    kind: str
    user_id: int
    course_id: int
    email: str
    subject: str
    body: str


@dataclass
class Plan:
    reminders: list[Reminder] = field(default_factory=list)
    #: already sent earlier today
    skipped: int = 0


@dataclass
class _Late:
    """A person of an assigned course who is not done and is near or past the due date."""
    user_id: int
    full_name: str
    email: str
    agency_name: str
    agency_ids: list[int]
    due_at: datetime
    status: str


def local_day(moment: datetime) -> date:
    return moment.astimezone(VIETNAM).date()


# -- planning ------------------------------------------------------------------------------------

def plan_reminders(session: Session, settings: Settings, now: datetime, *, learners: bool = True,
                   digests: bool = True) -> Plan:
    """Every reminder due today for every published course, minus those already sent today.

    Who is due, and by when, is the rule of `tracking.rules`: the earliest due date among the
    assignments a person has not satisfied (a recertification's due date is the expiry).
    """
    plan = Plan()
    for course in session.scalars(select(Course).where(Course.status == "published").order_by(Course.id)):
        late = _late_people(session, course, now, settings.days_before_due)
        sent_today = {(kind, user_id) for kind, user_id in session.execute(
            select(ReminderMessage.kind, ReminderMessage.user_id).where(
                ReminderMessage.course_id == course.id, ReminderMessage.sent_on == local_day(now)))}
        planned: list[Reminder] = []
        if learners:
            planned += [_learner_reminder(course, person, settings, now) for person in late]
        if digests:
            planned += _digests(session, course, late, settings, now)
        for reminder in planned:
            if (reminder.kind, reminder.user_id) in sent_today:
                plan.skipped += 1
            else:
                plan.reminders.append(reminder)
    return plan


def _late_people(session: Session, course: Course, now: datetime, days_before_due: int) -> list[_Late]:
    people = people_rows(session, course, None, now)  # stored standings when they answer for `now`
    rows = session.execute(
        select(User.id, User.full_name, User.email, Agency.name, people.c.path, people.c.due_at, people.c.status)
        .join(people, people.c.user_id == User.id)
        .join(Agency, Agency.id == people.c.agency_id)
        .where(people.c.status != "completed", people.c.due_at <= now + timedelta(days=days_before_due))
        .order_by(User.search_name, User.id)).all()
    return [_Late(row.id, row.full_name, row.email, row.name,
                  [int(part) for part in row.path.strip("/").split("/")], row.due_at, row.status)
            for row in rows]


def _learner_reminder(course: Course, person: _Late, settings: Settings, now: datetime) -> Reminder:
    due = format_datetime_local(person.due_at, "%d/%m/%Y")
    if person.status == "overdue":
        subject = f"{SUBJECT_PREFIX} Quá hạn khóa học «{course.title}»"
        opening = f"khóa học «{course.title}» đã quá hạn hoàn thành ({due})."
    else:
        subject = f"{SUBJECT_PREFIX} Sắp đến hạn khóa học «{course.title}» ({due})"
        opening = f"khóa học «{course.title}» cần hoàn thành trước hết ngày {due}."
    body = (f"Kính gửi {person.full_name},\n\n"
            f"Hệ thống học ứng xử trên mạng xã hội xin nhắc: {opening}\n"
            "Anh/chị học tiếp từ chỗ đã dừng tại:\n"
            f"{settings.base_url}/\n\n"
            "Nếu đã hoàn thành, anh/chị vui lòng bỏ qua thư này.\n"
            "Thư được gửi tự động, xin đừng trả lời.\n")
    return Reminder("learner", person.user_id, course.id, person.email, subject, body)


def _digests(session: Session, course: Course, late: list[_Late], settings: Settings,
             now: datetime) -> list[Reminder]:
    """One digest per manager and course, covering each agency they manage."""
    scopes = session.execute(
        select(ManagerScope.user_id, User.full_name, User.email, Agency)
        .join(User, User.id == ManagerScope.user_id).join(Agency, Agency.id == ManagerScope.agency_id)
        .where(User.is_active, Agency.is_active).order_by(ManagerScope.user_id, Agency.path)).all()
    managed = {row.Agency.id for row in scopes}
    overdue = [person for person in late if person.status == "overdue"]
    direct: dict[int, list[_Late]] = defaultdict(list)
    escalated: dict[int, list[_Late]] = defaultdict(list)
    escalate_before = now - timedelta(days=settings.escalate_after_days)
    for person in overdue:
        heads = [agency_id for agency_id in reversed(person.agency_ids) if agency_id in managed]
        if heads:
            direct[heads[0]].append(person)
        if len(heads) > 1 and person.due_at <= escalate_before:
            escalated[heads[1]].append(person)

    by_manager: dict[int, list] = defaultdict(list)
    for row in scopes:
        by_manager[row.user_id].append(row)
    reminders = []
    for user_id, rows in by_manager.items():
        sections = [_digest_section(session, course, row.Agency, direct[row.Agency.id],
                                    escalated[row.Agency.id], settings, now) for row in rows]
        sections = [section for section in sections if section]
        if not sections:
            continue
        subject = (f"{SUBJECT_PREFIX} Tổng hợp tiến độ ngày {format_datetime_local(now, '%d/%m/%Y')} "
                   f"— {course.title}")
        body = (f"Kính gửi {rows[0].full_name},\n\n"
                f"Tình hình học khóa «{course.title}» tại các đơn vị anh/chị quản lý:\n\n"
                + "\n\n".join(sections)
                + "\n\nThư được gửi tự động, xin đừng trả lời.\n")
        reminders.append(Reminder("digest", user_id, course.id, rows[0].email, subject, body))
    return reminders


def _digest_section(session: Session, course: Course, agency: Agency, direct: list[_Late],
                    escalated: list[_Late], settings: Settings, now: datetime) -> str:
    total = agency_report(session, course, agency, now).total
    if total.staff == 0:
        return ""
    lines = [f"== {agency.name} ==",
             f"Được giao: {total.staff} · hoàn thành: {total.completed} ({format_percent(total.completion_rate)}) · "
             f"đang học: {total.in_progress} · chưa bắt đầu: {total.not_started} · quá hạn: {total.overdue}",
             f"Xem chi tiết: {settings.base_url}/manage/agencies/{agency.id}?course={course.slug}"]
    if direct:
        lines += ["", "Quá hạn (thuộc phạm vi anh/chị trực tiếp quản lý):"] + _name_lines(direct)
    if escalated:
        lines += ["", f"Quá hạn hơn {settings.escalate_after_days} ngày ở các đơn vị cấp dưới:"] \
            + _name_lines(escalated)
    return "\n".join(lines)


def _name_lines(people: Iterable[_Late]) -> list[str]:
    people = list(people)
    lines = [f"- {person.full_name} ({person.agency_name}), hạn {format_datetime_local(person.due_at, '%d/%m/%Y')}"
             for person in people[:DIGEST_LIST_LIMIT]]
    if len(people) > DIGEST_LIST_LIMIT:
        lines.append(f"- … và {len(people) - DIGEST_LIST_LIMIT} người khác")
    return lines


# -- sending ---------------------------------------------------------------------------------------

def send_reminders(session: Session, mailer, plan: Plan, *, now: datetime | None = None,
                   progress: Callable[[int], None] | None = None,
                   triggered_by: User | None = None) -> ReminderRun:
    """Send a plan's reminders; returns the run, recorded with what it sent and who started it
    (`triggered_by`, None for the daily command).

    Each message is claimed in the database (a row unique per kind, person, course and day) and
    committed *before* it is sent: an email cannot be unsent, so a crash or a second run at the
    same time must find the claim rather than send again. A message that fails to send gives its
    claim back, so the next run retries it.
    """
    now = now or utcnow()
    run = ReminderRun(started_at=now, skipped=plan.skipped, triggered_by=triggered_by)
    session.add(run)
    session.commit()
    handled = 0
    try:
        with mailer:
            for reminder in plan.reminders:
                _send_one(session, mailer, run, reminder, now)
                handled += 1
                if progress:
                    progress(1)
    except (smtplib.SMTPException, OSError) as error:  # the server cannot be reached, or dropped us
        run.error = f"Không gửi được qua máy chủ thư: {error}"
        run.failures += len(plan.reminders) - handled
    run.finished_at = utcnow()
    session.commit()
    return run


def _send_one(session: Session, mailer, run: ReminderRun, reminder: Reminder, now: datetime) -> None:
    message = ReminderMessage(run=run, kind=reminder.kind, user_id=reminder.user_id, course_id=reminder.course_id,
                              sent_on=local_day(now), sent_at=utcnow(), email=reminder.email,
                              subject=reminder.subject)
    session.add(message)
    try:
        session.commit()
    except IntegrityError:  # another run claimed it a moment ago
        session.rollback()
        run.skipped += 1
        return
    try:
        mailer.send(reminder.email, reminder.subject, reminder.body)
    except (smtplib.SMTPException, OSError) as error:
        session.delete(message)  # give the claim back: the next run retries
        session.commit()
        if isinstance(error, (smtplib.SMTPServerDisconnected, OSError)):
            raise
        run.failures += 1
        run.error = f"Không gửi được tới {reminder.email}: {error}"
    else:
        if reminder.kind == "learner":
            run.learner_emails += 1
        else:
            run.digests += 1
    session.commit()


# -- a manager's reminder ------------------------------------------------------------------------

#: a manager's reminder reaches one person about one course at most once in this time (the nightly
#: reminder counts too: it is the same learner email)
NUDGE_INTERVAL = timedelta(hours=24)
#: the most people one manager's reminder reaches; a larger selection is cut here, by name
NUDGE_LIMIT = 2000


@dataclass
class Nudge:
    """Whom a manager's reminder reaches, and whom it leaves out."""
    people: list[_Late]
    #: reminded about the course within NUDGE_INTERVAL: left out
    recent: int = 0
    #: more people than NUDGE_LIMIT were selected; only the first NUDGE_LIMIT by name are reached
    cut: bool = False


def plan_nudge(session: Session, course: Course, candidates, now: datetime) -> Nudge:
    """The people of `candidates` (a subquery with user_id, agency_id, path, due_at, status and
    search_name: `tracking.services.people_to_remind`) to remind now, in two statements whatever
    their number: the people, and how many were reminded within NUDGE_INTERVAL."""
    recent = select(ReminderMessage.id).where(
        ReminderMessage.user_id == candidates.c.user_id, ReminderMessage.course_id == course.id,
        ReminderMessage.kind == "learner", ReminderMessage.sent_at > now - NUDGE_INTERVAL).exists()
    rows = session.execute(
        select(User.id, User.full_name, User.email, Agency.name, candidates.c.path, candidates.c.due_at,
               candidates.c.status)
        .join(candidates, candidates.c.user_id == User.id).join(Agency, Agency.id == candidates.c.agency_id)
        .where(User.is_active, ~recent).order_by(candidates.c.search_name, User.id).limit(NUDGE_LIMIT + 1)).all()
    skipped = session.scalar(select(func.count()).select_from(candidates).where(recent))
    people = [_Late(row.id, row.full_name, row.email, row.name,
                    [int(part) for part in row.path.strip("/").split("/")], row.due_at, row.status)
              for row in rows[:NUDGE_LIMIT]]
    return Nudge(people, recent=skipped, cut=len(rows) > NUDGE_LIMIT)


def send_nudge(session: Session, mailer, course: Course, nudge: Nudge, settings: Settings, *, actor: User,
               scope: str, now: datetime | None = None) -> ReminderRun:
    """Send a manager's reminder (the learner email of the nightly run) as a reminder run started
    by them, and record in the audit log whom it reached; `scope` says in words whom it was aimed at."""
    now = now or utcnow()
    plan = Plan([_learner_reminder(course, person, settings, now) for person in nudge.people], skipped=nudge.recent)
    run = send_reminders(session, mailer, plan, now=now, triggered_by=actor)
    record(session, actor, "reminders.nudged", run,
           after={"course": course.title, "user_ids": [person.user_id for person in nudge.people],
                  "learner_emails": run.learner_emails, "skipped": run.skipped, "failures": run.failures,
                  "cut": nudge.cut},
           summary=f"Nhắc học khóa «{course.title}»: {scope}; gửi {run.learner_emails} thư")
    session.commit()
    return run
