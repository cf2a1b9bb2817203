"""Forms of the authoring pages. A form turns into the entry its file would hold, and back, so the
rules of `flask content check` judge it; their errors are placed beside the field they name."""
from __future__ import annotations

import re

from wtforms import (BooleanField, FieldList, FormField, HiddenField, IntegerField, SelectField,
                     SelectMultipleField, StringField, SubmitField, TextAreaField)
from wtforms.validators import Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from ..content.files import ContentError
from ..forms import Form, GetForm, SubForm

TYPE_LABELS = {"single": "Một lựa chọn", "multiple": "Nhiều lựa chọn", "true_false": "Đúng/Sai",
               "select_parts": "Chọn phần vi phạm"}
DIFFICULTY_LABELS = {"easy": "Dễ", "medium": "Trung bình", "hard": "Khó"}
VERDICT_LABELS = {"violation": "Vi phạm", "lawful": "Không vi phạm", "situation": "Tình huống cần xử lý"}
PLATFORM_LABELS = {"facebook": "Facebook", "zalo": "Zalo", "tiktok": "TikTok", "youtube": "YouTube",
                   "other": "Khác"}
KIND_LABELS = {"post": "Bài đăng", "comment": "Bình luận", "share": "Chia sẻ", "message": "Tin nhắn",
               "group_message": "Tin nhắn nhóm", "video": "Video", "situation": "Tình huống"}
STATUS_CHOICES = [("", "Tất cả"), ("published", "Đã xuất bản"), ("draft", "Có bản nháp"),
                  ("retired", "Ngừng dùng")]
#: rows the editor offers: at least `minimum`, the stored ones plus `spare` empty ones, at most `cap`
ROW_LIMITS = {"choices": (6, 2, 12), "segments": (10, 2, 30), "citations": (3, 2, 20)}
ROW_LABELS = {"choices": "lựa chọn", "segments": "phần", "citations": "trích dẫn"}
_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _text(value: str | None) -> str:
    """Browsers send CRLF line ends; the files (and their hashes) use LF."""
    return (value or "").replace("\r\n", "\n")


def _count(value: str) -> int | str:
    """A reaction count as a number; anything else ("²", "12a") stays text for the checker to refuse."""
    value = value.strip()
    try:
        return int(value) if value.isdecimal() else value
    except ValueError:
        return value


def _keep_order(chosen: list[str], before: list[str] | None) -> list[str]:
    """The chosen values, those already there first in their earlier order, then the new ones: an
    unchanged selection is then the same list (and the same content hash), not a new version."""
    before = [value for value in before or [] if value in chosen]
    return before + [value for value in chosen if value not in before]


def _parse_path(path: str) -> list:
    return [int(index) if index else name for name, index in _PATH_PART.findall(path)]


class QuestionFilterForm(GetForm):
    q = StringField("Tìm theo mã, nội dung (không cần dấu)")
    topic = SelectField("Chủ đề", default="")
    type = SelectField("Loại", choices=[("", "Tất cả")] + list(TYPE_LABELS.items()), default="")
    difficulty = SelectField("Độ khó", choices=[("", "Tất cả")] + list(DIFFICULTY_LABELS.items()), default="")
    status = SelectField("Trạng thái", choices=STATUS_CHOICES, default="")


class LessonFilterForm(GetForm):
    q = StringField("Tìm theo mã, tiêu đề (không cần dấu)")
    course = SelectField("Khóa học", default="")
    status = SelectField("Trạng thái", choices=STATUS_CHOICES, default="")


#: a choice's or a part's key: short, lower-case letters, digits, "_" or "-" (it ends up in the
#: attempt's records and, before opaque keys, in a page's HTML: nothing else belongs there)
CHOICE_KEY = Regexp(r"^\s*[a-z0-9_-]{1,12}\s*$", message="Khóa chỉ gồm chữ thường không dấu, chữ số, "
                    "«_» hoặc «-», tối đa 12 ký tự (ví dụ a, b, c).")


class ChoiceRow(SubForm):
    key = StringField("Khóa", validators=[Optional(), CHOICE_KEY])
    text = StringField("Nội dung lựa chọn")
    correct = BooleanField("Đúng")


class SegmentRow(SubForm):
    key = StringField("Khóa", validators=[Optional(), CHOICE_KEY])
    text = StringField("Nội dung phần")
    violating = BooleanField("Vi phạm")


class CitationRow(SubForm):
    source = SelectField("Nguồn", default="")
    location = StringField("Vị trí trong văn bản")
    quote = TextAreaField("Trích nguyên văn (chọn trong văn bản nguồn)", render_kw={"rows": 3})


class BaseForm(Form):
    """A button-only action on an item (publish or discard the draft, retire, restore), carrying the
    state the page showed so a change made meanwhile by someone else is refused, not overwritten."""

    base = HiddenField(default="")  # missing counts as stale: services compare it


class _ItemForm(BaseForm):
    """Buttons shared by both editors, and errors placed by the checker's field paths."""

    preview = SubmitField("Xem trước")
    save = SubmitField("Lưu nháp")
    publish = SubmitField("Xuất bản")

    #: path prefix → the form row each entry index came from, filled by to_entry()
    _rows: dict[str, list[int]]

    def general_errors(self) -> list[str]:
        return getattr(self, "_general_errors", [])

    def list_errors(self, name: str) -> list[str]:
        return getattr(self, "_list_errors", {}).get(name, [])

    def _add(self, field, message: str) -> None:
        field.errors = list(field.errors or []) + [message]

    def _add_list(self, name: str, message: str) -> None:
        if not hasattr(self, "_list_errors"):
            self._list_errors = {}
        self._list_errors.setdefault(name, []).append(message)

    def add_general(self, message: str) -> None:
        if not hasattr(self, "_general_errors"):
            self._general_errors = []
        self._general_errors.append(message)


class QuestionForm(_ItemForm):
    id = StringField("Mã câu hỏi")
    type = SelectField("Loại câu hỏi", choices=list(TYPE_LABELS.items()), default="single")
    difficulty = SelectField("Độ khó", choices=list(DIFFICULTY_LABELS.items()), default="medium")
    verdict = SelectField("Kết luận của tình huống", choices=list(VERDICT_LABELS.items()), default="violation")
    #: checkboxes, not a multiple select: usable with a thumb on a phone, no Ctrl-click
    topics = SelectMultipleField("Chủ đề", widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    has_scenario = BooleanField("Có thẻ tình huống (bài đăng, tin nhắn…)", default=True)
    platform = SelectField("Nền tảng", choices=list(PLATFORM_LABELS.items()), default="facebook")
    kind = SelectField("Dạng", choices=list(KIND_LABELS.items()), default="post")
    author = StringField("Người đăng (tên hư cấu)")
    group = StringField("Nhóm (nếu có)")
    time = StringField("Thời gian hiển thị")
    text = TextAreaField("Nội dung bài đăng (mọi loại trừ chọn phần vi phạm)", render_kw={"rows": 5})
    image = StringField("Mô tả ảnh (nếu có)")
    reactions = StringField("Tương tác (vd. likes=120, comments=45, shares=12)")
    comments = TextAreaField("Bình luận, mỗi dòng «Tên: nội dung»", render_kw={"rows": 3})
    # No max_entries: WTForms would assert on a longer stored list and drop extra posted rows;
    # the cap is a Vietnamese error from validate() instead.
    segments = FieldList(FormField(SegmentRow))
    prompt = TextAreaField("Câu hỏi", render_kw={"rows": 2})
    answer = SelectField("Đáp án (câu Đúng/Sai)", choices=[("true", "Đúng"), ("false", "Sai")], default="true")
    choices = FieldList(FormField(ChoiceRow))
    explanation = TextAreaField("Giải thích (hiện sau khi nộp bài)", render_kw={"rows": 4})
    citations = FieldList(FormField(CitationRow))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.is_submitted():
            return  # the posted rows already hold the page's spare ones; added rows would be None
        for name, (minimum, spare, cap) in ROW_LIMITS.items():
            field_list = self[name]
            # The target is fixed before adding: measured as rows are added, "spare" rows past the
            # last one grew the list to the cap (20 empty citation rows made the editor 130 KB).
            target = min(max(minimum, len(field_list) + spare), cap)
            while len(field_list) < target:
                field_list.append_entry()

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for name, (_, _, cap) in ROW_LIMITS.items():
            if len(self[name]) > cap:
                self._add_list("scenario.segments" if name == "segments" else name,
                               f"Tối đa {cap} {ROW_LABELS[name]}: hãy bớt các dòng thừa.")
                valid = False
        return valid

    def set_choices(self, topics: list[tuple[str, str]], sources: list[tuple[str, str]]) -> None:
        self.topics.choices = topics
        for row in self.citations:
            row.form.source.choices = [("", "— Chọn nguồn —")] + sources

    # -- form → entry ------------------------------------------------------------------------------
    def to_data(self, slug: str | None, initial: dict | None = None) -> dict:
        """What a question draft holds: its bank entry (the slug, once set, stays); topics keep the
        order of `initial` (the state edited), as a multiple select posts them in the list's order."""
        entry = self.to_entry()
        entry["id"] = slug or entry["id"]
        entry["topics"] = _keep_order(entry["topics"], (initial or {}).get("topics"))
        return entry

    @classmethod
    def initial(cls, data: dict) -> dict:
        return cls.data_from_entry(data)

    def to_entry(self) -> dict:
        """The bank entry this form describes; empty rows are left out."""
        self._rows = {}
        qtype = self.type.data
        entry = {"id": (self.id.data or "").strip(), "type": qtype, "difficulty": self.difficulty.data,
                 "verdict": self.verdict.data, "topics": list(self.topics.data or [])}
        if self.has_scenario.data:
            entry["scenario"] = self._scenario(qtype)
        entry["prompt"] = _text(self.prompt.data).strip()
        if qtype == "true_false":
            entry["answer"] = self.answer.data == "true"
        elif qtype != "select_parts":
            entry["choices"] = self._rows_of("choices", self.choices, lambda f: {
                "key": f.key.data.strip(), "text": _text(f.text.data).strip(), **({"correct": True} if f.correct.data else {})})
        entry["explanation"] = _text(self.explanation.data).strip()
        entry["citations"] = self._rows_of("citations", self.citations, lambda f: {
            "source": f.source.data or "", "location": _text(f.location.data).strip(),
            **({"quote": _text(f.quote.data).strip()} if (f.quote.data or "").strip() else {})})
        return entry

    def _scenario(self, qtype: str) -> dict:
        scenario = {"platform": self.platform.data, "kind": self.kind.data}
        for name in ("author", "group", "time"):
            value = _text(getattr(self, name).data).strip()
            if value:
                scenario[name] = value
        if qtype == "select_parts":
            scenario["segments"] = self._rows_of("scenario.segments", self.segments, lambda f: {
                "key": f.key.data.strip(), "text": _text(f.text.data).strip(),
                **({"violating": True} if f.violating.data else {})})
        else:
            scenario["text"] = _text(self.text.data)
        if (self.image.data or "").strip():
            scenario["image"] = self.image.data.strip()
        reactions = {}
        for part in (self.reactions.data or "").split(","):
            name, _, count = part.partition("=")
            if name.strip():
                reactions[name.strip()] = _count(count)
        if reactions:
            scenario["reactions"] = reactions
        comments = []
        for line in _text(self.comments.data).split("\n"):
            if line.strip():
                author, _, text = line.partition(":")
                comments.append({"author": author.strip(), "text": text.strip()})
        if comments:
            scenario["comments"] = comments
        return scenario

    def _rows_of(self, name: str, field_list, build) -> list[dict]:
        items, rows = [], []
        for index, row in enumerate(field_list):
            item = build(row.form)
            if any(value not in ("", None, False) for value in item.values()):
                items.append(item)
                rows.append(index)
        self._rows[name] = rows
        return items

    # -- entry → form ------------------------------------------------------------------------------
    @staticmethod
    def data_from_entry(entry: dict) -> dict:
        scenario = entry.get("scenario")
        data = {key: entry.get(key) for key in ("id", "type", "difficulty", "verdict", "topics", "prompt",
                                                 "explanation")}
        data["has_scenario"] = scenario is not None
        if scenario:
            data.update({key: scenario.get(key, "") for key in ("platform", "kind", "author", "group", "time",
                                                                "text", "image")})
            data["reactions"] = ", ".join(f"{k}={v}" for k, v in (scenario.get("reactions") or {}).items())
            data["comments"] = "\n".join(f"{c['author']}: {c['text']}" for c in scenario.get("comments") or [])
            data["segments"] = [{"key": s["key"], "text": s["text"], "violating": bool(s.get("violating"))}
                                for s in scenario.get("segments") or []]
        data["answer"] = "true" if entry.get("answer") else "false"
        data["choices"] = [{"key": c["key"], "text": c["text"], "correct": bool(c.get("correct"))}
                           for c in entry.get("choices") or []]
        data["citations"] = [{"source": c["source"], "location": c["location"], "quote": c.get("quote") or ""}
                             for c in entry.get("citations") or []]
        return data

    # -- errors beside their fields ----------------------------------------------------------------
    _SCENARIO_FIELDS = ("platform", "kind", "author", "group", "time", "text", "image", "reactions", "comments")
    _TOP_FIELDS = ("id", "type", "difficulty", "verdict", "topics", "prompt", "answer", "explanation")

    def place_errors(self, errors: list[ContentError]) -> None:
        for error in errors:
            parts = _parse_path(error.field)
            if not self._place(parts, error.message):
                self.add_general(error.message)

    def _place(self, parts: list, message: str) -> bool:
        if not parts:
            return False
        head = parts[0]
        if head in self._TOP_FIELDS:
            self._add(self[head], message)
            return True
        if head == "scenario":
            if len(parts) == 1:
                self._add(self.has_scenario, message)
                return True
            if parts[1] in self._SCENARIO_FIELDS:
                self._add(self[parts[1]], message)
                return True
            if parts[1] == "segments":
                return self._place_row("scenario.segments", self.segments, parts[2:], message, "text")
            return False
        if head in ("choices", "citations"):
            default = "text" if head == "choices" else "source"
            return self._place_row(head, self[head], parts[1:], message, default)
        return False

    def _place_row(self, name: str, field_list, rest: list, message: str, default: str) -> bool:
        if not rest or not isinstance(rest[0], int):
            self._add_list(name, message)
            return True
        rows = getattr(self, "_rows", {}).get(name, [])
        if rest[0] >= len(rows):
            self._add_list(name, message)
            return True
        row = field_list[rows[rest[0]]].form
        subfield = rest[1] if len(rest) > 1 and rest[1] in row._fields else default
        self._add(row[subfield], message)
        return True


class LessonForm(_ItemForm):
    id = StringField("Mã bài học")
    course = SelectField("Khóa học")
    order = IntegerField("Thứ tự trong khóa", validators=[Optional()])
    title = StringField("Tiêu đề")
    summary = TextAreaField("Tóm tắt", render_kw={"rows": 2})
    minutes = IntegerField("Thời lượng đọc (phút)", validators=[Optional()])
    sources = SelectMultipleField("Nguồn được trích trong bài", render_kw={"size": 6})
    body = TextAreaField("Nội dung (Markdown)", render_kw={"rows": 24, "class": "font-monospace"})

    def to_data(self, slug: str | None, initial: dict | None = None) -> dict:
        """What a lesson draft holds: the front matter and the body (the slug, once set, stays);
        sources keep the order of `initial` (the state edited)."""
        meta, body = self.to_entry()
        meta["id"] = slug or meta["id"]
        meta["sources"] = _keep_order(meta["sources"], ((initial or {}).get("meta") or {}).get("sources"))
        return {"meta": meta, "body": body}

    @classmethod
    def initial(cls, data: dict) -> dict:
        return cls.data_from_entry(data["meta"], data["body"])

    def to_entry(self) -> tuple[dict, str]:
        """The front matter and the body this form describes."""
        meta = {"id": (self.id.data or "").strip(), "course": self.course.data or "", "title": (self.title.data or "").strip()}
        for name in ("order", "minutes"):
            if self[name].data is not None:
                meta[name] = self[name].data
        summary = _text(self.summary.data).strip()
        if summary:
            meta["summary"] = summary
        meta["sources"] = list(self.sources.data or [])
        return meta, _text(self.body.data)

    @staticmethod
    def data_from_entry(meta: dict, body: str) -> dict:
        return {**{key: meta.get(key) for key in ("id", "course", "order", "title", "summary", "minutes",
                                                   "sources")}, "body": body}

    def place_errors(self, errors: list[ContentError]) -> None:
        for error in errors:
            parts = _parse_path(error.field)
            if parts and parts[0] in ("id", "course", "order", "title", "summary", "minutes", "sources"):
                self._add(self[parts[0]], error.message)
            elif error.field in ("", "nội dung"):
                where = f"Dòng {error.line}: " if error.line else ""
                self._add(self.body, where + error.message)
            else:
                self.add_general(error.message)

