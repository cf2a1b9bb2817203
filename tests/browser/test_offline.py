"""A weak connection. The service worker keeps the learner's assigned lessons and their sources for
offline reading, shows the offline page for anything else, and forgets them on sign-out; answers
chosen while the phone is offline wait on the device ("Đang chờ mạng…") and are stored once the
network is back ("Đã lưu"), with the worker in place; the server's time limit still rules."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Agency, AttemptQuestion, Course, LessonProgress, utcnow
from app.tracking.services import create_assignment

from support import opaque_keys, sign_in

pytestmark = pytest.mark.browser


def _items(attempt_id):
    db.session.expire_all()
    return db.session.scalars(select(AttemptQuestion).where(AttemptQuestion.attempt_id == attempt_id)
                              .order_by(AttemptQuestion.position)).all()


#: the reading caches on the device (one per person)
READING_CACHES = "caches.keys().then((names) => names.filter((name) => name.startsWith('reading-')))"


def _worker_ready(page):
    """Waits until the service worker is active (it then answers the page's navigations)."""
    assert page.evaluate("navigator.serviceWorker.ready.then((registration) => registration.scope)") \
        .endswith("/")


def _assign_fixture_course():
    now = utcnow()
    create_assignment(db.session, course=db.session.scalar(select(Course).where(Course.slug == "khoa-mau")),
                      agency=db.session.scalar(select(Agency).where(Agency.code == "HA")),
                      starts_at=now - timedelta(days=1), due_at=now + timedelta(days=30))
    db.session.commit()


def test_assigned_lessons_and_their_sources_are_read_offline(live_server, phone, demo):
    _assign_fixture_course()
    page = phone
    sign_in(page, live_server, "hocvien")
    _worker_ready(page)
    page.goto(f"{live_server}/courses/khoa-mau")
    page.wait_for_selector("body[data-offline-saved='true']")
    user_id = page.get_attribute("body", "data-user")
    assert page.evaluate(READING_CACHES) == [f"reading-{user_id}"]
    db.session.expire_all()
    assert db.session.scalar(select(LessonProgress.id)) is None  # saving a lesson is not reading it

    page.context.set_offline(True)
    page.goto(f"{live_server}/lessons/l01-mau")
    page.get_by_role("heading", name="Ba vi phạm thường gặp").wait_for()
    page.locator("main a[href*='/sources/']").first.click()
    page.wait_for_url(re.compile(r"/sources/"))
    assert page.locator("h1").inner_text().strip()
    assert "Không có mạng" not in page.title()
    page.goto(f"{live_server}/quizzes/final-mau")  # never saved: the offline page
    page.get_by_role("heading", name="Không có mạng").wait_for()
    assert "hocvien" not in page.content() and "Đăng xuất" not in page.content()

    page.context.set_offline(False)
    page.goto(f"{live_server}/courses/khoa-mau")
    page.locator(".account-menu summary").click()
    page.get_by_role("button", name="Đăng xuất").click()
    page.wait_for_url(re.compile(r"/auth/login"))
    assert page.evaluate(READING_CACHES) == []  # signing out leaves nothing of theirs on the device


def test_answers_given_offline_are_stored_when_the_network_returns(live_server, phone, demo):
    page = phone
    sign_in(page, live_server, "hocvien")
    _worker_ready(page)
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
