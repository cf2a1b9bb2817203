"""An imported person opens the invitation from their mail on a phone, chooses a password, signs in."""
import re

import pytest

from app.auth import links
from app.auth.services import unusable_password_hash
from app.extensions import db
from app.models import User
from app.reminders.mail import SmtpMailer
from support import no_sideways_scroll

pytestmark = pytest.mark.browser

NEW_PASSWORD = "gio-mua-dong-bac-31"


def test_invitation_set_password_then_sign_in(app, live_server, phone, demo, smtp_server):
    person = User.query.filter_by(username="hocvien").one()
    person.password_hash = unusable_password_hash()  # as an import leaves a new account
    links.queue_invitations(db.session, [person])
    db.session.commit()
    assert links.send_queued_invitations(db.session, SmtpMailer(app.config)) == 1
    mail, = smtp_server.to(person.email)
    path = re.search(r"https://hoc\.example\.vn(/account/invitation/\S+)", mail.get_content()).group(1)

    phone.goto(f"{live_server}{path}")
    assert phone.get_by_role("heading", name="Đặt mật khẩu lần đầu").is_visible()
    assert no_sideways_scroll(phone)
    phone.get_by_label("Mật khẩu mới", exact=True).fill("123")
    phone.get_by_label("Nhập lại mật khẩu mới").fill("123")
    phone.get_by_role("button", name="Lưu mật khẩu").click()
    assert phone.get_by_text("Có lỗi cần sửa").is_visible()
    phone.get_by_label("Mật khẩu mới", exact=True).fill(NEW_PASSWORD)
    phone.get_by_label("Nhập lại mật khẩu mới").fill(NEW_PASSWORD)
    phone.get_by_role("button", name="Lưu mật khẩu").click()
    phone.wait_for_url(f"{live_server}/auth/login")
    assert phone.get_by_text("Đã lưu mật khẩu mới cho «hocvien». Hãy đăng nhập.").is_visible()

    phone.get_by_label("Tên đăng nhập hoặc email").fill("hocvien")
    phone.get_by_label("Mật khẩu").fill(NEW_PASSWORD)
    phone.get_by_role("button", name="Đăng nhập").click()
    phone.wait_for_url(f"{live_server}/")
    assert phone.get_by_role("heading", name="Khóa học của tôi").is_visible()
    # first sign-in: the privacy notice is shown until read
    assert phone.get_by_text("Thông báo xử lý dữ liệu cá nhân").first.is_visible()
    phone.get_by_role("button", name="Tôi đã đọc").click()
    phone.wait_for_url(f"{live_server}/")
    assert phone.locator(".privacy-banner").count() == 0
    assert no_sideways_scroll(phone)
    # the link worked once: opening it again says so
    phone.goto(f"{live_server}{path}")
    assert phone.get_by_role("heading", name="Liên kết không dùng được").is_visible()
