"""The reminders page's one form: the "Gửi ngay" button (CSRF only)."""
from wtforms import SubmitField

from ..forms import Form


class SendNowForm(Form):
    """Start a run of the reminders now, as the daily command would."""

    submit = SubmitField("Gửi ngay")
