"""A demo agency head on a phone: figures of their subtree, drill down to a person, downloads."""
import io
import random

import pytest
from openpyxl import load_workbook

from app.content.text import strip_diacritics
from app.demo.cli import build_demo_progress
from app.extensions import db

from support import no_sideways_scroll, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def demo_with_progress(demo):
    build_demo_progress(db.session, random.Random(874))
    db.session.commit()


def test_a_head_drills_down_to_a_person_and_downloads_the_report(live_server, phone, demo_with_progress, tmp_path):
    sign_in(phone, live_server, "quanly.soyte")
    phone.get_by_role("link", name="Theo dõi hoàn thành").click()
    assert phone.get_by_role("heading", name="Sở Y tế").is_visible()
    assert phone.get_by_text("Tỷ lệ hoàn thành").is_visible()
    assert no_sideways_scroll(phone)
    phone.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
    # The weekly chart's text as drawn on this 360-px phone: at least 12 px (it was about 6 px).
    drawn = phone.eval_on_selector_all(".chart text", "texts => texts.map(text => parseFloat(text.getAttribute("
                                       "'font-size')) * text.ownerSVGElement.getBoundingClientRect().width"
                                       " / text.ownerSVGElement.viewBox.baseVal.width)")
    assert drawn and min(drawn) >= 12, drawn

    # A child agency, then its people filtered by a name typed without diacritics.
    phone.get_by_role("link", name="Trung tâm Kiểm soát bệnh tật").click()
    assert phone.get_by_role("heading", name="Trung tâm Kiểm soát bệnh tật").is_visible()
    phone.get_by_role("link", name="Cán bộ").click()
    first = phone.locator("table tbody tr td a").first
    full_name = first.inner_text()
    plain = strip_diacritics(full_name)  # "nguyen van a"
    phone.get_by_label("Tìm theo tên hoặc mã cán bộ").fill(plain)
    phone.get_by_role("button", name="Lọc").click()
    assert phone.get_by_role("link", name=full_name, exact=True).is_visible()
    assert no_sideways_scroll(phone)
    phone.get_by_role("link", name=full_name, exact=True).click()
    assert phone.get_by_role("heading", name=full_name).is_visible()

    # Downloads from the agency's dashboard: the spreadsheet keeps its diacritics.
    phone.goto(f"{live_server}/manage/")
    with phone.expect_download() as download:
        phone.get_by_role("link", name="Excel (.xlsx)").click()
    sheet = load_workbook(io.BytesIO(open(download.value.path(), "rb").read())).active
    assert sheet["C1"].value == "Họ và tên"
    assert full_name in {row[2] for row in sheet.iter_rows(min_row=2, values_only=True)}
    with phone.expect_download() as download:
        phone.get_by_role("link", name="Báo cáo gửi cấp trên (PDF)").click()
    assert open(download.value.path(), "rb").read(5) == b"%PDF-"


def test_a_head_cannot_open_another_subtree(live_server, phone, demo_with_progress):
    from sqlalchemy import select

    from app.models import Agency

    school = db.session.scalar(select(Agency).where(Agency.code == "HA-GD"))
    sign_in(phone, live_server, "quanly.soyte")
    for path in (f"/manage/agencies/{school.id}", f"/manage/agencies/{school.id}/people",
                 f"/manage/agencies/{school.id}/export.xlsx"):
        response = phone.request.get(f"{live_server}{path}")
        assert response.status == 404, path
