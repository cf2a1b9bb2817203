"""A weak connection: answers chosen while the phone is offline wait on the device ("Đang chờ
mạng…") and are stored once the network is back ("Đã lưu"); the server's time limit still rules."""
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AttemptQuestion

from support import opaque_keys, sign_in

pytestmark = pytest.mark.browser


def _items(attempt_id):
    db.session.expire_all()
    return db.session.scalars(select(AttemptQuestion).where(AttemptQuestion.attempt_id == attempt_id)
                              .order_by(AttemptQuestion.position)).all()


def test_answers_given_offline_are_stored_when_the_network_returns(live_server, phone, demo):
    page = phone
    sign_in(page, live_server, "hocvien")
    page.goto(f"{live_server}/quizzes/final-mau")
    page.get_by_role("button", name="Bắt đầu làm bài").click()
    page.wait_for_url(re.compile(r"/attempts/\d+$"))
    attempt_id = int(page.url.rsplit("/", 1)[1])
    first, second = _items(attempt_id)[:2]

    page.context.set_offline(True)
    page.locator(f"#c1-{opaque_keys(attempt_id, 1, first.choice_order[:1])[0]}").check()
    page.locator(f"#c2-{opaque_keys(attempt_id, 2, second.choice_order[1:2])[0]}").check()
    for position in (1, 2):
        page.locator(f"#cau-{position} .save-status").get_by_text("Đang chờ mạng…").wait_for()
    page.locator("#network-status").get_by_text("2 câu chưa gửi").wait_for()
    assert [item.answer for item in _items(attempt_id)[:2]] == [None, None]  # nothing reached the server

    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    for position in (1, 2):
        page.locator(f"#cau-{position} .save-status").get_by_text("Đã lưu", exact=True).wait_for()
    assert page.locator("#network-status").inner_text() == ""
    stored = _items(attempt_id)[:2]
    assert stored[0].answer == [first.choice_order[0]] and stored[1].answer == [second.choice_order[1]]
