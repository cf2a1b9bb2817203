"""A violation report on a phone-sized Chromium: two screenshots from the camera roll, a receipt whose
PDF names their hashes, the bytes stored unchanged; then the commune's monitoring officer verifies it,
forwards it to the inspectorate (a real SMTP server on loopback) and closes it, and the reporter sees
each step."""
import hashlib
import io
import re
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select

from app.extensions import db
from app.violations.models import ViolationReport
from support import no_sideways_scroll, sign_in

pytestmark = pytest.mark.browser


def _screenshot(colour, size) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="JPEG" if size[0] % 2 else "PNG")
    return out.getvalue()


def test_a_report_with_two_screenshots_from_filing_to_closure(app, live_server, browser, demo, tmp_path, smtp_server):
    app.config["VIOLATION_EVIDENCE_DIR"] = str(tmp_path / "evidence")
    shots = [("IMG_0412.JPG", "image/jpeg", _screenshot((200, 40, 40), (721, 1280))),
             ("Screenshot_2026-12-06.png", "image/png", _screenshot((40, 90, 200), (720, 1280)))]
    reporter = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True,
                                   has_touch=True, locale="vi-VN")
    page = reporter.new_page()
    sign_in(page, live_server, "hocvien")
    page.get_by_role("link", name="Báo cáo vi phạm").click()
    page.get_by_label("Đường link (URL) của bài đăng, trang hoặc tài khoản").fill(
        "https://m.facebook.com/trang.gia.mao.ubnd/posts/4455?mibextid=xyz")
    page.get_by_label("Nền tảng").select_option("facebook")
    page.get_by_label("Có dấu hiệu thuộc loại vi phạm nào").select_option("gia-mao-trang")
    page.get_by_label("Mô tả ngắn").fill("Trang giả mạo UBND xã thu tiền làm hồ sơ (tình huống giả định).")
    page.get_by_label("Ảnh chụp màn hình").set_input_files(
        [{"name": name, "mimeType": mime, "buffer": data} for name, mime, data in shots])
    assert no_sideways_scroll(page)
    page.get_by_role("button", name="Gửi báo cáo").click()
    page.wait_for_url(re.compile(r"/vi-pham/bao-cao/BC-"))
    assert no_sideways_scroll(page)

    code = page.url.rsplit("/", 1)[1]
    db.session.expire_all()
    report = db.session.scalar(select(ViolationReport).where(ViolationReport.code == code))
    assert len(report.evidence) == 2
    for evidence, (name, _, sent) in zip(report.evidence, shots):
        stored = (Path(app.config["VIOLATION_EVIDENCE_DIR"]) / evidence.storage_key).read_bytes()
        assert stored == sent and evidence.sha256 == hashlib.sha256(sent).hexdigest()
        assert evidence.original_name == name and evidence.size == len(sent)
        assert evidence.sha256 in page.content()
    case_code = report.case.code
    db.session.rollback()  # end the test's read: the live server shares the in-memory database

    # The link the page offers, fetched with the page's own session.
    href = page.get_by_role("link", name="Tải biên nhận (PDF)").get_attribute("href")
    receipt = reporter.request.get(f"{live_server}{href}")
    assert receipt.ok and receipt.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(receipt.body())).pages).replace("\n", "")
    assert code in text
    for name, _, sent in shots:
        assert hashlib.sha256(sent).hexdigest() in text

    # The commune's monitoring officer verifies it, forwards it, closes it.
    officer = browser.new_context(viewport={"width": 360, "height": 740}, locale="vi-VN").new_page()
    sign_in(officer, live_server, "theodoi.xa")
    officer.goto(f"{live_server}/vi-pham/xu-ly")
    officer.get_by_role("link", name=case_code).click()
    assert "Nguyễn Thị Lan" in officer.content()  # the reporter, for the handling officer
    officer.get_by_label("Trạng thái mới").select_option("verifying")
    officer.get_by_label("Ghi chú nội bộ (chỉ cán bộ xử lý thấy)").fill("Đã xem trang, đúng là giả mạo.")
    officer.get_by_label("Thông tin cho người báo cáo (không bắt buộc)").fill("Đang xác minh trang này.")
    officer.get_by_role("button", name="Cập nhật trạng thái").click()
    officer.get_by_text("Đã chuyển vụ việc sang «Đang xác minh»").wait_for()
    officer.get_by_label("Gửi đến").select_option(index=0)
    officer.get_by_role("button", name="Gửi kèm gói chứng cứ").click()
    officer.get_by_text("Đã gửi vụ việc và gói chứng cứ").wait_for()
    [message] = smtp_server.messages
    archive = zipfile.ZipFile(io.BytesIO(next(message.iter_attachments()).get_content()))
    originals = sorted(name for name in archive.namelist() if name.startswith("chung-cu/"))
    assert [archive.read(name) for name in originals] == [sent for _, _, sent in shots]
    officer.get_by_label("Trạng thái mới").select_option("resolved")
    officer.get_by_label("Ghi chú nội bộ (chỉ cán bộ xử lý thấy)").fill("Nền tảng đã gỡ trang.")
    officer.get_by_label("Thông tin cho người báo cáo (không bắt buộc)").fill("Trang đã bị gỡ. Cảm ơn anh/chị.")
    officer.get_by_role("button", name="Cập nhật trạng thái").click()
    officer.get_by_text("Đã chuyển vụ việc sang «Đã xử lý»").wait_for()

    page.reload()
    content = page.content()
    for step in ("Đang xác minh trang này.", "Đã chuyển thông tin đến thanh tra", "Trang đã bị gỡ. Cảm ơn anh/chị."):
        assert step in content, step
    assert "Đã xem trang, đúng là giả mạo." not in content  # internal notes stay internal

    # The commune head's dashboard counts it.
    head = browser.new_context(viewport={"width": 360, "height": 740}, locale="vi-VN").new_page()
    sign_in(head, live_server, "quanly.xa")
    head.goto(f"{live_server}/vi-pham/tong-hop")
    assert "Đã xử lý</span> 1" in head.content()
    assert no_sideways_scroll(head)
    reporter.close()
