"""Local accounts done properly: temporary passwords, invitations and password reset by e-mail,
the printable sheet of temporary passwords."""
import re

import pytest
from sqlalchemy import select

from app.auth import services as accounts
from app.extensions import db
from app.models import User
from support import PASSWORD, csrf_token

NEW_PASSWORD = "song-nui-xa-xoi-42"


def _temporary(user, password="tam-thoi-Xy7Kp9"):
    accounts.reset_password(db.session, db.session.get(User, user.id), password)
    db.session.commit()
    return password


# -- temporary passwords ----------------------------------------------------------------------------

def test_a_temporary_password_opens_nothing_but_choosing_a_new_one(client, auth, make_user):
    user = make_user(role="admin")
    temporary = _temporary(user)
    assert auth.login(user, temporary).status_code == 302
    for url in ("/", "/admin/", "/admin/users", "/tracking/", "/privacy/my-data"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"] == "/auth/password", url
    token = csrf_token(client, "/auth/password")
    assert "mật khẩu tạm" in client.get("/auth/password").get_data(as_text=True)
    # a state change elsewhere is refused outright
    assert client.post("/auth/sessions/end-others", data={"csrf_token": token}).status_code == 403
    assert client.post(f"/admin/users/{user.id}/deactivate", data={"csrf_token": token}).status_code == 403
    # choosing a new one opens everything again
    response = client.post("/auth/password", data={"current_password": temporary, "new_password": NEW_PASSWORD,
                                                   "confirm": NEW_PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    assert client.get("/").status_code == 200 and client.get("/admin/").status_code == 200
    assert db.session.get(User, user.id).must_change_password is False


def test_the_person_can_still_sign_out(client, auth, make_user):
    user = make_user()
    auth.login(user, _temporary(user))
    token = csrf_token(client, "/auth/password")
    assert client.post("/auth/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/auth/password").status_code == 302  # signed out: to the sign-in page


def test_an_administrator_created_or_reset_password_is_temporary(client, auth, make_user, make_agency):
    admin = make_user(role="admin")
    auth.login(admin)
    token = csrf_token(client, "/admin/users/new")
    agency = make_agency()
    response = client.post("/admin/users/new", data={
        "username": "cb9001", "email": "cb9001@example.org", "full_name": "Lê Văn Chín",
        "agency_id": agency.id, "password": "", "confirm": "", "csrf_token": token})
    assert response.status_code == 200
    created = db.session.scalar(select(User).where(User.username == "cb9001"))
    assert created.must_change_password
    password = re.search(r'temporary-password">([^<]+)<', response.get_data(as_text=True)).group(1)
    auth.logout()
    auth.login("cb9001", password)
    assert client.get("/").headers["Location"] == "/auth/password"


def test_the_command_line_sets_a_temporary_password_only_when_asked(runner, make_user):
    user = make_user()
    result = runner.invoke(args=["users", "set-password", user.username, "--password", NEW_PASSWORD])
    assert result.exit_code == 0, result.output
    assert db.session.get(User, user.id).must_change_password is False
    result = runner.invoke(args=["users", "set-password", user.username, "--password", NEW_PASSWORD + "x",
                                 "--temporary"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(User, user.id).must_change_password is True
