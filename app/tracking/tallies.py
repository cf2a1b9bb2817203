"""Answer tallies: how often each question version was answered, and answered wrong, in each subtree.

A tally row (agency, course, question version) covers the agency's whole subtree: a graded answer
is added to the learner's agency and to every agency above it, so "what staff get wrong" in any
subtree reads at most one row per question version, however large the subtree. Answers stay with
the subtree they were given in: when a subtree moves, its tallies leave its old ancestors and join
its new ones; when a person moves, their past answers stay where they were given.
"""
from __future__ import annotations

from sqlalchemy import and_, case, delete, exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from ..models import Agency, AnswerTally, Attempt, AttemptQuestion, User


def _upsert(session: Session):
    return postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _adding(statement):
    """ON CONFLICT: add the new counts to the row already there."""
    return statement.on_conflict_do_update(
        index_elements=["agency_id", "course_id", "question_version_id"],
        set_={"answered": AnswerTally.answered + statement.excluded.answered,
              "wrong": AnswerTally.wrong + statement.excluded.wrong})


def tally_attempt(session: Session, attempt: Attempt, scores: dict[int, float]) -> None:
    """Add a graded attempt's answers (question version → score) to the learner's agency and every
    agency above it, in one statement. Rows go in (agency, question) order, so concurrent
    submissions lock the tallies they share in the same order."""
    if not scores:
        return
    path = session.scalar(select(Agency.path).join(User, User.agency_id == Agency.id)
                          .where(User.id == attempt.user_id))
    rows = [{"agency_id": agency_id, "course_id": attempt.course_id, "question_version_id": version_id,
             "answered": 1, "wrong": int(score < 1)}
            for agency_id in sorted(int(part) for part in path.strip("/").split("/"))
            for version_id, score in sorted(scores.items())]
    session.execute(_adding(_upsert(session)(AnswerTally).values(rows)))


def move_tallies(session: Session, agency: Agency, old_ancestor_ids: list[int], new_ancestor_ids: list[int]) -> None:
    """A subtree moved: its tallies leave the ancestors it no longer has and join the new ones."""
    shared = set(old_ancestor_ids) & set(new_ancestor_ids)
    leaving = [agency_id for agency_id in old_ancestor_ids if agency_id not in shared]
    joining = [agency_id for agency_id in new_ancestor_ids if agency_id not in shared]
    moved = aliased(AnswerTally)
    same_question = and_(moved.agency_id == agency.id, moved.course_id == AnswerTally.course_id,
                         moved.question_version_id == AnswerTally.question_version_id)
    if leaving:
        subtracted = {name: getattr(AnswerTally, name) - select(getattr(moved, name)).where(same_question)
                      .scalar_subquery() for name in ("answered", "wrong")}
        session.execute(update(AnswerTally)
                        .where(AnswerTally.agency_id.in_(leaving), exists().where(same_question))
                        .values(subtracted).execution_options(synchronize_session=False))
        session.execute(delete(AnswerTally).where(AnswerTally.agency_id.in_(leaving), AnswerTally.answered == 0)
                        .execution_options(synchronize_session=False))
    for ancestor_id in joining:  # a handful of levels
        session.execute(_adding(_upsert(session)(AnswerTally).from_select(
            ["agency_id", "course_id", "question_version_id", "answered", "wrong"],
            select(ancestor_id, moved.course_id, moved.question_version_id, moved.answered, moved.wrong)
            .where(moved.agency_id == agency.id))))
    session.flush()


def rebuild_tallies(session: Session) -> int:
    """Recount every tally from the graded answers (after data was loaded in bulk, bypassing the
    services), each answer counted for its learner's agency now and every agency above it.
    Returns the number of tally rows."""
    session.execute(delete(AnswerTally))
    own = (select(User.agency_id.label("agency_id"), Attempt.course_id.label("course_id"),
                  AttemptQuestion.question_version_id.label("question_version_id"),
                  func.count().label("answered"),
                  func.sum(case((AttemptQuestion.score < 1, 1), else_=0)).label("wrong"))
           .join(Attempt, Attempt.id == AttemptQuestion.attempt_id)
           .join(User, User.id == Attempt.user_id)
           .where(Attempt.status == "submitted", Attempt.quiz_id.is_not(None), AttemptQuestion.score.is_not(None))
           .group_by(User.agency_id, Attempt.course_id, AttemptQuestion.question_version_id)).subquery("own")
    placed, ancestor = aliased(Agency), aliased(Agency)
    session.execute(insert(AnswerTally).from_select(
        ["agency_id", "course_id", "question_version_id", "answered", "wrong"],
        select(ancestor.id, own.c.course_id, own.c.question_version_id, func.sum(own.c.answered),
               func.sum(own.c.wrong))
        .join(placed, placed.id == own.c.agency_id)
        .join(ancestor, placed.path.startswith(ancestor.path))
        .group_by(ancestor.id, own.c.course_id, own.c.question_version_id)))
    session.flush()
    return session.scalar(select(func.count()).select_from(AnswerTally))
