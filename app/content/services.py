"""Applying a checked content bundle to the database, and summarising the question bank.

`load_bundle` flushes but never commits: the caller commits once, so a load is all or nothing.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import (
    AuditLog,
    Citation,
    Course,
    Lesson,
    Question,
    QuestionVersion,
    Quiz,
    QuizPool,
    Source,
    Topic,
)
from .checks import Bundle

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
    def __init__(self, session: Session, bundle: Bundle):
        self.session = session
        self.bundle = bundle
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

    def _citations(self, items: list[dict]) -> list[Citation]:
        return [
            Citation(source=self.sources[c["source"]], location=c["location"], quote=c["quote"],
                     position=position)
            for position, c in enumerate(items, 1)
        ]

    def _lessons(self) -> None:
        existing = self._existing(Lesson)
        for slug, item in self.bundle.lessons.items():
            values = {"course": self.courses[item["course"]], "position": item["position"],
                      "title": item["title"], "summary": item["summary"],
                      "minutes": item["minutes"], "body_md": item["body_md"],
                      "source_file": item["source_file"], "status": "published"}
            digest = content_hash(item)
            row, changed = self._upsert("lesson", Lesson, existing, slug, values, digest)
            if changed:
                row.citations = self._citations(item["citations"])
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
            digest = content_hash(item, exclude=("file",))
            question = existing.get(slug)
            current = latest.get(question.id) if question is not None else None
            if question is None:
                question = Question(slug=slug, latest_version=1, status="published")
                self.session.add(question)
                number = 1
                self.report.created["question"] += 1
            elif current is not None and current.content_hash == digest:
                if question.status == "retired":
                    question.status = "published"
                    self.report.updated["question"] += 1
                else:
                    self.report.unchanged["question"] += 1
                self.questions[slug] = question
                continue
            else:
                number = question.latest_version + 1
                question.latest_version = number
                question.status = "published"
                self.report.updated["question"] += 1
            self.session.add(self._version(question, number, item, digest))
            question.topics = [self.topics[t] for t in item["topics"]]
            self.questions[slug] = question
        self._retire_missing("question", existing, set(self.bundle.questions))

    def _version(self, question: Question, number: int, item: dict, digest: str) -> QuestionVersion:
        return QuestionVersion(
            question=question, version=number, type=item["type"], difficulty=item["difficulty"],
            verdict=item["verdict"], scenario=item["scenario"], prompt=item["prompt"],
            choices=item["choices"], correct_keys=item["correct_keys"],
            explanation=item["explanation"], topic_slugs=item["topics"], content_hash=digest,
            citations=self._citations(item["citations"]),
        )

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
    report = _Loader(session, bundle).run()
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
