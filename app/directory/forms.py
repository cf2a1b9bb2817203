"""The button that starts sign-in through the province's OpenID Connect provider."""
from flask_wtf import FlaskForm
from wtforms import HiddenField, SubmitField


class OidcSignInForm(FlaskForm):
    """A POST behind CSRF: where to go afterwards travels with it, checked like the password form's."""

    next = HiddenField()
    submit = SubmitField("Đăng nhập")
