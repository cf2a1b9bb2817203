"""The demo trainer, on a desktop-sized Chromium: edits a scenario, previews it as a learner will see
it, quotes a passage selected in the source viewer, and publishes a new version."""
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Question

from support import sign_in

pytestmark = pytest.mark.browser

PASSAGE = "Đăng tải, chia sẻ thông tin cá nhân"


@pytest.fixture
def desktop(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="vi-VN")
    page = context.new_page()
    yield page
    context.close()


def _select_in_viewer(page, passage):
    """Select `passage` in the visible source text, as a trainer dragging the mouse would."""
    return page.evaluate("""(passage) => {
        const pre = Array.from(document.querySelectorAll("pre.source-text")).find(p => !p.hidden);
        const node = pre.firstChild;
        const start = node.textContent.indexOf(passage);
        const range = document.createRange();
        range.setStart(node, start);
        range.setEnd(node, start + passage.length);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        return start;
    }""", passage)


def test_demo_trainer_edits_previews_quotes_and_publishes(live_server, desktop, demo):
    page = desktop
    sign_in(page, live_server, "giangvien")
    page.get_by_role("link", name="Soạn nội dung").click()
    page.get_by_role("link", name="Câu hỏi", exact=True).click()
    page.get_by_role("link", name="q-benh-nhan", exact=True).click()

    new_text = "Nóng!!! Có ca bệnh mới ở tổ 5, mọi người giữ gìn sức khỏe nhé <script>alert(1)</script>"
    page.get_by_label("Nội dung bài đăng (mọi loại trừ chọn phần vi phạm)").fill(new_text)
    page.get_by_role("button", name="Xem trước").click()
    preview = page.locator("section.question-preview")
    assert "Có ca bệnh mới ở tổ 5" in preview.locator(".post-text").inner_text()
    assert "<script>" in preview.locator(".post-text").inner_text()  # shown as text, never run
    assert preview.locator("script").count() == 0

    # The topic picker: typing narrows the checkboxes; the checked ones stay in sight.
    topics = page.locator(".topic-picker__item")
    checked = page.locator(".topic-picker__item input:checked").count()
    assert checked >= 1 and topics.count() > checked
    page.get_by_label("Lọc chủ đề").fill("khong co chu de nay")
    assert page.locator(".topic-picker__item:visible").count() == checked
    page.get_by_label("Lọc chủ đề").fill("")
    assert page.locator(".topic-picker__item:visible").count() == topics.count()

    # The letters are not in the page: choosing where to quote opens the viewer, which fetches the
    # chosen letter; selecting a passage there copies it verbatim into the quote field.
    assert page.locator("pre.source-text").count() == 0
    page.locator("button.choose-quote[data-row='0']").click()
    page.locator("#viewer-source").select_option("cat-tuyen-quang-2021")
    page.locator("pre.source-text[data-source='cat-tuyen-quang-2021']").wait_for()
    assert page.locator("pre.source-text:visible").count() == 1
    assert _select_in_viewer(page, PASSAGE) >= 0
    page.get_by_role("button", name="Dùng đoạn đã chọn").click()
    assert page.locator("#citations-0-quote").input_value() == PASSAGE
    assert page.locator("#citations-0-source").input_value() == "cat-tuyen-quang-2021"

    page.get_by_role("button", name="Xuất bản", exact=True).click()
    assert page.get_by_text("Đã xuất bản (phiên bản 2).").is_visible()
    db.session.expire_all()
    question = db.session.scalar(select(Question).where(Question.slug == "q-benh-nhan"))
    version = db.session.scalar(question.current_version_select())
    assert question.latest_version == 2 and version.scenario["text"] == new_text
    assert version.citations[0].quote == PASSAGE


def test_lesson_preview_follows_typing_and_a_selected_passage_becomes_a_quotation(live_server, desktop, demo):
    page = desktop
    sign_in(page, live_server, "giangvien")
    page.goto(f"{live_server}/author/lessons/l01-mau")
    body = page.locator("#body")
    body.press("End")
    body.press("Control+End")
    body.type("\n\nMột đoạn gõ thử <img src=x onerror=alert(1)>\n")
    article = page.locator(".lesson-preview article")
    article.get_by_text("Một đoạn gõ thử").wait_for()
    assert article.locator("img").count() == 0

    page.get_by_text("Mở văn bản nguồn để trích").click()
    page.locator("#viewer-source").select_option("cat-tuyen-quang-2021")
    page.locator("pre.source-text[data-source='cat-tuyen-quang-2021']").wait_for()
    _select_in_viewer(page, PASSAGE)
    page.get_by_role("button", name="Dùng đoạn đã chọn").click()
    assert f"> {PASSAGE}\n> — [cat-tuyen-quang-2021, vị trí]" in body.input_value()

    # The question editor shows only the parts of the chosen type.
    page.goto(f"{live_server}/author/questions/q-tich-cuc")
    assert page.locator("#answer").is_visible() and not page.locator("#choices-0-text").is_visible()
    page.locator("#type").select_option("single")
    assert page.locator("#choices-0-text").is_visible() and not page.locator("#answer").is_visible()
