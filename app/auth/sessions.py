"""Versioned sessions: what a session or remember-me cookie names, and how every one of them ends.

Flask-Login stores `User.session_token()` (its `id_attribute`) in the session and, when asked, in the
remember-me cookie (signed with the secret key). The token is "<user id>:<session version>:<issued
at>:<nonce>":

* the user loader accepts it only while the person's `session_version` is still the one it names, so
  raising the version (`end_all_sessions`) refuses every cookie issued before: after a change or reset
  of the password, a sign-out, a sign-out everywhere, a deactivation (and reactivating does not lower
  it again, so old cookies stay dead);
* it is refused once older than REMEMBER_COOKIE_DURATION, whatever the browser does with the cookie's
  own expiry, so a copied cookie does not work for ever;
* the time and a random nonce make every sign-in's token (and so its remember-me cookie) different.
"""
from __future__ import annotations

import secrets
import time
from datetime import timedelta

from flask import current_app, request
from flask_login import login_user
from sqlalchemy.orm import Session

from ..models import User


def session_token(user: User) -> str:
    return f"{user.id}:{user.session_version}:{int(time.time())}:{secrets.token_hex(4)}"


def parse_session_token(token: str) -> tuple[int, int, int] | None:
    """(user id, session version, issued at) of a well-formed token, else None (e.g. an old "42")."""
    parts = token.split(":")
    if len(parts) != 4 or not all(part.isdigit() for part in parts[:3]):
        return None
    return int(parts[0]), int(parts[1]), int(parts[2])


def remember_duration() -> timedelta:
    duration = current_app.config["REMEMBER_COOKIE_DURATION"]
    return duration if isinstance(duration, timedelta) else timedelta(seconds=int(duration))


def token_is_current(user: User | None, version: int, issued_at: int) -> bool:
    """Whether a cookie naming `version`, issued at `issued_at` (epoch seconds), still signs `user` in."""
    if user is None or not user.is_active or user.session_version != version:
        return False
    age = time.time() - issued_at
    return -60 <= age <= remember_duration().total_seconds()


def end_all_sessions(session: Session, user: User) -> None:
    """Refuse every session and remember-me cookie issued so far to `user` (on every device)."""
    user.session_version = (user.session_version or 1) + 1
    session.flush()


def continue_this_session(user: User) -> None:
    """After `end_all_sessions` by the person themselves: this browser goes on with a fresh token
    (and a fresh remember-me cookie if it had one); every other device is signed out."""
    cookie_name = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    login_user(user, remember=cookie_name in request.cookies)
