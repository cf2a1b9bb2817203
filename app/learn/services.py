"""The learner's path as services: progress, drawing and grading attempts, completion.

Every rule (time limits, attempt limits, grading, completion) is enforced here, on the server.
Services flush; the caller commits.
"""
from __future__ import annotations

import hashlib
import hmac
import random
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import (
    CourseActivity,
    Attempt,
    AttemptQuestion,
    Citation,
    Course,
    CourseCompletion,
    Lesson,
    LessonProgress,
    Question,
    QuestionVersion,
    Quiz,
    Source,
    User,
    question_topic,
    quiz_pool_question,
    quiz_pool_topic,
    upsert_insert,
    utcnow,
)
from ..tracking.learner import EPOCH, CourseState, completed_since, course_state, course_states  # noqa: F401
from ..tracking import progress, rules
from ..tracking.tallies import grading_agency, tally_attempt, tally_completion, untally_completions
from .grading import percent, score_answer

GRACE = timedelta(seconds=30)  # answers may arrive a little after the deadline (network latency)
PRACTICE_SIZE = 10
PRACTICE_PASS_PERCENT = 80
#: attempts that give feedback (practice and lesson checks) a learner may start in any hour, together:
#: enough to learn from, too few to read the bank's answers in a sitting (docs/final-test.md)
FEEDBACK_ATTEMPTS_PER_HOUR = 12
FEEDBACK_WINDOW = timedelta(hours=1)
COMMITMENT_TEXT = ("Tôi đã học và cam kết thực hiện đúng Bộ Quy tắc ứng xử trên mạng xã hội và các "
                   "hướng dẫn của cơ quan có thẩm quyền khi sử dụng mạng xã hội.")


class LearnError(Exception):
    """A rule of the learning path was broken; the message is for the learner, in Vietnamese."""

    status = 400


class AttemptClosed(LearnError):
    status = 409


class FinalTestOpen(LearnError):
    """Feedback (a practice, a lesson check, a review) asked for while a final test is open."""

    status = 409

    def __init__(self, attempt_id: int):
        super().__init__("Anh/chị đang làm bài kiểm tra cuối khóa. Trong lúc làm bài không thể luyện tập, "
                         "làm bài kiểm tra nhanh hay xem đáp án; hãy nộp bài kiểm tra trước.")
        self.attempt_id = attempt_id


# -- lessons -------------------------------------------------------------------------------------

def published_lessons(session: Session, course: Course) -> list[Lesson]:
    return list(session.scalars(
        select(Lesson).where(Lesson.course_id == course.id, Lesson.status == "published")
        .order_by(Lesson.position)))


@dataclass(frozen=True)
class OfflineReading:
    """What a learner may keep on their device to read offline: the lessons of the published
    courses assigned to them, and the sources those lessons cite."""

    lesson_slugs: list[str]
    source_slugs: list[str]


def offline_reading(session: Session, user: User, now: datetime | None = None) -> OfflineReading:
    """The assigned lessons and their sources, in four statements whatever the number of courses."""
    now = now or utcnow()
    course_ids = list(session.scalars(select(Course.id).where(Course.status == "published")))
    assigned = list(rules.terms_for_person(session, user, course_ids, now)) if course_ids else []
    if not assigned:
        return OfflineReading([], [])
    lessons = session.execute(
        select(Lesson.id, Lesson.slug).where(Lesson.course_id.in_(assigned), Lesson.status == "published")
        .order_by(Lesson.course_id, Lesson.position)).all()
    sources = session.scalars(
        select(Source.slug).where(Source.id.in_(
            select(Citation.source_id).where(Citation.lesson_id.in_([row.id for row in lessons]))))
        .order_by(Source.slug)).all() if lessons else []
    return OfflineReading([row.slug for row in lessons], list(sources))


def record_lesson_visit(session: Session, user: User, lesson: Lesson,
                        now: datetime | None = None) -> LessonProgress:
    now = now or utcnow()
    progress = session.scalar(select(LessonProgress).where(
        LessonProgress.user_id == user.id, LessonProgress.lesson_id == lesson.id))
    if progress is None:
        progress = LessonProgress(user_id=user.id, lesson_id=lesson.id, started_at=now, last_seen_at=now)
        session.add(progress)
    else:
        progress.last_seen_at = now
    session.flush()
    touch_activity(session, user, lesson.course_id, now)
    return progress


def touch_activity(session: Session, user: User, course_id: int, now: datetime,
                   since: datetime | None = None) -> None:
    """Move the learner's last activity in the course forward (one upsert, never backwards).

    The learner's first activity since their current completion (its moment, `since`, is read when
    the caller has not) moves them from "not started" to "in progress" (`tracking.rules`): their
    stored standing and their agency's progress summary are incremented, or, when those cannot
    take it, recounted at commit (`tracking.progress`).
    """
    previous = session.scalar(select(CourseActivity.last_activity_at).where(
        CourseActivity.user_id == user.id, CourseActivity.course_id == course_id))
    _move_activity(session, user, course_id, now, previous, since)


def _move_activity(session: Session, user: User, course_id: int, now: datetime, previous: datetime | None,
                   since: datetime | None) -> None:
    """`touch_activity` once the learner's last activity before this one (`previous`) is known."""
    statement = upsert_insert(session)(CourseActivity).values(user_id=user.id, course_id=course_id, last_activity_at=now)
    session.execute(statement.on_conflict_do_update(
        index_elements=["user_id", "course_id"],
        set_={"last_activity_at": statement.excluded.last_activity_at},
        where=CourseActivity.last_activity_at < statement.excluded.last_activity_at))
    if previous is None or previous <= (since or completed_since(session, user, course_id)):
        progress.mark_first_step(session, user.id, course_id, now)


def complete_lesson(session: Session, user: User, lesson: Lesson,
                    now: datetime | None = None) -> LessonProgress:
    """The learner reached the end and confirmed: the lesson counts as done (again, after a completion)."""
    now = now or utcnow()
    progress = record_lesson_visit(session, user, lesson, now)
    if progress.completed_at is None or progress.completed_at <= completed_since(session, user, lesson.course_id):
        progress.completed_at = now
    session.flush()
    return progress


# The learner's course state lives with the rule (tracking.learner): the manager's person page reads
# it too, and tracking never imports learn.
STATUS_LABELS = {"not_started": "Chưa bắt đầu", "in_progress": "Đang học", "completed": "Hoàn thành",
                 "overdue": "Quá hạn"}


# -- attempts ------------------------------------------------------------------------------------

def attempts_used(session: Session, user: User, quiz: Quiz) -> int:
    """Attempts at this quiz since the learner's current completion (all, without one)."""
    return quiz_standing(session, user, quiz).used


@dataclass(frozen=True)
class QuizStanding:
    """Where a learner stands at a quiz when starting it, read in one statement (`quiz_standing`)."""

    open_attempt_id: int | None
    #: when their current completion of the course was made (EPOCH without one)
    since: datetime
    used: int
    passed: int
    next_number: int
    #: their last activity in the course, if any
    last_activity_at: datetime | None


def quiz_standing(session: Session, user: User, quiz: Quiz) -> QuizStanding:
    """The open attempt, the current completion, the attempts used and passed since it (the next
    attempt's number goes on from every period's) and the last activity, in one statement: a start
    is the exam hour's commonest arrival, and these were four."""
    completed = select(CourseCompletion.completed_at).where(
        CourseCompletion.user_id == user.id, CourseCompletion.course_id == quiz.course_id,
        CourseCompletion.archived_at.is_(None)).scalar_subquery()
    activity = select(CourseActivity.last_activity_at).where(
        CourseActivity.user_id == user.id, CourseActivity.course_id == quiz.course_id).scalar_subquery()
    since = completed.is_(None) | (Attempt.started_at > completed)
    row = session.execute(select(
        func.max(Attempt.id).filter(Attempt.status == "in_progress"),
        func.count(Attempt.id).filter(since), func.count(Attempt.id).filter(since & Attempt.passed.is_(True)),
        func.max(Attempt.number), completed, activity)
        .where(Attempt.user_id == user.id, Attempt.quiz_id == quiz.id)).one()
    open_id, used, passed, last, completed_at, last_activity_at = row
    return QuizStanding(open_id, completed_at or EPOCH, used or 0, passed or 0, (last or 0) + 1, last_activity_at)


def open_final_attempt(session: Session, user: User, now: datetime | None = None) -> Attempt | None:
    """The learner's open attempt at a final test (of any course: practice draws from the whole bank),
    once one whose time is up has been graded; None when there is none."""
    now = now or utcnow()
    for attempt in session.scalars(
            select(Attempt).join(Quiz, Quiz.id == Attempt.quiz_id)
            .where(Attempt.user_id == user.id, Attempt.status == "in_progress", Quiz.counts_for_completion)
            .order_by(Attempt.id)):
        if not close_if_expired(session, attempt, now):
            return attempt
    return None


def require_no_open_final(session: Session, user: User, now: datetime | None = None) -> None:
    """Refuse feedback that could show answers of the bank while the learner's final test is open."""
    attempt = open_final_attempt(session, user, now)
    if attempt is not None:
        raise FinalTestOpen(attempt.id)


def _require_feedback_allowed(session: Session, user: User, now: datetime) -> None:
    """A practice or lesson check may start: no final test open, and fewer than
    FEEDBACK_ATTEMPTS_PER_HOUR of them started in the last hour."""
    require_no_open_final(session, user, now)
    _require_feedback_rate(session, user, now)


def _require_feedback_rate(session: Session, user: User, now: datetime) -> None:
    """Fewer than FEEDBACK_ATTEMPTS_PER_HOUR practice attempts and lesson checks started in the last hour."""
    recent = session.scalar(
        select(func.count(Attempt.id)).outerjoin(Quiz, Quiz.id == Attempt.quiz_id)
        .where(Attempt.user_id == user.id, Attempt.started_at > now - FEEDBACK_WINDOW,
               Attempt.quiz_id.is_(None) | Quiz.counts_for_completion.is_(False)))
    if recent >= FEEDBACK_ATTEMPTS_PER_HOUR:
        raise LearnError(f"Anh/chị đã làm {FEEDBACK_ATTEMPTS_PER_HOUR} lượt luyện tập và kiểm tra nhanh "
                         "trong một giờ qua. Hãy đọc lại phần giải thích của các lượt đã làm và thử lại sau.")


def revealed_question_ids(session: Session, user: User, since: datetime) -> set[int]:
    """Questions whose correct answer and explanation the learner has been shown since `since`: those
    they answered in an attempt submitted since then (a review reveals only the answered ones)."""
    rows = session.execute(
        select(QuestionVersion.question_id, AttemptQuestion.answer)
        .join(AttemptQuestion, AttemptQuestion.question_version_id == QuestionVersion.id)
        .join(Attempt, Attempt.id == AttemptQuestion.attempt_id)
        .where(Attempt.user_id == user.id, Attempt.status == "submitted", Attempt.submitted_at >= since))
    return {question_id for question_id, answer in rows if answer}


def open_attempt(session: Session, user: User, quiz: Quiz) -> Attempt | None:
    return session.scalar(select(Attempt).where(
        Attempt.user_id == user.id, Attempt.quiz_id == quiz.id, Attempt.status == "in_progress"))


def kept_by_content(kept: dict, limit: int, versions: dict[int, str], read) -> dict:
    """{version id: what this process keeps of it} for these versions ({id: content hash}), found in
    `kept` by content hash: a version never changes and its hash is of its whole content
    (content.services.question_hash), so an exam hour works each one out once per process. The
    others come from `read(their ids)`, which yields (content hash, value); past `limit` entries
    `kept` is emptied first (what this call found there is not lost)."""
    found = {digest: kept[digest] for digest in versions.values() if digest in kept}
    missing = [version_id for version_id, digest in versions.items() if digest not in found]
    if missing:
        if len(kept) + len(missing) > limit:
            kept.clear()
        for digest, value in read(missing):
            found[digest] = kept[digest] = value
    return {version_id: found[digest] for version_id, digest in versions.items()}


#: what is needed to shuffle a version's choices: its type and its choice keys
ChoiceInfo = dict[int, tuple[str, list[str]]]
#: the same by content hash, kept by this process (kept_by_content)
_choice_keys: dict[str, tuple[str, list[str]]] = {}
CHOICE_KEYS_KEPT = 4096


def _candidates(session: Session, quiz: Quiz) -> dict[int, dict[int, tuple[int, str]]]:
    """For each pool, {question id: (latest version id, its content hash)}: one statement for the
    whole quiz (an exam hour starts thousands of attempts at once)."""
    return pool_candidates(session, [pool.id for pool in quiz.pools])


def pool_candidates(session: Session, pool_ids: list[int]) -> dict[int, dict[int, tuple[int, str]]]:
    """For each pool id, {published question id: (its latest version id, that version's content
    hash)}: one statement for any number of pools (of one quiz, or of every quiz)."""
    columns = (Question.id, QuestionVersion.id, QuestionVersion.content_hash)
    latest = (QuestionVersion.question_id == Question.id) & (QuestionVersion.version == Question.latest_version)
    by_topic = (
        select(quiz_pool_topic.c.pool_id, *columns)
        .join(question_topic, question_topic.c.topic_id == quiz_pool_topic.c.topic_id)
        .join(Question, Question.id == question_topic.c.question_id)
        .join(QuestionVersion, latest)
        .where(quiz_pool_topic.c.pool_id.in_(pool_ids), Question.status == "published"))
    explicit = (
        select(quiz_pool_question.c.pool_id, *columns)
        .join(Question, Question.id == quiz_pool_question.c.question_id)
        .join(QuestionVersion, latest)
        .where(quiz_pool_question.c.pool_id.in_(pool_ids), Question.status == "published"))
    pools: dict[int, dict[int, tuple[int, str]]] = {pool_id: {} for pool_id in pool_ids}
    for pool_id, question_id, version_id, digest in session.execute(union_all(by_topic, explicit)):
        pools[pool_id][question_id] = (version_id, digest)
    return pools


def _choice_info(session: Session, versions: dict[int, str]) -> ChoiceInfo:
    """Type and choice keys of these versions ({id: content hash}); those this process has not seen
    are read in one statement."""
    def read(version_ids):
        for digest, qtype, choices in session.execute(
                select(QuestionVersion.content_hash, QuestionVersion.type, QuestionVersion.choices)
                .where(QuestionVersion.id.in_(version_ids))):
            yield digest, (qtype, [choice["key"] for choice in choices])

    return kept_by_content(_choice_keys, CHOICE_KEYS_KEPT, versions, read)


def _choice_orders(info: ChoiceInfo, rng: random.Random) -> dict[int, list[str]]:
    """Shuffled choice keys per version; true/false and the parts of a post keep their order."""
    orders = {}
    for version_id, (qtype, keys) in info.items():
        keys = list(keys)
        if qtype in ("single", "multiple"):
            rng.shuffle(keys)
        orders[version_id] = keys
    return orders


def _add_questions(session: Session, attempt: Attempt, versions: dict[int, str], rng: random.Random) -> None:
    """The drawn versions ({id: content hash}, in drawing order) as the attempt's questions: one
    multi-row INSERT, no object per question."""
    orders = _choice_orders(_choice_info(session, versions), rng)
    session.execute(insert(AttemptQuestion), [
        {"attempt_id": attempt.id, "position": position, "question_version_id": version_id,
         "choice_order": orders[version_id]}
        for position, version_id in enumerate(versions, 1)])


def _draw(session: Session, quiz: Quiz, rng: random.Random, avoid: set[int] = frozenset()) -> dict[int, str]:
    """Versions for a new attempt ({id: content hash}, in order): each pool in turn, at random, no
    question twice; questions in `avoid` (answers already shown) only when the pool has too few others."""
    candidates = _candidates(session, quiz)
    drawn: dict[int, str] = {}
    used: set[int] = set()
    for pool in quiz.pools:
        available = sorted(qid for qid in candidates[pool.id] if qid not in used)
        if len(available) < pool.draw_count:
            raise LearnError("Ngân hàng câu hỏi chưa đủ câu cho bài kiểm tra này. Vui lòng báo giảng viên.")
        fresh = [qid for qid in available if qid not in avoid]
        chosen = rng.sample(fresh, min(len(fresh), pool.draw_count))
        if len(chosen) < pool.draw_count:
            chosen += rng.sample([qid for qid in available if qid in avoid], pool.draw_count - len(chosen))
        for question_id in chosen:
            used.add(question_id)
            version_id, digest = candidates[pool.id][question_id]
            drawn[version_id] = digest
    return drawn


def draw_versions(session: Session, quiz: Quiz, rng: random.Random) -> list[int]:
    """Question versions for a new attempt: each pool in order, at random, no question twice."""
    return list(_draw(session, quiz, rng))


def start_attempt(session: Session, user: User, quiz: Quiz, *, now: datetime | None = None,
                  rng: random.Random | None = None) -> Attempt:
    """Resume the open attempt, or draw a new one if the attempt limit allows it."""
    now = now or utcnow()
    rng = rng or random.SystemRandom()
    standing = quiz_standing(session, user, quiz)
    if standing.open_attempt_id is not None:
        existing = session.get(Attempt, standing.open_attempt_id)
        if not close_if_expired(session, existing, now):
            return existing
        standing = quiz_standing(session, user, quiz)  # graded as its time was up: counted now
    if not quiz.counts_for_completion:
        _require_feedback_allowed(session, user, now)
    since, used, passed, number = standing.since, standing.used, standing.passed, standing.next_number
    if quiz.max_attempts is not None and used >= quiz.max_attempts:
        raise LearnError(f"Anh/chị đã dùng hết {quiz.max_attempts} lượt làm bài kiểm tra này.")
    if quiz.counts_for_completion and passed:
        raise LearnError("Anh/chị đã đạt bài kiểm tra này; không cần làm lại.")
    # A final test draws, where its pools allow, questions whose answers the learner has not been
    # shown since their current completion (docs/final-test.md).
    avoid = revealed_question_ids(session, user, since) if quiz.counts_for_completion else set()
    attempt = Attempt(user_id=user.id, course_id=quiz.course_id, quiz_id=quiz.id,
                      number=number,
                      started_at=now, pass_percent=quiz.pass_percent,
                      deadline_at=now + timedelta(minutes=quiz.time_limit_minutes)
                      if quiz.time_limit_minutes else None)
    versions = _draw(session, quiz, rng, avoid)
    try:
        session.add(attempt)
        session.flush()
        _move_activity(session, user, quiz.course_id, now, standing.last_activity_at, since)
    except IntegrityError:
        # Another tab started the same attempt at the same moment (the one-open-attempt index
        # refused this one): roll back and use that one.
        session.rollback()
        existing = open_attempt(session, user, quiz)
        if existing is None:
            raise
        return existing
    _add_questions(session, attempt, versions, rng)
    return attempt


def any_passed(session: Session, user: User, quiz: Quiz) -> bool:
    """Passed since the learner's current completion (ever, without one)."""
    return quiz_standing(session, user, quiz).passed > 0


def wrong_topic_ids(session: Session, user: User, course: Course) -> list[int]:
    """Topics of the questions this learner answered wrongly in the course, most missed first."""
    rows = session.execute(
        select(question_topic.c.topic_id, func.count())
        .select_from(AttemptQuestion)
        .join(Attempt, Attempt.id == AttemptQuestion.attempt_id)
        .join(QuestionVersion, QuestionVersion.id == AttemptQuestion.question_version_id)
        .join(question_topic, question_topic.c.question_id == QuestionVersion.question_id)
        .where(Attempt.user_id == user.id, Attempt.course_id == course.id,
               Attempt.status == "submitted", AttemptQuestion.score < 1)
        .group_by(question_topic.c.topic_id).order_by(func.count().desc())).all()
    return [topic_id for topic_id, _ in rows]


def start_practice(session: Session, user: User, course: Course, *, now: datetime | None = None,
                   rng: random.Random | None = None) -> Attempt:
    """A practice attempt on the topics the learner got wrong (or the whole bank): never counted.

    An open one is resumed rather than another started, so they never pile up unseen."""
    now = now or utcnow()
    rng = rng or random.SystemRandom()
    require_no_open_final(session, user, now)
    existing = session.scalar(select(Attempt).where(
        Attempt.user_id == user.id, Attempt.course_id == course.id, Attempt.quiz_id.is_(None),
        Attempt.status == "in_progress").order_by(Attempt.started_at.desc()).limit(1))
    if existing is not None:
        return existing
    _require_feedback_rate(session, user, now)
    topics = wrong_topic_ids(session, user, course)
    query = (select(Question.id, QuestionVersion.id, QuestionVersion.content_hash)
             .join(QuestionVersion, (QuestionVersion.question_id == Question.id)
                   & (QuestionVersion.version == Question.latest_version))
             .where(Question.status == "published"))
    if topics:
        query = query.where(Question.id.in_(
            select(question_topic.c.question_id).where(question_topic.c.topic_id.in_(topics))))
    rows = sorted(session.execute(query).all())
    if not rows:
        raise LearnError("Chưa có câu hỏi để luyện tập.")
    chosen = rng.sample(rows, min(PRACTICE_SIZE, len(rows)))
    number = (session.scalar(select(func.count(Attempt.id)).where(
        Attempt.user_id == user.id, Attempt.course_id == course.id, Attempt.quiz_id.is_(None))) or 0) + 1
    attempt = Attempt(user_id=user.id, course_id=course.id, quiz_id=None, number=number,
                      started_at=now, pass_percent=PRACTICE_PASS_PERCENT)
    session.add(attempt)
    session.flush()
    touch_activity(session, user, course.id, now)
    _add_questions(session, attempt, {version_id: digest for _, version_id, digest in chosen}, rng)
    return attempt


def is_past_deadline(attempt: Attempt, now: datetime) -> bool:
    return attempt.deadline_at is not None and now > attempt.deadline_at + GRACE


def choice_tokens(secret: bytes, attempt_id: int, position: int, keys: list[str]) -> dict[str, str]:
    """{bank key: the opaque key an attempt's page shows for it}. The bank's keys (`a`, `b`, `true`…)
    would tell which choice the bank listed first; these differ in every attempt and question and
    cannot be told apart without the server's secret, so answering by key pattern is answering at
    random."""
    return {key: hmac.new(secret, f"{attempt_id}:{position}:{key}".encode(), hashlib.sha256).hexdigest()[:16]
            for key in keys}


def save_answer(session: Session, attempt: Attempt, position: int, keys: list[str], *,
                now: datetime | None = None, slot: tuple | None = None,
                opaque_secret: bytes | None = None) -> AttemptQuestion:
    """Store one answer as it is given. Refused once the attempt is closed or past its deadline.

    `slot` is (the attempt's question at `position` or None, its type) when the caller has read them
    already (`permissions.get_own_attempt_question_or_404`); otherwise they are read here. With
    `opaque_secret`, `keys` are the opaque keys of the page (choice_tokens), not the bank's.
    """
    now = now or utcnow()
    if slot is None:  # read here: lock the attempt as the view's read does
        session.refresh(attempt, with_for_update={"read": True})
    if not attempt.is_open:
        raise AttemptClosed("Bài làm đã được nộp; không thể sửa câu trả lời.")
    if is_past_deadline(attempt, now):
        close_if_expired(session, attempt, now)
        raise AttemptClosed("Đã hết thời gian làm bài. Bài làm được chấm theo các câu đã lưu.")
    if slot is None:
        slot = session.execute(
            select(AttemptQuestion, QuestionVersion.type)
            .join(QuestionVersion, QuestionVersion.id == AttemptQuestion.question_version_id)
            .where(AttemptQuestion.attempt_id == attempt.id, AttemptQuestion.position == position)).one_or_none() \
            or (None, None)
    item, question_type = slot
    if item is None:
        raise LearnError("Không có câu hỏi này trong bài làm.")
    valid = set(item.choice_order)
    if opaque_secret is not None:
        by_token = {token: key for key, token in
                    choice_tokens(opaque_secret, attempt.id, position, item.choice_order).items()}
        keys = [by_token.get(token, "") for token in keys]  # "" is never a choice: refused below
    keys = list(dict.fromkeys(keys))  # keep order, drop repeats
    if any(key not in valid for key in keys):
        raise LearnError("Lựa chọn không hợp lệ.")
    if question_type in ("single", "true_false") and len(keys) > 1:
        raise LearnError("Câu hỏi này chỉ chọn một đáp án.")
    item.answer = keys
    item.answered_at = now
    session.flush()
    return item


def submit_attempt(session: Session, attempt: Attempt, *, now: datetime | None = None,
                   expired: bool = False) -> bool:
    """Grade and close the attempt exactly once. Returns False if it was already closed.

    The attempt row is locked first (FOR UPDATE on PostgreSQL): an answer being saved holds it FOR
    SHARE, so the grading waits for it and grades it, and an answer arriving later waits for the
    grading and is then refused. The conditional UPDATE is the guard against grading twice: of two
    concurrent submissions (a double click, two tabs, a retry), only one changes a row that is still
    `in_progress`.
    """
    now = now or utcnow()
    session.execute(select(Attempt.id).where(Attempt.id == attempt.id).with_for_update())
    agency = grading_agency(session, attempt) if attempt.quiz_id is not None else None
    items = session.execute(
        select(AttemptQuestion, QuestionVersion.type, QuestionVersion.correct_keys)
        .join(QuestionVersion, QuestionVersion.id == AttemptQuestion.question_version_id)
        .where(AttemptQuestion.attempt_id == attempt.id)).all()
    scores = {item.id: score_answer(qtype, correct, item.answer) for item, qtype, correct in items}
    points = sum(scores.values())
    score_percent = percent(points, len(items))
    result = session.execute(
        update(Attempt)
        .where(Attempt.id == attempt.id, Attempt.status == "in_progress")
        .values(status="submitted", submitted_at=now, expired=expired, score=points,
                score_percent=score_percent, passed=score_percent >= attempt.pass_percent,
                agency_id=agency.id if agency else None)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        session.refresh(attempt)
        return False
    for item, _, _ in items:
        item.score = scores[item.id]
    session.flush()
    if agency is not None:  # last, so that the shared tallies stay locked for as short a time as possible
        tally_attempt(session, attempt, agency.path, {item.question_version_id: scores[item.id]
                                                      for item, _, _ in items},
                      {item.question_version_id: item.answer for item, _, _ in items})
    session.refresh(attempt)
    return True


def close_if_expired(session: Session, attempt: Attempt, now: datetime | None = None) -> bool:
    """Grade an attempt whose time is up on what was saved. True if it is (now) closed."""
    now = now or utcnow()
    if attempt.is_open and is_past_deadline(attempt, now):
        submit_attempt(session, attempt, now=now, expired=True)
    return not attempt.is_open


# -- completion ----------------------------------------------------------------------------------

def new_certificate_code() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud or typed by hand
    return "".join(secrets.choice(alphabet) for _ in range(10))


def certificate_facts(session: Session, completion: CourseCompletion) -> tuple[float | None, int]:
    """What the certificate prints besides names: the final test's score and the course's minutes."""
    score = None
    if completion.final_attempt_id is not None:
        score = session.scalar(select(Attempt.score_percent).where(Attempt.id == completion.final_attempt_id))
    minutes = session.scalar(select(func.coalesce(func.sum(Lesson.minutes), 0))
                             .where(Lesson.course_id == completion.course_id, Lesson.status == "published"))
    return score, int(minutes or 0)


def record_commitment(session: Session, user: User, course: Course, *, ip: str, user_agent: str,
                      now: datetime | None = None) -> CourseCompletion:
    """The commitment that completes the course: one completion, however many times it is posted.

    The learner's row is locked first (FOR UPDATE on PostgreSQL), so of several commitments posted
    at once (a double click, eight tabs) the later ones wait and then find the completion the first
    recorded. The partial unique index on the current completion is the guarantee underneath: a
    second insert that got past anyway is undone (its savepoint) and the existing one returned.
    """
    now = now or utcnow()
    session.execute(select(User.id).where(User.id == user.id).with_for_update())
    state = course_state(session, user, course, now)
    if state.completion is not None:
        return state.completion
    if not state.can_commit:
        raise LearnError("Anh/chị cần hoàn thành mọi bài học và đạt bài kiểm tra cuối khóa trước khi cam kết.")
    final_attempt = None
    if state.final_quiz is not None:
        final_attempt = session.scalar(select(Attempt.id).where(
            Attempt.user_id == user.id, Attempt.quiz_id == state.final_quiz.id,
            Attempt.passed.is_(True)).order_by(Attempt.submitted_at.desc()).limit(1))
    terms = rules.terms_for_person(session, user, [course.id], now).get(course.id, [])
    try:
        with session.begin_nested():
            # The completion being renewed is archived, never deleted, before the new one is recorded.
            archived = session.execute(update(CourseCompletion).where(
                CourseCompletion.user_id == user.id, CourseCompletion.course_id == course.id,
                CourseCompletion.archived_at.is_(None)).values(archived_at=now)
                .returning(CourseCompletion.agency_id, CourseCompletion.course_id, CourseCompletion.completed_at)
                .execution_options(synchronize_session=False)).all()
            completion = CourseCompletion(
                user_id=user.id, course_id=course.id, agency_id=user.agency_id, completed_at=now,
                expires_at=rules.expiry_for(terms, course.validity_months, now),
                commitment_text=COMMITMENT_TEXT, commitment_ip=ip[:64], commitment_user_agent=user_agent[:500],
                certificate_code=new_certificate_code(), final_attempt_id=final_attempt)
            session.add(completion)
            session.flush()
            untally_completions(session, archived)
            tally_completion(session, completion)
    except IntegrityError:  # recorded by a concurrent request that got past the lock
        existing = session.scalar(select(CourseCompletion).where(
            CourseCompletion.user_id == user.id, CourseCompletion.course_id == course.id,
            CourseCompletion.archived_at.is_(None)))
        if existing is None:
            raise
        return existing
    return completion


def completion_by_code(session: Session, code: str) -> CourseCompletion | None:
    return session.scalar(select(CourseCompletion).where(
        CourseCompletion.certificate_code == code.strip().upper()))


def certificate_standing(completion: CourseCompletion, now: datetime | None = None) -> str:
    """"valid", "expired" or "superseded" (a newer completion replaced it): what a check of its
    code says. Only a valid one is shown as valid."""
    if completion.archived_at is not None:
        return "superseded"
    if completion.expires_at is not None and (now or utcnow()) >= completion.expires_at:
        return "expired"
    return "valid"


def running_attempt(session: Session, user_id: int, now: datetime):
    """The learner's open timed attempt whose time is not up, if any: (id, quiz title, deadline),
    in one cheap statement (the banner on every page)."""
    return session.execute(
        select(Attempt.id, Quiz.title, Attempt.deadline_at).join(Quiz, Quiz.id == Attempt.quiz_id)
        .where(Attempt.user_id == user_id, Attempt.status == "in_progress", Attempt.deadline_at > now)
        .order_by(Attempt.deadline_at).limit(1)).one_or_none()
