"""Reading curriculum files: YAML with a line for every field, and Markdown lessons with front matter."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[Any, ...]


@dataclass(frozen=True)
class ContentError:
    """One problem in one file, located precisely enough for an author to fix it."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}, dòng {self.line}"
        if self.field:
            where += f", trường «{self.field}»"
        return f"{where}: {self.message}"


@dataclass
class ParsedFile:
    """A parsed file and, for each field path, the line it starts on."""

    rel: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    line_offset: int = 0

    def line_of(self, path: Path_) -> int | None:
        path = tuple(path)
        while True:
            if path in self.lines:
                return self.lines[path] + self.line_offset
            if not path:
                return None
            path = path[:-1]


def format_path(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _walk(node: yaml.Node, path: Path_, lines: dict, duplicates: list) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                duplicates.append((path + (key,), key_node.start_mark.line + 1))
            seen.add(key)
            lines[path + (key,)] = key_node.start_mark.line + 1
            _walk(value_node, path + (key,), lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, path + (index,), lines, duplicates)


def parse_yaml(text: str, rel: str, line_offset: int = 0) -> tuple[ParsedFile | None, list[ContentError]]:
    """Parse YAML, keeping a line map; a syntax error or duplicate key is reported, not raised."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 + line_offset if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [ContentError(rel, line, "", f"lỗi cú pháp YAML: {problem}")]
    parsed = ParsedFile(rel, data, line_offset=line_offset)
    duplicates: list = []
    if node is not None:
        _walk(node, (), parsed.lines, duplicates)
    errors = [
        ContentError(rel, line + line_offset, format_path(path), "khóa bị khai báo hai lần")
        for path, line in duplicates
    ]
    return parsed, errors


def read_text(path: Path, rel: str) -> tuple[str | None, list[ContentError]]:
    try:
        return path.read_text(encoding="utf-8"), []
    except UnicodeDecodeError as exc:
        return None, [ContentError(rel, None, "", f"tệp không phải UTF-8 (byte {exc.start})")]
    except OSError as exc:
        return None, [ContentError(rel, None, "", f"không đọc được tệp: {exc.strerror}")]


_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)---[ \t]*\n", re.DOTALL)


@dataclass
class LessonFile:
    meta: ParsedFile
    body: str
    #: line number of the body's first line in the file
    body_line: int


def parse_lesson(text: str, rel: str) -> tuple[LessonFile | None, list[ContentError]]:
    """Split a lesson into its YAML front matter and Markdown body."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return None, [ContentError(rel, 1, "", "thiếu phần đầu YAML (mở và đóng bằng dòng ---)")]
    meta, errors = parse_yaml(match.group(1), rel, line_offset=1)
    if meta is None:
        return None, errors
    if not isinstance(meta.data, dict):
        return None, errors + [ContentError(rel, 2, "", "phần đầu YAML phải là bảng khóa–giá trị")]
    body_line = text[: match.end()].count("\n") + 1
    return LessonFile(meta, text[match.end():], body_line), errors


INLINE_CITATION = re.compile(r"\[@([A-Za-z0-9-]+),\s*([^\]]+?)\s*\]")
ATTRIBUTION = re.compile(r"^>\s*[—–-]\s*\[([A-Za-z0-9-]+),\s*([^\]]+?)\s*\]\s*$")
CURRENT_CONTACT = re.compile(r"\[\[current-contact:([A-Za-z0-9-]+)\]\]")


@dataclass
class BodyCitation:
    source: str
    location: str
    quote: str | None
    #: line number in the file (for error messages)
    line: int
    #: index of the line in the body, and the span of the citation's marker on that line
    body_index: int
    span: tuple[int, int]


def body_citations(body: str, body_line: int = 1) -> list[BodyCitation]:
    """Inline citations and attributed blockquotes, in reading order (the order they are numbered)."""
    citations: list[BodyCitation] = []
    quote_lines: list[str] = []
    quote_start = 0
    for index, line in enumerate(body.split("\n")):
        number = body_line + index
        if line.startswith(">"):
            attribution = ATTRIBUTION.match(line)
            if attribution and quote_lines:
                quote = "\n".join(quote_lines).strip()
                citations.append(BodyCitation(attribution.group(1), attribution.group(2), quote,
                                              quote_start, index, (0, len(line))))
                quote_lines = []
                continue
            if not quote_lines:
                quote_start = number
            quote_lines.append(line[1:].strip())
        else:
            quote_lines = []
        for match in INLINE_CITATION.finditer(line):
            citations.append(BodyCitation(match.group(1), match.group(2), None, number, index,
                                          match.span()))
    return citations


#: a fenced container in a lesson: `::: kind` alone on a line opens it, `:::` alone closes it
CONTAINER_OPEN = re.compile(r"^:::[ \t]*([a-z][a-z-]*)[ \t]*$")
CONTAINER_CLOSE = re.compile(r"^:::[ \t]*$")
#: callout kinds and the label each is read out with; `bai-dang` holds an example post (YAML)
CALLOUT_KINDS = {"ghi-nho": "Ghi nhớ", "luu-y": "Lưu ý", "vi-du": "Ví dụ"}
POST_CONTAINER = "bai-dang"
_BLOCKQUOTE = re.compile(r"^ {0,3}>")


@dataclass
class Container:
    kind: str
    #: index in the body of the opening line, and of the closing line (None when never closed)
    start: int
    end: int | None
    text: str


def body_containers(body: str) -> tuple[list[Container], list[int]]:
    """The fenced containers of a lesson body, and the indexes of opening lines found inside
    another container (containers do not nest)."""
    containers: list[Container] = []
    nested: list[int] = []
    lines = body.split("\n")
    index = 0
    while index < len(lines):
        match = CONTAINER_OPEN.match(lines[index])
        if not match:
            index += 1
            continue
        end = None
        for inner in range(index + 1, len(lines)):
            if CONTAINER_CLOSE.match(lines[inner]):
                end = inner
                break
            if CONTAINER_OPEN.match(lines[inner]):
                nested.append(inner)
        stop = end if end is not None else len(lines)
        containers.append(Container(match.group(1), index, end, "\n".join(lines[index + 1:stop])))
        index = stop + 1
    return containers, nested


def unattributed_blockquotes(body: str) -> list[int]:
    """Indexes (in the body) of the first line of each blockquote whose last line is not an
    attribution `> — [source, location]`: a blockquote is only ever a verbatim quotation."""
    found = []
    run_start = None
    lines = body.split("\n")
    for index, line in enumerate(lines + [""]):
        if _BLOCKQUOTE.match(line):
            if run_start is None:
                run_start = index
            if ATTRIBUTION.match(line.lstrip()):
                run_start = None  # this quotation is attributed; a following `>` line starts anew
            continue
        if run_start is not None and any(l.strip(" >") for l in lines[run_start:index]):
            found.append(run_start)
        run_start = None
    return found
