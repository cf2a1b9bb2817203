"""The rules for passwords people choose, in one place: long enough, not common, not their name.

`validate_password()` is for services and commands, `PasswordRules` for forms. They apply to a
password a person types (changing their own, an administrator setting one); generated temporary
passwords and test or demo fixtures do not go through them.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from flask import current_app
from wtforms.validators import ValidationError

from ..content.text import strip_diacritics
from .services import AccountError

COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")
DEFAULT_MIN_LENGTH = 10
MAX_LENGTH = 128
#: what people pad a weak word with: "matkhau2026!", "admin@123"
_PADDING = re.compile(r"[\W\d_]+$")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def _variants(text: str) -> set[str]:
    """The password as compared: no diacritics, lower case, with and without separators and padding."""
    plain = strip_diacritics(text.strip())
    letters_digits = re.sub(r"[\W_]+", "", plain)
    return {plain, letters_digits, _PADDING.sub("", plain), _PADDING.sub("", letters_digits)} - {""}


def min_length() -> int:
    return current_app.config.get("PASSWORD_MIN_LENGTH", DEFAULT_MIN_LENGTH)


def password_problems(password: str, *, username: str | None = None, email: str | None = None,
                      full_name: str | None = None) -> list[str]:
    """What is wrong with `password`, in Vietnamese; empty when it may be used."""
    password = password or ""
    shortest = min_length()
    if not shortest <= len(password) <= MAX_LENGTH:
        return [f"Mật khẩu phải có từ {shortest} đến {MAX_LENGTH} ký tự."]
    problems = []
    variants = _variants(password)
    if variants & common_passwords():
        problems.append("Mật khẩu này quá phổ biến, dễ bị đoán. Vui lòng chọn mật khẩu khác.")
    identity = set()
    for value in (username, email, (email or "").split("@")[0], full_name):
        if value:
            identity |= _variants(value)
    if variants & identity:
        problems.append("Mật khẩu không được trùng với tên đăng nhập, email hoặc họ tên.")
    if len(set(password)) < 4:
        problems.append("Mật khẩu có quá ít ký tự khác nhau.")
    return problems


def validate_password(password: str, user=None, *, field: str = "password", **identity) -> None:
    """Raise AccountError (on `field`) unless `password` follows the rules; `user` supplies the names."""
    if user is not None:
        identity = {"username": user.username, "email": user.email, "full_name": user.full_name, **identity}
    problems = password_problems(password, **identity)
    if problems:
        raise AccountError(problems[0], field=field)


class PasswordRules:
    """WTForms validator: the rules above, compared with the form's username/email fields if any.

    Put it after `Optional()` where an empty field means "generate one".
    """

    def __init__(self, user=None):
        self.user = user  # a callable returning the account, e.g. lambda: current_user

    def __call__(self, form, field) -> None:
        identity = {name: form[name].data for name in ("username", "email", "full_name")
                    if name in form and isinstance(form[name].data, str)}
        user = self.user() if callable(self.user) else self.user
        if user is not None and getattr(user, "is_authenticated", True):
            identity = {"username": user.username, "email": user.email, "full_name": user.full_name,
                        **identity}
        problems = password_problems(field.data or "", **identity)
        if problems:
            raise ValidationError(problems[0])
