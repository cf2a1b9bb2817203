"""Chromium signs in through the province's directory: the real OpenID Provider's own pages, and
the LDAP directory through the normal form; sign-out ends the provider's session too."""
import pytest

from app.extensions import db
from directory_servers import (LDAP_BASE_DN, LDAP_PASSWORDS, LDAP_SERVICE_DN, LDAP_SERVICE_PASSWORD,
                               OIDC_CLIENT_ID, OIDC_CLIENT_SECRET)
from support import no_sideways_scroll

pytestmark = pytest.mark.browser


@pytest.fixture
def loopback_only(phone):
    """The provider's stock pages @import a web font: nothing may leave the machine, so every
    request to anywhere but loopback is refused (the pages work without it)."""
    phone.context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("http://127.0.0.1:")
                        else route.abort())
    return phone


def test_sign_in_and_out_through_the_openid_provider(app, live_server, loopback_only, openid_provider,
                                                      make_user):
    phone = loopback_only
    app.config.update(OIDC_ISSUER=openid_provider, OIDC_CLIENT_ID=OIDC_CLIENT_ID,
                      OIDC_CLIENT_SECRET=OIDC_CLIENT_SECRET, OIDC_SCOPE="openid email profile staff",
                      OIDC_PROVIDER_NAME="Cổng đăng nhập của tỉnh")
    person = make_user(employee_code="OP002", full_name="Đỗ Thị Hoa")
    phone.goto(f"{live_server}/auth/login")
    assert no_sideways_scroll(phone)
    phone.get_by_role("button", name="Đăng nhập bằng Cổng đăng nhập của tỉnh").click()
    # The provider's own sign-in page (oidc-provider's development form), then its consent page.
    phone.wait_for_url(f"{openid_provider}/interaction/**")
    phone.locator("input[name=login]").fill("nv-hoa")
    phone.locator("input[name=password]").fill("mat-khau-o-cong-tinh")
    phone.locator("button[type=submit]").click()
    phone.get_by_role("button", name="Continue").click()
    phone.wait_for_url(f"{live_server}/")
    assert phone.get_by_text("Xin chào, Đỗ Thị Hoa!").is_visible()
    db.session.expire_all()
    assert person.last_login_at is not None

    phone.locator(".account-menu summary").click()  # the account menu: a <details>
    phone.get_by_role("button", name="Đăng xuất").click()
    # The provider asks to confirm ending its session, then sends the browser back to the app.
    phone.wait_for_url(f"{openid_provider}/session/end**")
    phone.locator("button[autofocus]").click()
    phone.wait_for_url(f"{live_server}/auth/login**")
    # Signing in again goes through the provider's form again: its session ended too.
    phone.get_by_role("button", name="Đăng nhập bằng Cổng đăng nhập của tỉnh").click()
    phone.wait_for_url(f"{openid_provider}/interaction/**")
    assert phone.locator("input[name=login]").is_visible()


def test_sign_in_with_a_directory_password(app, live_server, phone, ldap_server, make_user):
    app.config.update(LDAP_URL=ldap_server.url, LDAP_BASE_DN=LDAP_BASE_DN, LDAP_SERVICE_DN=LDAP_SERVICE_DN,
                      LDAP_SERVICE_PASSWORD=LDAP_SERVICE_PASSWORD)
    make_user(employee_code="LD001", full_name="Trần Thị Lan")
    phone.goto(f"{live_server}/auth/login")
    assert phone.get_by_text("Cán bộ có tài khoản thư mục").is_visible()
    phone.get_by_label("Tên đăng nhập hoặc email").fill("lan.tt")
    phone.get_by_label("Mật khẩu").fill(LDAP_PASSWORDS["lan.tt"])
    phone.get_by_role("button", name="Đăng nhập", exact=True).click()
    phone.wait_for_url(f"{live_server}/")
    assert phone.get_by_text("Xin chào, Trần Thị Lan!").is_visible()


def test_sign_in_page_with_the_directory_is_accessible(app, live_server, axe_phone, openid_provider, ldap_server):
    from browser.test_accessibility import Audit

    app.config.update(OIDC_ISSUER=openid_provider, OIDC_CLIENT_ID=OIDC_CLIENT_ID,
                      OIDC_CLIENT_SECRET=OIDC_CLIENT_SECRET, OIDC_PROVIDER_NAME="Cổng đăng nhập của tỉnh",
                      LDAP_URL=ldap_server.url, LDAP_BASE_DN=LDAP_BASE_DN)
    audit = Audit(axe_phone)
    axe_phone.goto(f"{live_server}/auth/login")
    audit.check("sign-in page with the provider's button")
    assert audit.problems == []
