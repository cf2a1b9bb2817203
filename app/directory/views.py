"""Sign-in through the province's OpenID Connect provider, and sign-out from it."""
from __future__ import annotations

import logging

import requests
from authlib.integrations.base_client import OAuthError
from flask import Blueprint, abort, current_app, flash, redirect, session, url_for
from flask_login import login_user
from joserfc.errors import JoseError

from ..extensions import db
from ..security import CONTENT_SECURITY_POLICY
from . import services
from .forms import OidcSignInForm

bp = Blueprint("directory", __name__, url_prefix="/directory", template_folder="templates")
log = logging.getLogger(__name__)

#: the ID token of the provider session, kept for RP-initiated logout
ID_TOKEN_KEY = "directory_id_token"
NEXT_KEY = "directory_next"
FAILED = ("Không hoàn tất được việc đăng nhập qua {name}. Vui lòng thử lại từ đầu; nếu vẫn không được, "
          "hãy liên hệ quản trị viên.")


@bp.route("/oidc/login", methods=["POST"])
def oidc_login():
    """Send the person to the provider (state, nonce and a PKCE S256 challenge are kept in the session)."""
    if not services.is_oidc_configured():
        abort(404)
    form = OidcSignInForm()
    if not form.validate_on_submit():
        return redirect(url_for("auth.login"))
    from ..auth.views import _safe_next  # the password form's rule for where sign-in may lead

    session[NEXT_KEY] = _safe_next(form.next.data)
    try:
        return services.oidc_client().authorize_redirect(url_for(".oidc_callback", _external=True))
    except requests.RequestException as error:
        log.error("OpenID provider unreachable: %s", error)
        flash(FAILED.format(name=_provider_name()), "danger")
        return redirect(url_for("auth.login"))


@bp.route("/oidc/callback")
def oidc_callback():
    """Back from the provider: check everything, find (or create) the account, sign in."""
    if not services.is_oidc_configured():
        abort(404)
    client = services.oidc_client()
    try:
        claims, id_token = services.oidc_claims(client)
    except (OAuthError, JoseError, requests.RequestException, KeyError) as error:
        log.warning("OpenID sign-in refused: %s: %s", type(error).__name__, error)
        flash(FAILED.format(name=_provider_name()), "danger")
        return redirect(url_for("auth.login"))
    try:
        user = services.sign_in_directory_person(db.session, services.person_from_claims(claims))
    except services.DirectoryError as error:
        db.session.rollback()
        flash(str(error), "danger")
        return redirect(url_for("auth.login"))
    db.session.commit()
    login_user(user)
    session[ID_TOKEN_KEY] = id_token
    flash(f"Xin chào, {user.full_name}!", "success")
    return redirect(session.pop(NEXT_KEY, None) or url_for("learn.home"))


@bp.after_app_request
def let_forms_reach_the_provider(response):
    """The sign-in and sign-out POSTs end in a redirect to the provider, and a browser checks the
    whole redirect chain against CSP's form-action: with a provider configured, its origins join
    'self' there. (This runs before app.security's hook, which keeps a header already set.)"""
    if services.is_oidc_configured() and "Content-Security-Policy" not in response.headers:
        origins = " ".join(sorted(services.provider_origins()))
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
            "form-action 'self'", f"form-action 'self' {origins}")
    return response


def provider_logout_url() -> str | None:
    """Called by the sign-out view: where to send the browser so the provider's session ends too.

    None when the person did not sign in through the provider or it advertises no end_session_endpoint.
    """
    id_token = session.pop(ID_TOKEN_KEY, None)
    if not id_token or not services.is_oidc_configured():
        return None
    try:
        return services.oidc_logout_url(services.oidc_client(), id_token, url_for("auth.login", _external=True))
    except requests.RequestException as error:
        log.error("OpenID provider unreachable at sign-out: %s", error)
        return None


def _provider_name() -> str:
    return current_app.config["OIDC_PROVIDER_NAME"]


def sign_in_buttons(next_url: str | None) -> dict:
    """What the sign-in page shows of the directory: the provider's button (a CSRF form) and whether
    the password form also takes directory usernames."""
    form = None
    if services.is_oidc_configured():
        form = OidcSignInForm(next=next_url or "")
        form.submit.label.text = f"Đăng nhập bằng {_provider_name()}"
    return {"oidc_form": form, "ldap_enabled": services.is_ldap_configured()}
