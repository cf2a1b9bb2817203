"""A learner in the middle of a timed test sees it from every page and goes back to it; the attempt
page warns before the time is up."""
import re
import pytest

from support import no_sideways_scroll, sign_in

pytestmark = pytest.mark.browser


def test_the_running_attempt_follows_the_learner_and_brings_them_back(live_server, phone, demo):
    page = phone
    sign_in(page, live_server, "hocvien")
    assert page.locator(".attempt-banner").count() == 0  # nothing running yet
    page.goto(f"{live_server}/quizzes/final-mau")
    page.get_by_role("button", name="Bắt đầu làm bài").click()
    page.wait_for_url(re.compile(r"/attempts/\d+$"))
    attempt_url = page.url
    assert page.locator(".attempt-banner").count() == 0  # the attempt page has its own timer

    for path in ("/", "/courses/khoa-mau"):
        page.goto(f"{live_server}{path}")
        banner = page.locator(".attempt-banner")
        assert banner.is_visible(), path
        assert "Bài kiểm tra cuối khóa mẫu" in banner.inner_text() and "còn khoảng 10 phút" in banner.inner_text()
        assert no_sideways_scroll(page)
    page.get_by_role("link", name="Quay lại bài làm").click()
    page.wait_for_url(attempt_url)
    assert page.locator("#countdown").is_visible()


def test_the_attempt_page_warns_at_five_minutes_and_at_one(live_server, phone, demo):
    page = phone
    sign_in(page, live_server, "hocvien")
    page.goto(f"{live_server}/quizzes/final-mau")
    page.get_by_role("button", name="Bắt đầu làm bài").click()
    page.wait_for_url(re.compile(r"/attempts/\d+$"))
    warning = page.locator("#time-warning")
    assert warning.is_hidden()
    # Move the browser's clock instead of waiting: 5 minutes before the deadline, then 1.
    page.clock.install()
    page.reload()
    page.clock.fast_forward("05:02")
    warning.wait_for(state="visible")
    assert "Còn 5 phút" in warning.inner_text()
    page.clock.fast_forward("04:00")
    page.wait_for_function("document.getElementById('time-warning').textContent.includes('Còn 1 phút')")
    assert warning.get_attribute("role") == "alert"
