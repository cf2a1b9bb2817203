"""Sign-in, sign-out and change of password."""
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..extensions import db, limiter
from .forms import ChangePasswordForm, EmptyForm, LoginForm
from .services import AccountError, authenticate, change_password
from .sessions import continue_this_session, end_all_sessions

bp = Blueprint("auth", __name__, url_prefix="/auth", template_folder="templates")


def _account_key() -> str:
    return "login-account:" + request.form.get("username", "").strip().lower()


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths, so sign-in cannot be used to redirect elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("learn.home")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"], methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_PER_ACCOUNT"], methods=["POST"],
               key_func=_account_key)
def login():
    """Sign in with a username or email."""
    if current_user.is_authenticated:
        return redirect(url_for("learn.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(db.session, form.username.data, form.password.data)
        db.session.commit()  # failures too: they count towards a lockout
        if user is None:
            # One message for a wrong name, a wrong password, a locked or an inactive account.
            flash("Tên đăng nhập hoặc mật khẩu không đúng.", "danger")
        else:
            login_user(user, remember=form.remember.data)
            flash(f"Xin chào, {user.full_name}!", "success")
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Sign out (POST only, behind CSRF): every cookie issued to the person stops working, so a copy
    left in a shared office browser cannot sign them in again."""
    form = EmptyForm()
    if form.validate_on_submit():
        end_all_sessions(db.session, current_user)
        db.session.commit()
        logout_user()
        flash("Bạn đã đăng xuất.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/sessions/end-others", methods=["POST"])
@login_required
def end_other_sessions():
    """Sign out on every other device (a lost phone, an office computer), staying signed in here."""
    if EmptyForm().validate_on_submit():
        end_all_sessions(db.session, current_user)
        db.session.commit()
        continue_this_session(current_user._get_current_object())
        flash("Đã đăng xuất khỏi mọi thiết bị khác.", "success")
    return redirect(url_for("auth.password"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    """Change one's own password."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            change_password(db.session, current_user, form.current_password.data, form.new_password.data)
        except AccountError as error:
            form[error.field].errors.append(str(error))
        else:
            db.session.commit()
            continue_this_session(current_user._get_current_object())  # the other devices are signed out
            flash("Đã đổi mật khẩu. Các thiết bị khác đã được đăng xuất.", "success")
            return redirect(url_for("learn.home"))
    return render_template("auth/password.html", form=form, sessions_form=EmptyForm())
