"""Sign-in through the province's directory: OpenID Connect and LDAP, against real servers.

The OpenID Provider is the npm `oidc-provider` run by Node (tests/oidc/provider.js), the directory
a throwaway Debian slapd (tests/ldap/people.ldif); both are started by conftest.py on loopback.
"""
from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import ldap3
import pytest
import requests
from flask import g
from sqlalchemy import select

from app.auth.sessions import parse_session_token
from app.directory import services
from app.extensions import db
from app.models import AuditLog, User
from directory_servers import (LDAP_BASE_DN, LDAP_PASSWORDS, LDAP_SERVICE_DN, LDAP_SERVICE_PASSWORD,
                               OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, self_signed_certificate, openid_provider)
from support import PASSWORD, csrf_token

CALLBACK = "http://localhost/directory/oidc/callback"


def test_the_test_servers_answer(openid_provider, ldap_server):
    metadata = requests.get(f"{openid_provider}/.well-known/openid-configuration", timeout=10).json()
    assert metadata["issuer"] == openid_provider
    assert metadata["end_session_endpoint"].startswith(openid_provider)
    connection = ldap3.Connection(ldap3.Server(ldap_server.url), LDAP_SERVICE_DN, LDAP_SERVICE_PASSWORD,
                                  auto_bind=True)
    connection.search(LDAP_BASE_DN, "(uid=lan.tt)", attributes=["cn"])
    assert [entry.cn.value for entry in connection.entries] == ["Trần Thị Lan"]


# -- OpenID Connect -------------------------------------------------------------------------------

def configure_oidc(app, issuer, **settings):
    app.config.update(OIDC_ISSUER=issuer, OIDC_CLIENT_ID=OIDC_CLIENT_ID, OIDC_CLIENT_SECRET=OIDC_CLIENT_SECRET,
                      OIDC_SCOPE="openid email profile staff", OIDC_PROVIDER_NAME="Cổng đăng nhập của tỉnh",
                      **settings)


@pytest.fixture
def oidc(app, openid_provider):
    configure_oidc(app, openid_provider)
    return openid_provider


class ProviderBrowser:
    """Plays the person's browser at the provider: its cookies, its dev sign-in form."""

    def __init__(self):
        self.http = requests.Session()

    def sign_in(self, authorization_url: str, login: str | None) -> str:
        """Follow the provider until it sends the browser back to the app; returns that URL.

        `login` is typed into the provider's form when it asks (None: it must not ask).
        """
        url, method, data = authorization_url, "GET", None
        for _ in range(12):
            reply = self.http.request(method, url, data=data, allow_redirects=False, timeout=10)
            if reply.is_redirect:
                url, method, data = urljoin(url, reply.headers["Location"]), "GET", None
                if url.startswith("http://localhost/"):
                    return url
                continue
            assert reply.status_code == 200, reply.text[:500]
            action = re.search(r'<form[^>]*action="([^"]+)"', reply.text).group(1)
            url, method = urljoin(url, action), "POST"
            if 'name="prompt" value="consent"' in reply.text:
                # The provider asks a native (loopback) client's user to confirm every time.
                data = {"prompt": "consent"}
                continue
            assert login is not None, "the provider asked for a sign-in again"
            data = {"prompt": "login", "login": login, "password": "bat-ky"}
        raise AssertionError("the provider never sent the browser back")


def start_sign_in(client, next_url: str = "") -> str:
    """Press the app's button; returns the provider's authorization URL the app redirects to."""
    token = csrf_token(client, "/auth/login")
    reply = client.post("/directory/oidc/login", data={"csrf_token": token, "next": next_url})
    assert reply.status_code == 302
    return reply.headers["Location"]


def oidc_sign_in(client, login: str, browser: ProviderBrowser | None = None, next_url: str = ""):
    """The whole redirect dance; returns the app's reply to the provider's callback."""
    callback = (browser or ProviderBrowser()).sign_in(start_sign_in(client, next_url), login)
    return client.get(callback.removeprefix("http://localhost"))


def another_browser(client):
    """A second test client; the CSRF token Flask-WTF keeps in the shared app context is dropped."""
    g.pop("csrf_token", None)
    return client.application.test_client()


def signed_in_as(client) -> int | None:
    with client.session_transaction() as stored:
        token = stored.get("_user_id")
    parsed = parse_session_token(token) if token else None
    return parsed[0] if parsed else None


def flashed(client) -> str:
    return client.get("/auth/login").get_data(as_text=True)


def test_sign_in_button_sends_the_browser_with_pkce_state_and_nonce(client, oidc):
    page = client.get("/auth/login").get_data(as_text=True)
    assert "Đăng nhập bằng Cổng đăng nhập của tỉnh" in page
    authorization = urlsplit(start_sign_in(client))
    query = parse_qs(authorization.query)
    assert f"{authorization.scheme}://{authorization.netloc}" == oidc
    assert query["client_id"] == [OIDC_CLIENT_ID]
    assert query["redirect_uri"] == [CALLBACK]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43  # base64url of a SHA-256
    assert query["state"][0] and query["nonce"][0]
    with client.session_transaction() as stored:
        kept = stored[f"_state_province_{query['state'][0]}"]["data"]
    assert kept["nonce"] == query["nonce"][0] and kept["code_verifier"]


def test_sign_in_through_provider_by_employee_code(client, oidc, make_user):
    person = make_user(employee_code="OP001", full_name="Nguyễn Văn An")
    reply = oidc_sign_in(client, "nv-an", next_url="/auth/password")
    assert reply.status_code == 302 and reply.headers["Location"] == "/auth/password"
    assert signed_in_as(client) == person.id
    assert "Xin chào, Nguyễn Văn An!" in client.get("/auth/password").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, person.id).last_login_at is not None


def test_sign_in_through_provider_by_email(app, client, oidc, make_user):
    app.config["DIRECTORY_MATCH_BY"] = "email"
    person = make_user(employee_code="KHAC-01")
    person.email = "hoa.dt@tinhmau.example"
    db.session.commit()
    reply = oidc_sign_in(client, "nv-hoa")
    assert reply.status_code == 302 and reply.headers["Location"] == "/"
    assert signed_in_as(client) == person.id


def test_a_next_address_elsewhere_is_ignored(client, oidc, make_user):
    make_user(employee_code="OP001")
    reply = oidc_sign_in(client, "nv-an", next_url="https://tan-cong.example/")
    assert reply.headers["Location"] == "/"


def test_wrong_state_is_refused(client, oidc, make_user):
    make_user(employee_code="OP001")
    callback = ProviderBrowser().sign_in(start_sign_in(client), "nv-an")
    parts = urlsplit(callback)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    query["state"] = "khong-phai-state-da-gui"
    reply = client.get(f"{parts.path}?{urlencode(query)}")
    assert reply.status_code == 302 and reply.headers["Location"] == "/auth/login"
    assert signed_in_as(client) is None
    assert "Không hoàn tất được việc đăng nhập qua Cổng đăng nhập của tỉnh" in flashed(client)


def test_a_callback_the_app_never_asked_for_is_refused(client, oidc, make_user):
    """A code obtained in another browser (login CSRF) has no state in this one."""
    make_user(employee_code="OP001")
    attacker = another_browser(client)
    callback = ProviderBrowser().sign_in(start_sign_in(attacker), "nv-an")
    reply = client.get(callback.removeprefix("http://localhost"))
    assert reply.headers["Location"] == "/auth/login"
    assert signed_in_as(client) is None


def test_wrong_nonce_is_refused(client, oidc, make_user):
    make_user(employee_code="OP001")
    callback = ProviderBrowser().sign_in(start_sign_in(client), "nv-an")
    with client.session_transaction() as stored:
        (key,) = [key for key in stored if key.startswith("_state_province_")]
        kept = stored[key]
        kept["data"]["nonce"] = "mot-nonce-khac"
        stored[key] = kept
    reply = client.get(callback.removeprefix("http://localhost"))
    assert reply.headers["Location"] == "/auth/login"
    assert signed_in_as(client) is None
    assert "Không hoàn tất được việc đăng nhập" in flashed(client)


def test_a_code_used_twice_is_refused(client, oidc, make_user):
    make_user(employee_code="OP001")
    callback = ProviderBrowser().sign_in(start_sign_in(client), "nv-an")
    with client.session_transaction() as stored:
        saved = {key: value for key, value in stored.items() if key.startswith("_state_province_")}
    assert client.get(callback.removeprefix("http://localhost")).headers["Location"] == "/"
    other = another_browser(client)  # a second browser replaying the same callback
    with other.session_transaction() as stored:
        stored.update(saved)
    reply = other.get(callback.removeprefix("http://localhost"))
    assert reply.headers["Location"] == "/auth/login"
    assert signed_in_as(other) is None


def test_an_expired_code_is_refused(app, client, make_user, tmp_path):
    with openid_provider(tmp_path, code_ttl=1) as issuer:
        configure_oidc(app, issuer)
        make_user(employee_code="OP001")
        callback = ProviderBrowser().sign_in(start_sign_in(client), "nv-an")
        time.sleep(2.5)
        reply = client.get(callback.removeprefix("http://localhost"))
    assert reply.headers["Location"] == "/auth/login"
    assert signed_in_as(client) is None


def test_unknown_person_is_refused_by_default(client, oidc, make_user):
    make_user(employee_code="OP999")
    reply = oidc_sign_in(client, "nv-minh")
    assert reply.headers["Location"] == "/auth/login"
    assert signed_in_as(client) is None
    assert "Chưa có tài khoản nào trong ứng dụng ứng với mã cán bộ «OP004»" in flashed(client)
    assert db.session.scalar(select(User).where(User.employee_code == "OP004")) is None


def test_unknown_person_is_created_in_the_mapped_agency(app, client, oidc, make_agency):
    health = make_agency(code="SYT", name="Sở Y tế")
    app.config.update(DIRECTORY_UNKNOWN_PEOPLE="create", DIRECTORY_AGENCY_MAP={"so-y-te": "SYT"})
    reply = oidc_sign_in(client, "nv-minh")
    assert reply.headers["Location"] == "/"
    created = db.session.scalar(select(User).where(User.employee_code == "OP004"))
    assert (created.username, created.email, created.full_name, created.agency_id) == (
        "minh.hd", "minh.hd@tinhmau.example", "Hoàng Đức Minh", health.id)
    assert signed_in_as(client) == created.id
    assert not created.check_password("") and created.password_hash.startswith("!")
    assert db.session.scalar(select(AuditLog.action).where(AuditLog.action == "user.created_from_directory"))
    # The next time the same person signs in to the same account: nothing is created twice.
    client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/")})
    oidc_sign_in(client, "nv-minh")
    assert signed_in_as(client) == created.id
    assert len(db.session.scalars(select(User).where(User.employee_code == "OP004")).all()) == 1


def test_unknown_person_of_an_unmapped_agency_is_refused(app, client, oidc, make_agency):
    make_agency(code="SYT")
    app.config.update(DIRECTORY_UNKNOWN_PEOPLE="create", DIRECTORY_AGENCY_MAP={"so-y-te": "SYT"})
    reply = oidc_sign_in(client, "nv-khanh")  # agency "phong-khong-co"
    assert reply.headers["Location"] == "/auth/login"
    assert "cơ quan «phong-khong-co»" in flashed(client)
    assert signed_in_as(client) is None
    assert db.session.scalar(select(User).where(User.employee_code == "OP003")) is None


def test_a_deactivated_account_cannot_sign_in_through_the_provider(client, oidc, make_user):
    person = make_user(employee_code="OP001")
    person.is_active = False
    db.session.commit()
    reply = oidc_sign_in(client, "nv-an")
    assert reply.headers["Location"] == "/auth/login"
    assert signed_in_as(client) is None
    assert "Tài khoản của bạn trong ứng dụng đã bị vô hiệu hóa" in flashed(client)


def test_sign_out_ends_the_provider_session_too(client, oidc, make_user):
    person = make_user(employee_code="OP001")
    browser = ProviderBrowser()
    oidc_sign_in(client, "nv-an", browser=browser)
    assert signed_in_as(client) == person.id
    # While the provider's session lasts, signing in to the app again needs no password there.
    again = another_browser(client)
    oidc_sign_in(again, None, browser=browser)
    assert signed_in_as(again) == person.id

    g.pop("csrf_token", None)  # back to the first browser
    reply = client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/")})
    assert signed_in_as(client) is None
    end = urlsplit(reply.headers["Location"])
    assert f"{end.scheme}://{end.netloc}{end.path}" == f"{oidc}/session/end"
    query = parse_qs(end.query)
    assert query["post_logout_redirect_uri"] == ["http://localhost/auth/login"] and query["id_token_hint"]
    # The provider asks to confirm, then sends the browser back to the app's sign-in page.
    page = browser.http.get(reply.headers["Location"], timeout=10)
    action = re.search(r'<form[^>]*action="([^"]+)"', page.text).group(1)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    back = browser.http.post(urljoin(page.url, action), data={**fields, "logout": "yes"}, allow_redirects=False,
                             timeout=10)
    while back.is_redirect and not back.headers["Location"].startswith("http://localhost/"):
        back = browser.http.get(urljoin(back.url, back.headers["Location"]), allow_redirects=False, timeout=10)
    assert back.headers["Location"].split("?")[0] == "http://localhost/auth/login"
    # The provider's session is over: the next sign-in asks for the person again.
    with pytest.raises(AssertionError, match="asked for a sign-in again"):
        browser.sign_in(start_sign_in(client), None)


def test_local_sign_out_only_without_a_provider_session(client, oidc, auth, make_user):
    make_user(username="cucbo")
    auth.login("cucbo")
    reply = auth.logout()
    assert reply.headers["Location"] == "/auth/login"


def test_the_provider_button_is_absent_when_not_configured(client):
    assert "directory/oidc/login" not in client.get("/auth/login").get_data(as_text=True)
    assert client.post("/directory/oidc/login").status_code in (400, 404)
    assert client.get("/directory/oidc/callback?code=x&state=y").status_code == 404


# -- local passwords turned off for an agency ------------------------------------------------------

def test_local_password_refused_when_the_agency_turned_them_off(client, auth, make_agency, make_user):
    agency = make_agency(name="Sở Nội vụ")
    person = make_user(username="noivu1", agency=agency)
    agency.local_passwords_allowed = False
    db.session.commit()
    page = auth.login("noivu1").get_data(as_text=True)
    assert signed_in_as(client) is None
    assert "Cơ quan «Sở Nội vụ» không dùng mật khẩu riêng của ứng dụng" in page
    db.session.expire_all()
    assert db.session.get(User, person.id).last_login_at is None  # no sign-in happened
    # A wrong password still gets the one message that reveals nothing.
    page = auth.login("noivu1", password="sai-mat-khau-roi").get_data(as_text=True)
    assert "Tên đăng nhập hoặc mật khẩu không đúng." in page and "không dùng mật khẩu riêng" not in page


def test_the_directory_still_signs_in_staff_of_such_an_agency(client, oidc, make_agency, make_user):
    agency = make_agency()
    person = make_user(employee_code="OP001", agency=agency)
    agency.local_passwords_allowed = False
    db.session.commit()
    oidc_sign_in(client, "nv-an")
    assert signed_in_as(client) == person.id


def test_administrator_turns_local_passwords_off_and_on(client, auth, make_agency, make_user):
    agency = make_agency(code="SNV", name="Sở Nội vụ")
    make_user(role="admin", username="quantri1")
    auth.login("quantri1")
    url = f"/admin/agencies/{agency.id}/edit"
    page = client.get(url).get_data(as_text=True)
    assert "Cho phép đăng nhập bằng mật khẩu riêng của ứng dụng" in page
    token = csrf_token(client, url)
    reply = client.post(url, data={"csrf_token": token, "code": "SNV", "name": "Sở Nội vụ"})
    assert reply.status_code == 302
    db.session.expire_all()
    assert db.session.get(type(agency), agency.id).local_passwords_allowed is False
    action = db.session.scalar(select(AuditLog).where(AuditLog.action == "agency.local_passwords"))
    assert action.after == {"local_passwords_allowed": False}
    client.post(url, data={"csrf_token": token, "code": "SNV", "name": "Sở Nội vụ", "local_passwords_allowed": "y"})
    db.session.expire_all()
    assert db.session.get(type(agency), agency.id).local_passwords_allowed is True


# -- LDAP / Active Directory ----------------------------------------------------------------------

@pytest.fixture
def ldap_template(app, ldap_server):
    app.config.update(LDAP_URL=ldap_server.url, LDAP_BASE_DN=LDAP_BASE_DN,
                      LDAP_BIND_TEMPLATE="uid={username},ou=people," + LDAP_BASE_DN)
    return ldap_server


@pytest.fixture
def ldap_search(app, ldap_server):
    app.config.update(LDAP_URL=ldap_server.url, LDAP_BASE_DN=LDAP_BASE_DN, LDAP_BIND_TEMPLATE="",
                      LDAP_SERVICE_DN=LDAP_SERVICE_DN, LDAP_SERVICE_PASSWORD=LDAP_SERVICE_PASSWORD)
    return ldap_server


def test_ldap_bind_template_signs_in(client, auth, ldap_template, make_user):
    person = make_user(employee_code="LD001", username="tranthilan")
    assert "Cán bộ có tài khoản thư mục" in client.get("/auth/login").get_data(as_text=True)
    reply = auth.login("lan.tt", password=LDAP_PASSWORDS["lan.tt"])
    assert reply.status_code == 302
    assert signed_in_as(client) == person.id


def test_ldap_signs_in_staff_of_an_agency_without_local_passwords(client, auth, ldap_template, make_agency,
                                                                  make_user):
    agency = make_agency()
    person = make_user(employee_code="LD001", agency=agency)
    agency.local_passwords_allowed = False
    db.session.commit()
    auth.login("lan.tt", password=LDAP_PASSWORDS["lan.tt"])
    assert signed_in_as(client) == person.id


def test_ldap_search_then_bind_signs_in(client, auth, ldap_search, make_user):
    person = make_user(employee_code="LD002")
    auth.login("binh.lv", password=LDAP_PASSWORDS["binh.lv"])
    assert signed_in_as(client) == person.id


@pytest.mark.parametrize("mode", ["ldap_template", "ldap_search"])
def test_ldap_wrong_password_is_refused(request, client, auth, make_user, mode):
    request.getfixturevalue(mode)
    make_user(employee_code="LD001")
    page = auth.login("lan.tt", password="mat-khau-sai-hoan-toan").get_data(as_text=True)
    assert signed_in_as(client) is None
    assert "Tên đăng nhập hoặc mật khẩu không đúng." in page


@pytest.mark.parametrize("mode", ["ldap_template", "ldap_search"])
def test_ldap_never_accepts_an_empty_password(app, request, mode):
    request.getfixturevalue(mode)
    assert services.ldap_authenticate("lan.tt", "") is None
    assert services.ldap_authenticate("lan.tt", LDAP_PASSWORDS["lan.tt"]).employee_code == "LD001"


def test_ldap_filter_injection_finds_nobody(app, ldap_search):
    assert services.ldap_authenticate("*", LDAP_PASSWORDS["lan.tt"]) is None
    assert services.ldap_authenticate("lan.tt)(uid=*", LDAP_PASSWORDS["lan.tt"]) is None


def test_ldap_unknown_person_is_refused_by_default(client, auth, ldap_search):
    page = auth.login("binh.lv", password=LDAP_PASSWORDS["binh.lv"]).get_data(as_text=True)
    assert signed_in_as(client) is None
    assert "Chưa có tài khoản nào trong ứng dụng ứng với mã cán bộ «LD002»" in page


def test_ldap_unknown_person_is_created_in_the_mapped_agency(app, client, auth, ldap_template, make_agency):
    health = make_agency(code="SYT", name="Sở Y tế")
    app.config.update(DIRECTORY_UNKNOWN_PEOPLE="create", DIRECTORY_AGENCY_MAP={"so-y-te": "SYT"})
    auth.login("binh.lv", password=LDAP_PASSWORDS["binh.lv"])
    created = db.session.scalar(select(User).where(User.employee_code == "LD002"))
    assert (created.username, created.email, created.full_name, created.agency_id) == (
        "binh.lv", "binh.lv@tinhmau.example", "Lê Văn Bình", health.id)
    assert signed_in_as(client) == created.id


def test_ldap_unknown_person_of_an_unmapped_agency_is_refused(app, client, auth, ldap_template, make_agency):
    make_agency(code="SYT")
    app.config.update(DIRECTORY_UNKNOWN_PEOPLE="create", DIRECTORY_AGENCY_MAP={"so-y-te": "SYT"})
    page = auth.login("cuc.pt", password=LDAP_PASSWORDS["cuc.pt"]).get_data(as_text=True)
    assert signed_in_as(client) is None
    assert "cơ quan «phong-khong-co»" in page
    assert db.session.scalar(select(User).where(User.employee_code == "LD003")) is None


def test_ldap_deactivated_account_is_refused(client, auth, ldap_template, make_user):
    person = make_user(employee_code="LD001")
    person.is_active = False
    db.session.commit()
    page = auth.login("lan.tt", password=LDAP_PASSWORDS["lan.tt"]).get_data(as_text=True)
    assert signed_in_as(client) is None
    assert "Tài khoản của bạn trong ứng dụng đã bị vô hiệu hóa" in page


def test_local_passwords_still_work_beside_ldap(client, auth, ldap_search, make_user):
    person = make_user(username="ngoaithumuc")
    auth.login("ngoaithumuc")
    assert signed_in_as(client) == person.id


def test_directory_down_falls_back_to_local_passwords(app, client, auth, ldap_search, make_user):
    app.config["LDAP_SERVICE_PASSWORD"] = "khong-dung"
    person = make_user(username="ngoaithumuc")
    page = auth.login("lan.tt", password=LDAP_PASSWORDS["lan.tt"]).get_data(as_text=True)
    assert "Hệ thống thư mục của tỉnh hiện không trả lời" in page
    auth.login("ngoaithumuc")
    assert signed_in_as(client) == person.id


@pytest.mark.parametrize("tls", ["starttls", "ldaps"])
def test_ldap_over_tls_checks_the_certificate(app, client, auth, ldap_search, ldap_server, make_user, tls,
                                              tmp_path):
    person = make_user(employee_code="LD001")
    url = ldap_server.ldaps_url if tls == "ldaps" else ldap_server.url
    app.config.update(LDAP_URL=url, LDAP_STARTTLS=tls == "starttls", LDAP_CA_FILE=ldap_server.ca_file)
    assert services.ldap_authenticate("lan.tt", LDAP_PASSWORDS["lan.tt"]).employee_code == "LD001"
    auth.login("lan.tt", password=LDAP_PASSWORDS["lan.tt"])
    assert signed_in_as(client) == person.id
    # A certificate the app was not told to trust is refused: the directory counts as unreachable.
    app.config["LDAP_CA_FILE"] = str(self_signed_certificate(tmp_path))  # another server's certificate
    with pytest.raises(services.DirectoryUnavailable):
        services.ldap_authenticate("lan.tt", LDAP_PASSWORDS["lan.tt"])


def test_forms_may_lead_to_the_provider_only_when_one_is_configured(app, client, oidc):
    policy = client.get("/auth/login").headers["Content-Security-Policy"]
    assert f"form-action 'self' {oidc};" in policy
    app.config["OIDC_ISSUER"] = ""
    assert "form-action 'self';" in client.get("/auth/login").headers["Content-Security-Policy"]


# -- flask directory check --------------------------------------------------------------------------

def test_check_command_reports_working_settings(app, runner, oidc, ldap_search, make_agency, make_user):
    make_agency(code="SYT")
    make_user(employee_code="LD001", username="lan.app")
    app.config.update(DIRECTORY_UNKNOWN_PEOPLE="create", DIRECTORY_AGENCY_MAP={"so-y-te": "SYT"})
    result = runner.invoke(args=["directory", "check", "--username", "lan.tt"], input=LDAP_PASSWORDS["lan.tt"] + "\n")
    assert result.exit_code == 0, result.output
    assert f"✓ OpenID Connect: issuer {oidc}; có end_session_endpoint" in result.output
    assert f"✓ LDAP: tài khoản dịch vụ {LDAP_SERVICE_DN} đăng nhập được" in result.output
    assert "✓ LDAP: Trần Thị Lan · email lan.tt@tinhmau.example · mã cán bộ LD001" in result.output
    assert "tài khoản trong ứng dụng: lan.app" in result.output


def test_check_command_reports_what_is_wrong(app, runner, oidc, ldap_search, make_agency):
    make_agency(code="SYT")
    app.config.update(DIRECTORY_UNKNOWN_PEOPLE="create", DIRECTORY_AGENCY_MAP={"so-y-te": "SYT", "so-gd": "SGD"},
                      LDAP_SERVICE_PASSWORD="sai", OIDC_ISSUER=oidc + "/khong-phai")
    result = runner.invoke(args=["directory", "check"])
    assert result.exit_code == 1
    assert "✗ DIRECTORY_AGENCY_MAP: 2 mã cơ quan; không có (hoặc đã hợp nhất): SGD" in result.output
    assert "✗ OpenID Connect: không đọc được cấu hình" in result.output
    assert f"✗ LDAP: tài khoản dịch vụ {LDAP_SERVICE_DN} bị từ chối" in result.output
    assert "--username" in runner.invoke(args=["directory", "check", "--help"]).output


def test_an_account_that_cannot_be_created_is_refused_with_the_reason(app, client, oidc, make_agency, make_user):
    make_agency(code="SYT")
    make_user(username="minh.hd", employee_code="KHAC-99")  # someone else holds the username
    app.config.update(DIRECTORY_UNKNOWN_PEOPLE="create", DIRECTORY_AGENCY_MAP={"so-y-te": "SYT"})
    oidc_sign_in(client, "nv-minh")
    assert signed_in_as(client) is None
    assert "Không tạo được tài khoản cho bạn: Tên đăng nhập «minh.hd» đã được dùng." in flashed(client)
    assert db.session.scalar(select(User).where(User.employee_code == "OP004")) is None
