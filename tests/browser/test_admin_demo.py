"""The demo administrator, on a phone: imports a staff file with an error, fixes it, applies it,
then merges two agencies without losing a single completion."""
import csv
import io
import random

import pytest
from sqlalchemy import func, select

from app.auth.services import create_user
from app.demo.cli import DEMO_PASSWORD, build_demo_progress
from app.extensions import db
from app.models import Agency, CourseCompletion, User

from support import no_sideways_scroll

pytestmark = pytest.mark.browser

HEADER = ["Mã cán bộ", "Họ và tên", "Email", "Mã cơ quan", "Vai trò", "Trạng thái"]


def _staff_file(path, new_agency_code):
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(HEADER)
    writer.writerow(["CB0001", db.session.scalar(select(User.full_name).where(User.employee_code == "CB0001")),
                     db.session.scalar(select(User.email).where(User.employee_code == "CB0001")), "HA-DH-VP", "", ""])
    writer.writerow(["CB9001", "Mai Thị Nhập", "nhap.mt@demo.hocmxh.vn", new_agency_code, "quản lý", ""])
    path.write_bytes(("\ufeff" + out.getvalue()).encode("utf-8"))
    return path


def test_demo_admin_imports_fixes_applies_and_merges(live_server, phone, demo, tmp_path):
    build_demo_progress(db.session, random.Random(874))
    db.session.commit()
    completions = db.session.scalar(select(func.count(CourseCompletion.id)))
    assert completions > 0

    phone.goto(f"{live_server}/auth/login")
    phone.get_by_label("Tên đăng nhập hoặc email").fill("quantri")
    phone.get_by_label("Mật khẩu").fill(DEMO_PASSWORD)
    phone.get_by_role("button", name="Đăng nhập").click()
    phone.wait_for_url(f"{live_server}/")
    phone.get_by_role("link", name="Quản trị", exact=True).click()
    assert phone.get_by_role("heading", name="Quản trị").is_visible()
    phone.get_by_role("link", name="Nhập danh sách", exact=True).click()

    # A file with an unknown agency code: the error names the row and the column; nothing to apply.
    bad = _staff_file(tmp_path / "danh-sach.csv", "HA-KHONG-CO")
    phone.get_by_label("Tệp danh sách cán bộ (.xlsx hoặc .csv)").set_input_files(str(bad))
    phone.get_by_role("button", name="Xem trước").click()
    errors = phone.locator("table.import-errors tbody tr")
    assert errors.count() == 1
    assert errors.first.inner_text().split("\t")[:2] == ["3", "Mã cơ quan"]
    assert "Không có cơ quan mã «HA-KHONG-CO»" in errors.first.inner_text()
    assert phone.get_by_role("button", name="Áp dụng").count() == 0
    assert no_sideways_scroll(phone)

    # Fixed: the preview shows one move and one new account; the server kept the file, so Áp dụng
    # applies it without choosing it again.
    good = _staff_file(tmp_path / "danh-sach.csv", "HA-TP-VP")
    phone.goto(f"{live_server}/admin/import")
    phone.get_by_label("Tệp danh sách cán bộ (.xlsx hoặc .csv)").set_input_files(str(good))
    phone.get_by_role("button", name="Xem trước").click()
    assert phone.locator("[data-kind=created]").inner_text() == "1"
    assert phone.locator("[data-kind=errors]").inner_text() == "0"
    assert no_sideways_scroll(phone)
    assert phone.locator("input[type=file]").count() == 0
    phone.get_by_role("button", name="Áp dụng").click()
    assert phone.get_by_text("Đã nhập: tạo mới 1").is_visible()
    new = db.session.scalar(select(User).where(User.employee_code == "CB9001"))
    assert new is not None and new.is_manager

    # Merge the economy office of Đông Hải into its People's Committee office.
    source = db.session.scalar(select(Agency).where(Agency.code == "HA-DH-KT"))
    target = db.session.scalar(select(Agency).where(Agency.code == "HA-DH-VP"))
    office_manager = create_user(db.session, username="quanly.kinhte", email="quanly.kinhte@demo.hocmxh.vn",
                                 full_name="Hồ Thị Lan", agency=source, password=DEMO_PASSWORD, manages=[source])
    db.session.commit()
    phone.goto(f"{live_server}/admin/agencies/{source.id}")
    phone.get_by_role("link", name="Hợp nhất vào cơ quan khác").click()
    phone.get_by_label("Hợp nhất vào").select_option(str(target.id))
    phone.get_by_role("button", name="Xem trước").click()
    assert phone.get_by_text("lượt hoàn thành ghi tại").is_visible()
    # The office's manager is listed; removing the scope is chosen unless the administrator widens it.
    choice = phone.get_by_role("group", name="Khi hợp nhất, quyền quản lý của Hồ Thị Lan (quanly.kinhte)")
    assert choice.is_visible()
    assert choice.get_by_label(f"Thu hồi quyền quản lý {source.name} (mặc định)").is_checked()
    assert no_sideways_scroll(phone)
    phone.get_by_label("Tôi đã xem những gì sẽ được chuyển và muốn hợp nhất").check()
    phone.get_by_role("button", name="Hợp nhất").click()
    assert phone.get_by_text(f"Đã hợp nhất «{source.name}» vào «{target.name}».").is_visible()
    db.session.expire_all()
    assert not db.session.get(Agency, source.id).is_active
    assert db.session.get(User, office_manager.id).manager_scopes == []
    assert db.session.scalar(select(func.count(CourseCompletion.id))) == completions

    for page in ("/admin/", "/admin/agencies", "/admin/users", "/admin/audit", f"/admin/users/{new.id}"):
        phone.goto(f"{live_server}{page}")
        assert no_sideways_scroll(phone), page
