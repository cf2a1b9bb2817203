"""Tallies per subtree: how often each question version was answered, answered wrong, and each of its
choices picked; and how many current completions each week saw.

A tally row (agency, course, question version) covers the agency's whole subtree: a graded answer
is added to the learner's agency and to every agency above it, so "what staff get wrong" in any
subtree reads at most one row per question version, however large the subtree. Answers stay with
the subtree they were given in: when a subtree moves, its tallies leave its old ancestors and join
its new ones; when a person moves, their past answers stay where they were given.

Completions are tallied the same way (`CompletionTally`, per agency, course and week): a
completion is added to the agency it was made in and every agency above it when it is recorded,
and taken away again when a renewal archives it, so the dashboard's weekly chart reads a dozen
rows instead of the subtree's completions.
"""
from __future__ import annotations

import functools
from datetime import date, datetime, timedelta

from sqlalchemy import Date, Integer, String, and_, case, cast, delete, exists, func, insert, select, text, update
from sqlalchemy.orm import Session, aliased

from ..formatting import VIETNAM
from ..models import (Agency, AnswerTally, Attempt, AttemptQuestion, CompletionTally, CourseCompletion, OptionTally,
                      User, upsert_insert)

#: each tally: its key columns besides the agency, and its counts (the first one says whether a row
#: still counts anything)
TALLIES = (
    (AnswerTally, ("course_id", "question_version_id"), ("answered", "wrong")),
    (OptionTally, ("course_id", "question_version_id", "choice_key"), ("chosen",)),
    (CompletionTally, ("course_id", "week"), ("completed",)),
)
_COLUMNS = {model.__table__: (keys, counts) for model, keys, counts in TALLIES}


def _adding(statement):
    """An INSERT into a tally, ON CONFLICT adding the new counts to the row already there."""
    keys, counts = _COLUMNS[statement.table]
    return statement.on_conflict_do_update(
        index_elements=["agency_id", *keys],
        set_={name: statement.table.c[name] + statement.excluded[name] for name in counts})


@functools.cache
def _adding_one_row(insert, table):
    """The single-row upsert of a tally for executemany, built once per process and database kind:
    building it (and its cache key) anew at every submission was a quarter of the tallying's CPU."""
    return _adding(insert(table))


def grading_agency(session: Session, attempt: Attempt):
    """The learner's agency (id, path) as the attempt is graded.

    Read FOR SHARE on PostgreSQL: a move of the subtree (an UPDATE of the path) waits for the
    grading to commit, and a grading waits for a move in progress and then reads the new path, so
    an answer is never added to ancestors the subtree has just left.
    """
    return session.execute(select(Agency.id, Agency.path).join(User, User.agency_id == Agency.id)
                           .where(User.id == attempt.user_id)
                           .with_for_update(read=True, of=Agency)).one()


def _ids(path: str) -> list[int]:
    return sorted(int(part) for part in path.strip("/").split("/"))


def tally_attempt(session: Session, attempt: Attempt, path: str, scores: dict[int, float],
                  choices: dict[int, list[str] | None] | None = None) -> None:
    """Add a graded attempt's answers (question version → score, and the choice keys picked) to the
    agency at `path` and every agency above it, one batch per tally. Rows go in (agency, question)
    order, so concurrent submissions lock the tallies they share in the same order.

    Each tally is one single-row upsert run for every row (executemany, pipelined by the driver),
    not one statement of all the rows: its SQL is the same at every submission, so it is compiled
    once per process. A multi-row VALUES differs with the number of rows (the choices picked), and
    compiling it anew was most of a submission's CPU in the exam hour."""
    if not scores:
        return
    rows = [{"agency_id": agency_id, "course_id": attempt.course_id, "question_version_id": version_id,
             "answered": 1, "wrong": int(score < 1)}
            for agency_id in _ids(path)
            for version_id, score in sorted(scores.items())]
    session.execute(_adding_one_row(upsert_insert(session), AnswerTally.__table__), rows)
    picked = sorted({(version_id, str(key)) for version_id, keys in (choices or {}).items() for key in keys or ()})
    if picked:
        session.execute(_adding_one_row(upsert_insert(session), OptionTally.__table__), [
            {"agency_id": agency_id, "course_id": attempt.course_id, "question_version_id": version_id,
             "choice_key": key[:40], "chosen": 1}
            for agency_id in _ids(path) for version_id, key in picked])


# -- completions per week ---------------------------------------------------------------------------

def week_of(moment: datetime) -> date:
    """The Monday (Vietnam time) of the week a moment falls in."""
    local = moment.astimezone(VIETNAM).date()
    return local - timedelta(days=local.weekday())


def _week_in_sql(session: Session, column):
    """week_of in SQL, for the bulk recount (stored UTC: Vietnam keeps UTC+7 all year)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.date_trunc("week", func.timezone("Asia/Ho_Chi_Minh", column)), Date)
    return func.date(column, "+7 hours", "-6 days", "weekday 1")  # SQLite stores naive UTC text


def _agency_path(session: Session, agency_id: int) -> str:
    """An agency's path, read FOR SHARE on PostgreSQL as grading_agency does (a move waits)."""
    return session.scalar(select(Agency.path).where(Agency.id == agency_id).with_for_update(read=True))


def tally_completion(session: Session, completion: CourseCompletion) -> None:
    """A completion was recorded: add it to its week in its agency and every agency above it."""
    week = week_of(completion.completed_at)
    session.execute(_adding(upsert_insert(session)(CompletionTally).values([
        {"agency_id": agency_id, "course_id": completion.course_id, "week": week, "completed": 1}
        for agency_id in _ids(_agency_path(session, completion.agency_id))])))


def untally_completions(session: Session, archived: list[tuple[int, int, datetime]]) -> None:
    """Completions (agency, course, completed_at) were archived by a renewal: they no longer count."""
    for agency_id, course_id, completed_at in archived:  # one, the completion renewed
        ancestors = _ids(_agency_path(session, agency_id))
        where = (CompletionTally.agency_id.in_(ancestors), CompletionTally.course_id == course_id,
                 CompletionTally.week == week_of(completed_at))
        session.execute(update(CompletionTally).where(*where).values(completed=CompletionTally.completed - 1)
                        .execution_options(synchronize_session=False))
        session.execute(delete(CompletionTally).where(*where, CompletionTally.completed == 0)
                        .execution_options(synchronize_session=False))


def move_tallies(session: Session, agency: Agency, old_ancestor_ids: list[int], new_ancestor_ids: list[int]) -> None:
    """A subtree moved: its tallies (every kind) leave the ancestors it no longer has and join the new ones."""
    shared = set(old_ancestor_ids) & set(new_ancestor_ids)
    leaving = [agency_id for agency_id in old_ancestor_ids if agency_id not in shared]
    joining = [agency_id for agency_id in new_ancestor_ids if agency_id not in shared]
    for model, keys, counts in TALLIES:
        moved = aliased(model)
        same_row = and_(moved.agency_id == agency.id,
                        *[getattr(moved, key) == getattr(model, key) for key in keys])
        if leaving:
            subtracted = {name: getattr(model, name) - select(getattr(moved, name)).where(same_row)
                          .scalar_subquery() for name in counts}
            session.execute(update(model).where(model.agency_id.in_(leaving), exists().where(same_row))
                            .values(subtracted).execution_options(synchronize_session=False))
            session.execute(delete(model).where(model.agency_id.in_(leaving), getattr(model, counts[0]) == 0)
                            .execution_options(synchronize_session=False))
        for ancestor_id in joining:  # a handful of levels
            session.execute(_adding(upsert_insert(session)(model).from_select(
                ["agency_id", *keys, *counts],
                select(ancestor_id, *[getattr(moved, name) for name in (*keys, *counts)])
                .where(moved.agency_id == agency.id))))


def _ancestor_pairs():
    """(agency, ancestor) pairs, the agency itself included: a few per agency, so rows grouped per
    agency join them by equality. Walked up the parents (agencies × depth rows), not found by
    comparing every path with every other: at 15,000 agencies that comparison alone took 15 s."""
    above = aliased(Agency)
    pairs = select(Agency.id.label("agency_id"), Agency.id.label("ancestor_id"),
                   Agency.parent_id.label("parent_id")).cte("ancestor_pairs", recursive=True)
    pairs = pairs.union_all(select(pairs.c.agency_id, above.id, above.parent_id)
                            .join(above, above.id == pairs.c.parent_id))
    return select(pairs.c.agency_id, pairs.c.ancestor_id).subquery("pairs")


#: each graded quiz answer's picked choices, one row per (agency graded in, course, question, key)
_PICKED_SQL = """
SELECT COALESCE(a.agency_id, u.agency_id) AS agency_id, a.course_id AS course_id,
       q.question_version_id AS question_version_id, SUBSTR(k.value, 1, 40) AS choice_key, COUNT(*) AS chosen
FROM attempt_question q JOIN attempt a ON a.id = q.attempt_id JOIN "user" u ON u.id = a.user_id
{explode}
WHERE a.status = 'submitted' AND a.quiz_id IS NOT NULL AND q.score IS NOT NULL
GROUP BY COALESCE(a.agency_id, u.agency_id), a.course_id, q.question_version_id, SUBSTR(k.value, 1, 40)
"""
_EXPLODE = {  # an answer is a JSON list of keys, or null when nothing was picked
    "postgresql": "CROSS JOIN LATERAL json_array_elements_text(CASE WHEN json_typeof(q.answer::json) = 'array' "
                  "THEN q.answer::json ELSE '[]'::json END) AS k(value)",
    "sqlite": "JOIN json_each(CASE WHEN json_type(q.answer) = 'array' THEN q.answer ELSE '[]' END) AS k",
}


def rebuild_tallies(session: Session) -> int:
    """Recount every answer and choice tally from the graded answers, each counted for the agency it
    was graded in (the learner's agency now for attempts graded before that was recorded) and every
    agency above it. For data loaded in bulk, bypassing the services; run it while no attempt is
    being graded (on PostgreSQL the tables are locked against concurrent gradings meanwhile).
    Returns the answer tally's rows."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("LOCK TABLE answer_tally, option_tally IN SHARE ROW EXCLUSIVE MODE"))
    session.execute(delete(AnswerTally))
    session.execute(delete(OptionTally))
    graded_in = func.coalesce(Attempt.agency_id, User.agency_id)
    own = (select(graded_in.label("agency_id"), Attempt.course_id.label("course_id"),
                  AttemptQuestion.question_version_id.label("question_version_id"),
                  func.count().label("answered"),
                  func.sum(case((AttemptQuestion.score < 1, 1), else_=0)).label("wrong"))
           .join(Attempt, Attempt.id == AttemptQuestion.attempt_id)
           .join(User, User.id == Attempt.user_id)
           .where(Attempt.status == "submitted", Attempt.quiz_id.is_not(None), AttemptQuestion.score.is_not(None))
           .group_by(graded_in, Attempt.course_id, AttemptQuestion.question_version_id)).subquery("own")
    _insert_per_ancestor(session, AnswerTally, own)
    picked = (text(_PICKED_SQL.format(explode=_EXPLODE[dialect]))
              .columns(agency_id=Integer, course_id=Integer, question_version_id=Integer, choice_key=String,
                       chosen=Integer).subquery("picked"))
    _insert_per_ancestor(session, OptionTally, picked)
    session.flush()
    return session.scalar(select(func.count()).select_from(AnswerTally))


def rebuild_completion_tallies(session: Session) -> int:
    """Recount the weekly completion tallies from the current completions, each counted for the agency
    it was made in and every agency above it (migration 0019, and data loaded in bulk). Returns the rows."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE completion_tally IN SHARE ROW EXCLUSIVE MODE"))
    session.execute(delete(CompletionTally))
    week = _week_in_sql(session, CourseCompletion.completed_at)
    own = (select(CourseCompletion.agency_id, CourseCompletion.course_id, week.label("week"),
                  func.count().label("completed"))
           .where(CourseCompletion.archived_at.is_(None))
           .group_by(CourseCompletion.agency_id, CourseCompletion.course_id, week)).subquery("own")
    _insert_per_ancestor(session, CompletionTally, own)
    session.flush()
    return session.scalar(select(func.count()).select_from(CompletionTally))


def _insert_per_ancestor(session: Session, model, own) -> None:
    """Fill a tally from `own` (its rows per agency, with the tally's key and count columns), each row
    added up for the agency and every agency above it."""
    keys, counts = _COLUMNS[model.__table__]
    pairs = _ancestor_pairs()
    session.execute(insert(model).from_select(
        ["agency_id", *keys, *counts],
        select(pairs.c.ancestor_id, *[own.c[key] for key in keys], *[func.sum(own.c[name]) for name in counts])
        .join(pairs, pairs.c.agency_id == own.c.agency_id)
        .group_by(pairs.c.ancestor_id, *[own.c[key] for key in keys])))
