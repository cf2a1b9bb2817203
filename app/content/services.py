"""Applying a checked content bundle to the database, and summarising the question bank.

`load_bundle` flushes but never commits: the caller commits once, so a load is all or nothing.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import (
    AuditLog,
    Citation,
    Course,
    Lesson,
    LessonRevision,
    Question,
    QuestionVersion,
    Quiz,
    QuizPool,
    Source,
    Topic,
)
from .checks import Bundle
from .text import strip_diacritics

KIND_LABELS = {
    "source": "nguồn",
    "course": "khóa học",
    "topic": "chủ đề",
    "lesson": "bài học",
    "question": "câu hỏi",
    "quiz": "bài kiểm tra",
}


def content_hash(item: dict, *, exclude: tuple[str, ...] = ()) -> str:
    data = {k: v for k, v in item.items() if k not in exclude}
    encoded = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def lesson_hash(item: dict) -> str:
    """The hash of a checked lesson, as stored in `Lesson.content_hash`."""
    return content_hash(item)


def question_hash(item: dict) -> str:
    """The hash of a checked question, as stored in `QuestionVersion.content_hash` (its file aside)."""
    return content_hash(item, exclude=("file",))


def lesson_search_text(item: dict) -> str:
    return strip_diacritics(f"{item['slug']} {item['title']}")


def question_search_text(item: dict) -> str:
    scenario = item.get("scenario") or {}
    parts = [item["slug"], item["prompt"] or "", scenario.get("author") or "", scenario.get("text") or ""]
    parts += [segment["text"] or "" for segment in scenario.get("segments") or []]
    return strip_diacritics(" ".join(parts))


def make_citations(items: list[dict], sources: dict[str, Source]) -> list[Citation]:
    """Citation rows for checked citations, numbered in reading order."""
    return [
        Citation(source=sources[c["source"]], location=c["location"], quote=c["quote"], position=position)
        for position, c in enumerate(items, 1)
    ]


def new_question_version(question: Question, number: int, item: dict, sources: dict[str, Source],
                         topics: dict[str, Topic], actor_id: int | None = None) -> QuestionVersion:
    """A new immutable version of `question` from a checked item; the question points at it."""
    question.latest_version = number
    question.status = "published"
    question.topics = [topics[t] for t in item["topics"]]
    question.search_text = question_search_text(item)
    return QuestionVersion(
        question=question, version=number, type=item["type"], difficulty=item["difficulty"],
        verdict=item["verdict"], scenario=item["scenario"], prompt=item["prompt"],
        choices=item["choices"], correct_keys=item["correct_keys"],
        explanation=item["explanation"], topic_slugs=item["topics"], content_hash=question_hash(item),
        citations=make_citations(item["citations"], sources), created_by_id=actor_id,
    )


def apply_lesson(session: Session, lesson: Lesson, item: dict, course: Course, sources: dict[str, Source],
                 actor_id: int | None = None) -> LessonRevision:
    """Set a lesson to a checked item (published) and keep the new state as its next revision."""
    from .export import lesson_file_text

    for key, value in lesson_values(item, course).items():
        setattr(lesson, key, value)
    lesson.content_hash = lesson_hash(item)
    lesson.citations = make_citations(item["citations"], sources)
    number = 1
    if lesson.id is not None:
        number += session.scalar(select(func.coalesce(func.max(LessonRevision.number), 0))
                                 .where(LessonRevision.lesson_id == lesson.id))
    revision = LessonRevision(lesson=lesson, number=number, text=lesson_file_text(item),
                              content_hash=lesson.content_hash, created_by_id=actor_id)
    session.add(revision)
    return revision


def lesson_values(item: dict, course: Course) -> dict:
    return {"course": course, "position": item["position"], "title": item["title"],
            "summary": item["summary"], "minutes": item["minutes"], "body_md": item["body_md"],
            "source_file": item["source_file"], "source_slugs": item["sources"],
            "search_text": lesson_search_text(item), "status": "published"}


@dataclass
class LoadReport:
    created: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)
    unchanged: Counter = field(default_factory=Counter)
    retired: Counter = field(default_factory=Counter)

    @property
    def changed(self) -> bool:
        return bool(sum(self.created.values()) + sum(self.updated.values()) + sum(self.retired.values()))

    def lines(self) -> list[str]:
        rows = []
        for kind, label in KIND_LABELS.items():
            rows.append(
                f"{label:>12}: tạo mới {self.created[kind]}, cập nhật {self.updated[kind]}, "
                f"giữ nguyên {self.unchanged[kind]}, ngừng dùng {self.retired[kind]}"
            )
        return rows

    def as_dict(self) -> dict:
        return {name: dict(getattr(self, name)) for name in ("created", "updated", "unchanged", "retired")}


class _Loader:
    def __init__(self, session: Session, bundle: Bundle, actor_id: int | None = None):
        self.session = session
        self.bundle = bundle
        self.actor_id = actor_id
        self.report = LoadReport()
        self.sources: dict[str, Source] = {}
        self.courses: dict[str, Course] = {}
        self.topics: dict[str, Topic] = {}
        self.lessons: dict[str, Lesson] = {}
        self.questions: dict[str, Question] = {}

    def _existing(self, model) -> dict:
        return {row.slug: row for row in self.session.scalars(select(model))}

    def _upsert(self, kind: str, model, existing: dict, slug: str, values: dict, digest: str):
        """Create or update a row whose identity is its slug; returns (row, changed)."""
        row = existing.get(slug)
        if row is None:
            row = model(slug=slug, content_hash=digest, **values)
            self.session.add(row)
            self.report.created[kind] += 1
            return row, True
        if row.content_hash == digest and getattr(row, "status", "published") != "retired":
            self.report.unchanged[kind] += 1
            return row, False
        for key, value in values.items():
            setattr(row, key, value)
        row.content_hash = digest
        if hasattr(row, "status"):
            row.status = values.get("status", "published")
        self.report.updated[kind] += 1
        return row, True

    def _retire_missing(self, kind: str, existing: dict, present: set[str]) -> None:
        for slug, row in existing.items():
            if slug not in present and row.status != "retired":
                row.status = "retired"
                self.report.retired[kind] += 1

    def run(self) -> LoadReport:
        self._sources()
        self._courses()
        self._topics()
        self.session.flush()
        self._lessons()
        self._questions()
        self.session.flush()
        self._quizzes()
        self.session.flush()
        return self.report

    def _sources(self) -> None:
        existing = self._existing(Source)
        fields = ("kind", "number", "issuer", "date_text", "title", "status_note", "file_name",
                  "text", "province", "officials", "contacts")
        for slug, item in self.bundle.sources.items():
            values = {key: item[key] for key in fields}
            row, _ = self._upsert("source", Source, existing, slug, values, content_hash(values))
            self.sources[slug] = row

    def _courses(self) -> None:
        existing = self._existing(Course)
        for slug, item in self.bundle.courses.items():
            values = {k: item[k] for k in ("title", "summary", "status")}
            row, _ = self._upsert("course", Course, existing, slug, values, content_hash(values))
            self.courses[slug] = row
        self._retire_missing("course", existing, set(self.bundle.courses))

    def _topics(self) -> None:
        existing = {row.slug: row for row in self.session.scalars(select(Topic))}
        for slug, item in self.bundle.topics.items():
            row = existing.get(slug)
            values = {k: item[k] for k in ("title", "group", "min_questions")}
            if row is None:
                row = Topic(slug=slug, **values)
                self.session.add(row)
                self.report.created["topic"] += 1
            elif any(getattr(row, k) != v for k, v in values.items()):
                for key, value in values.items():
                    setattr(row, key, value)
                self.report.updated["topic"] += 1
            else:
                self.report.unchanged["topic"] += 1
            self.topics[slug] = row

    def _lessons(self) -> None:
        existing = self._existing(Lesson)
        for slug, item in self.bundle.lessons.items():
            course = self.courses[item["course"]]
            row = existing.get(slug)
            if row is None:
                row = Lesson(slug=slug)
                self.session.add(row)
                self.report.created["lesson"] += 1
            elif row.content_hash == lesson_hash(item) and row.status != "retired":
                # Quietly keep columns added after the row was loaded (0007 backfilled them
                # differently) in step with the file: the ORM writes only values that differ.
                row.source_slugs, row.search_text = item["sources"], lesson_search_text(item)
                self.report.unchanged["lesson"] += 1
                self.lessons[slug] = row
                continue
            else:
                self.report.updated["lesson"] += 1
            apply_lesson(self.session, row, item, course, self.sources, self.actor_id)
            self.lessons[slug] = row
        self._retire_missing("lesson", existing, set(self.bundle.lessons))

    def _questions(self) -> None:
        existing = self._existing(Question)
        latest = {
            version.question_id: version
            for version in self.session.scalars(
                select(QuestionVersion).join(Question).where(
                    QuestionVersion.version == Question.latest_version)
            )
        }
        for slug, item in self.bundle.questions.items():
            question = existing.get(slug)
            current = latest.get(question.id) if question is not None else None
            if question is None:
                question = Question(slug=slug, latest_version=1, status="published")
                self.session.add(question)
                number = 1
                self.report.created["question"] += 1
            elif current is not None and current.content_hash == question_hash(item):
                if question.status == "retired":
                    question.status = "published"
                    self.report.updated["question"] += 1
                else:
                    self.report.unchanged["question"] += 1
                question.source_file, question.search_text = item["file"], question_search_text(item)
                self.questions[slug] = question
                continue
            else:
                number = question.latest_version + 1
                self.report.updated["question"] += 1
            question.source_file = item["file"]
            self.session.add(new_question_version(question, number, item, self.sources, self.topics,
                                                  self.actor_id))
            self.questions[slug] = question
        self._retire_missing("question", existing, set(self.bundle.questions))

    def _quizzes(self) -> None:
        existing = self._existing(Quiz)
        for slug, item in self.bundle.quizzes.items():
            values = {"course": self.courses[item["course"]],
                      "lesson": self.lessons[item["lesson"]] if item["lesson"] else None,
                      "title": item["title"], "kind": item["kind"],
                      "pass_percent": item["pass_percent"],
                      "time_limit_minutes": item["time_limit_minutes"],
                      "max_attempts": item["max_attempts"],
                      "counts_for_completion": item["counts_for_completion"],
                      "status": "published"}
            row, changed = self._upsert("quiz", Quiz, existing, slug, values, content_hash(item))
            if changed:
                # Old pools must be gone before new ones take their positions (unique per quiz).
                row.pools.clear()
                self.session.flush()
                row.pools = [
                    QuizPool(position=position, draw_count=pool["count"],
                             topics=[self.topics[t] for t in pool["topics"]],
                             questions=[self.questions[q] for q in pool["questions"]])
                    for position, pool in enumerate(item["pools"], 1)
                ]
        self._retire_missing("quiz", existing, set(self.bundle.quizzes))


def load_bundle(session: Session, bundle: Bundle, actor_id: int | None = None) -> LoadReport:
    """Apply a checked bundle: create, update (questions get a new version) or retire rows."""
    report = _Loader(session, bundle, actor_id).run()
    if report.changed:
        session.add(AuditLog(actor_id=actor_id, action="content.load", object_type="content",
                             summary="Nạp nội dung từ tệp", after=report.as_dict()))
        session.flush()
    return report


def bank_stats(bundle: Bundle) -> dict:
    """Coverage of the curriculum: counts per lesson, topic, type, difficulty and verdict."""
    questions = list(bundle.questions.values())
    per_topic = Counter(t for q in questions for t in q["topics"])
    violations = Counter(t for q in questions if q["verdict"] == "violation" for t in q["topics"])
    below = [
        {"topic": slug, "count": per_topic[slug], "minimum": topic["min_questions"],
         "violations": violations[slug], "min_violations": topic["min_violations"]}
        for slug, topic in bundle.topics.items()
        if per_topic[slug] < topic["min_questions"] or violations[slug] < topic["min_violations"]
    ]
    total = len(questions)
    lawful = sum(1 for q in questions if q["verdict"] == "lawful")
    return {
        "lessons": [
            {"id": slug, "order": lesson["position"], "title": lesson["title"],
             "minutes": lesson["minutes"], "citations": len(lesson["citations"]),
             "quotes": sum(1 for c in lesson["citations"] if c["quote"])}
            for slug, lesson in sorted(bundle.lessons.items(), key=lambda kv: kv[1]["position"] or 0)
        ],
        "questions": total,
        "per_topic": {slug: per_topic[slug] for slug in bundle.topics},
        "violations_per_topic": {slug: violations[slug] for slug in bundle.topics},
        "per_type": dict(Counter(q["type"] for q in questions)),
        "per_difficulty": dict(Counter(q["difficulty"] for q in questions)),
        "per_verdict": dict(Counter(q["verdict"] for q in questions)),
        "lawful_share": round(lawful / total, 3) if total else 0.0,
        "quizzes": {slug: {"kind": q["kind"], "questions": sum(p["count"] or 0 for p in q["pools"])}
                    for slug, q in bundle.quizzes.items()},
        "minimums": bundle.bank,
        "below_minimum": below,
    }
