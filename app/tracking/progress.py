"""Progress summaries: per agency and course, how many of its active staff are in each status.

A dashboard over a province (60,000 people) or the country (two million) cannot work out every
person's status on each request; it reads one `AgencyProgress` row per agency instead. The rows
are counted with the same rule as the people list (`rules.person_statuses`: one truth for the
assignments covering a person, their completion's validity and their activity) and kept current here:

- Changes made through the ORM (people created, moved, deactivated; completions recorded or
  archived; assignments given, moved, edited or cancelled) are noticed after each
  flush, and the agencies they touch are recounted just before the transaction commits, in it.
- Changes written as bulk statements say so themselves: `mark_people` (a learner's first activity
  since their completion), `mark` (people moved by a merge) and `mark_subtree` (a subtree moved).
- Time alone changes statuses too. An assignment that starts later covers its subtree from that
  moment: `ProgressCycle` records the start each assignment's subtree was counted with. The first
  due date to pass among the people a row counts is applied by the reader (`next_due_at`); any
  other moment a person's status changes by the clock (a later due date, a recertification window
  opening) bounds the row (`stable_from`, `stable_until`). Until the rows are counted again
  (`flask tracking refresh-progress`, run on deploy and by the daily `flask reminders send`),
  `status_counts` answers None and the dashboard works the statuses out person by person: always
  right, slower.

A subtree recount of more than RECOUNT_JOB_THRESHOLD people (an assignment given to a province, a
large subtree moved) is left to a `recount` job when jobs run on a queue (JOBS_MODE=rq): the job
is created in the transaction of the change and queued once it commits. Until the job has finished,
the subtree's rows are "pending" (`pending_recounts`) and every reader works the statuses out by the
rule instead (`status_counts` answers None, `people_stored` is not asked): never a mix of rows
counted before and after the change. With jobs in process (JOBS_MODE=inline, `make run`) every
recount stays in the transaction.

Recounts always use the clock, and a row keeps the moment it was counted: a reader asking about a
moment when other assignments covered one of its agencies than when it was counted gets None too.

Concurrency (PostgreSQL; SQLite has one writer at a time): every recount takes advisory locks
before counting, held until the commit, so of two recounts of the same agency the second waits and
then counts what the first committed. A recount of an agency takes (874, agency) exclusively and
(875, a) shared for the agency and each one above it; a recount of a subtree takes (875, its root)
exclusively and (875, a) shared above it. Two recounts thus wait for each other only when their
agencies overlap, and locks are always taken in one order, so they never wait in a ring. The person
whose change is counted is read FOR SHARE first: a concurrent move of that person either finishes
before (and the recount follows them) or waits for this commit (and then counts this change).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from itertools import chain

from flask import current_app, has_app_context, has_request_context
from flask_login import current_user
from sqlalchemy import Integer, and_, case, cast, delete, event, func, insert, inspect, literal, or_, select, update
from sqlalchemy.orm import Session, load_only

from ..models import (Agency, AgencyProgress, Assignment, Attempt, Course, CourseActivity, CourseCompletion, Lesson,
                      LessonProgress, PersonCourseStatus, ProgressCycle, Quiz, User, upsert_insert, utcnow)
from . import coverage
from .rules import STATUSES, earlier, person_statuses, scope_terms, stored_status_sql

#: session.info keys: {(agency id, course id or None)}, {(user id, course id or None)}, subtrees alike
_AGENCIES, _USERS, _SUBTREES = "progress.agencies", "progress.users", "progress.subtrees"
#: session.info key: {user id} whose stored lessons done or best score changed
_FACTS = "progress.facts"
#: session.info key: [job id] of the recount jobs this transaction created, queued after its commit
_DEFERRED = "progress.deferred"
#: session.info key: {(user id, course id, moment)} of learners' first steps of the cycle
_STEPS = "progress.steps"
#: advisory lock classes: an agency's own row; an agency's subtree
_ROW_LOCK, _SUBTREE_LOCK = 874, 875
#: more agencies than this in one recount lock their whole trees instead of one row each
_MAX_ROW_LOCKS = 100


# -- noticing changes -------------------------------------------------------------------------------

def mark(session: Session, agency_ids, course_id: int | None = None) -> None:
    """Recount these agencies (for one course, or every assigned course) before the commit."""
    session.info.setdefault(_AGENCIES, set()).update((agency_id, course_id) for agency_id in agency_ids
                                                      if agency_id is not None)


def mark_people(session: Session, user_ids, course_id: int | None = None) -> None:
    """Recount the agencies these people are in at the commit (read FOR SHARE then)."""
    session.info.setdefault(_USERS, set()).update((user_id, course_id) for user_id in user_ids)


def mark_first_step(session: Session, user_id: int, course_id: int, now: datetime) -> None:
    """A learner's first activity since their current completion: counted at the commit, by an
    increment where the stored rows allow it (`count_first_step`), else by a recount."""
    session.info.setdefault(_STEPS, set()).add((user_id, course_id, now))


def count_first_step(session: Session, user_id: int, course_id: int, now: datetime) -> bool:
    """A learner's first activity since their current completion ("not started" → "in progress"),
    counted by an increment of their stored standing and their agency's summary instead of a
    recount of the agency: at the exam hour's arrivals the recount of a 300-person agency was most
    of a start's CPU. Returns False, changing nothing, when the stored rows cannot take it (no
    standing stored for them there, a summary the clock has overtaken, already in progress): the
    commit then recounts them (`mark_people`). A step dated before the count is recounted too.

    Exact because the move changes only the in-progress/not-started split: the person's due date,
    the agency's first due date and every moment the row is stable between stay as counted. It
    takes the locks of a recount of the agency (the person FOR SHARE first, as `recount` does), so
    a recount either committed before (and is incremented) or waits and counts the step itself;
    of two first steps of one person at once, the second finds them started and recounts."""
    found = session.execute(select(User.agency_id, Agency.path).join(Agency, Agency.id == User.agency_id)
                            .where(User.id == user_id).with_for_update(read=True, of=User)).first()
    if found is None:
        return False
    agency_id, path = found
    _lock(session, agency_ids={agency_id}, paths={agency_id: path})
    row, summary = PersonCourseStatus, AgencyProgress
    summary_holds = select(summary.agency_id).where(
        summary.agency_id == agency_id, summary.course_id == course_id, summary.counted_at <= now,
        or_(summary.stable_until.is_(None), summary.stable_until > now)).exists()
    due_at = session.scalar(
        update(row).where(row.user_id == user_id, row.course_id == course_id, row.agency_id == agency_id,
                          row.counted_at <= now, stored_status_sql(row, now) == "not_started", summary_holds)
        .values(last_activity_at=now).returning(row.due_at).execution_options(synchronize_session=False))
    if due_at is None:
        return False
    first = case((summary.next_due_at == due_at, 1), else_=0)  # counted among those due first
    session.execute(update(summary).where(summary.agency_id == agency_id, summary.course_id == course_id).values(
        not_started=summary.not_started - 1, in_progress=summary.in_progress + 1,
        due_not_started=summary.due_not_started - first, due_in_progress=summary.due_in_progress + first)
        .execution_options(synchronize_session=False))
    return True


def mark_subtree(session: Session, agency_id: int, course_id: int | None = None) -> None:
    """Recount every agency of this subtree before the commit (the assignments covering it may change)."""
    session.info.setdefault(_SUBTREES, set()).add((agency_id, course_id))


def mark_facts(session: Session, user_ids) -> None:
    """Refresh these people's stored lessons done and best score before the commit: one statement,
    not a recount (no status depends on them)."""
    session.info.setdefault(_FACTS, set()).update(user_ids)


def _changed(obj, *names: str) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def _ids(obj, column: str, relation: str | None = None) -> set[int]:
    """The values a foreign key had and has (the relationship's too: it is set before the key)."""
    state = inspect(obj)
    history = state.attrs[column].history
    ids = set(chain(history.deleted or (), history.sum()))
    if relation is not None:
        related = state.attrs[relation].history
        ids |= {item.id for item in chain(related.deleted or (), related.sum()) if item is not None}
    ids.add(getattr(obj, column))
    return {value for value in ids if value is not None}


@event.listens_for(Session, "after_flush")
def _notice(session: Session, _context) -> None:
    """After each flush: which agencies did the flushed people, completions and assignments touch?"""
    for obj in chain(session.new, session.dirty, session.deleted):
        touched = obj in session.new or obj in session.deleted
        if isinstance(obj, User) and (touched or _changed(obj, "agency_id", "agency", "is_active", "search_name",
                                                          "employee_code")):
            mark(session, _ids(obj, "agency_id", "agency"))
        elif isinstance(obj, CourseCompletion) and (touched or _changed(obj, "archived_at", "completed_at",
                                                                         "expires_at")):
            mark_people(session, [obj.user_id], obj.course_id)  # their agency now, not the completion's
        elif (isinstance(obj, LessonProgress) and obj.completed_at is not None and _changed(obj, "completed_at")) \
                or (isinstance(obj, Attempt) and obj not in session.new and _changed(obj, "status", "passed")):
            mark_facts(session, [obj.user_id])
        elif isinstance(obj, Assignment) and (touched or _changed(
                obj, "agency_id", "agency", "is_active", "starts_at", "due_at", "validity_months",
                "recertify_days", "course_id")):
            for agency_id in _ids(obj, "agency_id", "agency"):
                for course_id in _ids(obj, "course_id", "course"):
                    mark_subtree(session, agency_id, course_id)


@event.listens_for(Session, "before_commit")
def _recount_before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the outer commit recounts
    session.flush()  # the commit's own flush comes after this hook: notice its changes now
    # Before any recount reads it, and before the recounts' locks (always taken in this order).
    coverage.apply(session)
    facts = session.info.pop(_FACTS, set())
    # At the commit, not when noticed: the locks are held for the commit only, and a move of the
    # person committed meanwhile is waited for (read FOR SHARE) and then counted with.
    for user_id, course_id, now in sorted(session.info.pop(_STEPS, set())):
        if not count_first_step(session, user_id, course_id, now):
            mark_people(session, [user_id], course_id)
    if any(session.info.get(key) for key in (_AGENCIES, _USERS, _SUBTREES)):
        agencies, users, subtrees = (session.info.pop(key, set()) for key in (_AGENCIES, _USERS, _SUBTREES))
        recount(session, agencies=agencies, users=users, subtrees=_defer_large(session, subtrees))
    if facts:
        refresh_facts(session, facts)


@event.listens_for(Session, "after_commit")
def _queue_deferred(session: Session) -> None:
    """Hand the recount jobs of the committed transaction to the queue (a worker must find their rows)."""
    job_ids = session.info.pop(_DEFERRED, None)
    if not job_ids:
        return
    from ..jobs.services import enqueue

    for job_id in job_ids:
        try:
            enqueue(job_id)
        except Exception:  # the change is committed; the job row stays queued (docs/deploy.md)
            current_app.logger.exception("recount job %s could not be queued", job_id)


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous_transaction) -> None:
    # A savepoint rolled back leaves the outer transaction's changes, and their marks, in place (a
    # mark for what was undone only costs a recount).
    if not previous_transaction.nested:
        for key in (_AGENCIES, _USERS, _SUBTREES, _FACTS, _DEFERRED, _STEPS):
            session.info.pop(key, None)


def _defer_large(session: Session, subtrees: set) -> set:
    """The subtree recounts to run in this transaction. With jobs on a queue, those of subtrees of
    more than RECOUNT_JOB_THRESHOLD active people become `recount` jobs instead (one per subtree and
    course, created here so that the change and its "pending" mark commit together; a job still
    queued for the same subtree and course is not doubled)."""
    if not subtrees or not has_app_context() or current_app.config["JOBS_MODE"] == "inline":
        return subtrees
    from ..jobs.models import Job
    from ..jobs.services import create_job, subtree_size

    # One indexed count per subtree root: a change marks a handful of subtrees at most.
    sizes = {agency_id: subtree_size(session, session.get(Agency, agency_id))
             for agency_id in sorted({agency_id for agency_id, _ in subtrees})}
    threshold = current_app.config["RECOUNT_JOB_THRESHOLD"]
    large = {pair for pair in subtrees if sizes[pair[0]] > threshold}
    if not large:
        return subtrees
    waiting = {(job.agency_id, (job.parameters or {}).get("course_id")) for job in session.scalars(
        select(Job).where(Job.kind == "recount", Job.status == "queued", Job.agency_id.in_({a for a, _ in large})))}
    user = current_user._get_current_object() if has_request_context() and current_user.is_authenticated else None
    for agency_id, course_id in sorted(large - waiting, key=lambda pair: (pair[0], pair[1] or 0)):
        job = create_job(session, kind="recount", user=user, agency=session.get(Agency, agency_id),
                         parameters={"course_id": course_id}, total=1)
        session.info.setdefault(_DEFERRED, []).append(job.id)
    return subtrees - large


# -- counting -------------------------------------------------------------------------------------

def recount(session: Session, *, agencies=(), users=(), subtrees=()) -> None:
    """Recount the given (agency, course) pairs, the agencies of the given (user, course) pairs and
    the given (subtree root, course) pairs; a course of None means every assigned course."""
    now = utcnow()
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
                select(User.id, User.agency_id).where(User.id.in_(sorted(user_courses)))
                .order_by(User.id).with_for_update(read=True)):
            pairs |= {(agency_id, course_id) for course_id in user_courses[user_id]}
    by_course: dict[int, set[int]] = defaultdict(set)
    for agency_id, course_id in pairs:
        for course in courses_of(course_id):
            by_course[course].add(agency_id)
    roots = sorted({(agency_id, course) for agency_id, course_id in subtrees for course in courses_of(course_id)})
    if not by_course and not roots:
        return
    _lock(session, agency_ids=set().union(*by_course.values()), root_ids={agency_id for agency_id, _ in roots})
    for course_id, agency_ids in sorted(by_course.items()):
        _recount(session, session.get(Course, course_id), now, agency_ids=sorted(agency_ids))
    for agency_id, course_id in roots:
        root = session.get(Agency, agency_id)
        _recount(session, session.get(Course, course_id), now, root=root)
        _counted(session, course_id, now, within=root)


def rebuild(session: Session, *, from_paths: bool = False) -> int:
    """Count every agency and course afresh: after data loaded in bulk (bench, load tests) or to
    repair; the assignments' coverage (`coverage.rebuild`) is rewritten first. Returns the rows
    written. `from_paths` finds each assignment's subtree by its path instead, leaving the
    coverage table alone: for migration 0017, which runs before the table exists."""
    now = utcnow()
    if not from_paths:
        coverage.rebuild(session)
    _lock(session, root_ids=set(session.scalars(select(Agency.id).where(Agency.parent_id.is_(None)))))
    session.execute(delete(AgencyProgress))
    session.execute(delete(PersonCourseStatus))
    # Only the ids are read: migration 0017 runs this against the schema of its time.
    for course in session.scalars(select(Course).options(load_only(Course.id))
                                  .where(Course.id.in_(_assigned_course_ids(session)))):
        _recount(session, course, now, terms=scope_terms(session, course, None, now) if from_paths else None)
        _counted(session, course.id, now)
    session.flush()
    return session.scalar(select(func.count()).select_from(AgencyProgress))


def refresh_pending(session: Session) -> int:
    """Count the subtrees of the assignments that have started but are not counted with their start
    yet (they started after being given, or the table is new), and the agencies whose rows a due
    date or a recertification window has overtaken. Returns how many were counted."""
    now = utcnow()
    pending = session.execute(
        select(Assignment.agency_id, Assignment.course_id)
        .outerjoin(ProgressCycle, ProgressCycle.assignment_id == Assignment.id)
        .where(Assignment.is_active, Assignment.starts_at <= now,
               ProgressCycle.starts_at.is_(None) | (ProgressCycle.starts_at != Assignment.starts_at))
        .distinct()).all()
    overtaken = session.execute(select(AgencyProgress.agency_id, AgencyProgress.course_id).where(
        AgencyProgress.stable_until <= now)).all()
    if pending or overtaken:
        recount(session, agencies=set(overtaken), subtrees=set(pending))
    return len(pending) + len(overtaken)


def _assigned_course_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Assignment.course_id).where(Assignment.is_active).distinct()
                                .order_by(Assignment.course_id)))


def _lock(session: Session, *, agency_ids=(), root_ids=(), paths: dict[int, str] | None = None) -> None:
    """Take the advisory locks of a recount (see the module's docstring), in one order, in one
    statement. `paths` gives the agencies' paths when the caller has read them already."""
    if session.get_bind().dialect.name != "postgresql" or not (agency_ids or root_ids):
        return
    if paths is None or not set(paths) >= set(agency_ids) | set(root_ids):
        paths = dict(session.execute(select(Agency.id, Agency.path)
                                     .where(Agency.id.in_(set(agency_ids) | set(root_ids)))).all())
    paths = dict(paths)  # the update below must not change the caller's
    if len(agency_ids) > _MAX_ROW_LOCKS:  # many agencies (an import): lock their whole trees instead
        tops = {int(paths[agency_id].strip("/").split("/")[0]) for agency_id in agency_ids}
        paths.update({top: f"/{top}/" for top in tops})
        root_ids, agency_ids = set(root_ids) | tops, ()

    def above(agency_id):
        return [int(part) for part in paths[agency_id].strip("/").split("/")]

    exclusive = {(_ROW_LOCK, agency_id) for agency_id in agency_ids} | {(_SUBTREE_LOCK, root) for root in root_ids}
    shared = {(_SUBTREE_LOCK, part) for agency_id in chain(agency_ids, root_ids) for part in above(agency_id)} - exclusive
    calls = [func.pg_advisory_xact_lock(*key) if key in exclusive else func.pg_advisory_xact_lock_shared(*key)
             for key in sorted(exclusive | shared)]
    session.execute(select(*calls))  # PostgreSQL evaluates a select list from left to right


def _recount(session: Session, course: Course, now: datetime, *, agency_ids=None, root: Agency | None = None,
             terms=None) -> None:
    """Replace the rows of these agencies (or of the subtree, or all) for the course by a fresh count."""
    people = person_statuses(session, course, root, now, agency_ids=agency_ids, terms=terms)
    waiting = people.c.status.in_(("in_progress", "not_started"))
    ranked = select(people, func.min(case((waiting, people.c.due_at))).over(partition_by=people.c.agency_id)
                    .label("first_due")).subquery("ranked")
    first = ranked.c.due_at == ranked.c.first_due
    later_due = case((and_(ranked.c.status.in_(("in_progress", "not_started")), ranked.c.due_at > ranked.c.first_due),
                      ranked.c.due_at))
    counts = (select(ranked.c.agency_id, literal(course.id),
                     *[func.count(case((ranked.c.status == status, 1))) for status in STATUSES],
                     func.max(ranked.c.first_due),
                     func.count(case((and_(ranked.c.status == "in_progress", first), 1))),
                     func.count(case((and_(ranked.c.status == "not_started", first), 1))),
                     literal(now, AgencyProgress.counted_at.type),
                     func.max(ranked.c.stable_from),
                     earlier(func.min(ranked.c.window_next), func.min(later_due)))
              .group_by(ranked.c.agency_id))
    _delete_counted(session, AgencyProgress, course, agency_ids=agency_ids, root=root)
    session.execute(insert(AgencyProgress).from_select(
        ["agency_id", "course_id", *STATUSES, "next_due_at", "due_in_progress", "due_not_started", "counted_at",
         "stable_from", "stable_until"], counts))
    _store_people(session, course, now, people, agency_ids=agency_ids, root=root)


def person_facts(user_id, course_id, completed_at) -> dict:
    """SQL, per person and course (columns or values): what the people list shows besides the
    status, read from the learner's own rows by index."""
    def lessons(since=None):
        done = (select(func.count(func.distinct(LessonProgress.lesson_id)))
                .join(Lesson, Lesson.id == LessonProgress.lesson_id)
                .where(LessonProgress.user_id == user_id, Lesson.course_id == course_id,
                       Lesson.status == "published", LessonProgress.completed_at.is_not(None)))
        if since is not None:
            done = done.where(or_(since.is_(None), LessonProgress.completed_at > since))
        return done.scalar_subquery()

    final = and_(Attempt.user_id == user_id, Attempt.course_id == course_id, Attempt.quiz_id == Quiz.id,
                 Quiz.kind == "final", Attempt.status == "submitted")  # as the exports' best score
    published = (select(func.count()).select_from(Lesson)
                 .where(Lesson.course_id == course_id, Lesson.status == "published").scalar_subquery())
    has_final = (select(Quiz.id).where(Quiz.course_id == course_id, Quiz.counts_for_completion,
                                       Quiz.status == "published").exists())
    passed_since = (select(Attempt.id).select_from(Attempt).join(Quiz, Quiz.id == Attempt.quiz_id)
                    .where(Attempt.user_id == user_id, Attempt.course_id == course_id, Quiz.counts_for_completion,
                           Attempt.passed.is_(True),
                           or_(completed_at.is_(None), Attempt.started_at > completed_at)).exists())
    renewed = lessons(completed_at)
    return {
        "lessons_done": lessons(),
        "lessons_renewed": renewed,
        "best_score": select(func.max(Attempt.score_percent)).select_from(Attempt)
        .join(Quiz, Quiz.id == Attempt.quiz_id).where(final).scalar_subquery(),
        "commitment_missing": and_(renewed >= published, or_(passed_since, ~has_final)),
    }


def _delete_counted(session: Session, model, course: Course, *, agency_ids=None, root: Agency | None = None) -> None:
    """Delete a recount's rows of `model` (per agency and course) for these agencies, or the
    subtree, or all: what the recount then inserts anew."""
    stale = delete(model).where(model.course_id == course.id)
    if agency_ids is not None:
        stale = stale.where(model.agency_id.in_(agency_ids))
    elif root is not None:
        stale = stale.where(model.agency_id.in_(select(Agency.id).where(root.subtree_filter())))
    session.execute(stale.execution_options(synchronize_session=False))


def _store_people(session: Session, course: Course, now: datetime, people, *, agency_ids=None,
                  root: Agency | None = None) -> None:
    """Replace the stored standing of the people of these agencies (or of the subtree, or all) for
    the course by what this recount found (`people`: `rules.person_statuses`)."""
    _delete_counted(session, PersonCourseStatus, course, agency_ids=agency_ids, root=root)
    p = people.c
    facts = person_facts(p.user_id, course.id, p.completed_at)
    # A person moved from an agency outside this recount without it being recounted (a bulk change
    # nobody marked) still has a row: it is replaced, not doubled.
    rows = select(p.user_id, literal(course.id), p.agency_id, p.path, p.search_name, p.employee_code, p.due_at,
                  p.window_next, p.window_past, p.completed_at, p.expires_at, p.last_activity_at, *facts.values(),
                  literal(now, PersonCourseStatus.counted_at.type)).where(p.user_id.is_not(None))
    columns = ["user_id", "course_id", "agency_id", "path", "search_name", "employee_code", "due_at",
               "window_at", "window_opened_at", "completed_at", "expires_at", "last_activity_at", *facts, "counted_at"]
    statement = upsert_insert(session)(PersonCourseStatus).from_select(columns, rows)
    session.execute(statement.on_conflict_do_update(
        index_elements=["user_id", "course_id"],
        set_={name: statement.excluded[name] for name in columns[2:]}))


def refresh_facts(session: Session, user_ids) -> None:
    """Bring the stored lessons and best score of these people up to date (every course)."""
    row = PersonCourseStatus
    session.execute(update(row).where(row.user_id.in_(sorted(user_ids)))
                    .values(**person_facts(row.user_id, row.course_id, row.completed_at))
                    .execution_options(synchronize_session=False))


def _counted(session: Session, course_id: int, now: datetime, within: Agency | None = None) -> None:
    """Record that the started assignments of the course (inside `within`) are now counted. Its own
    table, written under the recount's locks only: an UPDATE of the assignments here would wait on,
    and deadlock with, a transaction editing them."""
    started = (select(Assignment.id, Assignment.starts_at)
               .where(Assignment.course_id == course_id, Assignment.is_active, Assignment.starts_at <= now))
    if within is not None:
        started = started.where(Assignment.agency_id.in_(select(Agency.id).where(within.subtree_filter())))
    statement = upsert_insert(session)(ProgressCycle).from_select(["assignment_id", "starts_at"], started)
    session.execute(statement.on_conflict_do_update(
        index_elements=["assignment_id"], set_={"starts_at": statement.excluded.starts_at}))


# -- reading --------------------------------------------------------------------------------------

def pending_recounts(session: Session, course: Course, root: Agency | None) -> list:
    """The recount jobs (`_defer_large`) not finished yet whose subtree overlaps `root`'s (every one
    when None) for this course, newest first: while there is one, the rows of the subtree may hold
    counts from before the change, and readers use the rule instead. A job that failed (or could
    not be queued) counts until it is retried, or a later recount of the same subtree and course
    (`flask jobs recount CODE`) has finished."""
    from ..jobs.models import Job

    jobs = session.execute(
        select(Job, Agency.path).join(Agency, Agency.id == Job.agency_id)
        .where(Job.status.in_(("queued", "running", "failed")), Job.kind == "recount")  # by the status index
        .order_by(Job.created_at.desc(), Job.id.desc())).all()

    def concerns(job, path):
        return ((job.parameters or {}).get("course_id") in (None, course.id)
                and (root is None or path.startswith(root.path) or root.path.startswith(path)))

    pending = [job for job, path in jobs if concerns(job, path)]
    if pending:  # a job failed, or never reached the queue, and a later recount has done its work
        done = session.execute(select(Job.agency_id, Job.parameters, Job.created_at).where(
            Job.kind == "recount", Job.status == "finished",
            Job.created_at > min(job.created_at for job in pending))).all()
        pending = [job for job in pending if not any(
            agency_id == job.agency_id and created_at > job.created_at
            and (parameters or {}).get("course_id") in (None, (job.parameters or {}).get("course_id"))
            for agency_id, parameters, created_at in done)]
    return pending


def is_counted(session: Session, course: Course, now: datetime) -> bool:
    """Every assignment that has started by `now` was counted with its start, and none that starts
    later was."""
    return all((start <= now) == (counted == start) for start, counted in session.execute(
        select(Assignment.starts_at, ProgressCycle.starts_at)
        .outerjoin(ProgressCycle, ProgressCycle.assignment_id == Assignment.id)
        .where(Assignment.course_id == course.id, Assignment.is_active)))


def people_stored(session: Session, course: Course, now: datetime) -> bool:
    """Whether the stored standings (`PersonCourseStatus`) answer for `now`: every assignment
    started by then is counted and none later, and no row was counted after a recertification
    window opened later than `now` (the status at `now` is derived from the dates stored, which hold
    from the last window opened before the count on; `rules.stored_standing`)."""
    row = PersonCourseStatus
    latest, opened = session.execute(select(
        select(func.max(row.counted_at)).where(row.course_id == course.id).scalar_subquery(),
        select(func.max(row.window_opened_at)).where(row.course_id == course.id).scalar_subquery())).one()
    return (latest is None or latest <= now or opened is None or opened <= now) and is_counted(session, course, now)


def status_counts(session: Session, course: Course, root: Agency, now: datetime, *, by_child: bool = False,
                  whole: bool = False):
    """[(agency id, status, people)] over the subtree from the rows, or None when they cannot answer
    for `now`: an assignment has started and is not counted yet; one covering an agency started
    between the moment its row was counted and `now` (a reader asking about another moment than the
    clock's); or a person's status changes by the clock between those moments otherwise than by the
    first due date a row applies itself (`stable_from`, `stable_until`). The caller then counts
    person by person.

    With `by_child`, the first element is instead the child of `root` the agency lies under (None for
    `root` itself), added up in SQL: a country's dashboard reads one row per child, not 45,000. With
    `whole`, it is None: the subtree's totals, one row (the people list's count).
    """
    if not is_counted(session, course, now) or pending_recounts(session, course, root):
        return None
    in_subtree = and_(AgencyProgress.course_id == course.id, root.subtree_filter())
    earliest, latest, stable_from, stable_until = session.execute(
        select(func.min(AgencyProgress.counted_at), func.max(AgencyProgress.counted_at),
               func.max(AgencyProgress.stable_from), func.min(AgencyProgress.stable_until))
        .join(Agency, Agency.id == AgencyProgress.agency_id).where(in_subtree)).one()
    if earliest is None:
        return []
    if (stable_from is not None and now < stable_from) or (stable_until is not None and now >= stable_until):
        return None
    suspects = session.execute(
        select(Agency.path, Assignment.starts_at).join(Agency, Agency.id == Assignment.agency_id)
        .where(Assignment.course_id == course.id, Assignment.is_active,
               Assignment.starts_at > min(earliest, now), Assignment.starts_at <= max(latest, now))).all()
    if suspects and session.scalar(select(AgencyProgress.agency_id).join(Agency, Agency.id == AgencyProgress.agency_id)
                                   .where(in_subtree, or_(*[and_(
                                       Agency.path.startswith(path, autoescape=True),
                                       AgencyProgress.counted_at < start if start <= now else AgencyProgress.counted_at >= start)
                                       for path, start in suspects])).limit(1)) is not None:
        return None
    key = (literal(None) if whole else child_of(session, root, Agency.path) if by_child
           else AgencyProgress.agency_id)
    turned = AgencyProgress.next_due_at < now  # they are overdue once their due date has passed
    split = {"completed": AgencyProgress.completed,
             "in_progress": AgencyProgress.in_progress - case((turned, AgencyProgress.due_in_progress), else_=0),
             "not_started": AgencyProgress.not_started - case((turned, AgencyProgress.due_not_started), else_=0),
             "overdue": AgencyProgress.overdue + case((turned, AgencyProgress.due_in_progress
                                                       + AgencyProgress.due_not_started), else_=0)}
    totals = (select(key.label("key"), *[func.sum(split[status]).label(status) for status in STATUSES])
              .select_from(AgencyProgress).join(Agency, Agency.id == AgencyProgress.agency_id).where(in_subtree))
    rows = session.execute(totals if whole else totals.group_by(key))
    return [(row.key, status, number) for row in rows for status in STATUSES if (number := getattr(row, status))]


def child_of(session: Session, root: Agency, path):
    """SQL: the id of the child of `root` that the agency with this `path` (a column) lies under, the
    first part of the path after the root's; NULL for `root` itself."""
    rest = func.substr(path, len(root.path) + 1)
    if session.get_bind().dialect.name == "postgresql":
        part = func.split_part(rest, "/", 1)
    else:
        part = func.substr(rest, 1, func.instr(rest, "/") - 1)
    return cast(func.nullif(part, ""), Integer)
