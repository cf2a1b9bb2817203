"""Base forms shared by every feature: CSRF from Flask-WTF and WTForms' messages in Vietnamese."""
import wtforms
from flask_wtf import FlaskForm


class _VietnameseMessages:
    """WTForms ships no Vietnamese translation: the built-in messages our forms can show."""

    MESSAGES = {
        "Not a valid choice.": "Lựa chọn không hợp lệ.",
        "Not a valid choice": "Lựa chọn không hợp lệ.",
        "Invalid Choice: could not coerce.": "Lựa chọn không hợp lệ.",
        "Invalid choice(s): one or more data inputs could not be coerced.": "Lựa chọn không hợp lệ.",
        "Not a valid date value.": "Ngày không hợp lệ.",
        "Not a valid integer value.": "Số không hợp lệ.",
        "Not a valid decimal value.": "Số không hợp lệ.",
        "Not a valid float value.": "Số không hợp lệ.",
        "This field is required.": "Trường này là bắt buộc.",
    }

    def gettext(self, string: str) -> str:
        return self.MESSAGES.get(string, string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)


def bounded_int(value) -> int:
    """`coerce` for a select of ids: a number no table holds is not a choice (not a database error)."""
    from .pagination import MAX_ID

    number = int(value)
    if not 0 <= number <= MAX_ID:
        raise ValueError("out of range")
    return number


class Form(FlaskForm):
    """The base of every form: CSRF from Flask-WTF, messages in Vietnamese."""

    class Meta:
        def get_translations(self, form):
            return _VietnameseMessages()


class GetForm(Form):
    """A filter read from the query string: nothing changes, so no CSRF token."""

    class Meta:
        csrf = False


class SubForm(wtforms.Form):
    """A row inside a form (FieldList of FormField): no CSRF of its own, messages in Vietnamese."""

    class Meta:
        def get_translations(self, form):
            return _VietnameseMessages()
