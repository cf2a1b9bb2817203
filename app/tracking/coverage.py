"""Which agencies each active assignment covers (`AssignmentCoverage`): the one place it is written.

The recount (`rules.person_statuses`) reads a course's governing assignments per agency from this
table by index; before it, each recount found every started assignment's subtree by its path, one
SELECT with the path as a literal per assignment, so hundreds of assignments meant hundreds of
statements compiled and planned in every recount.

The table is derived: a row (assignment, agency) for each active assignment and each agency whose
path starts with the path of the agency the assignment was given to. It is kept exact here:

- Assignments and agencies changed through the ORM (an assignment given, moved, cancelled or
  given another course; an agency created, moved under another parent, deleted) are noticed after
  each flush (`_notice`), like the progress summaries' changes.
- A subtree's paths rewritten by one UPDATE (`agencies.services.move_agency`) are marked by the
  code that writes them (`mark_subtree`).
- Both are applied before the commit (`tracking.progress` calls `apply` first thing) and before
  a recount reads the table in the same transaction (`rules.person_statuses`).
- Data written in bulk (bench, load tests) and a repair are filled by `rebuild`, which
  `progress.rebuild` runs before counting; migration 0021 fills the table the same way.

Concurrency (PostgreSQL): a transaction that writes rows first takes one advisory lock, held until
its commit. Whoever writes second thus sees the first's changes committed, and since it rewrites
everything its own changed assignments and agencies cover, the pair they form is never missed (an
assignment given to a district while a commune is created below it). Such changes are rare
(administrators and managers at work), so one lock for all of them costs nothing worth a finer one.
"""
from __future__ import annotations

from itertools import chain

from sqlalchemy import delete, event, false, func, insert, inspect, literal, or_, select, text
from sqlalchemy.orm import Session, aliased

from ..models import Agency, Assignment, AssignmentCoverage

#: session.info keys: {assignment id} and {agency id, the root of a subtree} to rewrite at the commit
_ASSIGNMENTS, _SUBTREES = "coverage.assignments", "coverage.subtrees"
#: advisory lock (class, key) of every coverage write; tracking.progress uses 874 and 875, jobs 876
_LOCK = (877, 0)


# -- noticing changes -------------------------------------------------------------------------------

def mark_assignments(session: Session, assignment_ids) -> None:
    """Rewrite these assignments' rows before the commit (or the next recount read)."""
    session.info.setdefault(_ASSIGNMENTS, set()).update(assignment_ids)


def mark_subtree(session: Session, agency_id: int) -> None:
    """Rewrite the rows of this agency and every agency below it (their paths changed, or it is new)."""
    session.info.setdefault(_SUBTREES, set()).add(agency_id)


def is_pending(session: Session) -> bool:
    """Are changes of this transaction still to be written to the table?"""
    return bool(session.info.get(_ASSIGNMENTS) or session.info.get(_SUBTREES))


def _history(obj, name: str) -> bool:
    return inspect(obj).attrs[name].history.has_changes()


@event.listens_for(Session, "after_flush")
def _notice(session: Session, _context) -> None:
    for obj in chain(session.new, session.dirty, session.deleted):
        touched = obj in session.new or obj in session.deleted
        if isinstance(obj, Assignment) and (touched or any(_history(obj, name) for name in (
                "agency_id", "agency", "is_active", "course_id", "course"))):
            mark_assignments(session, [obj.id])
        elif isinstance(obj, Agency) and (touched or any(_history(obj, name) for name in (
                "path", "parent_id", "parent"))):
            # A new agency has no path at its first flush (its id is part of it): the flush that
            # sets it is noticed here too. Its rows are written from its path at `apply`.
            mark_subtree(session, obj.id)


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous_transaction) -> None:
    if not previous_transaction.nested:
        session.info.pop(_ASSIGNMENTS, None)
        session.info.pop(_SUBTREES, None)


# -- writing ----------------------------------------------------------------------------------------

def covered_pairs():
    """SQL: (assignment_id, agency_id, course_id) of every agency each active assignment covers,
    worked out from the paths: what the table must hold (written by `rebuild`, checked by `check`)."""
    given, member = aliased(Agency), aliased(Agency)
    return (select(Assignment.id.label("assignment_id"), member.id.label("agency_id"),
                   Assignment.course_id.label("course_id"))
            .join(given, given.id == Assignment.agency_id)
            # Paths are digits and slashes: nothing in them needs escaping in a LIKE pattern.
            .join(member, member.path.like(given.path + literal("%")))
            .where(Assignment.is_active))


def _write(session: Session, pairs) -> None:
    session.execute(insert(AssignmentCoverage).from_select(["assignment_id", "agency_id", "course_id"], pairs)
                    .execution_options(synchronize_session=False))


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(*_LOCK)))


def apply(session: Session) -> None:
    """Rewrite the rows of the assignments and subtrees marked in this transaction: a few
    set-based statements, whatever their number."""
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()  # changes not flushed yet are noticed (and marked) now
    if not is_pending(session):
        return
    assignment_ids = sorted(session.info.pop(_ASSIGNMENTS, set()))
    root_ids = sorted(session.info.pop(_SUBTREES, set()))
    _lock(session)
    pairs = covered_pairs().subquery()
    if root_ids:
        # The subtrees as they are now (read here, after any bulk UPDATE of their paths); a root
        # deleted meanwhile has no path and only loses its own rows.
        paths = sorted(session.scalars(select(Agency.path).where(Agency.id.in_(root_ids))))
        roots = [path for number, path in enumerate(paths)  # a subtree inside another is in it
                 if not any(path.startswith(other) for other in paths[:number])]
        below = select(Agency.id).where(or_(*[Agency.path.startswith(path, autoescape=True) for path in roots])) \
            if roots else select(Agency.id).where(false())
        session.execute(delete(AssignmentCoverage).where(
            AssignmentCoverage.agency_id.in_(root_ids) | AssignmentCoverage.agency_id.in_(below))
            .execution_options(synchronize_session=False))
        _write(session, select(pairs).where(pairs.c.agency_id.in_(below)))
    if assignment_ids:  # after the subtrees, whose rows of these assignments it replaces
        session.execute(delete(AssignmentCoverage).where(AssignmentCoverage.assignment_id.in_(assignment_ids))
                        .execution_options(synchronize_session=False))
        _write(session, select(pairs).where(pairs.c.assignment_id.in_(assignment_ids)))


def rebuild(session: Session) -> int:
    """Rewrite the whole table from the paths (after data written in bulk, or to repair); returns
    the rows written."""
    session.info.pop(_ASSIGNMENTS, None)
    session.info.pop(_SUBTREES, None)
    _lock(session)
    session.execute(delete(AssignmentCoverage).execution_options(synchronize_session=False))
    _write(session, covered_pairs())
    if session.get_bind().dialect.name == "postgresql":
        # The recounts that follow a rebuild read it at once, before autovacuum has looked at it.
        session.execute(text("ANALYZE assignment_coverage"))
    return session.scalar(select(func.count()).select_from(AssignmentCoverage))


def check(session: Session) -> tuple[set, set]:
    """(missing, extra): the (assignment, agency, course) rows the table lacks and those it should
    not have, against a computation from scratch; both empty when it is exact."""
    apply(session)
    wanted = set(session.execute(covered_pairs()).tuples())
    stored = set(session.execute(select(AssignmentCoverage.assignment_id, AssignmentCoverage.agency_id,
                                        AssignmentCoverage.course_id)).tuples())
    return wanted - stored, stored - wanted
