"""The learner's whole path on a phone-sized Chromium: lesson, quiz saved and resumed, review, certificate."""
import io
import re

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from app.demo.cli import DEMO_PASSWORD
from app.extensions import db
from app.models import Attempt, AttemptQuestion, CourseCompletion

from support import no_sideways_scroll, opaque_keys

pytestmark = pytest.mark.browser


def _items(attempt_id):
    db.session.expire_all()
    return db.session.scalars(select(AttemptQuestion).where(AttemptQuestion.attempt_id == attempt_id)
                              .order_by(AttemptQuestion.position)).all()


def test_learner_goes_from_sign_in_to_a_verified_certificate(live_server, phone, demo, tmp_path):
    page = phone
    page.goto(f"{live_server}/auth/login")
    page.get_by_label("Tên đăng nhập hoặc email").fill("hocvien")
    page.get_by_label("Mật khẩu").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()

    # Read the lesson; a citation opens the letter with the quoted passage highlighted.
    page.get_by_role("link", name=re.compile("Bắt đầu học")).click()
    assert page.get_by_role("heading", name="Ba vi phạm thường gặp").is_visible()
    assert no_sideways_scroll(page)
    page.get_by_role("link", name=re.compile(r"Nguồn \[1\]")).click()
    assert page.locator("mark#trich-dan").is_visible()
    assert "người bệnh Covid-19" in " ".join(page.locator(".letter mark").all_inner_texts())  # marked piece by piece
    assert no_sideways_scroll(page)
    page.go_back()
    page.get_by_role("button", name="Tôi đã đọc hết bài này").click()

    # The final test: answers are saved without reloading the page.
    page.goto(f"{live_server}/quizzes/final-mau")
    page.get_by_role("button", name="Bắt đầu làm bài").click()
    page.wait_for_url(re.compile(r"/attempts/\d+$"))
    attempt_id = int(page.url.rsplit("/", 1)[1])
    items = _items(attempt_id)
    first = items[0]
    page.locator(f"#c1-{opaque_keys(attempt_id, 1, first.version.correct_keys)[0]}").check()
    page.locator("#cau-1 .save-status").get_by_text("Đã lưu", exact=True).wait_for()
    assert _items(attempt_id)[0].answer == first.version.correct_keys[:1]
    assert page.locator("#answered-count").inner_text() == "1"
    assert page.locator("#countdown").inner_text().count(":") == 1  # the timer runs: mm:ss
    assert no_sideways_scroll(page)

    # Reload: the saved answer is still there.
    page.reload()
    assert page.locator(f"#c1-{opaque_keys(attempt_id, 1, first.version.correct_keys)[0]}").is_checked()
    for item in items[1:]:
        for key in opaque_keys(attempt_id, item.position, item.version.correct_keys):
            page.locator(f"#c{item.position}-{key}").check()
        page.locator(f"#cau-{item.position} .save-status").get_by_text("Đã lưu", exact=True).wait_for()
    page.screenshot(path=str(tmp_path / "attempt.png"), full_page=True)
    page.get_by_role("button", name="Nộp bài").click()
    page.wait_for_url(re.compile(r"/review$"))
    assert page.get_by_text("100% — Đạt").is_visible()
    assert page.get_by_text("Giải thích").first.is_visible()
    db.session.expire_all()
    assert db.session.get(Attempt, attempt_id).passed

    # Commit, download the certificate and verify it.
    page.goto(f"{live_server}/courses/khoa-mau")
    page.get_by_role("link", name="Cam kết và hoàn thành khóa học").click()
    page.get_by_label(re.compile("Tôi đã học và cam kết")).check()
    page.get_by_role("button", name="Xác nhận cam kết").click()
    assert page.get_by_text("Chúc mừng! Anh/chị đã hoàn thành khóa học.").is_visible()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Tải giấy chứng nhận (PDF)").click()
    pdf_path = tmp_path / "chung-nhan.pdf"
    download_info.value.save_as(pdf_path)
    text = PdfReader(io.BytesIO(pdf_path.read_bytes())).pages[0].extract_text()
    assert "Nguyễn Thị Lan" in text and "Văn phòng HĐND và UBND xã Tân Phong" in text
    code = db.session.scalar(select(CourseCompletion.certificate_code))
    assert code in text
    page.goto(f"{live_server}/verify/{code}")
    assert page.get_by_text("Giấy chứng nhận hợp lệ.").is_visible()
    assert page.locator("#main").get_by_text("Nguyễn Thị Lan").is_visible()
    assert no_sideways_scroll(page)


def test_answers_save_without_javascript(browser, live_server, demo):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.goto(f"{live_server}/auth/login")
    page.get_by_label("Tên đăng nhập hoặc email").fill("hocvien")
    page.get_by_label("Mật khẩu").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.goto(f"{live_server}/quizzes/kt-mau")
    page.get_by_role("button", name="Bắt đầu làm bài").click()
    # The start answered with the attempt page; without a script the address stays the start's
    # (reloading it resumes the same attempt), and the first save moves to the attempt's own.
    attempt_id = int(page.locator("#attempt").get_attribute("data-attempt"))
    item = _items(attempt_id)[0]
    key = item.choice_order[0]
    shown = opaque_keys(attempt_id, 1, [key])[0]
    page.locator(f"#c1-{shown}").check()
    page.get_by_role("button", name="Lưu câu 1").click()
    assert page.get_by_text("Đã lưu câu trả lời câu 1.").is_visible()
    assert re.search(rf"/attempts/{attempt_id}(#.*)?$", page.url)
    assert page.locator(f"#c1-{shown}").is_checked()
    assert _items(attempt_id)[0].answer == [key]
    context.close()
