"""The demo administrator, on a phone: the reminders page previews a run, asks before «Gửi ngay»,
sends exactly what it previewed through a real SMTP server, lists the run, and refuses a second one."""
import random

import pytest

from app.demo.cli import build_demo_progress
from app.extensions import db

from support import no_sideways_scroll, sign_in

pytestmark = pytest.mark.browser


def test_admin_previews_confirms_and_sends_now(live_server, phone, demo, smtp_server):
    build_demo_progress(db.session, random.Random(874))
    db.session.commit()
    sign_in(phone, live_server, "quantri")
    phone.goto(f"{live_server}/reminders/")
    previewed = int(phone.locator("[data-preview-total]").get_attribute("data-preview-total"))
    assert previewed > 0 and smtp_server.messages == []
    assert no_sideways_scroll(phone)

    asked = []
    phone.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    phone.get_by_role("button", name="Gửi ngay").click()
    assert asked and f"Gửi ngay {previewed} thư" in asked[0]
    assert smtp_server.messages == []  # dismissed: nothing sent

    phone.once("dialog", lambda dialog: dialog.accept())
    phone.get_by_role("button", name="Gửi ngay").click()
    phone.get_by_text("Đã gửi", exact=False).first.wait_for()
    assert len(smtp_server.messages) == previewed
    assert phone.locator(".reminder-runs tbody tr").count() == 1
    assert "Hoàng Minh Quân" in phone.locator(".reminder-runs tbody tr").first.inner_text()  # who pressed it
    # The interval has not passed: the button is gone, and the page says from when it may run again.
    assert phone.get_by_role("button", name="Gửi ngay").count() == 0
    assert phone.get_by_text("có thể bấm «Gửi ngay» lại từ").is_visible()
