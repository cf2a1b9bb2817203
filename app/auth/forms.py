"""Forms for signing in and changing a password."""
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length

from .passwords import DEFAULT_MIN_LENGTH, PasswordRules

#: the default of PASSWORD_MIN_LENGTH, for forms built before the app is (admin forms import it)
MIN_PASSWORD_LENGTH = DEFAULT_MIN_LENGTH


class LoginForm(FlaskForm):
    username = StringField("Tên đăng nhập hoặc email",
                           validators=[DataRequired("Vui lòng nhập tên đăng nhập."), Length(max=255)])
    password = PasswordField("Mật khẩu", validators=[DataRequired("Vui lòng nhập mật khẩu.")])
    remember = BooleanField("Ghi nhớ đăng nhập trên thiết bị này")
    submit = SubmitField("Đăng nhập")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Mật khẩu hiện tại",
                                     validators=[DataRequired("Vui lòng nhập mật khẩu hiện tại.")])
    new_password = PasswordField("Mật khẩu mới", validators=[
        DataRequired("Vui lòng nhập mật khẩu mới."), PasswordRules(user=lambda: current_user),
    ], description=f"Ít nhất {MIN_PASSWORD_LENGTH} ký tự; không dùng mật khẩu phổ biến hay tên đăng nhập của mình.")
    confirm = PasswordField("Nhập lại mật khẩu mới", validators=[
        DataRequired("Vui lòng nhập lại mật khẩu mới."),
        EqualTo("new_password", message="Hai lần nhập mật khẩu mới không khớp."),
    ])
    submit = SubmitField("Đổi mật khẩu")


class EmptyForm(FlaskForm):
    """A form with only the CSRF token, for buttons that POST."""

    submit = SubmitField("Xác nhận")


class ForgotPasswordForm(FlaskForm):
    login = StringField("Tên đăng nhập hoặc email",
                        validators=[DataRequired("Vui lòng nhập tên đăng nhập hoặc email."), Length(max=255)])
    submit = SubmitField("Gửi liên kết đặt lại mật khẩu")


class ChooseNewPasswordForm(FlaskForm):
    """Setting a password through a link: the rules are checked against the link's account."""

    new_password = PasswordField("Mật khẩu mới", validators=[DataRequired("Vui lòng nhập mật khẩu mới.")],
                                 description=f"Ít nhất {MIN_PASSWORD_LENGTH} ký tự; không dùng mật khẩu phổ "
                                             "biến hay tên đăng nhập của mình.")
    confirm = PasswordField("Nhập lại mật khẩu mới", validators=[
        DataRequired("Vui lòng nhập lại mật khẩu mới."),
        EqualTo("new_password", message="Hai lần nhập mật khẩu mới không khớp."),
    ])
    submit = SubmitField("Lưu mật khẩu")
