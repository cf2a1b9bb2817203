"""Completion tracking over an agency subtree: assignments, statuses, figures, wrong answers.

Every figure is computed in SQL over the whole subtree in a fixed number of statements, whatever
the number of agencies or staff. A person's status for a course is derived, not stored:
completed (a completion since the current cycle started), overdue (past the due date), in
progress (any activity this cycle), or not started.
"""
from __future__ import annotations

import calendar
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, false, func, literal, or_, select, true, update
from sqlalchemy.orm import Session, aliased

from ..content.text import strip_diacritics
from ..formatting import VIETNAM
from ..learn.services import cycle_precedence
from .progress import child_of, status_counts
from ..models import (
    Agency,
    AnswerTally,
    Assignment,
    AuditLog,
    Course,
    CourseActivity,
    CourseCompletion,
    QuestionVersion,
    Topic,
    User,
    question_topic,
    utcnow,
)

STATUSES = ("completed", "in_progress", "not_started", "overdue")
STATUS_LABELS = {"not_started": "Chưa bắt đầu", "in_progress": "Đang học", "completed": "Hoàn thành",
                 "overdue": "Quá hạn"}


class TrackingError(ValueError):
    """A rule about assignments was broken; the message is for the user, in Vietnamese."""


# -- assignments -------------------------------------------------------------------------------

def add_months(moment: datetime, months: int) -> datetime:
    month = moment.month - 1 + months
    year = moment.year + month // 12
    month = month % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def create_assignment(session: Session, *, course: Course, agency: Agency, starts_at: datetime,
                      due_at: datetime, recurrence_months: int | None = None,
                      actor: User | None = None) -> Assignment:
    if due_at <= starts_at:
        raise TrackingError("Hạn hoàn thành phải sau ngày bắt đầu.")
    assignment = Assignment(course=course, agency=agency, starts_at=starts_at, due_at=due_at,
                            recurrence_months=recurrence_months, cycle_start_at=starts_at,
                            cycle_due_at=due_at, created_by_id=actor.id if actor else None)
    session.add(assignment)
    session.flush()
    session.add(AuditLog(actor_id=actor.id if actor else None, action="assignment.created",
                         object_type="assignment", object_id=str(assignment.id),
                         summary=f"Giao khóa «{course.title}» cho {agency.name}",
                         after={"course": course.slug, "agency": agency.code,
                                "due_at": due_at.isoformat(), "recurrence_months": recurrence_months}))
    session.flush()
    return assignment


def roll_assignment_cycles(session: Session, now: datetime | None = None) -> int:
    """Start the next cycle of every recurring assignment whose period has elapsed.

    Completions of the previous cycle are archived (kept, no longer counted). Returns the number of
    assignments advanced.
    """
    now = now or utcnow()
    advanced = 0
    for assignment in session.scalars(select(Assignment).where(
            Assignment.is_active, Assignment.recurrence_months.is_not(None))):
        moved = False
        while now >= add_months(assignment.cycle_start_at, assignment.recurrence_months):
            assignment.cycle_start_at = add_months(assignment.cycle_start_at, assignment.recurrence_months)
            assignment.cycle_due_at = add_months(assignment.cycle_due_at, assignment.recurrence_months)
            assignment.cycle_number += 1
            moved = True
        if moved:
            advanced += 1
            members = (select(User.id).join(Agency, Agency.id == User.agency_id)
                       .where(Agency.path.startswith(assignment.agency.path, autoescape=True)))
            session.execute(
                update(CourseCompletion)
                .where(CourseCompletion.course_id == assignment.course_id,
                       CourseCompletion.archived_at.is_(None),
                       CourseCompletion.completed_at < assignment.cycle_start_at,
                       CourseCompletion.user_id.in_(members))
                .values(archived_at=now).execution_options(synchronize_session=False))
            session.add(AuditLog(action="assignment.new_cycle", object_type="assignment",
                                 object_id=str(assignment.id),
                                 summary=f"Bắt đầu chu kỳ {assignment.cycle_number}",
                                 after={"cycle_start_at": assignment.cycle_start_at.isoformat()}))
    session.flush()
    return advanced


# -- the status of each person --------------------------------------------------------------------

def governing_cycles(session: Session, course: Course, root: Agency | None, now: datetime):
    """SQL expressions over `Agency.path` giving the cycle that governs an agency's staff for `course`:
    (cycle_start_at, due_at, is_assigned).

    Of the assignments covering an agency whose current cycle has started, the one that started last
    governs (the earliest due date on a tie): `learn.services.cycle_precedence`, the rule the learner's
    own pages use. The rule depends on the agency alone, and a course has a handful of assignments, so
    they are read first and written into the statement as a CASE over path prefixes, tried in order of
    precedence. Joining people to assignments by path prefix instead leaves the planner unable to
    estimate the rows (nested loops over a whole province).
    """
    scopes = session.execute(
        select(Agency.path, Assignment.cycle_start_at, Assignment.cycle_due_at)
        .join(Agency, Agency.id == Assignment.agency_id)
        .where(Assignment.course_id == course.id, Assignment.is_active, Assignment.cycle_start_at <= now)).all()
    if root is not None:  # only assignments above the subtree (they cover it all) or inside it matter
        scopes = [row for row in scopes if root.path.startswith(row.path) or row.path.startswith(root.path)]
    scopes.sort(key=lambda row: cycle_precedence(row.cycle_start_at, row.cycle_due_at), reverse=True)
    whens, everywhere = [], None
    for row in scopes:
        if root is not None and root.path.startswith(row.path):
            everywhere = row  # covers the whole subtree: no assignment after it can govern
            break
        whens.append(row)

    def covers(row):
        return Agency.path.startswith(row.path, autoescape=True)

    def pick(column: str):
        def value(row):
            return literal(getattr(row, column) if row else None, Assignment.cycle_start_at.type)
        return case(*[(covers(row), value(row)) for row in whens], else_=value(everywhere)) if whens else value(everywhere)

    is_assigned = true() if everywhere else or_(false(), *[covers(row) for row in whens])
    return pick("cycle_start_at"), pick("cycle_due_at"), is_assigned


def person_statuses(session: Session, course: Course, root: Agency | None, now: datetime, *,
                    agency_ids=None):
    """A subquery: one row per active person in `root`'s subtree (everywhere when None; only in the
    given agencies, not below them, when `agency_ids` is given) to whom `course` is assigned.

    Columns: user_id, agency_id, path, due_at, cycle_start_at, completed_at, last_activity_at, status,
    and the person's search_name and employee_code for filtering. Each agency's cycle is worked out once and its people are joined to it by agency_id.
    """
    cycle_start_at, due_at, is_assigned = governing_cycles(session, course, root, now)
    agencies = select(Agency.id.label("agency_id"), Agency.path.label("path"),
                      cycle_start_at.label("cycle_start_at"), due_at.label("due_at")).where(is_assigned)
    if root is not None:
        agencies = agencies.where(Agency.path.startswith(root.path, autoescape=True))
    if agency_ids is not None:
        agencies = agencies.where(Agency.id.in_(agency_ids))
    # Materialised, so that PostgreSQL works each agency's cycle out once rather than once per person.
    cycles = agencies.cte("agency_cycle").prefix_with("MATERIALIZED", dialect="postgresql")
    # One row per person: the summary kept by the learning services, and the current completion
    # (at most one per person and course: a partial unique index).
    activity = aliased(CourseActivity)
    completion = aliased(CourseCompletion)
    completed = and_(completion.completed_at.is_not(None), completion.completed_at >= cycles.c.cycle_start_at)
    status = case(
        (completed, literal("completed")),
        (cycles.c.due_at < now, literal("overdue")),
        (activity.last_activity_at >= cycles.c.cycle_start_at, literal("in_progress")),
        else_=literal("not_started"),
    )
    return (
        select(User.id.label("user_id"), User.agency_id.label("agency_id"), cycles.c.path, cycles.c.due_at,
               cycles.c.cycle_start_at,
               case((completed, completion.completed_at), else_=None).label("completed_at"),
               activity.last_activity_at.label("last_activity_at"), status.label("status"),
               User.search_name.label("search_name"), User.employee_code.label("employee_code"))
        .select_from(User)
        .join(cycles, cycles.c.agency_id == User.agency_id)
        .outerjoin(activity, and_(activity.user_id == User.id, activity.course_id == course.id))
        .outerjoin(completion, and_(completion.user_id == User.id, completion.course_id == course.id,
                                    completion.archived_at.is_(None)))
        .where(User.is_active)
    ).subquery("person_status")


@dataclass
class Figures:
    staff: int = 0
    completed: int = 0
    in_progress: int = 0
    not_started: int = 0
    overdue: int = 0

    @property
    def completion_rate(self) -> float:
        return round(self.completed * 100 / self.staff, 1) if self.staff else 0.0

    def share(self, status: str) -> float:
        return getattr(self, status) * 100 / self.staff if self.staff else 0.0


@dataclass
class AgencyReport:
    agency: Agency
    course: Course
    total: Figures
    children: list[tuple[Agency, Figures]]
    #: people placed directly in the agency, not in any child
    direct: Figures


def agency_report(session: Session, course: Course, agency: Agency, now: datetime | None = None) -> AgencyReport:
    """Figures for the agency's subtree and for each child's subtree.

    From the progress summaries (`tracking.progress`); or, while they cannot answer for `now`,
    every person's status. Either way added up per child in SQL, the child read off the path (far
    cheaper than joining every person to every child by path prefix).
    """
    now = now or utcnow()
    rows = status_counts(session, course, agency, now, by_child=True)
    if rows is None:  # the summaries do not follow the cycles governing at `now`: count each person
        people = person_statuses(session, course, agency, now)
        child = child_of(session, agency, people.c.path)
        rows = session.execute(select(child, people.c.status, func.count()).group_by(child, people.c.status)).all()
    counts = Counter({(child_id, status): number for child_id, status, number in rows})
    children = session.scalars(select(Agency).where(Agency.parent_id == agency.id, Agency.is_active)
                               .order_by(Agency.name)).all()
    names = ("staff", *STATUSES)

    def figures_of(keys) -> Figures:
        figures = Figures(**{status: sum(counts[key, status] for key in keys) for status in STATUSES})
        figures.staff = sum(getattr(figures, status) for status in STATUSES)
        return figures

    total = figures_of({key for key, _ in counts})
    by_child = {child.id: figures_of([child.id]) for child in children}
    listed = [(item, by_child[item.id]) for item in children]
    direct = Figures(**{name: getattr(total, name) - sum(getattr(f, name) for _, f in listed) for name in names})
    return AgencyReport(agency, course, total, listed, direct)


# -- people ------------------------------------------------------------------------------------

def people_page(session: Session, course: Course, root: Agency, now: datetime, *, limit: int, offset: int,
                status: str | None = None, within: Agency | None = None, search: str | None = None):
    """A page of the subtree's people with their status, filtered, in name order (a select).

    Rows: User, Agency, status, due_at, completed_at, last_activity_at, total, where `total` counts
    every person matching, so a page and its count come from one pass over the subtree. The page is
    cut from narrow rows first; only its people are then read in full.
    """
    people = person_statuses(session, course, root, now)
    matching = filter_people(
        select(people.c.user_id, people.c.agency_id, people.c.status, people.c.due_at, people.c.completed_at,
               people.c.last_activity_at, func.count().over().label("total"), people.c.search_name),
        people, status=status, within=within, search=search)
    cut = (matching.order_by(people.c.search_name, people.c.user_id).limit(limit).offset(offset)
           .subquery("page"))
    return (select(User, Agency, cut.c.status, cut.c.due_at, cut.c.completed_at, cut.c.last_activity_at, cut.c.total)
            .join(cut, cut.c.user_id == User.id)
            .join(Agency, Agency.id == cut.c.agency_id)
            .order_by(cut.c.search_name, User.id))


def filter_people(query, people, *, status: str | None = None, within: Agency | None = None,
                  search: str | None = None):
    """The people list's filters, applied to any select from `person_statuses`."""
    if status in STATUSES:
        query = query.where(people.c.status == status)
    if within is not None:
        query = query.where(people.c.path.startswith(within.path, autoescape=True))
    if search:
        words = strip_diacritics(search).split()
        for word in words[:6]:
            query = query.where(or_(people.c.search_name.contains(word, autoescape=True),
                                    func.lower(people.c.employee_code) == word))
    return query


# -- what staff get wrong ---------------------------------------------------------------------

@dataclass
class WrongRow:
    total: int
    wrong: int
    version: QuestionVersion | None = None
    topic: Topic | None = None

    @property
    def share(self) -> float:
        return round(self.wrong * 100 / self.total, 1) if self.total else 0.0


def wrong_answers(session: Session, course: Course, root: Agency,
                  limit: int = 20) -> tuple[list[WrongRow], list[WrongRow]]:
    """Per question (worst first, at most `limit`) and per topic, over the graded quiz answers given
    in the subtree: the subtree's tally of each question version (`tracking.tallies`, kept when an
    attempt is graded); the topics are added up from those few rows."""
    tallies = session.execute(
        select(AnswerTally.question_version_id, AnswerTally.answered.label("total"), AnswerTally.wrong)
        .where(AnswerTally.agency_id == root.id, AnswerTally.course_id == course.id)).all()
    if not tallies:
        return [], []
    versions = {v.id: v for v in session.scalars(select(QuestionVersion).where(
        QuestionVersion.id.in_([row.question_version_id for row in tallies])))}
    worst = sorted(tallies, key=lambda row: (-row.wrong / row.total, -row.total, row.question_version_id))[:limit]
    questions = [WrongRow(row.total, row.wrong, version=versions[row.question_version_id]) for row in worst]

    topics_of = {}
    for question_id, topic in session.execute(
            select(question_topic.c.question_id, Topic).join(Topic, Topic.id == question_topic.c.topic_id)
            .where(question_topic.c.question_id.in_({v.question_id for v in versions.values()}))):
        topics_of.setdefault(question_id, []).append(topic)
    by_topic: dict[int, WrongRow] = {}
    for row in tallies:
        for topic in topics_of.get(versions[row.question_version_id].question_id, []):
            tally = by_topic.setdefault(topic.id, WrongRow(0, 0, topic=topic))
            tally.total += row.total
            tally.wrong += row.wrong
    topics = sorted(by_topic.values(), key=lambda row: (-row.wrong / row.total, row.topic.slug))
    return questions, topics


def wrong_by_question(session: Session, course: Course, root: Agency, limit: int = 20) -> list[WrongRow]:
    return wrong_answers(session, course, root, limit)[0]


# -- completions over time ----------------------------------------------------------------------

def weekly_completions(session: Session, course: Course, root: Agency, weeks: int = 12,
                       now: datetime | None = None) -> list[tuple[datetime, int]]:
    """Completions per week (Monday to Sunday in Vietnam), counted in SQL by the agency at the time
    of completion. Returns each week's Monday (Vietnam time) with its count."""
    now = now or utcnow()
    local = now.astimezone(VIETNAM)
    this_monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    mondays = [this_monday - timedelta(weeks=weeks - 1 - index) for index in range(weeks)]
    ends = mondays[1:] + [this_monday + timedelta(weeks=1)]
    completed = CourseCompletion.completed_at
    counts = session.execute(
        select(*[func.coalesce(func.sum(case((and_(completed >= start, completed < end), 1), else_=0)), 0)
                 for start, end in zip(mondays, ends)])
        .join(Agency, Agency.id == CourseCompletion.agency_id)
        .where(CourseCompletion.course_id == course.id, completed >= mondays[0],
               Agency.path.startswith(root.path, autoescape=True))).one()
    return list(zip(mondays, counts))
