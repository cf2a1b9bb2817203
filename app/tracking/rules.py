"""Who must complete a course by when, and whether they have: the one home of the rule.

The learner's own pages (`learn.services`), the manager's figures, people list and exports
(`tracking.services`), the progress summaries (`tracking.progress`) and the reminders all take it
from here: in Python for one person (`standing`), in SQL for a whole subtree (`person_statuses`).
Both are written side by side below and tested against each other (tests/test_certification.py).

The rule (docs/tracking.md tells it for managers):

- A person is covered by every active assignment of the course given to their agency or to an
  agency above it that has started (`starts_at` passed). Nobody else is assigned the course.
- A person holds at most one current completion of a course. It is valid until its `expires_at`
  (None: no expiry), fixed when it is recorded: the shortest validity among the assignments
  covering the person then, or the course's own when none covers them (`expiry_for`).
- An assignment is satisfied when the person holds a completion still valid at its due date
  (`expires_at` is None or not before `due_at`). A new or changed assignment therefore never
  invalidates a completion: at most it asks for a renewal by its due date when the completion
  would expire before then.
- A recertifying assignment (`recertify_days` set) also asks for renewal: from `recertify_days`
  before the completion expires (the window opens) the person is due again, by the expiry. Until
  they complete again, the expired completion stays their latest; the new one archives it.
- Status: "completed" when every covering assignment is satisfied; otherwise due by the EARLIEST
  due date among the unsatisfied assignments, "overdue" once it has passed, else "in progress"
  when they did anything in the course since their current completion (or ever, without one),
  else "not started".
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Integer, String, and_, case, cast, false, func, literal, null, or_, select, type_coerce, union_all
from sqlalchemy.orm import Session, aliased

from ..models import Agency, Assignment, AssignmentCoverage, Course, CourseActivity, CourseCompletion, UTCDateTime, User
from . import coverage

STATUSES = ("completed", "in_progress", "not_started", "overdue")


def add_months(moment: datetime, months: int) -> datetime:
    """The same day `months` later (or earlier), the month's last day when it has no such day."""
    month = moment.month - 1 + months
    year = moment.year + month // 12
    month = month % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@dataclass(frozen=True)
class Terms:
    """What one assignment asks of each person it covers."""

    #: the path of the agency it was given to: it covers that subtree
    path: str
    starts_at: datetime
    due_at: datetime
    validity_months: int | None
    recertify_days: int | None
    assignment_id: int | None = None

    @property
    def is_recurring(self) -> bool:
        return self.recertify_days is not None

    def covers(self, path: str) -> bool:
        return path.startswith(self.path)


@dataclass(frozen=True)
class Holding:
    """The current completion a person holds: when it was made and until when it is valid."""

    completed_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class Standing:
    """Where one person stands with one course under the assignments covering them."""

    status: str
    #: the earliest due date among the unsatisfied assignments; None when all are satisfied
    due_at: datetime | None
    #: the earliest moment a recertification window opens for a satisfied assignment
    recertify_at: datetime | None


# -- one person, in Python -----------------------------------------------------------------------

def expiry_for(terms: list[Terms], course_validity_months: int | None, completed_at: datetime) -> datetime | None:
    """The end of validity of a completion made at `completed_at` by a person covered by `terms`."""
    if terms:
        months = min((t.validity_months for t in terms if t.validity_months), default=None)
    else:
        months = course_validity_months
    return add_months(completed_at, months) if months else None


def is_valid_at_due(terms: Terms, holding: Holding | None) -> bool:
    return holding is not None and (holding.expires_at is None or holding.expires_at >= terms.due_at)


def recertify_opens_at(terms: Terms, holding: Holding | None) -> datetime | None:
    """When the recertification window of this assignment opens for the holder (None: never)."""
    if terms.is_recurring and is_valid_at_due(terms, holding) and holding.expires_at is not None:
        return holding.expires_at - timedelta(days=terms.recertify_days)
    return None


def is_satisfied(terms: Terms, holding: Holding | None, now: datetime) -> bool:
    opens = recertify_opens_at(terms, holding)
    return is_valid_at_due(terms, holding) and (opens is None or now < opens)


def due_for(terms: Terms, holding: Holding | None) -> datetime:
    """The date this assignment wants the person done by: its due date, or the expiry to renew by."""
    return holding.expires_at if recertify_opens_at(terms, holding) is not None else terms.due_at


def standing(terms: list[Terms], holding: Holding | None, last_activity_at: datetime | None,
             now: datetime) -> Standing:
    """The person's status and due date under `terms` (not empty: they are assigned the course)."""
    unsatisfied = [t for t in terms if not is_satisfied(t, holding, now)]
    if not unsatisfied:
        opens = [moment for t in terms if (moment := recertify_opens_at(t, holding)) is not None]
        return Standing("completed", None, min(opens, default=None))
    due = min(due_for(t, holding) for t in unsatisfied)
    if due < now:
        status = "overdue"
    elif last_activity_at is not None and (holding is None or last_activity_at > holding.completed_at):
        status = "in_progress"
    else:
        status = "not_started"
    return Standing(status, due, None)


def terms_of(assignment: Assignment, path: str) -> Terms:
    return Terms(path, assignment.starts_at, assignment.due_at, assignment.validity_months,
                 assignment.recertify_days, assignment.id)


def terms_for_person(session: Session, user: User, course_ids: list[int], now: datetime) -> dict[int, list[Terms]]:
    """The started active assignments covering the learner, per course (one statement; their
    agency is joined, not loaded)."""
    scope, own = aliased(Agency), aliased(Agency)
    found: dict[int, list[Terms]] = {}
    for row in session.execute(
            select(Assignment.id, Assignment.course_id, scope.path, Assignment.starts_at, Assignment.due_at,
                   Assignment.validity_months, Assignment.recertify_days)
            .join(scope, scope.id == Assignment.agency_id)
            .join(own, own.id == user.agency_id)
            .where(Assignment.course_id.in_(course_ids), Assignment.is_active, Assignment.starts_at <= now,
                   own.path.startswith(scope.path))
            .order_by(Assignment.id)):
        found.setdefault(row.course_id, []).append(
            Terms(row.path, row.starts_at, row.due_at, row.validity_months, row.recertify_days, row.id))
    return found


# -- a subtree, in SQL ---------------------------------------------------------------------------

def scope_terms(session: Session, course: Course, root: Agency | None, now: datetime) -> list[Terms]:
    """The started active assignments of the course that cover some of `root`'s subtree (above it
    or inside it; all when `root` is None), read in one statement: a course has a handful."""
    terms = [Terms(row.path, row.starts_at, row.due_at, row.validity_months, row.recertify_days, row.id)
             for row in session.execute(
                 select(Assignment.id, Agency.path, Assignment.starts_at, Assignment.due_at,
                        Assignment.validity_months, Assignment.recertify_days)
                 .join(Agency, Agency.id == Assignment.agency_id)
                 .where(Assignment.course_id == course.id, Assignment.is_active, Assignment.starts_at <= now)
                 .order_by(Assignment.id))]
    return [t for t in terms if relevant(t, root)]


def relevant(terms: Terms, root: Agency | None) -> bool:
    return root is None or root.path.startswith(terms.path) or terms.path.startswith(root.path)


def _typed(session: Session, value, type_):
    """A bound value of a known SQL type in a select list (PostgreSQL cannot guess a NULL's type
    in a UNION; SQLite must not CAST a datetime, which it would turn into a number)."""
    bound = literal(value, type_) if value is not None else null()
    return cast(bound, type_) if session.get_bind().dialect.name == "postgresql" else type_coerce(bound, type_)


def _days_before(session: Session, moment, days):
    """SQL: `moment` (a column) minus `days` (a column) days, as a UTC datetime."""
    if session.get_bind().dialect.name == "postgresql":
        return type_coerce(moment - func.make_interval(0, 0, 0, days), UTCDateTime)
    # SQLite keeps datetimes as text with microseconds: write the result the same way.
    shift = literal("-", String) + cast(days, String) + literal(" days", String)
    return type_coerce(func.strftime("%Y-%m-%d %H:%M:%f000", moment, shift), UTCDateTime)


def _days_after(session: Session, moment: datetime, days):
    """SQL: the moment `moment` (a value) plus `days` (a column) days, to the microsecond."""
    if session.get_bind().dialect.name == "postgresql":
        return type_coerce(cast(literal(moment, UTCDateTime), UTCDateTime) + func.make_interval(0, 0, 0, days),
                           UTCDateTime)
    # SQLite keeps datetimes as text with microseconds, which its date functions drop: they are
    # added back (a shift by whole days leaves them as they are).
    moment = moment.astimezone(timezone.utc)
    shift = literal("+", String) + cast(days, String) + literal(" days", String)
    return type_coerce(func.strftime("%Y-%m-%d %H:%M:%S", literal(moment.strftime("%Y-%m-%d %H:%M:%S"), String), shift)
                       + literal(f".{moment.microsecond:06d}", String), UTCDateTime)


def _stored_scopes(session: Session, course: Course, root: Agency | None, now: datetime, agency_ids):
    """SQL: per agency of `root`'s subtree, each started active assignment covering it, from the
    coverage table (one index range of the course), with the columns of a literal scope below."""
    covered = AssignmentCoverage
    recurring = Assignment.recertify_days.is_not(None)
    scope = (select(covered.agency_id.label("agency_id"), Agency.path.label("path"),
                    Assignment.due_at.label("due_at"),
                    type_coerce(case((recurring, _days_after(session, now, Assignment.recertify_days)), else_=None),
                                UTCDateTime).label("recertify_after"),
                    Assignment.recertify_days.label("recertify_days"))
             .select_from(covered)
             .join(Assignment, Assignment.id == covered.assignment_id)
             .join(Agency, Agency.id == covered.agency_id)
             .where(covered.course_id == course.id, Assignment.starts_at <= now))
    if root is not None:
        scope = scope.where(Agency.path.startswith(root.path, autoescape=True))
    if agency_ids is not None:
        scope = scope.where(covered.agency_id.in_(agency_ids))
    return scope


def earlier(a, b):
    """SQL: the earlier of two moments, either of which may be NULL (no moment)."""
    return case((a.is_(None), b), (b.is_(None), a), (a < b, a), else_=b)


def _later(a, b):
    return case((a.is_(None), b), (b.is_(None), a), (a > b, a), else_=b)


def _literal_scopes(session: Session, terms: list[Terms], root: Agency | None, now: datetime, agency_ids):
    """SQL: per agency of `root`'s subtree, each of the given terms covering it, found by its path
    (one indexed range of paths each, the path a literal): for hypothetical terms (a preview) and
    for migration 0017, which predates the coverage table."""
    scopes = []
    for item in terms or [None]:
        scope = select(Agency.id.label("agency_id"), Agency.path.label("path"),
                       _typed(session, item.due_at if item else None, UTCDateTime).label("due_at"),
                       _typed(session, now + timedelta(days=item.recertify_days)
                              if item and item.is_recurring else None, UTCDateTime).label("recertify_after"),
                       _typed(session, item.recertify_days if item else None, Integer).label("recertify_days"))
        scope = scope.where(Agency.path.startswith(item.path, autoescape=True) if item else false())
        if root is not None:
            scope = scope.where(Agency.path.startswith(root.path, autoescape=True))
        if agency_ids is not None:
            scope = scope.where(Agency.id.in_(agency_ids))
        scopes.append(scope)
    return scopes[0] if len(scopes) == 1 else union_all(*scopes)


def person_statuses(session: Session, course: Course, root: Agency | None, now: datetime, *,
                    agency_ids=None, terms: list[Terms] | None = None, name: str = "person_status"):
    """A subquery: one row per active person in `root`'s subtree (everywhere when None; only in the
    given agencies, not below them, when `agency_ids` is given) to whom `course` is assigned, with
    their status by the rule above (`standing`, in SQL).

    Columns: user_id, agency_id, path, due_at (None when completed), completed_at and expires_at of
    the current completion, last_activity_at, status, search_name and employee_code for filtering,
    and for the summaries the moments the person's status changes by the clock alone: besides their
    own due date passing, `stable_from` (the last such moment up to `now`) and `window_next` (the
    next recertification window to open after it); `window_past`, the last window opened by `now`.

    The agencies' governing assignments are found first, from the coverage table (`coverage`: one
    index range of the course, whatever the number of assignments), and their people are joined to
    them by agency id; a person under several assignments is one group. `terms` replaces the
    assignments read from the database (the preview of a change): each one's subtree is then found
    by its path. `name` tells two of these apart in one statement.
    """
    if terms is None:
        coverage.apply(session)  # this transaction's changes of assignments and agencies first
        assigned = _stored_scopes(session, course, root, now, agency_ids)
    else:
        assigned = _literal_scopes(session, [t for t in terms if relevant(t, root)], root, now, agency_ids)
    # Materialised, so that PostgreSQL finds each subtree once rather than once per person.
    assigned = assigned.cte(f"{name}_assigned").prefix_with("MATERIALIZED", dialect="postgresql")
    activity = aliased(CourseActivity)
    completion = aliased(CourseCompletion)
    expires = completion.expires_at
    valid_at_due = and_(completion.id.is_not(None), or_(expires.is_(None), expires >= assigned.c.due_at))
    satisfied = and_(valid_at_due, or_(assigned.c.recertify_after.is_(None), expires.is_(None),
                                       expires > assigned.c.recertify_after))
    renewing = and_(assigned.c.recertify_days.is_not(None), valid_at_due, expires.is_not(None))
    due = case((renewing, expires), else_=assigned.c.due_at)
    window = case((renewing, _days_before(session, expires, assigned.c.recertify_days)), else_=None)
    turn = case((satisfied, None), else_=due)  # an unsatisfied assignment's due date turns it overdue

    def past(moment):
        return func.max(case((moment <= now, moment), else_=None))

    def future(moment):
        return func.min(case((moment > now, moment), else_=None))

    keys = (User.id, User.agency_id, assigned.c.path, User.search_name, User.employee_code,
            completion.completed_at, completion.expires_at, activity.last_activity_at)
    grouped = (
        select(User.id.label("user_id"), User.agency_id.label("agency_id"), assigned.c.path.label("path"),
               User.search_name.label("search_name"), User.employee_code.label("employee_code"),
               completion.completed_at.label("completed_at"), completion.expires_at.label("expires_at"),
               activity.last_activity_at.label("last_activity_at"),
               func.max(case((satisfied, 0), else_=1)).label("unsatisfied"),
               func.min(case((satisfied, None), else_=due)).label("due_at"),
               past(turn).label("turn_past"), past(window).label("window_past"),
               future(window).label("window_next"))
        .select_from(User)
        .join(assigned, assigned.c.agency_id == User.agency_id)
        .outerjoin(activity, and_(activity.user_id == User.id, activity.course_id == course.id))
        .outerjoin(completion, and_(completion.user_id == User.id, completion.course_id == course.id,
                                    completion.archived_at.is_(None)))
        .where(User.is_active)
        .group_by(*keys)
    ).subquery(f"{name}_terms")
    g = grouped.c
    started = and_(g.last_activity_at.is_not(None),
                   or_(g.completed_at.is_(None), g.last_activity_at > g.completed_at))
    status = case((g.unsatisfied == 0, literal("completed")), (g.due_at < now, literal("overdue")),
                  (started, literal("in_progress")), else_=literal("not_started"))
    return select(
        g.user_id, g.agency_id, g.path, g.due_at, g.completed_at, g.expires_at, g.last_activity_at,
        status.label("status"),
        type_coerce(_later(g.turn_past, g.window_past), UTCDateTime).label("stable_from"),
        type_coerce(g.window_next, UTCDateTime).label("window_next"),
        type_coerce(g.window_past, UTCDateTime).label("window_past"),
        g.search_name, g.employee_code,
    ).subquery(name)


# -- a stored standing, read back ----------------------------------------------------------------
# `tracking.progress` stores what a recount found for each person (`PersonCourseStatus`): their due
# date then, and the first recertification window to open after it. The clock changes the status
# in these two ways only while the assignments stay as counted, so the status at any later moment
# is derived from the stored dates: here, once, in Python and in SQL side by side.

def stored_standing(due_at: datetime | None, window_at: datetime | None, holding: Holding | None,
                    last_activity_at: datetime | None, now: datetime) -> Standing:
    """`standing` at `now` of a person stored with these dates by a recount at or before `now`."""
    if window_at is not None and window_at <= now:  # due again, by the expiry of what they hold
        due_at = holding.expires_at if due_at is None else min(due_at, holding.expires_at)
    if due_at is None:
        return Standing("completed", None, window_at)
    if due_at < now:
        return Standing("overdue", due_at, None)
    started = last_activity_at is not None and (holding is None or last_activity_at > holding.completed_at)
    return Standing("in_progress" if started else "not_started", due_at, None)


def stored_due_sql(row, now: datetime):
    """SQL: the due date at `now` of a stored standing (`row`: its columns)."""
    window_open = and_(row.window_at.is_not(None), row.window_at <= now)
    return type_coerce(case((window_open, earlier(row.due_at, row.expires_at)), else_=row.due_at), UTCDateTime)


def stored_status_sql(row, now: datetime):
    """SQL: the status at `now` of a stored standing, as `stored_standing` says."""
    due = stored_due_sql(row, now)
    started = and_(row.last_activity_at.is_not(None),
                   or_(row.completed_at.is_(None), row.last_activity_at > row.completed_at))
    return case((due.is_(None), literal("completed")), (due < now, literal("overdue")),
                (started, literal("in_progress")), else_=literal("not_started"))
