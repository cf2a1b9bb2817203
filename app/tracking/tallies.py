"""Answer tallies: how often each question version was answered, and answered wrong, in each subtree.

A tally row (agency, course, question version) covers the agency's whole subtree: a graded answer
is added to the learner's agency and to every agency above it, so "what staff get wrong" in any
subtree reads at most one row per question version, however large the subtree. Answers stay with
the subtree they were given in: when a subtree moves, its tallies leave its old ancestors and join
its new ones; when a person moves, their past answers stay where they were given.
"""
from __future__ import annotations

from sqlalchemy import and_, case, delete, exists, func, insert, select, text, update
from sqlalchemy.orm import Session, aliased

from ..models import Agency, AnswerTally, Attempt, AttemptQuestion, User, upsert_insert


def _adding(statement):
    """ON CONFLICT: add the new counts to the row already there."""
    return statement.on_conflict_do_update(
        index_elements=["agency_id", "course_id", "question_version_id"],
        set_={"answered": AnswerTally.answered + statement.excluded.answered,
              "wrong": AnswerTally.wrong + statement.excluded.wrong})


def grading_agency(session: Session, attempt: Attempt):
    """The learner's agency (id, path) as the attempt is graded.

    Read FOR SHARE on PostgreSQL: a move of the subtree (an UPDATE of the path) waits for the
    grading to commit, and a grading waits for a move in progress and then reads the new path, so
    an answer is never added to ancestors the subtree has just left.
    """
    return session.execute(select(Agency.id, Agency.path).join(User, User.agency_id == Agency.id)
                           .where(User.id == attempt.user_id)
                           .with_for_update(read=True, of=Agency)).one()


def tally_attempt(session: Session, attempt: Attempt, path: str, scores: dict[int, float]) -> None:
    """Add a graded attempt's answers (question version → score) to the agency at `path` and every
    agency above it, in one statement. Rows go in (agency, question) order, so concurrent
    submissions lock the tallies they share in the same order."""
    if not scores:
        return
    rows = [{"agency_id": agency_id, "course_id": attempt.course_id, "question_version_id": version_id,
             "answered": 1, "wrong": int(score < 1)}
            for agency_id in sorted(int(part) for part in path.strip("/").split("/"))
            for version_id, score in sorted(scores.items())]
    session.execute(_adding(upsert_insert(session)(AnswerTally).values(rows)))


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
        session.execute(_adding(upsert_insert(session)(AnswerTally).from_select(
            ["agency_id", "course_id", "question_version_id", "answered", "wrong"],
            select(ancestor_id, moved.course_id, moved.question_version_id, moved.answered, moved.wrong)
            .where(moved.agency_id == agency.id))))


def rebuild_tallies(session: Session) -> int:
    """Recount every tally from the graded answers, each counted for the agency it was graded in
    (the learner's agency now for attempts graded before that was recorded) and every agency above
    it. For data loaded in bulk, bypassing the services; run it while no attempt is being graded
    (on PostgreSQL the table is locked against concurrent gradings meanwhile). Returns the rows."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE answer_tally IN SHARE ROW EXCLUSIVE MODE"))
    session.execute(delete(AnswerTally))
    graded_in = func.coalesce(Attempt.agency_id, User.agency_id)
    own = (select(graded_in.label("agency_id"), Attempt.course_id.label("course_id"),
                  AttemptQuestion.question_version_id.label("question_version_id"),
                  func.count().label("answered"),
                  func.sum(case((AttemptQuestion.score < 1, 1), else_=0)).label("wrong"))
           .join(Attempt, Attempt.id == AttemptQuestion.attempt_id)
           .join(User, User.id == Attempt.user_id)
           .where(Attempt.status == "submitted", Attempt.quiz_id.is_not(None), AttemptQuestion.score.is_not(None))
           .group_by(graded_in, Attempt.course_id, AttemptQuestion.question_version_id)).subquery("own")
    # (agency, ancestor) pairs first: a few per agency, so the answers join them by equality.
    placed, above = aliased(Agency), aliased(Agency)
    pairs = (select(placed.id.label("agency_id"), above.id.label("ancestor_id"))
             .join(above, placed.path.startswith(above.path))).subquery("pairs")
    session.execute(insert(AnswerTally).from_select(
        ["agency_id", "course_id", "question_version_id", "answered", "wrong"],
        select(pairs.c.ancestor_id, own.c.course_id, own.c.question_version_id, func.sum(own.c.answered),
               func.sum(own.c.wrong))
        .join(pairs, pairs.c.agency_id == own.c.agency_id)
        .group_by(pairs.c.ancestor_id, own.c.course_id, own.c.question_version_id)))
    session.flush()
    return session.scalar(select(func.count()).select_from(AnswerTally))
