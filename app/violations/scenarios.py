"""Back into training: a closed case becomes a draft question whose real details are placeholders.

Every name, handle, phone number, e-mail, link and place found in the case is replaced by a marker
such as ⟦TÊN 1⟧. The content checks refuse any marker left in (`content.text.PLACEHOLDER`), and for a
draft made here also any word that was replaced, any phone number and any link
(`scenario_errors`, called by the authoring checks), so the trainer must invent new ones before the
draft can be published.
"""
from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit import record
from ..content.files import ContentError
from ..content.text import phone_numbers
from ..models import ContentDraft, User
from .models import ViolationCase, ViolationScenario
from .services import COMMON_VIOLATIONS, KIND_SOURCES, TWELVE_KINDS, ViolationError

#: the question bank's topic for each kind (quizzes/topics.yaml lists them in the letters' order)
KIND_TOPICS = dict(zip(
    [key for key, _, _ in TWELVE_KINDS + COMMON_VIOLATIONS],
    ["sai-su-that-vu-khong", "bi-mat-doi-tu", "chong-nha-nuoc", "kich-dong-bao-luc", "xuyen-tac-lich-su",
     "trai-loi-ich-dat-nuoc", "me-tin-thuan-phong", "tac-pham-cam", "gia-mao-trang", "mieu-ta-bao-luc",
     "ban-do-chu-quyen", "trich-dan-sai-nguon", "pho-bien-du-lieu-benh-nhan", "pho-bien-van-ban-noi-bo",
     "pho-bien-sai-su-that"]))
SCENARIO_PLATFORMS = {"facebook": "facebook", "zalo": "zalo", "tiktok": "tiktok", "youtube": "youtube"}

_URL = re.compile(r"(?:https?://|www\.)\S+|\b[\w-]+(?:\.[\w-]+)*\.(?:vn|com|net|org|me|ly|gl)(?:/\S*)?", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<!\d)(?:\+?84|0)\d(?:[ .-]?\d){7,11}(?!\d)")
_HANDLE = re.compile(r"(?<![\w@])@[\w.]{2,}")
_LOWER = "a-zđàáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ"
_UPPER = "A-ZĐÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴ"
#: a capitalised Vietnamese word ("Khương", "Đức")
_WORD = rf"[{_UPPER}][{_LOWER}]+"
#: a place: an administrative word then capitalised words ("xã Tân Phong", "thôn Nà Rầy")
_PLACE = re.compile(rf"\b(?:[Xx]ã|[Pp]hường|[Tt]hôn|[Bb]ản|[Hh]uyện|[Tt]ỉnh|[Tt]hành phố|[Tt]ổ dân phố|[Xx]óm|[Ấấ]p)"
                    rf"(?:\s+{_WORD})+")
#: a person's name: two to four capitalised words in a row
_NAME = re.compile(rf"\b{_WORD}(?:\s+{_WORD}){{1,3}}\b")


class Anonymiser:
    """Replaces what is real by numbered placeholders, the same text always by the same one."""

    def __init__(self) -> None:
        self.replaced: dict[str, str] = {}
        self.counts: dict[str, int] = {}

    def _marker(self, label: str, real: str) -> str:
        if real not in self.replaced:
            self.counts[label] = self.counts.get(label, 0) + 1
            self.replaced[real] = f"⟦{label} {self.counts[label]}⟧"
        return self.replaced[real]

    def __call__(self, text: str, known_names: list[str] = ()) -> str:
        for label, pattern in (("EMAIL", _EMAIL), ("ĐƯỜNG LINK", _URL), ("SỐ ĐIỆN THOẠI", _PHONE),
                               ("TÀI KHOẢN", _HANDLE), ("ĐỊA DANH", _PLACE)):
            text = pattern.sub(lambda m, label=label: self._marker(label, m.group(0)), text)
        for name in sorted(filter(None, known_names), key=len, reverse=True):
            text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", lambda m: self._marker("TÊN", m.group(0)), text)

        def name(match: re.Match) -> str:
            # A sentence may start with a capital: only runs that are not at a sentence start count
            # as names unless they are three words or more.
            words = match.group(0).split()
            start = match.start()
            at_sentence_start = start == 0 or text[:start].rstrip()[-1:] in ".!?:\n"
            if at_sentence_start and len(words) < 3:
                return match.group(0)
            return self._marker("TÊN", match.group(0))

        return _NAME.sub(name, text)


def make_draft(session: Session, case: ViolationCase, actor: User) -> ContentDraft:
    """A draft question (kind "question") from a closed case; the view has checked the trainer may."""
    if not case.is_closed:
        raise ViolationError("Chỉ tạo tình huống từ vụ việc đã kết thúc.")
    anonymise = Anonymiser()
    names = [report.reporter.full_name for report in case.reports]
    description = "\n".join(anonymise(report.description, names) for report in case.reports)
    anonymise(case.url)
    slug = f"q-{case.code.lower()}"  # "q-vp-7mev9y4l"
    if session.scalar(select(ContentDraft.id).where(ContentDraft.kind == "question", ContentDraft.slug == slug)):
        raise ViolationError(f"Vụ việc này đã có bản nháp tình huống «{slug}».")
    kind_quote = dict((key, quote) for key, _, quote in TWELVE_KINDS + COMMON_VIOLATIONS)[case.kind]
    source = KIND_SOURCES["twelve" if case.kind in dict((k, 1) for k, _, _ in TWELVE_KINDS) else "common"]
    entry = {
        "id": slug, "type": "single", "difficulty": "medium", "verdict": "violation",
        "topics": [KIND_TOPICS[case.kind]],
        "scenario": {"platform": SCENARIO_PLATFORMS.get(case.platform, "other"), "kind": "post",
                     "author": "⟦TÊN TÀI KHOẢN ĐĂNG BÀI⟧", "text": description},
        "prompt": "Bài đăng này có dấu hiệu vi phạm nào? ⟦SỬA CÂU HỎI NẾU CẦN⟧",
        "choices": [{"key": "a", "text": "⟦ĐÁP ÁN ĐÚNG⟧", "correct": True},
                    {"key": "b", "text": "⟦PHƯƠNG ÁN SAI 1⟧"}, {"key": "c", "text": "⟦PHƯƠNG ÁN SAI 2⟧"}],
        "explanation": "⟦GIẢI THÍCH: vì sao đây là vi phạm, nên làm gì khi gặp (lưu chứng cứ, báo cáo)⟧",
        "citations": [{"source": source, "location": "⟦VỊ TRÍ TRÍCH DẪN⟧", "quote": kind_quote}],
    }
    draft = ContentDraft(kind="question", slug=slug, data=entry, updated_by_id=actor.id)
    session.add(draft)
    session.add(ViolationScenario(case_id=case.id, draft_slug=slug, replaced=sorted(anonymise.replaced),
                                  created_by_id=actor.id))
    session.flush()
    record(session, actor, "violation.scenario_drafted", case, after={"draft": slug},
           summary=f"Bản nháp tình huống «{slug}» từ vụ việc {case.code}")
    return draft


def _texts(value, path=()):
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _texts(item, path + (index,))


def scenario_errors(session: Session, slug: str | None, entry: dict) -> list[ContentError]:
    """For a draft made from a case: no word that was replaced, no phone number, no link left in."""
    if not slug or not isinstance(entry, dict):
        return []
    origin = session.scalar(select(ViolationScenario).where(ViolationScenario.draft_slug == slug))
    if origin is None:
        return []
    errors = []
    for path, text in _texts({key: entry.get(key) for key in ("scenario", "prompt", "choices", "explanation")}):
        field = ".".join(str(part) for part in path)
        folded = text.casefold()
        for real in origin.replaced:
            if real.casefold() in folded:
                errors.append(ContentError("biểu mẫu", None, field,
                                           f"tình huống còn chi tiết thật «{real}» của vụ việc; hãy thay bằng chi tiết hư cấu"))
        if phone_numbers(text) or _PHONE.search(text):
            errors.append(ContentError("biểu mẫu", None, field, "tình huống từ vụ việc không được có số điện thoại"))
        if _URL.search(text) or _EMAIL.search(text):
            errors.append(ContentError("biểu mẫu", None, field,
                                       "tình huống từ vụ việc không được có đường link hay địa chỉ email"))
    return errors
