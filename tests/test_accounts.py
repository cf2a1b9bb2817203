"""Local accounts done properly: temporary passwords, invitations and password reset by e-mail,
the printable sheet of temporary passwords."""
import io
import re

import pytest
from sqlalchemy import select

from app.auth import services as accounts
from app.extensions import db
from app.models import AuditLog, User
from support import PASSWORD, csrf_token, several_browsers

NEW_PASSWORD = "song-nui-xa-xoi-42"


@pytest.fixture(autouse=True)
def _several_browsers(app):
    several_browsers(app)


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


# -- invitations and password reset by e-mail --------------------------------------------------------

LINK_RE = re.compile(r"https://hoc\.example\.vn(/account/(?:invitation|reset)/\S+)")


def _link_in(message) -> str:
    """The path of the one-time link in a mail (PUBLIC_BASE_URL is https://hoc.example.vn in tests)."""
    return LINK_RE.search(message.get_content()).group(1)


def _choose(client, path, password=NEW_PASSWORD):
    token = csrf_token(client, path)
    return client.post(path, data={"new_password": password, "confirm": password, "csrf_token": token})


def _import_one(client, agency, **extra):
    from tests.test_imports import _preview_and_apply, csv_bytes

    data = csv_bytes([["CB9001", "Phạm Thị Mười", "muoi@example.org", agency.code, "", ""]])
    return _preview_and_apply(client, data, **extra)


def _forgot(client, login):
    token = csrf_token(client, "/account/forgot")
    response = client.post("/account/forgot", data={"login": login, "csrf_token": token})
    response.close()  # as the WSGI server does once the answer has left: the mail goes then
    return response


def test_imported_person_is_invited_sets_a_password_forgets_it_and_resets_it(app, client, auth, make_user,
                                                                             make_agency, smtp_server):
    agency = make_agency(code="XA-MUOI")
    admin = make_user(role="admin")
    auth.login(admin)
    response = _import_one(client, agency, send_invitations="y")
    assert response.status_code == 302
    auth.logout()
    person = db.session.scalar(select(User).where(User.employee_code == "CB9001"))
    invitation, = smtp_server.to("muoi@example.org")
    assert person.username in invitation.get_content()
    path = _link_in(invitation)
    page = client.get(path)
    assert page.status_code == 200 and person.username in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    # a weak password is refused with the reason, and the link still works
    weak = _choose(client, path, "matkhau2026")
    assert weak.status_code == 200 and "quá phổ biến" in weak.get_data(as_text=True)
    assert _choose(client, path).headers["Location"] == "/auth/login"
    # single use: the same link again is refused, with no change
    assert client.get(path).status_code == 410
    token = csrf_token(client, "/auth/login")
    assert client.post(path, data={"new_password": "mot-mat-khau-khac-77", "confirm": "mot-mat-khau-khac-77",
                                   "csrf_token": token}).status_code == 410
    assert auth.login(person.username, NEW_PASSWORD).headers["Location"] == "/"
    other = app.test_client()  # a second browser, signed in before the reset
    token = csrf_token(other, "/auth/login")
    other.post("/auth/login", data={"username": person.username, "password": NEW_PASSWORD, "csrf_token": token})
    assert other.get("/").status_code == 200
    auth.logout()
    # forgets it: asks by e-mail address, in capitals
    answer = _forgot(client, "MUOI@example.org")
    assert answer.headers["Location"] == "/account/forgot/sent"
    reset, = smtp_server.to("muoi@example.org")[1:]
    reset_path = _link_in(reset)
    assert reset_path.startswith("/account/reset/")
    assert _choose(client, reset_path, "bien-xanh-cat-trang-8").status_code == 302
    assert other.get("/").status_code == 302  # the session of before the reset has ended
    assert auth.login(person.username, NEW_PASSWORD).status_code == 200  # the old password: refused
    assert auth.login(person.username, "bien-xanh-cat-trang-8").headers["Location"] == "/"
    actions = set(db.session.scalars(select(AuditLog.action).where(AuditLog.object_id == str(person.id))))
    assert {"user.password_set_by_invitation", "user.password_set_by_reset", "user.reset_requested"} <= actions


def test_the_reset_answer_never_tells_whether_the_account_exists(client, make_user, smtp_server):
    user = make_user()
    inactive = make_user()
    accounts.set_active(db.session, inactive, False)
    db.session.commit()
    pages = []
    for login in (user.email, "khong-ai-co@example.org", inactive.username):
        response = _forgot(client, login)
        pages.append((response.status_code, response.headers["Location"]))
        pages.append(client.get(response.headers["Location"]).get_data(as_text=True))
    assert pages[0] == pages[2] == pages[4] and pages[1] == pages[3] == pages[5]
    assert [m.recipients for m in smtp_server.messages] == [[user.email]]


def test_links_are_signed_expire_and_a_new_one_retires_the_old(app, client, make_user, smtp_server):
    from datetime import timedelta

    from app.auth import links
    from app.models import AccountLink

    user = make_user()
    first = links.issue_link(db.session, user, "reset")
    db.session.commit()
    first_path = links.link_url(first).removeprefix(app.config["PUBLIC_BASE_URL"])
    assert client.get(first_path).status_code == 200
    assert client.get(first_path[:-3] + "abc").status_code == 410  # tampered signature
    invitation_path = first_path.replace("/reset/", "/invitation/")  # a reset token is not an invitation
    assert client.get(invitation_path).status_code == 410
    second = links.issue_link(db.session, user, "reset")
    db.session.commit()
    assert client.get(first_path).status_code == 410
    second.created_at, second.expires_at = second.created_at - timedelta(hours=2), second.created_at - timedelta(hours=1)
    db.session.commit()
    path = links.link_url(second).removeprefix(app.config["PUBLIC_BASE_URL"])
    assert client.get(path).status_code == 410
    assert db.session.get(AccountLink, first.id).used_at is not None


def test_single_use_is_enforced_by_the_database(app, make_user):
    """Two uses of one link at once: the conditional UPDATE lets exactly one through."""
    from app.auth import links
    from app.models import AccountLink

    user = make_user()
    link = links.issue_link(db.session, user, "invitation")
    db.session.commit()
    links.use_link(db.session, link, NEW_PASSWORD)
    db.session.commit()
    stale = db.session.get(AccountLink, link.id)
    db.session.expunge(stale)
    # the second request still holds the link it looked up before the first one used it
    with pytest.raises(accounts.AccountError, match="đã được dùng"):
        links.use_link(db.session, stale_copy(stale, user), "mot-mat-khau-khac-77")
    db.session.rollback()
    assert db.session.get(User, user.id).check_password(NEW_PASSWORD)


def stale_copy(link, user):
    """What a concurrent request loaded before the first use committed: used_at still None."""
    from app.models import AccountLink

    copy = AccountLink(id=link.id, user_id=link.user_id, purpose=link.purpose, created_at=link.created_at,
                       expires_at=link.expires_at, used_at=None)
    copy.user = db.session.get(User, user.id)
    return copy


def test_reset_requests_are_limited_per_account_whatever_it_is_typed_as(client, make_user, smtp_server):
    user = make_user()
    for login in (user.username, user.email, user.email.upper()):
        assert _forgot(client, login).status_code == 302
    assert _forgot(client, user.username).status_code == 429
    assert len(smtp_server.to(user.email)) == 3


def test_an_administrator_invites_one_person(client, auth, make_user, smtp_server):
    admin, person = make_user(role="admin"), make_user()
    auth.login(admin)
    token = csrf_token(client, f"/admin/users/{person.id}")
    assert client.post(f"/admin/users/{person.id}/invite", data={"csrf_token": token}).status_code == 302
    mail, = smtp_server.to(person.email)
    assert "/account/invitation/" in mail.get_content()


def test_the_invite_command_mails_everyone_without_a_password(runner, make_user, make_agency, smtp_server):
    from app.auth.services import unusable_password_hash

    agency = make_agency(code="XA-LANG")
    waiting = [make_user(agency=agency) for _ in range(3)]
    make_user(agency=agency)  # has a password: not invited
    for user in waiting:
        user.password_hash = unusable_password_hash()
    db.session.commit()
    result = runner.invoke(args=["users", "invite", "--agency", "XA-LANG", "--dry-run"])
    assert "3 người" in result.output and not smtp_server.messages
    result = runner.invoke(args=["users", "invite", "--agency", "XA-LANG"])
    assert result.exit_code == 0, result.output
    assert sorted(r for m in smtp_server.messages for r in m.recipients) == sorted(u.email for u in waiting)


# -- the printable sheet ------------------------------------------------------------------------------

def test_the_password_sheet_is_one_slip_per_person_and_downloaded_once(client, auth, make_user, make_agency):
    from pypdf import PdfReader

    from app.auth.services import unusable_password_hash

    agency = make_agency(code="XA-GIAY", name="Xã Giấy Mẫu")
    people = [make_user(agency=agency, full_name=f"Nguyễn Văn Số {n}") for n in range(7)]
    for person in people:
        person.password_hash = unusable_password_hash()
    db.session.commit()
    admin = make_user(role="admin")
    auth.login(admin)
    token = csrf_token(client, f"/admin/agencies/{agency.id}")
    response = client.post(f"/admin/agencies/{agency.id}/password-sheet", data={"csrf_token": token})
    assert response.mimetype == "application/pdf" and response.headers["Cache-Control"] == "no-store"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    passwords = re.findall(r"Mật khẩu tạm:\s*(\S+)", text)
    assert len(passwords) == 7 and "/auth/login" in text
    for person in people:
        assert person.username in text and person.full_name in text
    auth.logout()
    username = people[0].username
    password = re.search(re.escape(username) + r"\s*Mật khẩu tạm:\s*(\S+)", text).group(1)
    assert auth.login(username, password).status_code == 302
    assert client.get("/").headers["Location"] == "/auth/password"  # temporary: must be changed first
    # nobody is left without a password, so a second sheet lists no one and changes nothing
    client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/auth/password")})
    auth.login(admin)
    token = csrf_token(client, f"/admin/agencies/{agency.id}")
    again = client.post(f"/admin/agencies/{agency.id}/password-sheet", data={"csrf_token": token})
    again_text = PdfReader(io.BytesIO(again.data)).pages[0].extract_text()
    assert "không có cán bộ nào" in again_text
