"""Turning lesson Markdown and letters into safe HTML, with numbered citations and highlights."""
from __future__ import annotations

import re
from dataclasses import dataclass

import nh3
import yaml
from flask import get_template_attribute
from markdown_it import MarkdownIt
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..content.files import (
    CALLOUT_KINDS,
    CONTAINER_CLOSE,
    CONTAINER_OPEN,
    CURRENT_CONTACT,
    POST_CONTAINER,
    body_citations,
)
from ..models import Citation, Lesson, QuestionVersion
from .services import kept_by_content

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")

ALLOWED_TAGS = {"p", "h2", "h3", "h4", "ul", "ol", "li", "strong", "em", "a", "blockquote", "code",
                "pre", "hr", "br", "table", "thead", "tbody", "tr", "th", "td", "sup"}


def render_markdown(text: str) -> Markup:
    """Markdown to HTML, sanitised: raw HTML is never rendered and scripts never survive."""
    html = _markdown.render(text)
    clean = nh3.clean(html, tags=ALLOWED_TAGS, attributes={"a": {"href", "title"}, "th": {"align"},
                                                         "td": {"align"}},
                      url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")
    return Markup(clean)


def render_inline(text: str) -> Markup:
    """A short Markdown text (a quotation) rendered without its paragraph: *…* becomes emphasis."""
    html = str(render_markdown(text)).strip()
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        html = html[3:-4]
    return Markup(html)


@dataclass
class Note:
    number: int
    citation: Citation


def render_lesson(lesson: Lesson, source_url, current_contacts: dict[str, str | None]) -> tuple[Markup, list[Note]]:
    """The lesson body as HTML with citations numbered [1], [2]… linking to the source viewer.

    `source_url(citation)` builds a citation's link; `current_contacts` maps a source slug to the
    contact an administrator has set (or None).
    """
    lines = lesson.body_md.split("\n")
    notes: list[Note] = []
    markers = body_citations(lesson.body_md)
    # The loader stored the citations in this same reading order, so the n-th marker is the n-th row.
    for number, (marker, citation) in enumerate(zip(markers, lesson.citations), 1):
        notes.append(Note(number, citation))
        href = source_url(citation)
        if marker.quote is not None:
            # A blank quoted line first: the attribution becomes its own paragraph in the quote.
            text = f">\n> — [Nguồn [{number}]: {citation.source.issuer}, {citation.location}]({href})"
        else:
            text = f"[[{number}]]({href})"
        markers_line = lines[marker.body_index]
        start, end = marker.span
        lines[marker.body_index] = markers_line[:start] + "\x00" * (end - start) + markers_line[end:]
        marker.replacement = text
    # Replace right to left on each line so earlier spans stay valid.
    for marker in sorted(markers[: len(notes)], key=lambda m: (m.body_index, -m.span[0])):
        start, end = marker.span
        line = lines[marker.body_index]
        lines[marker.body_index] = line[:start] + marker.replacement + line[end:]
    body = "\n".join(lines)
    body = CURRENT_CONTACT.sub(lambda m: _contact_markdown(current_contacts.get(m.group(1))), body)
    return render_with_containers(body), notes


def render_with_containers(body: str) -> Markup:
    """Markdown with its `::: kind` containers: a callout becomes a card of its own (never a
    blockquote, which is kept for verbatim quotations), an example post the platform card the
    quizzes show. Each container is rendered and sanitised on its own, then put in its place."""
    lines, kept, fragments = body.split("\n"), [], []
    index = 0
    while index < len(lines):
        match = CONTAINER_OPEN.match(lines[index])
        end = next((i for i in range(index + 1, len(lines)) if CONTAINER_CLOSE.match(lines[i])), None)
        if not match or end is None:
            kept.append(lines[index])
            index += 1
            continue
        token = f"LESSONCONTAINER{len(fragments)}X"
        fragments.append((token, _container_html(match.group(1), "\n".join(lines[index + 1:end]))))
        kept += ["", token, ""]
        index = end + 1
    html = str(render_markdown("\n".join(kept)))
    for token, fragment in fragments:
        html = html.replace(f"<p>{token}</p>", fragment)
    return Markup(html)


def _container_html(kind: str, text: str) -> str:
    if kind == POST_CONTAINER:
        try:
            scenario = yaml.safe_load(text)
        except yaml.YAMLError:
            scenario = None
        if isinstance(scenario, dict):
            card = get_template_attribute("learn/_macros.html", "scenario_card")
            return str(Markup('<div class="lesson-post">{}<p class="lesson-post-note">Bài đăng minh họa: '
                              'người, trang và địa danh đều là hư cấu.</p></div>').format(card(scenario)))
        return str(render_markdown(text))  # `flask content check` refuses this; never lose the text
    label = CALLOUT_KINDS.get(kind, "Ghi chú")
    return str(Markup('<aside class="lesson-callout lesson-callout-{}" aria-label="{}">{}</aside>').format(
        kind if kind in CALLOUT_KINDS else "khac", label, render_markdown(text)))


#: rendered lesson bodies of this process: (lesson id, everything the HTML depends on) → (HTML, notes)
_rendered_lessons: dict[tuple, tuple[Markup, int]] = {}
RENDERED_LESSONS_KEPT = 256


def render_lesson_cached(lesson: Lesson, source_url,
                         current_contacts: dict[str, str | None]) -> tuple[Markup, list[Note]]:
    """render_lesson, keeping the HTML per process: Markdown is most of a lesson page's cost, and the
    HTML changes only with the body, the citations' sources or a contact (all part of the key)."""
    key = (lesson.id, lesson.body_md, tuple(sorted(current_contacts.items())),
           tuple((c.id, c.source.slug, c.source.issuer, c.location, c.quote) for c in lesson.citations))
    cached = _rendered_lessons.get(key)
    if cached is None:
        body, notes = render_lesson(lesson, source_url, current_contacts)
        if len(_rendered_lessons) >= RENDERED_LESSONS_KEPT:
            _rendered_lessons.clear()
        _rendered_lessons[key] = (body, len(notes))
        return body, notes
    body, count = cached
    return body, [Note(number, citation) for number, citation in enumerate(lesson.citations[:count], 1)]


def _contact_markdown(contact: str | None) -> str:
    if not contact:
        return ""
    return f"**Đầu mối tiếp nhận phản ánh hiện nay (do quản trị viên cập nhật):** {contact}"


_QUOTE_CHARS = {'"': "[\"“”„]", "'": "['‘’]"}


def _quote_pattern(quote: str) -> re.Pattern:
    """A pattern finding `quote` in a letter, tolerant of what the quotation check tolerates."""
    from ..content.text import normalize_quote_text

    words = normalize_quote_text(quote).split(" ")
    gap = r"[\s*_\\]+"
    parts = []
    for word in words:
        parts.append("[*_\\\\]*".join(_QUOTE_CHARS.get(ch, re.escape(ch)) for ch in word))
    return re.compile(gap.join(parts))


_letter_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False,
                                             "breaks": True}).enable("table")
_MARK_START, _MARK_END = "\ue000", "\ue001"
_LIST_MARKER = re.compile(r"^(\s*(?:\d+[.)]|[-+*])\s+)")
_MARKDOWN_DELIMITERS = re.compile(r"(\n+|\*+|_+|\\)")


def render_letter(text: str, quote: str | None) -> tuple[Markup, bool]:
    """A letter's Markdown as formatted, sanitised HTML (its line breaks kept), with the quoted
    passage marked: the passage is cut where a paragraph or an emphasis starts or ends, and each
    piece is wrapped in its own <mark>, so that no mark crosses an element; the first has the id
    "trich-dan" that links scroll to."""
    found = False
    if quote:
        match = _quote_pattern(quote).search(text)
        if match:
            found = True
            pieces, at_line_start = [], match.start() == 0 or text[match.start() - 1] == "\n"
            for piece in _MARKDOWN_DELIMITERS.split(match.group(0)):
                if not piece or _MARKDOWN_DELIMITERS.fullmatch(piece) or not piece.strip():
                    pieces.append(piece)
                else:
                    marker = _LIST_MARKER.match(piece) if at_line_start else None
                    head = marker.group(1) if marker else ""
                    pieces.append(head + _MARK_START + piece[len(head):] + _MARK_END)
                at_line_start = piece.endswith("\n")
            text = text[:match.start()] + "".join(pieces) + text[match.end():]
    html = nh3.clean(_letter_markdown.render(text), tags=ALLOWED_TAGS, attributes={"th": {"align"}, "td": {"align"}},
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")
    html = html.replace(_MARK_START, '<mark id="trich-dan">', 1).replace(_MARK_START, "<mark>")
    return Markup(html.replace(_MARK_END, "</mark>")), found


@dataclass(frozen=True)
class QuestionParts:
    """A question as a learner sees it before answering: its type, the scenario card with the prompt,
    and each choice's label by key. Nothing of the correct answer or the explanation."""

    type: str
    #: the scenario card, if any (the prompt is not in it: it names the group of answers)
    body: Markup
    labels: dict[str, Markup]
    prompt: str = ""


def render_question(version) -> QuestionParts:
    """A question version (or the editor's preview standing in for one) through the learner's macros."""
    body = get_template_attribute("learn/_macros.html", "question_body")
    label = get_template_attribute("learn/_macros.html", "choice_label")
    return QuestionParts(version.type, Markup(body(version, with_prompt=False)),
                         {choice["key"]: Markup(label(version.type, choice)) for choice in version.choices
                          if choice.get("key")},  # the editor's preview may hold a choice not keyed yet
                         prompt=version.prompt or "")


#: rendered questions of this process, by content hash (services.kept_by_content)
_rendered_questions: dict[str, QuestionParts] = {}
RENDERED_QUESTIONS_KEPT = 4096


def question_parts(session: Session, versions: dict[int, str]) -> dict[int, QuestionParts]:
    """The rendered parts of these versions ({id: content hash}); only those this process has not
    rendered yet are read (an exam hour shows the same bank thousands of times)."""
    def read(version_ids):
        for version in session.scalars(select(QuestionVersion).where(QuestionVersion.id.in_(version_ids))):
            yield version.content_hash, render_question(version)

    return kept_by_content(_rendered_questions, RENDERED_QUESTIONS_KEPT, versions, read)


@dataclass(frozen=True)
class ReviewParts:
    """A question as the review shows it after submission: the scenario card with the prompt, each
    choice's label by key, the correct keys, and the explanation with its citations."""

    body: Markup
    labels: dict[str, Markup]
    correct_keys: frozenset[str]
    explanation: Markup


def render_review(version) -> ReviewParts:
    """A question version through the review's macros (its citations and their sources loaded)."""
    body = get_template_attribute("learn/_macros.html", "question_body")
    label = get_template_attribute("learn/_macros.html", "choice_label")
    explanation = get_template_attribute("learn/_macros.html", "explanation")
    return ReviewParts(Markup(body(version)),
                       {choice["key"]: Markup(label(version.type, choice)) for choice in version.choices},
                       frozenset(version.correct_keys or ()),
                       Markup(explanation(version, render_markdown, render_inline)))


#: reviewed questions of this process, by content hash: the hash covers the explanation and the
#: citations (content.services.question_hash), and the sources are the shipped letters
_reviewed_questions: dict[str, ReviewParts] = {}
REVIEWED_QUESTIONS_KEPT = 2048


def review_parts(session: Session, versions: dict[int, str]) -> dict[int, ReviewParts]:
    """The review's parts of these versions ({id: content hash}): the submissions of an exam hour
    review the same bank thousands of times, and its Markdown was most of each review."""
    def read(version_ids):
        for version in session.scalars(
                select(QuestionVersion).where(QuestionVersion.id.in_(version_ids))
                .options(selectinload(QuestionVersion.citations).joinedload(Citation.source))):
            yield version.content_hash, render_review(version)

    return kept_by_content(_reviewed_questions, REVIEWED_QUESTIONS_KEPT, versions, read)
