"""`flask content export`: the published lessons and questions written back as files the loader reads.

An item rebuilt here from the database is the same dict `flask content check` builds from its file,
so loading an export changes nothing, and exporting what was loaded writes the same bytes again.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..models import Citation, Course, Lesson, Question, QuestionVersion
from .checks import check_content
from .services import lesson_hash, question_hash

#: where questions created in the browser go when exported
NEW_BANK_FILE = "bank-moi.yaml"
#: files the authoring pages do not edit: an export to another folder copies them as they are
COPIED_CONTENT = ("sources", "courses.yaml")
COPIED_QUIZZES = ("topics.yaml", "quizzes.yaml")


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line text, flow style for small mappings of scalars, no line folding."""


def _represent_str(dumper, value: str):
    style = "|" if "\n" in value else ('"' if " " in value else None)
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_yaml(data) -> str:
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=4096,
                     default_flow_style=None)


def _citation_items(citations: list[Citation]) -> list[dict]:
    return [{"source": c.source.slug, "location": c.location, "quote": c.quote} for c in citations]


# -- lessons --------------------------------------------------------------------------------------

def lesson_item(lesson: Lesson) -> dict:
    """A lesson row as the checked item its file gives (same keys, same values)."""
    return {"slug": lesson.slug, "course": lesson.course.slug, "position": lesson.position,
            "title": lesson.title, "summary": lesson.summary, "minutes": lesson.minutes,
            "body_md": lesson.body_md, "sources": list(lesson.source_slugs),
            "citations": _citation_items(lesson.citations), "source_file": lesson.source_file}


def lesson_front_matter(item: dict) -> dict:
    meta = {"id": item["slug"], "course": item["course"], "order": item["position"], "title": item["title"]}
    if item["summary"]:
        meta["summary"] = item["summary"]
    meta.update({"minutes": item["minutes"], "sources": list(item["sources"])})
    return meta


def lesson_file_text(item: dict) -> str:
    """A lesson's file: YAML front matter between `---` lines, then the Markdown body as it is."""
    return f"---\n{dump_yaml(lesson_front_matter(item))}---\n{item['body_md']}"


def lesson_file_name(slug: str, position: int) -> str:
    return f"content/lessons/{position:02d}-{slug}.md"


# -- questions ------------------------------------------------------------------------------------

def question_item(slug: str, version: QuestionVersion) -> dict:
    """A question version as the checked item its bank entry gives (the file aside)."""
    return {"slug": slug, "type": version.type, "difficulty": version.difficulty,
            "verdict": version.verdict, "topics": list(version.topic_slugs),
            "scenario": version.scenario, "prompt": version.prompt, "choices": version.choices,
            "correct_keys": version.correct_keys, "explanation": version.explanation,
            "citations": _citation_items(version.citations)}


def question_entry(item: dict) -> dict:
    """A checked question as its entry in a bank file (the inverse of the checker's normalising)."""
    correct = set(item["correct_keys"])
    entry = {"id": item["slug"], "type": item["type"], "difficulty": item["difficulty"],
             "verdict": item["verdict"], "topics": list(item["topics"])}
    scenario = item.get("scenario")
    if scenario is not None:
        raw = {key: scenario[key] for key in ("platform", "kind", "author", "group", "time", "text")
               if key in scenario}
        if item["type"] == "select_parts":
            raw["segments"] = [{"key": s["key"], "text": s["text"], **({"violating": True} if s["key"] in correct else {})}
                               for s in scenario.get("segments", [])]
        raw.update({key: scenario[key] for key in ("image", "reactions", "comments") if key in scenario})
        entry["scenario"] = raw
    entry["prompt"] = item["prompt"]
    if item["type"] == "true_false":
        entry["answer"] = item["correct_keys"] == ["true"]
    elif item["type"] != "select_parts":
        entry["choices"] = [{"key": c["key"], "text": c["text"], **({"correct": True} if c["key"] in correct else {})}
                            for c in item["choices"]]
    entry["explanation"] = item["explanation"]
    entry["citations"] = [{"source": c["source"], "location": c["location"],
                           **({"quote": c["quote"]} if c["quote"] is not None else {})}
                          for c in item["citations"]]
    return entry


def question_text(item: dict) -> str:
    """A question as the YAML of its bank entry: what its history compares."""
    return dump_yaml(question_entry(item))


# -- export ---------------------------------------------------------------------------------------

@dataclass
class ExportReport:
    lessons: int = 0
    questions: int = 0
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def published_lessons(session: Session) -> list[Lesson]:
    return list(session.scalars(
        select(Lesson).join(Course).where(Lesson.status == "published").order_by(Course.slug, Lesson.position)
        .options(selectinload(Lesson.citations).joinedload(Citation.source))))


def published_questions(session: Session) -> list[tuple[Question, QuestionVersion]]:
    return list(session.execute(
        select(Question, QuestionVersion)
        .join(QuestionVersion, (QuestionVersion.question_id == Question.id)
              & (QuestionVersion.version == Question.latest_version))
        .where(Question.status == "published").order_by(Question.id)
        .options(selectinload(QuestionVersion.citations).joinedload(Citation.source))).tuples())


def _write(path: Path, text: str, report: ExportReport) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    report.written.append(str(path))


def export_content(session: Session, content_dir: Path, quizzes_dir: Path,
                   copy_from: tuple[Path, Path] | None = None) -> ExportReport:
    """Write every published lesson and question; remove lesson and bank files no longer published.

    `copy_from` (the configured content and quizzes folders) copies the files the authoring pages
    do not edit, when exporting somewhere else.
    """
    content_dir, quizzes_dir = Path(content_dir), Path(quizzes_dir)
    report = ExportReport()
    if copy_from is not None:
        _copy_unedited(Path(copy_from[0]), Path(copy_from[1]), content_dir, quizzes_dir)
    lesson_paths = set()
    for lesson in published_lessons(session):
        name = Path(lesson.source_file or lesson_file_name(lesson.slug, lesson.position)).name
        path = content_dir / "lessons" / name
        _write(path, lesson_file_text(lesson_item(lesson)), report)
        lesson_paths.add(path)
        report.lessons += 1
    banks: dict[str, list[dict]] = {}
    for question, version in published_questions(session):
        name = Path(question.source_file).name if question.source_file else NEW_BANK_FILE
        banks.setdefault(name, []).append(question_entry(question_item(question.slug, version)))
        report.questions += 1
    bank_paths = set()
    for name, entries in sorted(banks.items()):
        path = quizzes_dir / name
        _write(path, dump_yaml({"questions": entries}), report)
        bank_paths.add(path)
    for stale in [p for p in (content_dir / "lessons").glob("*.md") if p not in lesson_paths] + \
                 [p for p in quizzes_dir.glob("bank-*.yaml") if p not in bank_paths]:
        stale.unlink()
        report.removed.append(str(stale))
    return report


class ExportRefused(Exception):
    """An export that would write files which do not load back, or overwrite work not yet loaded;
    the message is for the operator, in Vietnamese, with the details below it."""

    def __init__(self, message: str, details: list[str]):
        super().__init__(message)
        self.details = details


#: differences that mean the files hold work the database lacks: an export in place would lose it
UNLOADED_WORK = ("files_newer", "only_in_files")


def export_checked(session: Session, content_dir: Path, quizzes_dir: Path, *,
                   source_dirs: tuple[Path, Path], force: bool = False) -> ExportReport:
    """Export only what loads back: written first to a temporary folder and checked there by the
    rules of `flask content check`. In place (target = `source_dirs`), refuse while the files hold
    work the database lacks (newer or unknown items, or files that do not check), unless `force`.

    Raises ExportRefused with nothing written to the target.
    """
    in_place = all(Path(a).resolve() == Path(b).resolve()
                   for a, b in zip((content_dir, quizzes_dir), source_dirs))
    if in_place and not force:
        comparison = compare_with_files(session, *source_dirs)
        unloaded = [f"{d.kind} «{d.slug}»: " + ("tệp mới hơn cơ sở dữ liệu" if d.reason == "files_newer"
                                                 else "chỉ có trong tệp")
                    for d in comparison.differences if d.reason in UNLOADED_WORK]
        if comparison.errors:
            unloaded.append(f"tệp trên đĩa có {comparison.errors} lỗi (chạy `flask content check`)")
        if unloaded:
            raise ExportRefused("Không xuất: tệp trên đĩa có nội dung chưa nạp vào cơ sở dữ liệu, xuất đè sẽ làm "
                                "mất nội dung đó. Hãy nạp (`flask content load`) hoặc dùng --force.", unloaded)
    with tempfile.TemporaryDirectory(prefix="export-") as scratch:
        trial = Path(scratch)
        export_content(session, trial / "content", trial / "quizzes", copy_from=source_dirs)
        result = check_content(trial / "content", trial / "quizzes")
        if not result.ok:
            raise ExportRefused("Không xuất: các tệp xuất ra không qua được `flask content check`, "
                                "không ghi gì vào thư mục đích.", [str(e) for e in result.errors])
    return export_content(session, content_dir, quizzes_dir, copy_from=None if in_place else source_dirs)


def _copy_unedited(source_content: Path, source_quizzes: Path, content_dir: Path, quizzes_dir: Path) -> None:
    for base, target, names in ((source_content, content_dir, COPIED_CONTENT),
                                (source_quizzes, quizzes_dir, COPIED_QUIZZES)):
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            origin = base / name
            if origin.resolve() == (target / name).resolve() or not origin.exists():
                continue
            if origin.is_dir():
                shutil.copytree(origin, target / name, dirs_exist_ok=True)
            else:
                shutil.copy2(origin, target / name)


# -- files against the database -------------------------------------------------------------------

@dataclass
class FileDifference:
    kind: str  # "lesson" | "question"
    slug: str
    #: "files_newer" (a file changed after the last publish), "database_newer" (published on the
    #: web since the files were written), "only_in_files", "only_in_database", "retired_in_database"
    reason: str


@dataclass
class FileComparison:
    errors: int = 0
    differences: list[FileDifference] = field(default_factory=list)

    @property
    def in_step(self) -> bool:
        return not self.errors and not self.differences


def _modified_at(base: Path, rel: str | None) -> datetime | None:
    try:
        return datetime.fromtimestamp((base / rel).stat().st_mtime, timezone.utc) if rel else None
    except OSError:
        return None


def compare_with_files(session: Session, content_dir: Path, quizzes_dir: Path) -> FileComparison:
    """Where the files on disk and the database disagree, by the content hashes the loader stores;
    for an item that differs, which side changed last (the file's time against the publish time)."""
    result = check_content(content_dir, quizzes_dir)
    base = Path(content_dir).parent
    comparison = FileComparison(errors=len(result.errors))
    stored = {
        "lesson": {slug: row for slug, *row in session.execute(
            select(Lesson.slug, Lesson.content_hash, Lesson.status, Lesson.updated_at))},
        "question": {slug: row for slug, *row in session.execute(
            select(Question.slug, QuestionVersion.content_hash, Question.status, QuestionVersion.created_at)
            .join(QuestionVersion, (QuestionVersion.question_id == Question.id)
                  & (QuestionVersion.version == Question.latest_version)))},
    }
    in_files = {
        "lesson": {slug: (lesson_hash(item), item["source_file"]) for slug, item in result.bundle.lessons.items()},
        "question": {slug: (question_hash(item), item["file"]) for slug, item in result.bundle.questions.items()},
    }
    for kind in ("lesson", "question"):
        for slug, (digest, rel) in in_files[kind].items():
            row = stored[kind].get(slug)
            if row is None:
                reason = "only_in_files"
            elif row[0] != digest:
                modified = _modified_at(base, rel)
                reason = "files_newer" if modified is not None and modified > row[2] else "database_newer"
            elif row[1] == "retired":
                reason = "retired_in_database"
            else:
                continue
            comparison.differences.append(FileDifference(kind, slug, reason))
        for slug, (_, status, _) in stored[kind].items():
            if slug not in in_files[kind] and status == "published":
                comparison.differences.append(FileDifference(kind, slug, "only_in_database"))
    return comparison
