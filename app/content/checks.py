"""`flask content check`: validate every curriculum file and build the bundle the loader applies.

Every error names the file, the line and the field, in Vietnamese. Nothing here touches the database.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..models import (
    CONTENT_STATUSES,
    DIFFICULTIES,
    QUESTION_TYPES,
    QUIZ_KINDS,
    SOURCE_KINDS,
    VERDICTS,
)
from .files import (
    CALLOUT_KINDS,
    CURRENT_CONTACT,
    POST_CONTAINER,
    ContentError,
    LessonFile,
    ParsedFile,
    body_citations,
    body_containers,
    format_path,
    parse_lesson,
    parse_yaml,
    read_text,
    unattributed_blockquotes,
)
from .text import PLACEHOLDER, contains_name, email_addresses, normalize_quote_text, phone_numbers

#: the longest text a String(255) column (lesson title, citation location) holds
MAX_SHORT_TEXT = 255
#: the largest lesson order and reaction count: beyond, a database integer would overflow
MAX_ORDER, MAX_COUNT = 999, 10**9
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,79}$")
PLATFORMS = ("facebook", "zalo", "tiktok", "youtube", "other")
SCENARIO_KINDS = ("post", "comment", "share", "message", "group_message", "video", "situation")
TRUE_FALSE_CHOICES = [{"key": "true", "text": "Đúng"}, {"key": "false", "text": "Sai"}]

#: wording that teaches a superseded rule as current (legal facts sheet §0, December 2026), with why
SUPERSEDED_WORDING = [
    (re.compile(r"\bsẽ\s+(?:được\s+)?thay(?:\s+thế|\s+bằng)?(?!\s*đổi)", re.IGNORECASE),
     "Luật An ninh mạng 2025 đã có hiệu lực từ 01/7/2026: viết «đã thay thế», không viết «sẽ thay thế»"),
    (re.compile(r"(?:Luật An ninh mạng 2025|116/2025/QH15)[^.\n]{0,80}?(?:sẽ có hiệu lực|chưa có hiệu lực)",
                re.IGNORECASE),
     "Luật An ninh mạng 2025 đã có hiệu lực từ 01/7/2026"),
    (re.compile(r"116/2025/QH15[^.\n]{0,40}?cần đối chiếu", re.IGNORECASE),
     "số hiệu 116/2025/QH15 đã được xác nhận; bỏ ghi chú «cần đối chiếu» ở số hiệu"),
    (re.compile(r"(?:quy định|chế độ) (?:xử phạt )?mới (?:có thể )?(?:áp dụng )?từ năm 2026", re.IGNORECASE),
     "không có nghị định xử phạt mới được xác nhận; viết «mức phạt có thể đã thay đổi; cần đối chiếu "
     "văn bản hiện hành»"),
]
#: the first amending decree of Nghị định 15/2020, named only together with the second
FIRST_AMENDMENT, SECOND_AMENDMENT = "14/2022", "211/2025"
#: real places tied to real events: scenarios and lessons use invented places instead
REAL_PLACES = ("Đồng Tâm", "Pác Ngòi")
FINE_NOTE = "cần đối chiếu văn bản hiện hành"
_FINE_AMOUNT = re.compile(r"\d+(?:[.,]\d+)?\s*(?:[–-]|đến)?\s*\d*(?:[.,]\d+)?\s*triệu", re.IGNORECASE)
#: the least number of questions of a type before its key distribution is judged
KEY_BALANCE_MIN = 10

_TYPE_NAMES = {
    str: "chuỗi ký tự",
    int: "số nguyên",
    bool: "true hoặc false",
    list: "danh sách",
    dict: "bảng khóa–giá trị",
    float: "số",
}


@dataclass
class Bundle:
    """Everything the files define, validated and normalised, keyed by id."""

    sources: dict[str, dict] = field(default_factory=dict)
    courses: dict[str, dict] = field(default_factory=dict)
    lessons: dict[str, dict] = field(default_factory=dict)
    topics: dict[str, dict] = field(default_factory=dict)
    bank: dict[str, Any] = field(default_factory=dict)
    questions: dict[str, dict] = field(default_factory=dict)
    quizzes: dict[str, dict] = field(default_factory=dict)


@dataclass
class CheckResult:
    bundle: Bundle
    errors: list[ContentError]
    files_read: int

    @property
    def ok(self) -> bool:
        return not self.errors


class FileCheck:
    """Typed field access on one parsed file, recording an error for anything malformed."""

    def __init__(self, parsed: ParsedFile, errors: list[ContentError]):
        self.parsed = parsed
        self.errors = errors

    def error(self, path: tuple, message: str) -> None:
        self.errors.append(
            ContentError(self.parsed.rel, self.parsed.line_of(path), format_path(path), message)
        )

    def get(self, obj: dict, path: tuple, key: str, kind, *, required=True, default=None,
            choices=None):
        if key not in obj or obj[key] is None:
            if required:
                self.error(path, f"thiếu trường bắt buộc «{key}»")
            return default
        value = obj[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # YAML reads `yes` and 12 as bool and int; a bool is never accepted as a number.
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " hoặc ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
            self.error(path + (key,), f"phải là {names}")
            return default
        if isinstance(value, str) and not value.strip() and required:
            self.error(path + (key,), "không được để trống")
            return default
        if choices is not None and value not in choices:
            self.error(path + (key,), f"giá trị «{value}» không hợp lệ; chọn một trong: "
                       + ", ".join(str(c) for c in choices))
            return default
        return value

    def ident(self, obj: dict, path: tuple, key: str = "id") -> str | None:
        value = self.get(obj, path, key, str)
        if value is not None and not ID_PATTERN.match(value):
            self.error(path + (key,), f"mã «{value}» chỉ được gồm chữ thường không dấu, số và dấu -")
            return None
        return value

    def only_keys(self, obj: dict, path: tuple, allowed: set[str]) -> None:
        for key in obj:
            if key not in allowed:
                self.error(path + (key,), f"trường «{key}» không được hỗ trợ")

    def mapping(self, obj: Any, path: tuple) -> bool:
        if not isinstance(obj, dict):
            self.error(path, "phải là bảng khóa–giá trị")
            return False
        return True

    def id_list(self, obj: dict, path: tuple, key: str, *, required=True) -> list[str]:
        values = self.get(obj, path, key, list, required=required, default=[])
        result = []
        for index, value in enumerate(values):
            if not isinstance(value, str) or not value:
                self.error(path + (key, index), "phải là một mã (chuỗi ký tự)")
            else:
                result.append(value)
        return result


class ContentChecker:
    """Runs every check over a content folder and a quizzes folder."""

    def __init__(self, content_dir: str | Path, quizzes_dir: str | Path):
        self.content_dir = Path(content_dir)
        self.quizzes_dir = Path(quizzes_dir)
        self.base = self.content_dir.parent
        self.errors: list[ContentError] = []
        self.bundle = Bundle()
        self.files_read = 0
        #: where each id was defined, for duplicate reports: kind → id → "file:line"
        self._defined: dict[str, dict[str, str]] = {}
        self._bank_line: int | None = None

    # -- entry point -----------------------------------------------------------------------
    def run(self) -> CheckResult:
        self._check_sources()
        self._check_courses()
        self._check_topics()
        self._check_lessons()
        self._check_questions()
        self._check_quizzes()
        self._check_bank_minimums()
        self._check_key_balance()
        return CheckResult(self.bundle, self.errors, self.files_read)

    # -- helpers ---------------------------------------------------------------------------
    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.base))
        except ValueError:
            return str(path)

    def _load_yaml(self, path: Path, top_key: str) -> tuple[FileCheck | None, list]:
        rel = self._rel(path)
        if not path.exists():
            self.errors.append(ContentError(rel, None, "", "không tìm thấy tệp"))
            return None, []
        self.files_read += 1
        text, errors = read_text(path, rel)
        self.errors.extend(errors)
        if text is None:
            return None, []
        parsed, errors = parse_yaml(text, rel)
        self.errors.extend(errors)
        if parsed is None:
            return None, []
        check = FileCheck(parsed, self.errors)
        if not isinstance(parsed.data, dict) or not isinstance(parsed.data.get(top_key), list):
            check.error((), f"tệp phải có khóa «{top_key}» chứa một danh sách")
            return check, []
        return check, parsed.data[top_key]

    @staticmethod
    def _entries(check: FileCheck, items: list, top_key: str, allowed: set[str]):
        """Each entry of a list file that is a mapping: (path, entry, id); unknown keys reported."""
        for index, item in enumerate(items):
            where = (top_key, index)
            if check.mapping(item, where):
                check.only_keys(item, where, allowed)
                yield where, item, check.ident(item, where)

    def _register(self, kind: str, ident: str, check: FileCheck, path: tuple) -> bool:
        where = f"{check.parsed.rel}:{check.parsed.line_of(path)}"
        seen = self._defined.setdefault(kind, {})
        if ident in seen:
            check.error(path + ("id",), f"mã «{ident}» bị trùng (đã dùng ở {seen[ident]})")
            return False
        seen[ident] = where
        return True

    # -- sources ---------------------------------------------------------------------------
    def _check_sources(self) -> None:
        path = self.content_dir / "sources" / "sources.yaml"
        check, items = self._load_yaml(path, "sources")
        allowed = {"id", "kind", "number", "issuer", "date", "title", "status", "file",
                   "province", "officials", "contacts"}
        for where, item, slug in self._entries(check, items, "sources", allowed):
            source = {
                "slug": slug,
                "kind": check.get(item, where, "kind", str, choices=SOURCE_KINDS),
                "number": check.get(item, where, "number", str),
                "issuer": check.get(item, where, "issuer", str),
                "date_text": str(check.get(item, where, "date", (str, int)) or ""),
                "title": check.get(item, where, "title", str),
                "status_note": check.get(item, where, "status", str, required=False, default=""),
                "file_name": check.get(item, where, "file", str, required=False),
                "province": check.get(item, where, "province", str, required=False),
                "officials": check.id_list(item, where, "officials", required=False),
                "contacts": check.id_list(item, where, "contacts", required=False),
                "text": None,
            }
            if source["file_name"]:
                file_path = self.content_dir / "sources" / source["file_name"]
                if "/" in source["file_name"] or not file_path.is_file():
                    check.error(where + ("file",), f"không tìm thấy tệp «{source['file_name']}»")
                else:
                    self.files_read += 1
                    text, errors = read_text(file_path, self._rel(file_path))
                    self.errors.extend(errors)
                    source["text"] = text
                    source["normalized_text"] = normalize_quote_text(text or "")
            if slug and self._register("source", slug, check, where):
                source["where"] = (check.parsed.rel, check.parsed.line_of(where))
                self.bundle.sources[slug] = source
        self._index_sources()

    def _index_sources(self) -> None:
        """What scenarios must not use: officials named in the sources, the letters' phones and emails."""
        self._officials = sorted({name for s in self.bundle.sources.values() for name in s["officials"]})
        letters = " ".join(s["text"] or "" for s in self.bundle.sources.values())
        self._phones = phone_numbers(letters)
        self._emails = email_addresses(letters)

    def _check_citation_target(self, check: FileCheck, path: tuple, source_slug: str,
                               quote: str | None) -> None:
        source = self.bundle.sources.get(source_slug)
        if source is None:
            check.error(path, f"nguồn «{source_slug}» không có trong content/sources/sources.yaml")
            return
        if quote is None:
            return
        if not source.get("text"):
            check.error(path, f"nguồn «{source_slug}» không có văn bản đi kèm nên không được "
                              "trích dẫn nguyên văn; hãy diễn giải và chỉ ghi vị trí")
            return
        if normalize_quote_text(quote) not in source["normalized_text"]:
            preview = normalize_quote_text(quote)
            preview = preview if len(preview) <= 80 else preview[:77] + "…"
            check.error(path, f"trích dẫn không khớp nguyên văn với nguồn «{source_slug}»: «{preview}»")

    # -- courses and topics ------------------------------------------------------------------
    def _check_courses(self) -> None:
        check, items = self._load_yaml(self.content_dir / "courses.yaml", "courses")
        for where, item, slug in self._entries(check, items, "courses",
                                               {"id", "title", "summary", "status"}):
            course = {
                "slug": slug,
                "title": check.get(item, where, "title", str),
                "summary": check.get(item, where, "summary", str, required=False, default=""),
                "status": check.get(item, where, "status", str, required=False,
                                    default="published", choices=CONTENT_STATUSES),
            }
            if slug and self._register("course", slug, check, where):
                self.bundle.courses[slug] = course

    def _check_topics(self) -> None:
        check, items = self._load_yaml(self.quizzes_dir / "topics.yaml", "topics")
        if check is None:
            return
        bank = check.parsed.data.get("bank") if isinstance(check.parsed.data, dict) else None
        self._bank_line = check.parsed.line_of(("bank",))
        if bank is not None and check.mapping(bank, ("bank",)):
            check.only_keys(bank, ("bank",), {"min_total", "min_lawful_share"})
            self.bundle.bank = {
                "min_total": check.get(bank, ("bank",), "min_total", int, required=False, default=0),
                "min_lawful_share": check.get(bank, ("bank",), "min_lawful_share", (float, int),
                                              required=False, default=0),
            }
        for where, item, slug in self._entries(check, items, "topics",
                                               {"id", "title", "group", "min_questions", "min_violations"}):
            topic = {
                "slug": slug,
                "title": check.get(item, where, "title", str),
                "group": check.get(item, where, "group", str),
                "min_questions": check.get(item, where, "min_questions", int, required=False, default=0),
                "min_violations": check.get(item, where, "min_violations", int, required=False, default=0),
            }
            if slug and self._register("topic", slug, check, where):
                topic["line"] = check.parsed.line_of(where)
                self.bundle.topics[slug] = topic

    # -- lessons ----------------------------------------------------------------------------
    def _check_lessons(self) -> None:
        lesson_dir = self.content_dir / "lessons"
        positions: dict[tuple[str, int], str] = {}
        for path in sorted(lesson_dir.glob("*.md")):
            rel = self._rel(path)
            self.files_read += 1
            text, errors = read_text(path, rel)
            self.errors.extend(errors)
            if text is None:
                continue
            lesson_file, errors = parse_lesson(text, rel)
            self.errors.extend(errors)
            if lesson_file is None:
                continue
            self._check_lesson(lesson_file, rel, positions)

    def _check_lesson(self, lesson_file, rel: str, positions: dict) -> None:
        check = FileCheck(lesson_file.meta, self.errors)
        meta = lesson_file.meta.data
        check.only_keys(meta, (), {"id", "course", "order", "title", "summary", "minutes", "sources"})
        slug = check.ident(meta, ())
        course = check.get(meta, (), "course", str)
        order = check.get(meta, (), "order", int)
        minutes = check.get(meta, (), "minutes", int)
        listed = check.id_list(meta, (), "sources")
        if course and course not in self.bundle.courses:
            check.error(("course",), f"khóa học «{course}» không có trong content/courses.yaml")
        if order is not None and not 1 <= order <= MAX_ORDER:
            check.error(("order",), f"phải là số nguyên từ 1 đến {MAX_ORDER}")
            order = None
        if minutes is not None and not 1 <= minutes <= 60:
            check.error(("minutes",), "thời lượng phải từ 1 đến 60 phút")
        for index, source_slug in enumerate(listed):
            if source_slug not in self.bundle.sources:
                check.error(("sources", index), f"nguồn «{source_slug}» không có trong sources.yaml")
        if course and order is not None:
            key = (course, order)
            if key in positions:
                check.error(("order",), f"thứ tự {order} đã dùng cho bài «{positions[key]}»")
            positions[key] = slug or rel
        if not lesson_file.body.strip():
            self.errors.append(ContentError(rel, lesson_file.body_line, "", "bài học không có nội dung"))

        citations = []
        for citation in body_citations(lesson_file.body, lesson_file.body_line):
            body_check = _LineCheck(rel, citation.line, self.errors)
            self._check_citation_target(body_check, (), citation.source, citation.quote)
            if citation.source in self.bundle.sources and citation.source not in listed:
                body_check.error((), f"nguồn «{citation.source}» được trích nhưng chưa khai báo "
                                     "trong trường «sources» ở phần đầu")
            _within(body_check, (), citation.location, "vị trí trích dẫn")
            citations.append({"source": citation.source, "location": citation.location,
                              "quote": citation.quote})
        self._check_lesson_blocks(lesson_file, rel)
        for paragraph_line, paragraph in _paragraphs(lesson_file.body, lesson_file.body_line):
            for message in currency_errors(paragraph):
                _LineCheck(rel, paragraph_line, self.errors).error((), message)
            for place in REAL_PLACES:
                if contains_name(paragraph, place):
                    _LineCheck(rel, paragraph_line, self.errors).error(
                        (), f"bài học nêu địa danh thật «{place}»; hãy dùng địa danh hư cấu, ghi rõ là giả định")
        for number, line in enumerate(lesson_file.body.split("\n"), lesson_file.body_line):
            for match in CURRENT_CONTACT.finditer(line):
                if match.group(1) not in self.bundle.sources:
                    _LineCheck(rel, number, self.errors).error(
                        (), f"nguồn «{match.group(1)}» trong [[current-contact:…]] không tồn tại")
        lesson = {
            "slug": slug, "course": course, "position": order,
            "title": _within(check, ("title",), check.get(meta, (), "title", str)),
            "summary": check.get(meta, (), "summary", str, required=False, default=""),
            "minutes": minutes, "body_md": lesson_file.body, "sources": listed,
            "citations": citations, "source_file": rel,
        }
        if slug and self._register("lesson", slug, check, ()):
            self.bundle.lessons[slug] = lesson
        return lesson

    def _check_lesson_blocks(self, lesson_file, rel: str) -> None:
        """Blockquotes are attributed quotations only; callouts and example posts are containers."""
        first = lesson_file.body_line
        for index in unattributed_blockquotes(lesson_file.body):
            _LineCheck(rel, first + index, self.errors).error(
                (), "khối trích dẫn (dòng bắt đầu bằng «>») phải là trích dẫn nguyên văn, kết thúc bằng "
                    "dòng ghi nguồn «> — [mã-nguồn, vị trí]»; ghi nhớ, lưu ý, ví dụ dùng «::: ghi-nho», "
                    "«::: luu-y», «::: vi-du» và bài đăng minh họa dùng «::: bai-dang»")
        containers, nested = body_containers(lesson_file.body)
        for index in nested:
            _LineCheck(rel, first + index, self.errors).error((), "khối «:::» không được lồng trong khối khác")
        for container in containers:
            where = _LineCheck(rel, first + container.start, self.errors)
            if container.end is None:
                where.error((), f"khối «::: {container.kind}» chưa được đóng bằng dòng «:::»")
            if container.kind == POST_CONTAINER:
                self._check_example_post(container, rel, first)
            elif container.kind not in CALLOUT_KINDS:
                where.error((), f"loại khối «{container.kind}» không được hỗ trợ; chọn một trong: "
                                + ", ".join([*CALLOUT_KINDS, POST_CONTAINER]))
            elif not container.text.strip():
                where.error((), f"khối «::: {container.kind}» không có nội dung")

    def _check_example_post(self, container, rel: str, first: int) -> None:
        """An example post is a scenario card in YAML, with the rules of a question's scenario."""
        parsed, errors = parse_yaml(container.text, rel, line_offset=first + container.start)
        self.errors.extend(errors)
        if parsed is None:
            return
        check = FileCheck(parsed, self.errors)
        if not check.mapping(parsed.data, ()):
            return
        self._check_scenario(check, (), {**parsed.data}, None, where_key=None)
        self._check_real_people(check, (), {"scenario": parsed.data}, scenario_path=())

    # -- questions --------------------------------------------------------------------------
    def _check_questions(self) -> None:
        for path in sorted(self.quizzes_dir.glob("bank-*.yaml")):
            check, items = self._load_yaml(path, "questions")
            for index, item in enumerate(items):
                where = ("questions", index)
                if check.mapping(item, where):
                    self._check_question(check, where, item)

    def _check_question(self, check: FileCheck, where: tuple, item: dict) -> None:
        check.only_keys(item, where, {"id", "type", "difficulty", "verdict", "topics", "scenario",
                                      "prompt", "choices", "answer", "explanation", "citations"})
        slug = check.ident(item, where)
        qtype = check.get(item, where, "type", str, choices=QUESTION_TYPES)
        topics = check.id_list(item, where, "topics")
        if not topics and "topics" in item:
            check.error(where + ("topics",), "cần ít nhất một chủ đề")
        for index, topic in enumerate(topics):
            if topic not in self.bundle.topics:
                check.error(where + ("topics", index), f"chủ đề «{topic}» không có trong quizzes/topics.yaml")
        scenario = self._check_scenario(check, where, item.get("scenario"), qtype)
        choices, correct = self._check_answers(check, where, item, qtype, scenario)
        explanation = check.get(item, where, "explanation", str)
        citations = self._check_question_citations(check, where, item)
        self._check_real_people(check, where, item)
        self._check_question_currency(check, where, item, citations)
        for path, text in _strings(item, where):
            for match in PLACEHOLDER.finditer(text):
                check.error(path, f"còn chỗ cần điền {match.group(0)}: hãy thay bằng nội dung hư cấu")
        question = {
            "slug": slug, "type": qtype,
            "difficulty": check.get(item, where, "difficulty", str, choices=DIFFICULTIES),
            "verdict": check.get(item, where, "verdict", str, choices=VERDICTS),
            "topics": topics, "scenario": scenario,
            "prompt": check.get(item, where, "prompt", str),
            "choices": choices, "correct_keys": correct,
            "explanation": (explanation or "").strip(), "citations": citations,
            "file": check.parsed.rel,
        }
        if slug and self._register("question", slug, check, where):
            self.bundle.questions[slug] = question
        return question

    def _check_scenario(self, check: FileCheck, where: tuple, scenario: Any, qtype: str | None,
                        where_key: str | None = "scenario"):
        where = where + ((where_key,) if where_key else ())
        if scenario is None:
            if qtype == "select_parts":
                check.error(where, "câu hỏi chọn phần vi phạm cần có «scenario» với «segments»")
            return None
        if not check.mapping(scenario, where):
            return None
        check.only_keys(scenario, where, {"platform", "kind", "author", "group", "time", "text",
                                          "image", "reactions", "comments", "segments"})
        result = {
            "platform": check.get(scenario, where, "platform", str, choices=PLATFORMS),
            "kind": check.get(scenario, where, "kind", str, required=False, default="post",
                              choices=SCENARIO_KINDS),
        }
        for key in ("author", "group", "time", "image"):
            value = check.get(scenario, where, key, str, required=False)
            if value is not None:
                result[key] = value
        reactions = check.get(scenario, where, "reactions", dict, required=False)
        if reactions is not None:
            clean = {}
            for key, value in reactions.items():
                if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_COUNT:
                    check.error(where + ("reactions", key), "phải là số nguyên không âm")
                else:
                    clean[str(key)] = value
            result["reactions"] = clean
        comments = check.get(scenario, where, "comments", list, required=False, default=[])
        result_comments = []
        for index, comment in enumerate(comments):
            cwhere = where + ("comments", index)
            if check.mapping(comment, cwhere):
                check.only_keys(comment, cwhere, {"author", "text"})
                result_comments.append({"author": check.get(comment, cwhere, "author", str),
                                        "text": check.get(comment, cwhere, "text", str)})
        if result_comments:
            result["comments"] = result_comments
        if qtype == "select_parts":
            if "text" in scenario:
                check.error(where + ("text",), "câu hỏi chọn phần vi phạm dùng «segments» thay cho «text»")
            segments = check.get(scenario, where, "segments", list, default=[])
            if segments and not 2 <= len(segments) <= 10:
                check.error(where + ("segments",), "cần từ 2 đến 10 phần")
            result["segments"] = []
            for index, segment in enumerate(segments):
                swhere = where + ("segments", index)
                if check.mapping(segment, swhere):
                    check.only_keys(segment, swhere, {"key", "text", "violating"})
                    result["segments"].append({
                        "key": check.get(segment, swhere, "key", str),
                        "text": check.get(segment, swhere, "text", str),
                        "violating": check.get(segment, swhere, "violating", bool,
                                               required=False, default=False),
                    })
        else:
            if "segments" in scenario:
                check.error(where + ("segments",), "chỉ câu hỏi loại select_parts mới có «segments»")
            result["text"] = check.get(scenario, where, "text", str)
        return result

    def _check_answers(self, check, where, item, qtype, scenario):
        """Normalise every type to choices [{key, text}] and the list of correct keys."""
        if qtype == "true_false":
            if "choices" in item:
                check.error(where + ("choices",), "câu hỏi đúng/sai không có «choices»; dùng «answer»")
            answer = check.get(item, where, "answer", bool)
            return TRUE_FALSE_CHOICES, ([] if answer is None else [str(answer).lower()])
        if "answer" in item:
            check.error(where + ("answer",), "chỉ câu hỏi đúng/sai mới dùng «answer»")
        if qtype == "select_parts":
            if "choices" in item:
                check.error(where + ("choices",), "câu hỏi chọn phần vi phạm không có «choices»")
            segments = (scenario or {}).get("segments", [])
            choices = [{"key": s["key"], "text": s["text"]} for s in segments]
            correct = [s["key"] for s in segments if s.pop("violating")]
            # The scenario is shown before submission: it must not say which parts are wrong.
            self._check_keys(check, where + ("scenario", "segments"), choices)
            if segments and not correct:
                check.error(where + ("scenario", "segments"), "cần ít nhất một phần «violating: true»")
            return choices, correct
        raw = check.get(item, where, "choices", list, default=[])
        if raw and not 2 <= len(raw) <= 6:
            check.error(where + ("choices",), "cần từ 2 đến 6 lựa chọn")
        choices, correct = [], []
        for index, choice in enumerate(raw):
            cwhere = where + ("choices", index)
            if check.mapping(choice, cwhere):
                check.only_keys(choice, cwhere, {"key", "text", "correct"})
                key = check.get(choice, cwhere, "key", str)
                choices.append({"key": key, "text": check.get(choice, cwhere, "text", str)})
                if check.get(choice, cwhere, "correct", bool, required=False, default=False):
                    correct.append(key)
        self._check_keys(check, where + ("choices",), choices)
        if raw and qtype == "single" and len(correct) != 1:
            check.error(where + ("choices",), f"câu hỏi một lựa chọn cần đúng một đáp án đúng (đang có {len(correct)})")
        if raw and qtype == "multiple" and not correct:
            check.error(where + ("choices",), "câu hỏi nhiều lựa chọn cần ít nhất một đáp án đúng")
        return choices, correct

    @staticmethod
    def _check_keys(check, where, choices) -> None:
        counts = Counter(c["key"] for c in choices if c["key"])
        for key, count in counts.items():
            if count > 1:
                check.error(where, f"khóa lựa chọn «{key}» bị trùng")

    def _check_question_citations(self, check, where, item) -> list[dict]:
        raw = check.get(item, where, "citations", list, default=[])
        if "citations" in item and not raw:
            check.error(where + ("citations",), "cần ít nhất một trích dẫn nguồn")
        citations = []
        for index, citation in enumerate(raw):
            cwhere = where + ("citations", index)
            if not check.mapping(citation, cwhere):
                continue
            check.only_keys(citation, cwhere, {"source", "location", "quote"})
            source = check.get(citation, cwhere, "source", str)
            location = _within(check, cwhere + ("location",), check.get(citation, cwhere, "location", str))
            quote = check.get(citation, cwhere, "quote", str, required=False)
            if source:
                self._check_citation_target(check, cwhere + (("quote",) if quote else ("source",)),
                                            source, quote)
            citations.append({"source": source, "location": location or "", "quote": quote})
        return citations

    def _check_real_people(self, check, where, item, scenario_path: tuple | None = None) -> None:
        """Scenarios use invented people: no official named in a letter, no letter's phone or email."""
        texts = []
        base = where + ("scenario",) if scenario_path is None else scenario_path
        for path, value in _strings(item.get("scenario"), base):
            texts.append((path, value))
        for key in ("prompt",):
            if isinstance(item.get(key), str):
                texts.append((where + (key,), item[key]))
        for index, choice in enumerate(item.get("choices") or []):
            if isinstance(choice, dict) and isinstance(choice.get("text"), str):
                texts.append((where + ("choices", index, "text"), choice["text"]))
        for path, text in texts:
            for name in self._officials:
                if contains_name(text, name):
                    check.error(path, f"tình huống nêu tên người thật «{name}» (có trong văn bản "
                                      "nguồn); hãy dùng tên hư cấu")
            for number in phone_numbers(text) & self._phones:
                check.error(path, f"tình huống dùng số điện thoại thật {number} của văn bản nguồn")
            for email in email_addresses(text) & self._emails:
                check.error(path, f"tình huống dùng địa chỉ email thật {email} của văn bản nguồn")
            for place in REAL_PLACES:
                if contains_name(text, place):
                    check.error(path, f"tình huống dùng địa danh thật «{place}»; hãy dùng địa danh hư cấu "
                                      "và ghi rõ là giả định")

    def _check_question_currency(self, check, where, item, citations) -> None:
        """No superseded rule taught as current; Điều 101's fines always carry the currency note."""
        texts = [(where + (key,), item[key]) for key in ("prompt", "explanation")
                 if isinstance(item.get(key), str)]
        texts += [(where + ("choices", index, "text"), choice["text"])
                  for index, choice in enumerate(item.get("choices") or [])
                  if isinstance(choice, dict) and isinstance(choice.get("text"), str)]
        texts += [(where + ("citations", index, "location"), citation["location"])
                  for index, citation in enumerate(citations) if citation.get("location")]
        whole = "\n".join(text for _, text in texts)
        for path, text in texts:
            for message in currency_errors(text, whole):
                check.error(path, message)
            for place in REAL_PLACES:
                if path[-1] == "explanation" and contains_name(text, place):
                    check.error(path, f"nêu địa danh thật «{place}»; hãy dùng địa danh hư cấu")
        cites_fines = any(c.get("source") == "nd-15-2020" and "101" in (c.get("location") or "")
                          for c in citations) or (_FINE_AMOUNT.search(whole) and "101" in whole)
        note_in = " ".join(item.get(key) or "" for key in ("prompt", "explanation")
                           if isinstance(item.get(key), str))
        if cites_fines and FINE_NOTE not in note_in:
            check.error(where + ("explanation",), "câu hỏi dẫn Điều 101 Nghị định 15/2020 (mức phạt) "
                                                  f"phải ghi chú «mức phạt có thể đã thay đổi; {FINE_NOTE}»")

    # -- quizzes ----------------------------------------------------------------------------
    def _check_quizzes(self) -> None:
        path = self.quizzes_dir / "quizzes.yaml"
        if not path.exists():
            return
        check, items = self._load_yaml(path, "quizzes")
        for index, item in enumerate(items):
            where = ("quizzes", index)
            if check.mapping(item, where):
                self._check_quiz(check, where, item)

    def _check_quiz(self, check, where, item) -> None:
        check.only_keys(item, where, {"id", "course", "title", "kind", "lesson", "pass_percent",
                                      "time_limit_minutes", "max_attempts",
                                      "counts_for_completion", "pools"})
        slug = check.ident(item, where)
        course = check.get(item, where, "course", str)
        if course and course not in self.bundle.courses:
            check.error(where + ("course",), f"khóa học «{course}» không tồn tại")
        kind = check.get(item, where, "kind", str, choices=QUIZ_KINDS)
        lesson = check.get(item, where, "lesson", str, required=kind == "lesson_check")
        if lesson and lesson not in self.bundle.lessons:
            check.error(where + ("lesson",), f"bài học «{lesson}» không tồn tại")
        pass_percent = check.get(item, where, "pass_percent", int)
        if pass_percent is not None and not 1 <= pass_percent <= 100:
            check.error(where + ("pass_percent",), "phải từ 1 đến 100")
        quiz = {"slug": slug, "course": course, "kind": kind, "lesson": lesson,
                "title": check.get(item, where, "title", str), "pass_percent": pass_percent,
                "counts_for_completion": check.get(item, where, "counts_for_completion", bool,
                                                   required=False, default=False)}
        for key in ("time_limit_minutes", "max_attempts"):
            value = check.get(item, where, key, int, required=False)
            if value is not None and value < 1:
                check.error(where + (key,), "phải là số nguyên dương, hoặc null nếu không giới hạn")
            quiz[key] = value
        quiz["pools"] = self._check_pools(check, where, item)
        if slug and self._register("quiz", slug, check, where):
            self.bundle.quizzes[slug] = quiz

    def _check_pools(self, check, where, item) -> list[dict]:
        pools = []
        raw = check.get(item, where, "pools", list, default=[])
        if "pools" in item and not raw:
            check.error(where + ("pools",), "cần ít nhất một nhóm câu hỏi")
        for index, pool in enumerate(raw):
            pwhere = where + ("pools", index)
            if not check.mapping(pool, pwhere):
                continue
            check.only_keys(pool, pwhere, {"topics", "questions", "count"})
            count = check.get(pool, pwhere, "count", int)
            topics = check.id_list(pool, pwhere, "topics", required=False)
            questions = check.id_list(pool, pwhere, "questions", required=False)
            if not topics and not questions:
                check.error(pwhere, "nhóm câu hỏi cần «topics» hoặc «questions»")
            for tindex, topic in enumerate(topics):
                if topic not in self.bundle.topics:
                    check.error(pwhere + ("topics", tindex), f"chủ đề «{topic}» không tồn tại")
            for qindex, question in enumerate(questions):
                if question not in self.bundle.questions:
                    check.error(pwhere + ("questions", qindex), f"câu hỏi «{question}» không tồn tại")
            available = {slug for slug, q in self.bundle.questions.items()
                         if set(q["topics"]) & set(topics)} | set(questions)
            if count is not None and count < 1:
                check.error(pwhere + ("count",), "phải là số nguyên dương")
            elif count is not None and (topics or questions) and len(available) < count:
                check.error(pwhere + ("count",), f"nhóm chỉ có {len(available)} câu hỏi, ít hơn số "
                                                 f"cần rút ({count})")
            pools.append({"count": count, "topics": topics, "questions": questions})
        return pools

    # -- bank minimums -----------------------------------------------------------------------
    def _check_bank_minimums(self) -> None:
        rel = self._rel(self.quizzes_dir / "topics.yaml")
        questions = self.bundle.questions.values()
        total = len(self.bundle.questions)
        minimum = self.bundle.bank.get("min_total", 0)
        if total < minimum:
            self.errors.append(ContentError(rel, self._bank_line, "bank.min_total",
                                            f"ngân hàng có {total} câu hỏi, ít hơn mức tối thiểu {minimum}"))
        share = self.bundle.bank.get("min_lawful_share", 0)
        lawful = sum(1 for q in questions if q["verdict"] == "lawful")
        if total and lawful / total < share:
            self.errors.append(ContentError(
                rel, self._bank_line, "bank.min_lawful_share",
                f"chỉ {lawful}/{total} câu ({lawful / total:.0%}) là tình huống không vi phạm, "
                f"ít hơn mức tối thiểu {share:.0%}"))
        counts = Counter(topic for q in questions for topic in q["topics"])
        violations = Counter(topic for q in questions if q["verdict"] == "violation"
                             for topic in q["topics"])
        for slug, topic in self.bundle.topics.items():
            if counts[slug] < topic["min_questions"]:
                self.errors.append(ContentError(
                    rel, topic["line"], f"topics.{slug}",
                    f"chủ đề «{slug}» có {counts[slug]} câu hỏi, ít hơn mức tối thiểu "
                    f"{topic['min_questions']}"))
            if violations[slug] < topic["min_violations"]:
                self.errors.append(ContentError(
                    rel, topic["line"], f"topics.{slug}",
                    f"chủ đề «{slug}» có {violations[slug]} tình huống vi phạm, ít hơn mức tối "
                    f"thiểu {topic['min_violations']}"))


    # -- key balance --------------------------------------------------------------------------
    def _check_key_balance(self) -> None:
        rel = self._rel(self.quizzes_dir)
        for message in key_balance_errors(self.bundle.questions.values()):
            self.errors.append(ContentError(rel, None, "bank", message))


def key_balance_errors(questions) -> list[str]:
    """Refuse a bank whose answer keys can be guessed without reading: a fixed guess (always `a`,
    always `false`, always {a, b, c}) must not beat chance, and no key may be (almost) never right.

    Judged per type once it holds KEY_BALANCE_MIN questions, so that a small bank is not refused
    for the luck of a few draws."""
    errors = []
    single = [q for q in questions if q["type"] == "single" and q["choices"]]
    if len(single) >= KEY_BALANCE_MIN:
        chance = sum(1 / len(q["choices"]) for q in single) / len(single)
        keys = sorted({c["key"] for q in single for c in q["choices"] if c["key"]})
        for key in keys:
            having = [q for q in single if any(c["key"] == key for c in q["choices"])]
            right = sum(1 for q in having if key in q["correct_keys"])
            expected = sum(1 / len(q["choices"]) for q in having)
            if right / len(single) > chance + 0.10:
                errors.append(f"câu một lựa chọn: đáp án «{key}» đúng ở {right}/{len(single)} câu; "
                              f"đoán luôn «{key}» được {right / len(single):.0%}, hơn hẳn mức ngẫu nhiên "
                              f"{chance:.0%}: hãy đổi khóa của đáp án đúng cho cân bằng")
            if expected >= 3 and right < expected / 2:
                errors.append(f"câu một lựa chọn: đáp án «{key}» chỉ đúng ở {right} câu, trong khi "
                              f"ngẫu nhiên sẽ khoảng {expected:.0f}: hãy đổi khóa cho cân bằng")
    multiple = [q for q in questions if q["type"] == "multiple" and q["choices"]]
    if len(multiple) >= KEY_BALANCE_MIN:
        sets = Counter(tuple(sorted(q["correct_keys"])) for q in multiple)
        common, count = sets.most_common(1)[0]
        if count / len(multiple) > 0.25:
            errors.append(f"câu nhiều lựa chọn: tập đáp án đúng {{{', '.join(common)}}} lặp lại ở "
                          f"{count}/{len(multiple)} câu: hãy đổi khóa cho cân bằng")
        keys = sorted({c["key"] for q in multiple for c in q["choices"] if c["key"]})
        for key in keys:
            having = [q for q in multiple if any(c["key"] == key for c in q["choices"])]
            if len(having) < KEY_BALANCE_MIN:
                continue
            share = sum(1 for q in having if key in q["correct_keys"]) / len(having)
            if share > 0.8 or share < 0.2:
                errors.append(f"câu nhiều lựa chọn: lựa chọn «{key}» là đáp án đúng ở {share:.0%} số câu "
                              "có nó: hãy đổi khóa cho cân bằng")
    true_false = [q for q in questions if q["type"] == "true_false" and q["correct_keys"]]
    if len(true_false) >= KEY_BALANCE_MIN:
        false = sum(1 for q in true_false if q["correct_keys"] == ["false"])
        if not 0.35 <= false / len(true_false) <= 0.65:
            errors.append(f"câu đúng/sai: {false}/{len(true_false)} câu có đáp án «Sai»; tỷ lệ phải "
                          "trong khoảng 35–65 % để không đoán được")
    return errors


def currency_errors(text: str, context: str | None = None) -> list[str]:
    """What in `text` teaches a superseded rule as current; `context` is the whole item the text
    belongs to (a question, a paragraph), where the second amending decree may be named."""
    errors = [message for pattern, message in SUPERSEDED_WORDING if pattern.search(text)]
    if FIRST_AMENDMENT in text and SECOND_AMENDMENT not in (context or text):
        errors.append("Nghị định 15/2020 có hai nghị định sửa đổi: nêu cả Nghị định 211/2025/NĐ-CP "
                      "cùng với Nghị định 14/2022/NĐ-CP")
    return errors


def _paragraphs(body: str, body_line: int):
    """Each paragraph of a lesson body (blank-line separated) with the file line it starts on."""
    start, lines = None, []
    for number, line in enumerate(body.split("\n") + [""], body_line):
        if line.strip():
            if start is None:
                start = number
            lines.append(line)
        elif lines:
            yield start, "\n".join(lines)
            start, lines = None, []


def _within(check, path: tuple, value: str | None, what: str = "") -> str | None:
    """A text the database keeps in a String(255) column: longer ones are refused, not truncated."""
    if value is not None and len(value) > MAX_SHORT_TEXT:
        check.error(path, f"{what} dài {len(value)} ký tự, tối đa {MAX_SHORT_TEXT}".strip())
    return value


def bank_minimum_errors(quizzes_dir: str | Path, questions: dict[str, dict]) -> list[ContentError]:
    """The bank minimums of `quizzes_dir`/topics.yaml applied to `questions` (slug → its verdict and
    topics): the rules `flask content check` applies to the files, for a bank changed in the database."""
    checker = ContentChecker(Path(quizzes_dir).parent / "content", quizzes_dir)
    checker._check_topics()
    checker.errors.clear()  # topics.yaml's own mistakes are for `flask content check` to report
    checker.bundle.questions = questions
    checker._check_bank_minimums()
    return checker.errors


class _LineCheck:
    """The error sink of FileCheck for a place known only by its line (a lesson's body)."""

    def __init__(self, rel: str, line: int, errors: list[ContentError]):
        self.rel, self.line, self.errors = rel, line, errors

    def error(self, path: tuple, message: str) -> None:
        self.errors.append(ContentError(self.rel, self.line, "nội dung", message))


def _strings(value: Any, path: tuple):
    """Every string inside a nested structure, with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, path + (index,))


def check_content(content_dir: str | Path, quizzes_dir: str | Path) -> CheckResult:
    return ContentChecker(content_dir, quizzes_dir).run()


#: the "file" an item edited in the browser comes from, in error messages
FORM_FILE = "biểu mẫu"


class ItemChecker(ContentChecker):
    """The rules of `flask content check` for one lesson or question edited in the browser.

    The sources, topics and courses come from the database instead of the files; `taken` holds the
    ids other items already use (a new item may not reuse one), `positions` maps (course, order)
    to the lesson holding it. Error paths are those of the file format ("citations[0].quote").
    """

    def __init__(self, sources: dict[str, dict], topics: dict[str, dict], courses: dict[str, dict],
                 taken: dict[str, set[str]] | None = None,
                 positions: dict[tuple[str, int], str] | None = None):
        super().__init__(".", ".")
        self.bundle.sources, self.bundle.topics, self.bundle.courses = sources, topics, courses
        self._defined = {kind: dict.fromkeys(slugs, "cơ sở dữ liệu") for kind, slugs in (taken or {}).items()}
        self._positions = dict(positions or {})
        self._index_sources()

    def check_question(self, entry: dict) -> tuple[dict | None, list[ContentError]]:
        """A bank entry → the normalised question the loader stores, and every error found."""
        check = FileCheck(ParsedFile(FORM_FILE, entry), self.errors)
        if not check.mapping(entry, ()):
            return None, self.errors
        return self._check_question(check, (), entry), self.errors

    def check_lesson(self, meta: dict, body: str, file_name: str) -> tuple[dict | None, list[ContentError]]:
        """Front matter and Markdown body → the normalised lesson; body errors carry the body's line."""
        lesson_file = LessonFile(ParsedFile(FORM_FILE, meta), body, 1)
        return self._check_lesson(lesson_file, file_name, self._positions), self.errors
