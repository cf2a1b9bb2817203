"""Security headers, request ids and logs, /healthz, sign-in lockout, password rules, upload limits."""
import json
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from app import create_app
from app.auth.passwords import password_problems, validate_password
from app.auth.services import AccountError
from app.extensions import db
from app.models import AuditLog, User, utcnow
from app.observability import JsonFormatter, RequestIdFilter
from support import PASSWORD, csrf_token

GENERIC = "Tên đăng nhập hoặc mật khẩu không đúng."


def _directives(response) -> dict:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split("; ")}


def _assert_security_headers(response):
    csp = _directives(response)
    assert csp["script-src"] == ["'self'"] and csp["default-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
    assert csp["form-action"] == ["'self'"] and csp["base-uri"] == ["'self'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in response.headers["Permissions-Policy"]


def test_pages_send_the_security_headers(client):
    response = client.get("/auth/login")
    _assert_security_headers(response)
    assert "Strict-Transport-Security" not in response.headers  # only in production
    _assert_security_headers(client.get("/no-such-page"))


def test_downloads_send_the_security_headers(client, auth, make_user, fixture_course):
    manager = make_user(role="manager")
    auth.login(manager)
    for kind, mimetype in (("xlsx", "spreadsheetml"), ("csv", "text/csv"), ("pdf", "application/pdf")):
        response = client.get(f"/manage/agencies/{manager.agency_id}/export.{kind}")
        assert response.status_code == 200 and mimetype in response.mimetype
        _assert_security_headers(response)
        assert response.headers["Content-Disposition"].startswith("attachment")


def test_templates_have_no_inline_scripts():
    from app import __file__ as package

    from pathlib import Path
    import re

    for template in Path(package).parent.rglob("*.html"):
        html = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), template
        assert not re.search(r"\son[a-z]+\s*=", html), template
        assert "javascript:" not in html, template


@pytest.fixture
def production_app(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "production-test-key")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'prod.sqlite3'}")
    return create_app("production")


def test_production_sends_hsts_and_trusts_one_proxy(production_app):
    seen = {}

    @production_app.get("/_whoami")
    def whoami():
        from flask import request

        seen.update(addr=request.remote_addr, scheme=request.scheme)
        return "ok"

    client = production_app.test_client()
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    response = client.get("/healthz", headers=forwarded)
    assert response.status_code == 200
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    _assert_security_headers(response)
    assert production_app.config["SESSION_COOKIE_SECURE"] and production_app.config["LOG_FORMAT"] == "json"
    client.get("/_whoami", headers=forwarded)  # ProxyFix: the address and scheme nginx saw
    assert seen == {"addr": "203.0.113.9", "scheme": "https"}


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL"])
def test_production_refuses_to_start_without_its_settings(monkeypatch, missing):
    monkeypatch.setenv("SECRET_KEY", "production-test-key")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db.example/app")
    monkeypatch.delenv(missing)
    with pytest.raises(RuntimeError, match=missing):
        create_app("production")


def test_plain_postgresql_urls_use_psycopg_3():
    from config import database_url

    assert database_url("postgres://u:p@h/d") == "postgresql+psycopg://u:p@h/d"
    assert database_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert database_url("sqlite://") == "sqlite://"


def test_request_id_is_generated_or_taken_from_the_proxy(client):
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert len(generated) == 32 and generated != client.get("/healthz").headers["X-Request-ID"]
    assert client.get("/healthz", headers={"X-Request-ID": "nginx-abc123"}).headers["X-Request-ID"] == "nginx-abc123"
    insane = client.get("/healthz", headers={"X-Request-ID": "bad id\"{}" + "x" * 200}).headers["X-Request-ID"]
    assert len(insane) == 32 and " " not in insane


def test_log_lines_carry_the_request_id(app):
    record = logging.LogRecord("app.test", logging.INFO, __file__, 1, "Đã lưu %s", ("bài",), None)
    with app.test_request_context("/x", headers={"X-Request-ID": "req-42"}):
        RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-42" and line["message"] == "Đã lưu bài" and line["path"] == "/x"
    outside = logging.LogRecord("app.test", logging.INFO, __file__, 1, "cron", (), None)
    RequestIdFilter().filter(outside)
    assert json.loads(JsonFormatter().format(outside))["request_id"] == "-"


def test_healthz_checks_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_healthz_is_503_when_the_database_is_down(tmp_path):
    broken = create_app("testing", {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'missing' / 'x.db'}"})
    with broken.app_context():
        response = broken.test_client().get("/healthz")
        db.session.remove()
        db.engine.dispose()
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "error" and "cơ sở dữ liệu" in body["message"]


def _login(client, username, password):
    return _sign_in(client, username, password)


def _sign_in(client, username, password):
    token = csrf_token(client, "/auth/login")
    return client.post("/auth/login", data={"username": username, "password": password, "csrf_token": token})


def test_repeated_failures_lock_the_account_with_the_same_message(app, client, make_user):
    app.config.update(LOGIN_LOCKOUT_THRESHOLD=3, LOGIN_LOCKOUT_MINUTES=15)
    user = make_user()
    answers = {}
    for name in (user.username, "khong-ton-tai"):
        answers[name] = [_login(client, name, "sai-mat-khau") for _ in range(3)]
        answers[name].append(_login(client, name, PASSWORD))  # the right password, after the lock
    for name, responses in answers.items():
        for response in responses:
            assert response.status_code == 200 and GENERIC in response.get_data(as_text=True), name
    db.session.expire_all()
    locked = db.session.get(User, user.id)
    assert locked.locked_until > utcnow() + timedelta(minutes=14)
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "user.locked"))
    assert client.get("/").status_code == 302


def test_a_lock_runs_out_and_success_resets_the_count(app, client, make_user):
    app.config.update(LOGIN_LOCKOUT_THRESHOLD=3)
    user = make_user()
    for _ in range(2):
        _login(client, user.username, "sai")
    db.session.expire_all()
    assert db.session.get(User, user.id).failed_logins == 2
    user = db.session.get(User, user.id)
    user.locked_until = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert _login(client, user.username, PASSWORD).status_code == 302
    db.session.expire_all()
    user = db.session.get(User, user.id)
    assert user.failed_logins == 0 and user.locked_until is None


def test_an_administrator_password_reset_lifts_the_lock(app, make_user):
    from app.auth.services import reset_password

    user = make_user()
    user.locked_until, user.failed_logins = utcnow() + timedelta(minutes=10), 5
    reset_password(db.session, user, "bien-dong-lang-gio-9")
    db.session.commit()
    assert user.locked_until is None and user.failed_logins == 0


@pytest.mark.parametrize("password,problem", [
    ("ngan-qua", "từ 10 đến 128 ký tự"),
    ("123456789", "từ 10 đến 128 ký tự"),
    ("1234567890", "quá phổ biến"),
    ("matkhau2026", "quá phổ biến"),
    ("Mật-khẩu-123", "quá phổ biến"),
    ("admin@12345", "quá phổ biến"),
    ("anhyeuem123", "quá phổ biến"),
    ("aaaaaaaaaaaa", "quá ít ký tự khác nhau"),
    ("nguyenthilan", "trùng với tên đăng nhập"),
    ("lan.nguyen@soyte.gov.vn", "trùng với tên đăng nhập"),
])
def test_weak_passwords_are_refused(app, password, problem):
    problems = password_problems(password, username="nguyenthilan", email="lan.nguyen@soyte.gov.vn",
                                 full_name="Nguyễn Thị Lan")
    assert problems and problem in problems[0]


@pytest.mark.parametrize("password", ["song-hong-chay-2026", PASSWORD, "Ba con mèo trèo cây cau"])
def test_good_passwords_pass(app, password):
    assert password_problems(password, username="nguyenthilan", email="lan@example.org") == []


def test_validate_password_uses_the_account(app, make_user):
    user = make_user(username="tranvanbinh")
    with pytest.raises(AccountError) as error:
        validate_password("TranVanBinh!!", user)
    assert error.value.field == "password"


@pytest.mark.parametrize("new,message", [
    ("qwerty123456", "quá phổ biến"),
    ("canbo-so-1@", None),  # the username, padded
])
def test_change_password_applies_the_rules(client, auth, make_user, new, message):
    user = make_user(username="canbo-so")
    auth.login(user)
    response = client.post("/auth/password", data={
        "current_password": PASSWORD, "new_password": new, "confirm": new,
        "csrf_token": csrf_token(client, "/auth/password")})
    assert response.status_code == 200
    assert (message or "trùng với tên đăng nhập") in response.get_data(as_text=True)
    assert db.session.get(User, user.id).check_password(PASSWORD)


def test_users_cli_refuses_a_weak_password(runner, make_user):
    user = make_user()
    result = runner.invoke(args=["users", "set-password", user.username, "--password", "matkhau@2026"])
    assert result.exit_code == 1 and "quá phổ biến" in result.output


def test_too_large_a_request_gets_the_vietnamese_413_page(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = client.post("/auth/login", data={"username": "x" * 4096, "password": "y"})
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "Tệp quá lớn" in html and "vượt quá" in html
    _assert_security_headers(response)


# -- numbers beyond the columns' range in URLs --------------------------------------------------

HUGE = [2**31, 2**63 + 1, 10**30]  # past PostgreSQL's integer, past SQLite's, past everything


def _url(app, rule, number: int) -> str:
    """The rule's URL with every integer part set to `number` and other parts to something plausible."""
    from werkzeug.routing import AnyConverter, IntegerConverter

    values = {}
    for name, converter in rule._converters.items():
        if isinstance(converter, IntegerConverter):
            values[name] = number
        elif isinstance(converter, AnyConverter):
            values[name] = sorted(converter.items)[0]
        else:
            values[name] = "x"
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def test_out_of_range_integers_in_urls_are_404_never_500(app, client, auth, make_user, fixture_course):
    """Every route with an integer in its path, with numbers no column holds: 404, as the
    route does not exist (the `int` converter is bounded once for all of them)."""
    auth.login(make_user(role="admin"))
    rules = [rule for rule in app.url_map.iter_rules() if any(
        type(converter).__name__.endswith("IntegerConverter") for converter in rule._converters.values())]
    assert len(rules) >= 20
    token = csrf_token(client, "/")
    for rule in rules:
        for number in HUGE:
            url = _url(app, rule, number)
            response = (client.get(url) if "GET" in rule.methods
                        else client.post(url, data={"csrf_token": token}))
            assert response.status_code == 404, (url, response.status_code)
        assert client.get(_url(app, rule, 2**31 - 1)).status_code in (404, 405), rule  # the largest id: no such row


def test_out_of_range_numbers_in_query_strings_never_answer_500(app, client, auth, make_user, fixture_course):
    """?page= and every id argument, past every column, on every page without a path parameter and
    on the pages that take an agency id: never a 500; a list past its end shows its last page."""
    root = make_user(role="admin", username="quantri-lon")
    auth.login(root)
    urls = [rule.rule for rule in app.url_map.iter_rules()
            if "GET" in rule.methods and not rule.arguments and not rule.rule.startswith(("/static", "/bootstrap"))]
    urls += [f"/manage/agencies/{root.agency_id}/people", f"/manage/agencies/{root.agency_id}"]
    assert len(urls) >= 20
    for number in HUGE:
        query = "&".join(f"{name}={number}" for name in ("page", "citation", "agency", "parent", "run", "course"))
        for url in urls:
            response = client.get(f"{url}?{query}")
            assert response.status_code < 500, (url, number, response.status_code)
    last = client.get(f"/admin/users?page={10**30}").get_data(as_text=True)
    assert "quantri-lon" in last  # one page of people: its last page is its first


# -- costly downloads are bounded per user ------------------------------------------------------

def test_pdfs_and_exports_are_limited_per_user(app, client, auth, make_user, fixture_course):
    """Certificates and reports share one PDF limit per account, exports another; another person
    (from the same address) is not held back, and the 429 says what to wait for, in Vietnamese."""
    from support import complete_fixture_course

    # The limits as configured, over an hour: a fixed minute's window could reset mid-test.
    app.config.update(PDF_RATE_LIMIT=app.config["PDF_RATE_LIMIT"].split(";")[0].replace("minute", "hour"),
                      EXPORT_RATE_LIMIT=app.config["EXPORT_RATE_LIMIT"].split(";")[0].replace("minute", "hour"))
    first, second = make_user(), make_user()
    codes = {user.id: complete_fixture_course(user, fixture_course).certificate_code for user in (first, second)}
    auth.login(first)
    per_minute = int(app.config["PDF_RATE_LIMIT"].split()[0])
    for _ in range(per_minute):
        assert client.get(f"/certificates/{codes[first.id]}.pdf").status_code == 200
    refused = client.get(f"/certificates/{codes[first.id]}.pdf")
    assert refused.status_code == 429 and "nhiều tệp PDF liên tiếp" in refused.get_data(as_text=True)
    auth.logout()
    auth.login(second)
    assert client.get(f"/certificates/{codes[second.id]}.pdf").status_code == 200

    manager = make_user(role="manager", manages=[first.agency])
    auth.logout()
    auth.login(manager)
    agency_id = first.agency_id
    for _ in range(per_minute):
        assert client.get(f"/manage/agencies/{agency_id}/export.pdf").status_code == 200
    assert client.get(f"/manage/agencies/{agency_id}/export.pdf").status_code == 429
    exports = int(app.config["EXPORT_RATE_LIMIT"].split()[0])
    answers = [client.get(f"/manage/agencies/{agency_id}/export.{kind}") for kind in ["csv", "xlsx"] * exports]
    served = [answer.status_code for answer in answers].index(429)
    assert per_minute + served <= exports and served >= exports - per_minute - 1  # the PDFs were exports too
    assert "xuất nhiều tệp liên tiếp" in answers[served].get_data(as_text=True)
    assert {answer.status_code for answer in answers[served:]} == {429}


# -- sign-in: same time for every account, limits on the account, no lockout of the owner ----------

def test_signing_in_takes_as_long_for_an_account_without_a_password(app, make_user):
    """An imported account has no password yet ("!…"): checking it costs a hash like any other, so
    employee codes cannot be told apart by the answer's time (39 ms against 160 ms before)."""
    import time

    from app.auth.services import authenticate, hash_password, unusable_password_hash

    app.config["PASSWORD_HASH_METHOD"] = "scrypt"  # as in production: the cost being compared
    with_password, imported = make_user(), make_user()
    with_password.password_hash = hash_password(PASSWORD)
    imported.password_hash = unusable_password_hash()
    db.session.commit()

    def once(user) -> float:
        started = time.perf_counter()
        assert authenticate(db.session, user.username, "sai-mat-khau-123") is None
        elapsed = time.perf_counter() - started
        db.session.rollback()
        return elapsed

    # Interleaved, and the fastest of each: what the code costs, not what the busy machine adds.
    rounds = [(once(with_password), once(imported)) for _ in range(7)]
    real, without = min(r for r, _ in rounds), min(w for _, w in rounds)
    assert 0.5 < without / real < 2, (without, real)


def test_the_per_account_limit_counts_the_account_however_it_is_named(app, client, make_user):
    app.config["LOGIN_RATE_LIMIT_PER_ACCOUNT"] = app.config["LOGIN_RATE_LIMIT_PER_ACCOUNT"].replace("5 minutes", "hour")
    user = make_user()
    limit = int(app.config["LOGIN_RATE_LIMIT_PER_ACCOUNT"].split()[0])
    names = [user.username, user.email.upper()]
    for number in range(limit):
        assert _login(client, names[number % 2], "sai-mat-khau").status_code == 200
    assert _login(client, names[0], PASSWORD).status_code == 429
    assert _login(client, names[1], PASSWORD).status_code == 429


def test_a_lockout_does_not_keep_the_owner_out_on_their_own_browser(app, client, make_user):
    """Anyone may fail on purpose until the account locks; the owner, on a browser the account has
    signed in from, still gets in with the right password. A new browser stays locked out."""
    from flask import g

    def _login(browser, name, password):  # two browsers: the CSRF token the shared app context keeps goes
        g.pop("csrf_token", None)
        return _sign_in(browser, name, password)

    app.config.update(LOGIN_LOCKOUT_THRESHOLD=3)
    owner = make_user()
    assert _login(client, owner.username, PASSWORD).status_code == 302
    g.pop("csrf_token", None)
    client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/")})
    attacker = app.test_client()
    tried = [_login(attacker, owner.email, "sai-mat-khau").status_code for _ in range(12)]
    assert tried[:3] == [200] * 3 and tried[-1] == 429, tried  # past the lock and past the per-account limit
    db.session.expire_all()
    assert db.session.get(User, owner.id).locked_until > utcnow()
    assert _login(attacker, owner.username, PASSWORD).status_code in (200, 429)  # still refused
    assert _login(app.test_client(), owner.username, PASSWORD).status_code != 302
    signed_in = _login(client, owner.username, PASSWORD)
    assert signed_in.status_code == 302 and client.get("/").status_code == 200


def test_personal_pages_and_downloads_are_not_cached(client, auth, make_user, fixture_course):
    from support import complete_fixture_course

    assert "no-store" not in client.get("/auth/login").headers.get("Cache-Control", "")
    learner = make_user()
    code = complete_fixture_course(learner, fixture_course).certificate_code
    auth.login(learner)
    for url in ("/", "/courses/khoa-mau", f"/certificates/{code}.pdf", "/auth/password"):
        assert client.get(url).headers.get("Cache-Control") == "no-store", url
    manager = make_user(role="manager", manages=[learner.agency])
    auth.logout()
    auth.login(manager)
    export = client.get(f"/manage/agencies/{learner.agency_id}/export.csv")
    assert export.status_code == 200 and export.headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/static/css/app.css").headers.get("Cache-Control", "")
