"""A demo learner signs in on a phone-sized Chromium and sees their home page."""
import pytest

from app.demo.cli import DEMO_PASSWORD

from support import no_sideways_scroll

pytestmark = pytest.mark.browser


def test_demo_learner_signs_in_and_sees_home(live_server, phone, demo, tmp_path):
    phone.goto(f"{live_server}/")
    assert "/auth/login" in phone.url
    assert phone.locator("html").get_attribute("lang") == "vi"
    assert no_sideways_scroll(phone)
    phone.get_by_label("Tên đăng nhập hoặc email").fill("hocvien")
    phone.get_by_label("Mật khẩu").fill(DEMO_PASSWORD)
    phone.get_by_role("button", name="Đăng nhập").click()
    phone.wait_for_url(f"{live_server}/")
    assert phone.get_by_role("heading", name="Khóa học của tôi").is_visible()
    assert phone.get_by_text("Xin chào, Nguyễn Thị Lan!").is_visible()
    assert phone.get_by_text("Khóa học mẫu").is_visible()
    assert no_sideways_scroll(phone)
    phone.screenshot(path=str(tmp_path / "home.png"), full_page=True)


def test_wrong_password_shows_a_vietnamese_message(live_server, phone, demo):
    phone.goto(f"{live_server}/auth/login")
    phone.get_by_label("Tên đăng nhập hoặc email").fill("hocvien")
    phone.get_by_label("Mật khẩu").fill("sai-mat-khau")
    phone.get_by_role("button", name="Đăng nhập").click()
    assert phone.get_by_text("Tên đăng nhập hoặc mật khẩu không đúng.").is_visible()


def test_sign_out_from_the_phone_menu(live_server, phone, demo):
    phone.goto(f"{live_server}/auth/login")
    phone.get_by_label("Tên đăng nhập hoặc email").fill("quanly.xa")
    phone.get_by_label("Mật khẩu").fill(DEMO_PASSWORD)
    phone.get_by_role("button", name="Đăng nhập").click()
    phone.wait_for_url(f"{live_server}/")
    phone.get_by_role("link", name="Theo dõi hoàn thành").click()
    assert phone.get_by_role("heading", name="UBND xã Tân Phong").is_visible()
    phone.locator(".account-menu summary").click()  # the account menu: a <details>, no script needed
    # The menu's form first deletes the person's offline copies (site.js), then submits: the page
    # changes a moment after the click, so wait for the signed-out page rather than look at once.
    phone.get_by_role("button", name="Đăng xuất").click()
    phone.get_by_text("Bạn đã đăng xuất.").wait_for(state="visible", timeout=10_000)
    phone.goto(f"{live_server}/manage/")
    assert "/auth/login" in phone.url  # the session ended
