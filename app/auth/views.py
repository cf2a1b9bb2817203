"""Sign-in, sign-out and change of password."""
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from itsdangerous import BadData, URLSafeTimedSerializer

from ..directory.services import authenticate_with_password
from ..directory.views import provider_logout_url, sign_in_buttons
from ..extensions import db, limiter
from .forms import ChangePasswordForm, EmptyForm, LoginForm
from .services import AccountError, change_password, find_user_by_login
from .sessions import continue_this_session, end_all_sessions

bp = Blueprint("auth", __name__, url_prefix="/auth", template_folder="templates")


#: a signed cookie naming the accounts that signed in from this browser: the right password from
#: it passes a lockout (services.authenticate)
KNOWN_DEVICE_COOKIE = "known_device"
KNOWN_DEVICE_DAYS = 365


def _device_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="known-device")


def known_device_user_ids() -> list[int]:
    """The accounts that signed in from this browser within KNOWN_DEVICE_DAYS (the signed cookie)."""
    try:
        ids = _device_signer().loads(request.cookies.get(KNOWN_DEVICE_COOKIE, ""),
                                     max_age=KNOWN_DEVICE_DAYS * 24 * 3600)
    except BadData:
        return []
    return [value for value in ids if isinstance(value, int)][:5] if isinstance(ids, list) else []


def _typed_account_id() -> int | None:
    """The account the posted username or e-mail names, read once per request (the limiter asks twice)
    and never for a GET, so showing the sign-in page costs no statement."""
    if request.method != "POST":
        return None
    # Kept on the request, not on `g`: an application context may outlive one request (tests).
    if "typed_account_id" not in request.environ:
        user = find_user_by_login(db.session, request.form.get("username", ""))
        request.environ["typed_account_id"] = user.id if user is not None else None
    return request.environ["typed_account_id"]


def _account_key() -> str:
    """The per-account limit counts the account, however it is named (username or e-mail)."""
    account = _typed_account_id()
    return f"login-account:{account}" if account is not None else \
        "login-name:" + request.form.get("username", "").strip().lower()


def _from_known_device() -> bool:
    account = _typed_account_id()
    return account is not None and account in known_device_user_ids()


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths, so sign-in cannot be used to redirect elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("learn.home")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"], methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_PER_ACCOUNT"], methods=["POST"],
               key_func=_account_key, exempt_when=_from_known_device)
def login():
    """Sign in with a username or email."""
    if current_user.is_authenticated:
        return redirect(url_for("learn.home"))
    form = LoginForm()
    if form.validate_on_submit():
        # The province's LDAP directory first when configured, then the app's own passwords.
        user, refusal = authenticate_with_password(db.session, form.username.data, form.password.data,
                                                   known_device=_from_known_device())
        db.session.commit()  # failures too: they count towards a lockout
        if user is None:
            # One message for a wrong name, a wrong password, a locked or an inactive account;
            # a reason (directory, agency rule) only once the password was right.
            flash(refusal, "danger")
        else:
            login_user(user, remember=form.remember.data)
            flash(f"Xin chào, {user.full_name}!", "success")
            response = redirect(_safe_next(request.args.get("next")))
            known = [user.id] + [other for other in known_device_user_ids() if other != user.id]
            response.set_cookie(KNOWN_DEVICE_COOKIE, _device_signer().dumps(known[:5]),
                                max_age=KNOWN_DEVICE_DAYS * 24 * 3600, httponly=True, samesite="Lax",
                                secure=current_app.config.get("SESSION_COOKIE_SECURE", False))
            return response
    return render_template("auth/login.html", form=form, **sign_in_buttons(request.args.get("next")))


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Sign out (POST only, behind CSRF): every cookie issued to the person stops working, so a copy
    left in a shared office browser cannot sign them in again."""
    form = EmptyForm()
    if form.validate_on_submit():
        provider_url = provider_logout_url()  # signed in through the province's provider: end it there too
        end_all_sessions(db.session, current_user)
        db.session.commit()
        logout_user()
        flash("Bạn đã đăng xuất.", "info")
        if provider_url:
            return redirect(provider_url)
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
