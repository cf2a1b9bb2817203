"""Pages opened from e-mail: set a password through an invitation, ask for and use a reset link."""
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, logout_user

from ..extensions import db, limiter
from ..reminders.mail import SmtpMailer
from . import links
from .forms import ChooseNewPasswordForm, ForgotPasswordForm
from .services import AccountError, find_user_by_login

bp = Blueprint("account", __name__, url_prefix="/account", template_folder="templates")

#: the one answer to a reset request, whether or not the account exists
RESET_ANSWER = ("Nếu tên đăng nhập hoặc email này thuộc một tài khoản đang hoạt động, chúng tôi đã gửi "
                "liên kết đặt lại mật khẩu tới email của tài khoản. Hãy kiểm tra hộp thư (cả mục thư rác).")


def _reset_account_key() -> str:
    """The account asked about, however it was typed (username or e-mail); the text if none."""
    login = request.form.get("login", "").strip().lower()
    user = find_user_by_login(db.session, login) if login else None
    return f"reset-account:{user.id}" if user is not None else f"reset-login:{login}"


@bp.route("/forgot", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RESET_RATE_LIMIT_PER_ADDRESS"], methods=["POST"])
@limiter.limit(lambda: current_app.config["RESET_RATE_LIMIT_PER_ACCOUNT"], methods=["POST"],
               key_func=_reset_account_key)
def forgot():
    """Ask for a reset link; the answer never tells whether the account exists."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        # The link is made and mailed once the answer has left: the answer, and its time, are the
        # same whether or not the account exists.
        response = redirect(url_for("account.forgot_sent"))
        app, login = current_app._get_current_object(), form.login.data
        response.call_on_close(lambda: _reset_quietly(app, login))
        return response
    return render_template("account/forgot.html", form=form)


def _reset_quietly(app, login: str) -> None:
    """After the answer (its own app context: the request's is gone): the link, then the mail."""
    with app.app_context():
        try:
            link = links.request_reset(db.session, login)
            db.session.commit()
            if link is not None:
                links.send_mail(SmtpMailer(app.config), links.reset_mail(link))
        except Exception:  # noqa: BLE001 (the person asks again; the server keeps going)
            db.session.rollback()
            app.logger.exception("password reset for %r failed", login)


@bp.route("/forgot/sent")
def forgot_sent():
    """The same answer for everyone."""
    return render_template("account/forgot_sent.html", message=RESET_ANSWER)


@bp.route("/invitation/<token>", methods=["GET", "POST"], endpoint="invitation")
@bp.route("/reset/<token>", methods=["GET", "POST"], endpoint="reset")
# As sign-in: a whole office behind one address may be setting passwords from its invitations at once.
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"], methods=["POST"])
def choose_password(token: str):
    """Choose a password through a link from an e-mail; the link then stops working."""
    purpose = "invitation" if request.endpoint == "account.invitation" else "reset"
    link = links.find_link(db.session, token, purpose)
    if link is None:
        return render_template("account/link_invalid.html", purpose=purpose), 410
    form = ChooseNewPasswordForm()
    if form.validate_on_submit():
        try:
            user = links.use_link(db.session, link, form.new_password.data)
        except AccountError as error:
            db.session.rollback()
            form.new_password.errors.append(str(error))
        else:
            db.session.commit()
            if current_user.is_authenticated:
                logout_user()
            flash(f"Đã lưu mật khẩu mới cho «{user.username}». Hãy đăng nhập.", "success")
            return redirect(url_for("auth.login"))
    response = current_app.make_response(render_template(
        "account/choose_password.html", form=form, person=link.user, purpose=purpose,
        label=links.PURPOSE_LABELS[purpose]))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the link must not leak to another site
    return response
