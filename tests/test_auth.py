"""Sign-in, sign-out, CSRF, rate limits and change of password."""
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditLog, User
from support import PASSWORD, csrf_token


def test_login_page_is_vietnamese(client):
    html = client.get("/auth/login").get_data(as_text=True)
    assert '<html lang="vi">' in html
    assert "Đăng nhập" in html and "Mật khẩu" in html


def test_login_and_home(client, auth, make_user):
    user = make_user(full_name="Trần Thị Mơ")
    response = auth.login(user)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "Khóa học của tôi" in page and "Trần Thị Mơ" in page
    assert db.session.get(User, user.id).last_login_at is not None


def test_login_by_email_is_case_insensitive(client, auth, make_user):
    user = make_user()
    assert auth.login(user.email.upper()).status_code == 302


@pytest.mark.parametrize("login,password", [("user-khong-co", PASSWORD), (None, "sai-mat-khau")])
def test_bad_credentials_give_one_message(client, auth, make_user, login, password):
    user = make_user()
    response = auth.login(login or user.username, password)
    assert response.status_code == 200
    assert "Tên đăng nhập hoặc mật khẩu không đúng." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_inactive_user_cannot_sign_in(client, auth, make_user):
    user = make_user()
    user.is_active = False
    db.session.commit()
    response = auth.login(user)
    assert "Tên đăng nhập hoặc mật khẩu không đúng." in response.get_data(as_text=True)


def test_deactivated_user_is_signed_out(client, auth, make_user):
    user = make_user()
    auth.login(user)
    user.is_active = False
    db.session.commit()
    assert client.get("/").status_code == 302


def test_login_without_csrf_token_is_refused(client, make_user):
    user = make_user()
    response = client.post("/auth/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 400
    assert "biểu mẫu không hợp lệ" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_logout_needs_post_and_csrf(client, auth, make_user):
    auth.login(make_user())
    assert client.get("/auth/logout").status_code == 405
    assert client.post("/auth/logout").status_code == 400
    assert client.get("/").status_code == 200
    assert auth.logout().status_code == 302
    assert client.get("/").status_code == 302


def test_next_parameter_only_redirects_inside_the_site(client, make_user):
    user = make_user()
    token = csrf_token(client, "/auth/login")
    response = client.post("/auth/login?next=//evil.example/x",
                           data={"username": user.username, "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/"
    client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/")})
    token = csrf_token(client, "/auth/login")
    response = client.post("/auth/login?next=/auth/password",
                           data={"username": user.username, "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/auth/password"


def test_sign_in_is_rate_limited_per_account(app, client, auth, make_user):
    user = make_user()
    limit = int(app.config["LOGIN_RATE_LIMIT_PER_ACCOUNT"].split()[0])
    for _ in range(limit):
        assert auth.login(user, "sai").status_code == 200
    response = auth.login(user, PASSWORD)
    assert response.status_code == 429
    assert "Quá nhiều yêu cầu" in response.get_data(as_text=True)
    # Another account from the same address is not blocked by this account's limit.
    assert auth.login(make_user()).status_code == 302


def test_sign_in_is_rate_limited_per_address(app, client, auth, make_user):
    app.config["LOGIN_RATE_LIMIT_PER_ACCOUNT"] = "1000 per minute"
    limit = int(app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"].split()[0])
    for number in range(limit):
        assert auth.login(f"khong-co-{number}", "sai").status_code == 200
    assert auth.login(make_user()).status_code == 429


def test_change_password(client, auth, make_user):
    user = make_user()
    auth.login(user)
    token = csrf_token(client, "/auth/password")
    response = client.post("/auth/password", data={
        "current_password": PASSWORD, "new_password": "song-hong-chay-2026",
        "confirm": "song-hong-chay-2026", "csrf_token": token})
    assert response.status_code == 302
    assert db.session.get(User, user.id).check_password("song-hong-chay-2026")
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "user.password_changed"))


@pytest.mark.parametrize("data,message", [
    ({"current_password": "sai", "new_password": "song-hong-chay-2026", "confirm": "song-hong-chay-2026"},
     "Mật khẩu hiện tại không đúng."),
    ({"current_password": PASSWORD, "new_password": "ngan", "confirm": "ngan"},
     "Mật khẩu phải có từ 10 đến 128 ký tự."),
    ({"current_password": PASSWORD, "new_password": "song-hong-chay-2026", "confirm": "khac-han-2026"},
     "Hai lần nhập mật khẩu mới không khớp."),
    ({"current_password": PASSWORD, "new_password": PASSWORD, "confirm": PASSWORD},
     "Mật khẩu mới phải khác mật khẩu hiện tại."),
])
def test_change_password_errors_are_shown_and_change_nothing(client, auth, make_user, data, message):
    user = make_user()
    auth.login(user)
    data = dict(data, csrf_token=csrf_token(client, "/auth/password"))
    response = client.post("/auth/password", data=data)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert db.session.get(User, user.id).check_password(PASSWORD)


def test_users_cli_create_and_reset(runner, make_agency):
    agency = make_agency(code="SO-YT")
    result = runner.invoke(args=["users", "create", "--username", "canbo1", "--email", "cb1@example.org",
                                 "--name", "Vũ Thị Hoa", "--agency", "SO-YT", "--password", "mat-khau-dai-1",
                                 "--manages", "SO-YT"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "canbo1"))
    assert user.agency == agency and user.is_manager
    result = runner.invoke(args=["users", "set-password", "cb1@example.org", "--password", "mat-khau-dai-2"])
    assert result.exit_code == 0, result.output
    db.session.refresh(user)
    assert user.check_password("mat-khau-dai-2")
    duplicate = runner.invoke(args=["users", "create", "--username", "canbo1", "--email", "x@example.org",
                                    "--name", "X", "--agency", "SO-YT", "--password", "mat-khau-dai-1"])
    assert duplicate.exit_code == 1 and "đã được dùng" in duplicate.output
