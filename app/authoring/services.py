"""Authoring as services: check an edited item by the rules of `flask content check`, keep drafts,
publish (a new question version, a new lesson revision), retire and restore, lists and history.

Services flush and write the audit record; the view commits.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app, has_app_context
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from ..audit import record
from ..content.checks import ItemChecker, bank_minimum_errors
from ..content.export import (lesson_file_name, lesson_file_text, lesson_front_matter, lesson_item, question_entry,
                              question_item, question_text)
from ..content.files import ContentError
from ..content.services import apply_lesson, lesson_hash, new_question_version, question_hash
from ..content.text import normalize_quote_text, strip_diacritics
from ..learn.services import pool_candidates
from ..models import (Citation, ContentDraft, Course, Lesson, LessonRevision, Question, QuestionVersion,
                      Quiz, Source, Topic, User, question_topic, utcnow)



class AuthoringError(Exception):
    """A change that cannot be made; the message is for the trainer, in Vietnamese."""


class ConflictError(AuthoringError):
    """Someone changed the item after this trainer's page was drawn: saving would lose their work."""

    def __init__(self):
        super().__init__("Không lưu gì: nội dung này đã được người khác thay đổi (xuất bản, lưu hoặc bỏ bản nháp) "
                         "sau khi bạn mở trang. Hãy mở lại trang để xem bản mới nhất rồi sửa lại.")


# -- the state an editor page was drawn from ------------------------------------------------------

def lock_item(session: Session, row: Lesson | Question | None) -> None:
    """Lock the published item's row (and reread it) before deciding its next version or revision,
    so two publishes in parallel queue up instead of numbering the same version."""
    if row is not None:
        session.scalar(select(type(row)).where(type(row).id == row.id).with_for_update()
                       .execution_options(populate_existing=True))


def base_marker(session: Session, kind: str, row: Lesson | Question | None, slug: str | None) -> str:
    """What the page is based on: the published version (a lesson's content) and the draft's save."""
    published = "-"
    if isinstance(row, Question):
        published = f"v{row.latest_version}"
    elif row is not None:
        published = f"h{row.content_hash}"
    draft = get_draft(session, kind, slug) if slug else None
    return f"{published}|{f'd{draft.id}@{draft.updated_at.isoformat()}' if draft else '-'}"


def require_base(session: Session, kind: str, row: Lesson | Question | None, slug: str | None,
                 base: str | None) -> None:
    """Lock the item, then refuse (ConflictError) if it changed since the page showing `base`;
    `base` None (scripts, tests calling services directly) skips the comparison, not the lock."""
    lock_item(session, row)
    if base is not None and base != base_marker(session, kind, row, slug):
        raise ConflictError()


def _refuse_if_quizzes_short(session: Session) -> None:
    """After a question leaves a pool (retired, or its topics changed): every published quiz must
    still have enough questions for any learner's draw, or some could no longer start it."""
    session.flush()
    quizzes = list(session.scalars(select(Quiz).where(Quiz.status == "published").order_by(Quiz.slug)
                                   .options(selectinload(Quiz.pools))))
    candidates = pool_candidates(session, [pool.id for quiz in quizzes for pool in quiz.pools])
    short = [f"«{quiz.title}»" for quiz in quizzes
             if not always_drawable([(set(candidates[pool.id]), pool.draw_count) for pool in quiz.pools])]
    if short:
        raise AuthoringError("Không thực hiện được: " + ", ".join(short) + " sẽ không còn đủ câu hỏi để rút "
                             "(xem quizzes/quizzes.yaml). Hãy thêm câu hỏi cho chủ đề đó trước.")


def always_drawable(pools: list[tuple[set[int], int]]) -> bool:
    """Whether every draw succeeds: pools draw in order, at random, never a question twice, so each
    pool must keep `count` questions even after the earlier pools took as many of its own as they
    could (the most they can take is a maximum flow: pool → its questions → this pool's questions)."""
    for index, (questions, count) in enumerate(pools):
        if len(questions) - _most_taken(pools[:index], questions) < count:
            return False
    return True


def _most_taken(earlier: list[tuple[set[int], int]], wanted: set[int]) -> int:
    """The most questions of `wanted` the `earlier` pools can draw together (augmenting paths)."""
    holder: dict[int, int] = {}  # question → the earlier pool drawing it
    taken = [0] * len(earlier)

    def augment(pool: int, seen: set[int]) -> bool:
        for question in earlier[pool][0] & wanted:
            if question in seen:
                continue
            seen.add(question)
            other = holder.get(question)
            if other is None or augment(other, seen):
                holder[question] = pool
                return True
        return False

    for pool, (_, count) in enumerate(earlier):
        while taken[pool] < count and augment(pool, set()):
            taken[pool] += 1
    return len(holder)


# -- checking -------------------------------------------------------------------------------------

def _checker(session: Session, kind: str, slug: str | None) -> ItemChecker:
    """An ItemChecker seeded from the database; `slug` is the item being edited (not a duplicate)."""
    sources = {}
    for source in session.scalars(select(Source)):
        sources[source.slug] = {"slug": source.slug, "text": source.text, "officials": source.officials or [],
                                "normalized_text": normalize_quote_text(source.text or "")}
    topics = {slug_: {"slug": slug_} for slug_ in session.scalars(select(Topic.slug))}
    courses = {slug_: {"slug": slug_} for slug_ in session.scalars(select(Course.slug))}
    model = Lesson if kind == "lesson" else Question
    # Another trainer's unpublished draft holds its slug too: a new item may not take it over.
    drafted = select(ContentDraft.slug).where(ContentDraft.kind == kind)
    taken = {kind: {s for s in session.scalars(select(model.slug).union(drafted)) if s != slug}}
    positions = {}
    if kind == "lesson":
        positions = {(course, position): other for course, position, other in session.execute(
            select(Course.slug, Lesson.position, Lesson.slug).join(Lesson.course)
            .where(Lesson.status != "retired", Lesson.slug != (slug or "")))}
    return ItemChecker(sources, topics, courses, taken=taken, positions=positions)


def check_question(session: Session, entry: dict, slug: str | None = None) -> tuple[dict | None, list[ContentError]]:
    """A question's bank entry checked by the file rules; `slug` is the question being edited. A draft
    made from a violation case is also checked for the case's real details (violations.scenarios)."""
    from ..violations.scenarios import scenario_errors

    item, errors = _checker(session, "question", slug).check_question(entry)
    origin = slug or (entry.get("id") if isinstance(entry, dict) else None)
    return item, errors + scenario_errors(session, origin if isinstance(origin, str) else None, entry)


def check_lesson(session: Session, meta: dict, body: str, lesson: Lesson | None = None,
                 slug: str | None = None) -> tuple[dict | None, list[ContentError]]:
    """A lesson's front matter and body checked by the file rules; `slug` is the lesson being edited."""
    checker = _checker(session, "lesson", lesson.slug if lesson else slug)
    if lesson is not None and lesson.source_file:
        file_name = lesson.source_file
    else:
        order = meta.get("order") if isinstance(meta.get("order"), int) else 0
        file_name = lesson_file_name(str(meta.get("id") or ""), order)
    return checker.check_lesson(meta, body, file_name)


def check_data(session: Session, kind: str, data: dict, row: Lesson | Question | None, slug: str | None = None):
    """A draft's data (a question's entry, a lesson's meta and body) checked by the file rules;
    `slug` is the item being edited (a new item's draft may keep its own slug), None on a new page."""
    if kind == "question":
        return check_question(session, data, row.slug if row else slug)
    return check_lesson(session, data["meta"], data["body"], row, slug)


def published_data(session: Session, kind: str, row: Lesson | Question | None) -> dict | None:
    """The published item as a draft's data, or None for a new item."""
    if row is None:
        return None
    return published_question_entry(session, row) if kind == "question" else lesson_entry(row)


def publish(session: Session, kind: str, row: Lesson | Question | None, item: dict, actor: User,
            base: str | None = None) -> str | None:
    """Publish a checked item; what was made ("phiên bản 3", "lần sửa 2"), or None if nothing changed.

    Raises ConflictError when the item changed since the page showing `base` was drawn.
    """
    require_base(session, kind, row, item["slug"], base)
    if kind == "question":
        version = publish_question(session, row, item, actor)
        return f"phiên bản {version.version}" if version else None
    revision = publish_lesson(session, row, item, actor)
    return f"lần sửa {revision.number}" if revision else None


# -- current state --------------------------------------------------------------------------------

def current_version(session: Session, question: Question) -> QuestionVersion | None:
    return session.scalar(question.current_version_select().options(
        selectinload(QuestionVersion.citations).joinedload(Citation.source)))


def get_draft(session: Session, kind: str, slug: str) -> ContentDraft | None:
    return session.scalar(select(ContentDraft).where(ContentDraft.kind == kind, ContentDraft.slug == slug))


def published_question_entry(session: Session, question: Question) -> dict | None:
    version = current_version(session, question)
    return question_entry(question_item(question.slug, version)) if version else None


def lesson_entry(lesson: Lesson) -> dict:
    """What the lesson editor edits: the front matter and the body."""
    item = lesson_item(lesson)
    return {"meta": lesson_front_matter(item), "body": item["body_md"]}


# -- drafts ---------------------------------------------------------------------------------------

def save_draft(session: Session, kind: str, slug: str, data: dict, actor: User,
               row: Lesson | Question | None = None, base: str | None = None) -> ContentDraft:
    """Keep a checked edit as the item's draft (one per item): learners still get the published one.

    Raises ConflictError when the item or its draft changed since the page showing `base` was drawn.
    """
    require_base(session, kind, row, slug, base)
    draft = get_draft(session, kind, slug)
    before = draft.data if draft else None
    if draft is None:
        draft = ContentDraft(kind=kind, slug=slug, data=data, updated_by_id=actor.id)
        session.add(draft)
    else:
        draft.data, draft.updated_by_id, draft.updated_at = data, actor.id, utcnow()
    session.flush()
    record(session, actor, f"{kind}.draft_saved", (kind, slug), before=before, after=data,
           summary=f"Lưu bản nháp «{slug}»")
    return draft


def discard_draft(session: Session, draft: ContentDraft, actor: User, row: Lesson | Question | None = None,
                  base: str | None = None) -> None:
    """Throw a draft away (audited); ConflictError if it was saved again since the page showing `base`."""
    require_base(session, draft.kind, row, draft.slug, base)
    record(session, actor, f"{draft.kind}.draft_discarded", (draft.kind, draft.slug), before=draft.data,
           summary=f"Bỏ bản nháp «{draft.slug}»")
    session.delete(draft)
    session.flush()


def _drop_draft(session: Session, kind: str, slug: str, actor: User) -> None:
    """The draft a publish replaces, dropped with its own audit record (its text stays in the log)."""
    draft = get_draft(session, kind, slug)
    if draft is not None:
        record(session, actor, f"{kind}.draft_dropped", (kind, slug), before=draft.data,
               summary=f"Bản nháp «{slug}» được thay bằng bản xuất bản")
        session.delete(draft)


# -- publishing -----------------------------------------------------------------------------------

def publish_question(session: Session, question: Question | None, item: dict, actor: User) -> QuestionVersion | None:
    """Publish a checked question: a new version if it changed (None if not); the draft is dropped.

    Attempts already drawn keep the version they reference; the next draw uses the new one.
    """
    lock_item(session, question)
    current = current_version(session, question) if question is not None else None
    before = _with_status(question_entry(question_item(question.slug, current)), question) if current else None
    _drop_draft(session, "question", item["slug"], actor)
    if current is not None and current.content_hash == question_hash(item):
        session.flush()
        return None
    sources = {s.slug: s for s in session.scalars(select(Source).where(
        Source.slug.in_({c["source"] for c in item["citations"]})))}
    topics = {t.slug: t for t in session.scalars(select(Topic).where(Topic.slug.in_(item["topics"])))}
    bank_before = _bank_breaks(session)
    if question is None:
        question = Question(slug=item["slug"], latest_version=1, status="published")
        session.add(question)
    status = question.status
    number = question.latest_version + 1 if current is not None else 1
    version = new_question_version(question, number, item, sources, topics, actor.id)
    question.status = status  # an edit of a retired question stays retired until restored
    session.add(version)
    _refuse_if_quizzes_short(session)
    _refuse_if_bank_breaks(session, bank_before)
    record(session, actor, "question.published", question, before=before,
           after=_with_status(question_entry(item), question),
           summary=f"Xuất bản câu hỏi «{question.slug}», phiên bản {number}")
    return version


def publish_lesson(session: Session, lesson: Lesson | None, item: dict, actor: User) -> LessonRevision | None:
    """Publish a checked lesson: its fields, citations and a new revision (None if nothing changed)."""
    lock_item(session, lesson)
    before = _with_status(lesson_entry(lesson), lesson) if lesson else None
    if lesson is not None and lesson.content_hash == lesson_hash(item):
        _drop_draft(session, "lesson", item["slug"], actor)
        session.flush()
        return None
    course = session.scalar(select(Course).where(Course.slug == item["course"]))
    sources = {s.slug: s for s in session.scalars(select(Source))}
    if lesson is None:
        lesson = Lesson(slug=item["slug"])
    elif not session.scalar(select(exists().where(LessonRevision.lesson_id == lesson.id))):
        # Loaded before lessons had history: keep the state being replaced as the first revision.
        session.add(LessonRevision(lesson=lesson, number=1, text=lesson_file_text(lesson_item(lesson)),
                                   content_hash=lesson.content_hash))
        session.flush()
    status = lesson.status or "published"
    revision = apply_lesson(session, lesson, item, course, sources, actor.id)
    lesson.status = status  # an edit of a retired lesson stays retired until restored
    session.add(lesson)
    _drop_draft(session, "lesson", item["slug"], actor)
    session.flush()
    record(session, actor, "lesson.published", lesson, before=before, after=_with_status(lesson_entry(lesson), lesson),
           summary=f"Xuất bản bài học «{lesson.slug}», lần sửa {revision.number}")
    return revision


def set_status(session: Session, obj: Lesson | Question, status: str, actor: User) -> bool:
    """Retire (hidden from learners and new attempts, kept for history) or restore an item.

    Raises AuthoringError when retiring a question would leave a quiz without enough to draw; the
    caller rolls back.
    """
    if obj.status == status:
        return False
    lock_item(session, obj)
    before = obj.status
    bank_before = _bank_breaks(session) if isinstance(obj, Question) else None
    if isinstance(obj, Lesson):
        _refuse_lesson_status(session, obj, status)
    obj.status = status
    if isinstance(obj, Question) and status == "retired":
        _refuse_if_quizzes_short(session)
        _refuse_if_bank_breaks(session, bank_before)
    session.flush()
    action = "retired" if status == "retired" else "restored"
    label = "Ngừng dùng" if status == "retired" else "Dùng lại"
    record(session, actor, f"{obj.__tablename__}.{action}", obj, before={"status": before},
           after={"status": status}, summary=f"{label} «{obj.slug}»")
    return True


def _with_status(entry: dict, row: Lesson | Question) -> dict:
    """An audited state with the item's status, so a status change shows in before/after."""
    return {**entry, "status": row.status or "published"}


def _refuse_lesson_status(session: Session, lesson: Lesson, status: str) -> None:
    """A lesson a published quiz hangs on stays (quizzes.yaml would no longer load); a restored lesson
    may not share its place in the course with another one (the same rule as on publishing)."""
    if status == "retired":
        titles = list(session.scalars(select(Quiz.title).where(Quiz.lesson_id == lesson.id,
                                                                Quiz.status == "published").order_by(Quiz.slug)))
        if titles:
            raise AuthoringError("Không ngừng dùng được: " + ", ".join(f"«{t}»" for t in titles) + " gắn với bài "
                                 "học này (xem quizzes/quizzes.yaml). Hãy gỡ bài kiểm tra khỏi bài học trước.")
        return
    other = session.scalar(select(Lesson.slug).where(
        Lesson.course_id == lesson.course_id, Lesson.position == lesson.position, Lesson.id != lesson.id,
        Lesson.status != "retired"))
    if other is not None:
        raise AuthoringError(f"Không dùng lại được: thứ tự {lesson.position} đã dùng cho bài «{other}». "
                             "Hãy đổi thứ tự của một trong hai bài trước.")


def _bank_breaks(session: Session) -> set[tuple[str, str]]:
    """The bank minimums of quizzes/topics.yaml (total, lawful share, per topic) the published
    questions break, by rule: the checker's own rules, applied to the database."""
    session.flush()
    questions = {slug: {"verdict": verdict, "topics": list(topics)} for slug, verdict, topics in session.execute(
        select(Question.slug, QuestionVersion.verdict, QuestionVersion.topic_slugs)
        .join(QuestionVersion, (QuestionVersion.question_id == Question.id)
              & (QuestionVersion.version == Question.latest_version))
        .where(Question.status == "published"))}
    quizzes_dir = current_app.config["QUIZZES_DIR"] if has_app_context() else None
    return {(error.field, re.sub(r"\d+(\.\d+)?%?", "#", error.message))
            for error in bank_minimum_errors(quizzes_dir, questions)} if quizzes_dir else set()


def _refuse_if_bank_breaks(session: Session, before: set[tuple[str, str]]) -> None:
    """Refuse a change that breaks a bank minimum the bank met before it."""
    broken = _bank_breaks(session) - before
    if broken:
        raise AuthoringError("Không thực hiện được: ngân hàng câu hỏi sẽ dưới mức tối thiểu trong "
                             "quizzes/topics.yaml (" + "; ".join(sorted(rule for _, rule in broken)).replace("#", "…")
                             + "). Hãy thêm câu hỏi trước.")


# -- lists ----------------------------------------------------------------------------------------

@dataclass
class QuestionFilters:
    search: str = ""
    topic: str = ""
    type: str = ""
    difficulty: str = ""
    status: str = ""


def _draft_exists(kind: str, slug_column):
    return exists().where(ContentDraft.kind == kind, ContentDraft.slug == slug_column)


def _status_filter(model, kind: str, status: str):
    if status == "draft":
        return _draft_exists(kind, model.slug)
    if status in ("published", "retired"):
        return model.status == status
    return None


def questions_query(filters: QuestionFilters):
    """(Question, its latest version, has a draft) rows, filtered, in one query."""
    query = (select(Question, QuestionVersion, _draft_exists("question", Question.slug).label("has_draft"))
             .join(QuestionVersion, (QuestionVersion.question_id == Question.id)
                   & (QuestionVersion.version == Question.latest_version)))
    if filters.search.strip():
        query = query.where(Question.search_text.contains(strip_diacritics(filters.search.strip()), autoescape=True))
    if filters.topic:
        query = query.where(Question.id.in_(
            select(question_topic.c.question_id).join(Topic, Topic.id == question_topic.c.topic_id)
            .where(Topic.slug == filters.topic)))
    if filters.type:
        query = query.where(QuestionVersion.type == filters.type)
    if filters.difficulty:
        query = query.where(QuestionVersion.difficulty == filters.difficulty)
    status = _status_filter(Question, "question", filters.status)
    if status is not None:
        query = query.where(status)
    return query.order_by(Question.slug)


@dataclass
class LessonFilters:
    search: str = ""
    course: str = ""
    status: str = ""


def lessons_query(filters: LessonFilters):
    """(Lesson, its course, has a draft) rows, filtered, in one query."""
    query = (select(Lesson, Course, _draft_exists("lesson", Lesson.slug).label("has_draft"))
             .join(Course, Course.id == Lesson.course_id))
    if filters.search.strip():
        query = query.where(Lesson.search_text.contains(strip_diacritics(filters.search.strip()), autoescape=True))
    if filters.course:
        query = query.where(Course.slug == filters.course)
    status = _status_filter(Lesson, "lesson", filters.status)
    if status is not None:
        query = query.where(status)
    return query.order_by(Course.slug, Lesson.position)


def new_drafts(session: Session, kind: str) -> list[ContentDraft]:
    """Drafts of items not published yet (their slug has no row)."""
    model = Lesson if kind == "lesson" else Question
    return list(session.scalars(select(ContentDraft).where(
        ContentDraft.kind == kind, ~exists().where(model.slug == ContentDraft.slug))
        .order_by(ContentDraft.slug)))


# -- history --------------------------------------------------------------------------------------

@dataclass
class DiffLine:
    kind: str  # "add", "del", "hunk", "same"
    text: str


@dataclass
class HistoryEntry:
    label: str
    at: datetime
    by: User | None
    diff: list[DiffLine] = field(default_factory=list)


def text_diff(old: str, new: str) -> list[DiffLine]:
    """The differences between two texts, line by line (escaped by the template, never raw HTML)."""
    lines = []
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=2):
        if line.startswith(("---", "+++")):
            continue
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")
        lines.append(DiffLine(kind, line))
    return lines


def _history(states: list[tuple[str, datetime, User | None, str]]) -> list[HistoryEntry]:
    """Newest first: each state with its differences from the one before."""
    entries, previous = [], ""
    for label, at, by, text in states:
        entries.append(HistoryEntry(label, at, by, text_diff(previous, text)))
        previous = text
    return entries[::-1]


def question_history(session: Session, question: Question) -> list[HistoryEntry]:
    versions = session.scalars(
        select(QuestionVersion).where(QuestionVersion.question_id == question.id)
        .order_by(QuestionVersion.version)
        .options(selectinload(QuestionVersion.citations).joinedload(Citation.source),
                 joinedload(QuestionVersion.created_by))).unique().all()
    return _history([(f"Phiên bản {v.version}", v.created_at, v.created_by,
                      question_text(question_item(question.slug, v))) for v in versions])


def lesson_history(session: Session, lesson: Lesson) -> list[HistoryEntry]:
    revisions = session.scalars(
        select(LessonRevision).where(LessonRevision.lesson_id == lesson.id)
        .order_by(LessonRevision.number).options(joinedload(LessonRevision.created_by))).all()
    return _history([(f"Lần sửa {r.number}", r.created_at, r.created_by, r.text) for r in revisions])


def audit_entries(session: Session, kind: str, obj_id: int | None, slug: str):
    """Every audit record about this item (by id once published, by slug for drafts)."""
    from ..models import AuditLog

    conditions = [and_(AuditLog.object_type == kind, AuditLog.object_id == slug)]
    if obj_id is not None:
        conditions.append(and_(AuditLog.object_type == kind, AuditLog.object_id == str(obj_id)))
    return session.scalars(select(AuditLog).where(or_(*conditions))
                           .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
                           .options(joinedload(AuditLog.actor))).all()


def counts(session: Session) -> dict:
    return {
        "lessons": session.scalar(select(func.count(Lesson.id))),
        "questions": session.scalar(select(func.count(Question.id))),
        "drafts": session.scalar(select(func.count(ContentDraft.id))),
    }

