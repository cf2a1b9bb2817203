"""Text normalisation shared by the quotation check and the real-name check."""
import re
import unicodedata

_TYPOGRAPHIC_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'"})
_EMPHASIS = re.compile(r"[*_]")
_SPACE = re.compile(r"\s+")
_PHONE = re.compile(r"(?<!\d)0\d(?:[ .]?\d){7,11}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
#: a blank left for an author to fill, e.g. ⟦TÊN 1⟧ in a draft made from a violation report
PLACEHOLDER = re.compile(r"⟦[^⟧]*⟧")


def normalize_quote_text(text: str) -> str:
    """Fold what a quotation may legitimately differ by: whitespace, emphasis, escapes, quote marks."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\\", "")
    text = _EMPHASIS.sub("", text)
    text = text.translate(_TYPOGRAPHIC_QUOTES)
    return _SPACE.sub(" ", text).strip()


def strip_diacritics(text: str) -> str:
    """"Nguyễn Văn A" → "nguyen van a": for searching names however they are typed."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    return text.casefold()


def contains_name(text: str, name: str) -> bool:
    """True when `name` appears in `text` as whole words, with or without diacritics."""
    pattern = r"(?<!\w)" + re.escape(strip_diacritics(name)) + r"(?!\w)"
    return re.search(pattern, strip_diacritics(text)) is not None


def phone_numbers(text: str) -> set[str]:
    return {re.sub(r"\D", "", match) for match in _PHONE.findall(text)}


def email_addresses(text: str) -> set[str]:
    return {match.casefold() for match in _EMAIL.findall(text)}
