"""Progress summaries: per agency and course, the active staff, how many completed and how many started.

A dashboard over a province (60,000 people) or the country (two million) cannot work out every
person's status on each request; it reads one `AgencyProgress` row per agency instead. The rows
are counted with the same rules as the people list (`services.person_statuses`: one truth for the
governing cycle, completions and activity) and kept current here:

- Changes made through the ORM (people created, moved, deactivated; completions recorded or
  archived; assignments given, moved, closed or rolled to a new cycle) are noticed after each
  flush, and the agencies they touch are recounted just before the transaction commits, in it.
- Changes written as bulk statements say so themselves: `mark` (a learner's first activity of the
  cycle, people moved by a merge) and `mark_subtree` (a subtree moved).
- Time alone changes one thing: an assignment whose cycle starts later governs from that moment.
  Each assignment records the cycle start it was counted with; until it is counted (`flask tracking
  refresh-progress`, run on deploy and by the daily `flask reminders send`), `status_counts`
  answers None and the dashboard works the statuses out person by person, as before.

Overdue is never stored: a row keeps the due date and the reader compares it with the clock.
Concurrent recounts of the same agency are serialised on PostgreSQL (an advisory lock per agency,
taken before counting; a recount of whole subtrees excludes every other), so the last one to commit
always counted everything committed before it.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from itertools import chain

from sqlalchemy import and_, case, delete, event, func, insert, inspect, literal, select, update
from sqlalchemy.orm import Session

from ..models import Agency, AgencyProgress, Assignment, Course, CourseCompletion, User, utcnow

#: session.info keys: {(agency id, course id or None)}, {(user id, course id or None)}, subtrees alike
_AGENCIES, _USERS, _SUBTREES = "progress.agencies", "progress.users", "progress.subtrees"
#: advisory lock class of a recount (the second key is the agency id)
_LOCK_CLASS = 874
#: more agencies than this in one recount take the exclusive lock instead of one lock each
_MAX_AGENCY_LOCKS = 100


# -- noticing changes -------------------------------------------------------------------------------

def mark(session: Session, agency_ids, course_id: int | None = None) -> None:
    """Recount these agencies (for one course, or every assigned course) before the commit."""
    session.info.setdefault(_AGENCIES, set()).update((agency_id, course_id) for agency_id in agency_ids
                                                      if agency_id is not None)


def mark_subtree(session: Session, agency_id: int, course_id: int | None = None) -> None:
    """Recount every agency of this subtree before the commit (its governing cycles may change)."""
    session.info.setdefault(_SUBTREES, set()).add((agency_id, course_id))


def _changed(obj, *names: str) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def _ids(obj, column: str, relation: str | None = None) -> set[int]:
    """The values a foreign key had and has (the relationship's too: it is set before the key)."""
    state = inspect(obj)
    history = state.attrs[column].history
    ids = {value for value in chain(history.deleted or (), history.sum()) if value is not None}
    if relation is not None:
        related = state.attrs[relation].history
        ids |= {item.id for item in chain(related.deleted or (), related.sum()) if item is not None}
    current = getattr(obj, column)
    if current is not None:
        ids.add(current)
    return {value for value in ids if value is not None}


@event.listens_for(Session, "after_flush")
def _notice(session: Session, _context) -> None:
    """After each flush: which agencies did the flushed people, completions and assignments touch?"""
    for obj in chain(session.new, session.dirty, session.deleted):
        touched = obj in session.new or obj in session.deleted
        if isinstance(obj, User) and (touched or _changed(obj, "agency_id", "agency", "is_active")):
            mark(session, _ids(obj, "agency_id", "agency"))
        elif isinstance(obj, CourseCompletion) and (touched or _changed(obj, "archived_at", "completed_at")):
            # counted under the person's agency now, which the completion's own may no longer be
            session.info.setdefault(_USERS, set()).add((obj.user_id, obj.course_id))
        elif isinstance(obj, Assignment) and (touched or _changed(
                obj, "agency_id", "agency", "is_active", "cycle_start_at", "cycle_due_at", "course_id")):
            for agency_id in _ids(obj, "agency_id", "agency"):
                mark_subtree(session, agency_id, obj.course_id)


@event.listens_for(Session, "before_commit")
def _recount_before_commit(session: Session) -> None:
    session.flush()  # the commit's own flush comes after this hook: notice its changes now
    if not any(session.info.get(key) for key in (_AGENCIES, _USERS, _SUBTREES)):
        return
    agencies, users, subtrees = (session.info.pop(key, set()) for key in (_AGENCIES, _USERS, _SUBTREES))
    recount(session, agencies=agencies, users=users, subtrees=subtrees)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    for key in (_AGENCIES, _USERS, _SUBTREES):
        session.info.pop(key, None)


# -- counting -------------------------------------------------------------------------------------

def recount(session: Session, *, agencies=(), users=(), subtrees=(), now: datetime | None = None) -> None:
    """Recount the given (agency, course) pairs, the agencies of the given (user, course) pairs and
    the given (subtree root, course) pairs; a course of None means every assigned course."""
    now = now or utcnow()
    assigned = None

    def courses_of(course_id):
        nonlocal assigned
        if course_id is not None:
            return [course_id]
        if assigned is None:
            assigned = _assigned_course_ids(session)
        return assigned

    pairs = set(agencies)
    user_courses: dict[int, set[int | None]] = defaultdict(set)
    for user_id, course_id in users:
        user_courses[user_id].add(course_id)
    if user_courses:
        for user_id, agency_id in session.execute(
                select(User.id, User.agency_id).where(User.id.in_(user_courses))):
            pairs |= {(agency_id, course_id) for course_id in user_courses[user_id]}
    by_course: dict[int, set[int]] = defaultdict(set)
    for agency_id, course_id in pairs:
        for course in courses_of(course_id):
            by_course[course].add(agency_id)
    roots = [(agency_id, course) for agency_id, course_id in subtrees for course in courses_of(course_id)]
    if not by_course and not roots:
        return
    wide = bool(roots) or sum(len(ids) for ids in by_course.values()) > _MAX_AGENCY_LOCKS
    _lock(session, wide=wide, agency_ids=set().union(*by_course.values()) if not wide else ())
    for course_id, agency_ids in sorted(by_course.items()):
        _recount(session, session.get(Course, course_id), now, agency_ids=sorted(agency_ids))
    for agency_id, course_id in sorted(roots):
        root = session.get(Agency, agency_id)
        _recount(session, session.get(Course, course_id), now, root=root)
        _counted(session, course_id, now, within=root)


def rebuild(session: Session, now: datetime | None = None) -> int:
    """Count every agency and course afresh: after data loaded in bulk (bench, load tests) or to
    repair. Returns the rows written."""
    now = now or utcnow()
    _lock(session, wide=True)
    session.execute(delete(AgencyProgress))
    for course in session.scalars(select(Course).where(Course.id.in_(_assigned_course_ids(session)))):
        _recount(session, course, now, everywhere=True)
        _counted(session, course.id, now)
    session.flush()
    return session.scalar(select(func.count()).select_from(AgencyProgress))


def refresh_pending(session: Session, now: datetime | None = None) -> int:
    """Count the subtrees of the assignments whose current cycle has started but is not counted yet
    (they started after being given, or the table is new). Returns how many were counted."""
    now = now or utcnow()
    pending = session.execute(select(Assignment.agency_id, Assignment.course_id).where(
        Assignment.is_active, Assignment.cycle_start_at <= now,
        (Assignment.counted_cycle_start_at.is_(None)) | (Assignment.counted_cycle_start_at != Assignment.cycle_start_at)
    ).distinct()).all()
    if pending:
        recount(session, subtrees={(agency_id, course_id) for agency_id, course_id in pending}, now=now)
    return len(pending)


def _assigned_course_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Assignment.course_id).where(Assignment.is_active).distinct()
                                .order_by(Assignment.course_id)))


def _lock(session: Session, *, wide: bool, agency_ids=()) -> None:
    """Serialise recounts of the same agencies (PostgreSQL; SQLite has one writer at a time).

    Advisory locks held until the commit: a recount of whole subtrees takes (874, 0) exclusively;
    a recount of a few agencies takes it shared, then (874, agency id) for each, in one order so
    that two recounts never wait on each other in a ring. The hot path, a learner's first step of a
    cycle, takes both in one statement.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    if wide:
        session.execute(select(func.pg_advisory_xact_lock(_LOCK_CLASS, 0)))
        return
    first, *others = sorted(agency_ids)
    session.execute(select(func.pg_advisory_xact_lock_shared(_LOCK_CLASS, 0),
                           func.pg_advisory_xact_lock(_LOCK_CLASS, first)))
    for agency_id in others:
        session.execute(select(func.pg_advisory_xact_lock(_LOCK_CLASS, agency_id)))


def _recount(session: Session, course: Course, now: datetime, *, agency_ids=None, root: Agency | None = None,
             everywhere: bool = False) -> None:
    """Replace the rows of these agencies (or of the subtree, or all) for the course by a fresh count."""
    from .services import person_statuses

    people = person_statuses(session, course, root, now, agency_ids=agency_ids)
    started = case((and_(people.c.completed_at.is_(None), people.c.last_activity_at >= people.c.cycle_start_at), 1),
                   else_=0)
    counts = (select(people.c.agency_id, literal(course.id), func.count(), func.count(people.c.completed_at),
                     func.coalesce(func.sum(started), 0), func.min(people.c.due_at))
              .group_by(people.c.agency_id))
    stale = delete(AgencyProgress).where(AgencyProgress.course_id == course.id)
    if agency_ids is not None:
        stale = stale.where(AgencyProgress.agency_id.in_(agency_ids))
    elif root is not None:
        stale = stale.where(AgencyProgress.agency_id.in_(select(Agency.id).where(root.subtree_filter())))
    if not everywhere:
        session.execute(stale.execution_options(synchronize_session=False))
    session.execute(insert(AgencyProgress).from_select(
        ["agency_id", "course_id", "staff", "completed", "started", "due_at"], counts))


def _counted(session: Session, course_id: int, now: datetime, within: Agency | None = None) -> None:
    """Record that the started assignments of the course (inside `within`) are now counted."""
    statement = (update(Assignment)
                 .where(Assignment.course_id == course_id, Assignment.is_active, Assignment.cycle_start_at <= now)
                 .values(counted_cycle_start_at=Assignment.cycle_start_at)
                 .execution_options(synchronize_session=False))
    if within is not None:
        statement = statement.where(Assignment.agency_id.in_(select(Agency.id).where(within.subtree_filter())))
    session.execute(statement)


# -- reading --------------------------------------------------------------------------------------

def is_counted(session: Session, course: Course, now: datetime) -> bool:
    """Do the rows follow the cycles that govern at `now`? Every assignment whose cycle has started
    by then was counted with that cycle, and none that starts later was."""
    return all((start <= now) == (counted == start) for start, counted in session.execute(
        select(Assignment.cycle_start_at, Assignment.counted_cycle_start_at)
        .where(Assignment.course_id == course.id, Assignment.is_active)))


def status_counts(session: Session, course: Course, root: Agency, now: datetime):
    """[(agency id, status, people)] over the subtree from the rows, or None while they do not
    follow the cycles that govern at `now` (the caller then counts person by person)."""
    if not is_counted(session, course, now):
        return None
    rows = session.execute(
        select(AgencyProgress.agency_id, AgencyProgress.staff, AgencyProgress.completed, AgencyProgress.started,
               AgencyProgress.due_at)
        .join(Agency, Agency.id == AgencyProgress.agency_id)
        .where(AgencyProgress.course_id == course.id, root.subtree_filter()))
    counts = []
    for agency_id, staff, completed, started, due_at in rows:
        waiting = staff - completed
        split = {"completed": completed, "overdue": waiting} if due_at < now else {
            "completed": completed, "in_progress": started, "not_started": waiting - started}
        counts.extend((agency_id, status, number) for status, number in split.items() if number)
    return counts
