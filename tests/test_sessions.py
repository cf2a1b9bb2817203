"""Versioned sessions: an old session or remember-me cookie is refused after every event that should
end it (a change or reset of the password, a sign-out, a sign-out everywhere, a deactivation, even
once reactivated), the remember-me cookie changes at each sign-in and is bounded in time."""
from datetime import timedelta

import pytest

from app.auth import services as accounts
from app.extensions import db
from app.models import User
from config import ProductionConfig
from support import PASSWORD, csrf_token, several_browsers

NEW_PASSWORD = "song-nui-xa-xoi-42"


@pytest.fixture(autouse=True)
def _several_browsers(app):
    several_browsers(app)


def _sign_in(app, user, password=PASSWORD, remember=True):
    """A separate browser that signs in; returns it with its session and remember-me cookie values."""
    browser = app.test_client()
    token = csrf_token(browser, "/auth/login")
    response = browser.post("/auth/login", data={"username": user.username, "password": password,
                                                 "remember": "y" if remember else "", "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert browser.get("/").status_code == 200
    remember_cookie = browser.get_cookie("remember_token")
    return browser, browser.get_cookie("session").value, remember_cookie.value if remember_cookie else None


def _signed_in_with(app, name, value) -> bool:
    """Whether a fresh browser holding only this one cookie is signed in."""
    browser = app.test_client()
    browser.set_cookie(name, value, domain="localhost")
    return browser.get("/").status_code == 200


def _change_own_password(browser):
    token = csrf_token(browser, "/auth/password")
    return browser.post("/auth/password", data={"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                                                "confirm": NEW_PASSWORD, "csrf_token": token})


def _admin_reset(app, make_user, user):
    admin = make_user(role="admin")
    browser, _, _ = _sign_in(app, admin, remember=False)
    token = csrf_token(browser, f"/admin/users/{user.id}")
    response = browser.post(f"/admin/users/{user.id}/password", data={"password": "", "confirm": "", "csrf_token": token})
    assert "Mật khẩu tạm" in response.get_data(as_text=True)


def _sign_out(browser):
    browser.post("/auth/logout", data={"csrf_token": csrf_token(browser, "/")})


def _end_others(browser):
    browser.post("/auth/sessions/end-others", data={"csrf_token": csrf_token(browser, "/auth/password")})


def _deactivate(user):
    accounts.set_active(db.session, db.session.get(User, user.id), False)
    db.session.commit()


def _deactivate_and_reactivate(user):
    _deactivate(user)
    accounts.set_active(db.session, db.session.get(User, user.id), True)
    db.session.commit()


EVENTS = {
    "own password change on another device": lambda app, make_user, user, other: _change_own_password(other),
    "administrator reset": lambda app, make_user, user, other: _admin_reset(app, make_user, user),
    "sign-out on this device": None,  # the old browser itself signs out; handled below
    "sign-out everywhere else": lambda app, make_user, user, other: _end_others(other),
    "deactivation": lambda app, make_user, user, other: _deactivate(user),
    "deactivation then reactivation": lambda app, make_user, user, other: _deactivate_and_reactivate(user),
}


@pytest.mark.parametrize("event", EVENTS)
def test_old_cookies_are_refused_after_the_event(app, make_user, event):
    user = make_user()
    old_browser, old_session, old_remember = _sign_in(app, user)
    assert old_remember, "remember me was asked for"
    assert _signed_in_with(app, "session", old_session) and _signed_in_with(app, "remember_token", old_remember)
    other_browser, _, _ = _sign_in(app, user)
    if EVENTS[event] is None:
        _sign_out(old_browser)
    else:
        EVENTS[event](app, make_user, user, other_browser)
    db.session.expire_all()
    assert old_browser.get("/").status_code == 302
    assert not _signed_in_with(app, "session", old_session)
    assert not _signed_in_with(app, "remember_token", old_remember)


def test_changing_ones_password_keeps_this_browser_signed_in(app, make_user):
    user = make_user()
    browser, _, _ = _sign_in(app, user)
    other, _, _ = _sign_in(app, user)
    assert _change_own_password(browser).status_code == 302
    assert browser.get("/").status_code == 200
    fresh_remember = browser.get_cookie("remember_token").value
    assert _signed_in_with(app, "remember_token", fresh_remember)
    assert other.get("/").status_code == 302


def test_the_remember_token_changes_at_each_sign_in(app, make_user):
    user = make_user()
    tokens = {_sign_in(app, user)[2] for _ in range(3)}
    assert len(tokens) == 3
    assert all(_signed_in_with(app, "remember_token", token) for token in tokens)


def test_a_cookie_older_than_the_remember_duration_is_refused(app, make_user):
    user = make_user()
    _, session_value, remember = _sign_in(app, user)
    app.config["REMEMBER_COOKIE_DURATION"] = timedelta(seconds=-120)  # every cookie is now too old
    assert not _signed_in_with(app, "remember_token", remember)
    assert not _signed_in_with(app, "session", session_value)


def test_a_session_naming_only_the_user_id_is_refused(app, make_user):
    """The cookies of before the upgrade (the bare user id) sign nobody in."""
    from flask.sessions import SecureCookieSessionInterface

    user = make_user()
    value = SecureCookieSessionInterface().get_signing_serializer(app).dumps({"_user_id": str(user.id)})
    assert not _signed_in_with(app, "session", value)


def test_remember_cookie_attributes(app, make_user):
    user = make_user()
    browser = app.test_client()
    token = csrf_token(browser, "/auth/login")
    response = browser.post("/auth/login", data={"username": user.username, "password": PASSWORD,
                                                 "remember": "y", "csrf_token": token})
    header = next(value for value in response.headers.getlist("Set-Cookie") if value.startswith("remember_token="))
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Expires=" in header
    assert app.config["REMEMBER_COOKIE_DURATION"] == timedelta(days=14)
    # production sends both cookies over HTTPS only (its app needs real secrets: read the class)
    assert ProductionConfig.REMEMBER_COOKIE_SECURE and ProductionConfig.SESSION_COOKIE_SECURE


def test_an_import_marking_someone_as_left_ends_their_sessions(app, make_agency, make_user):
    from app.admin import imports
    from tests.test_imports import csv_bytes

    agency = make_agency()
    user = make_user(agency=agency, employee_code="CB-NGHI")
    _, old_session, old_remember = _sign_in(app, user)
    data = csv_bytes([["CB-NGHI", user.full_name, user.email, agency.code, "", "nghỉ việc"]])
    plan = imports.plan_import(db.session, imports.read_rows(data, "ds.csv"), file_name="ds.csv",
                               file_hash=imports.file_hash(data))
    assert plan.ok and plan.counts["deactivated"] == 1, plan.errors
    imports.apply_import(db.session, plan)
    db.session.commit()
    accounts.set_active(db.session, db.session.get(User, user.id), True)
    db.session.commit()
    assert not _signed_in_with(app, "session", old_session)
    assert not _signed_in_with(app, "remember_token", old_remember)
