"""The printable sheet of temporary passwords for staff without e-mail: one slip per person.

Generating the sheet sets a new temporary password for each person it lists and answers with the
PDF at once: the passwords are stored only as hashes, so the sheet can be downloaded once; a
second sheet for the same agency means new passwords, and the earlier sheet stops working.
"""
from __future__ import annotations

from dataclasses import dataclass

from fpdf import FPDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit import record
from ..models import Agency, User
from ..pdf import add_fonts
from .services import UNUSABLE_PASSWORD_PREFIX, reset_password, temporary_password


@dataclass
class Slip:
    full_name: str
    username: str
    employee_code: str | None
    password: str


def slip_candidates(session: Session, agency: Agency) -> list[User]:
    """The active staff of this agency (not below it) who have never had a password."""
    return list(session.scalars(
        select(User).where(User.agency_id == agency.id, User.is_active,
                           User.password_hash.startswith(UNUSABLE_PASSWORD_PREFIX))
        .order_by(User.search_name, User.id)))


def issue_slips(session: Session, agency: Agency, actor: User | None) -> list[Slip]:
    """A temporary password for each candidate (to be changed at first sign-in)."""
    slips = []
    for user in slip_candidates(session, agency):
        password = temporary_password()
        reset_password(session, user, password, actor=actor, temporary=True)
        slips.append(Slip(user.full_name, user.username, user.employee_code, password))
    record(session, actor, "users.password_sheet", agency, after={"people": len(slips)},
           summary=f"Tạo phiếu mật khẩu tạm cho {len(slips)} cán bộ của {agency.name}")
    session.flush()
    return slips


def slips_pdf(agency: Agency, slips: list[Slip], sign_in_url: str) -> bytes:
    """A4 pages of slips to cut apart: name, username, temporary password, where to sign in."""
    pdf = FPDF(format="A4")
    pdf.set_title(f"Phiếu mật khẩu tạm: {agency.name}")
    add_fonts(pdf)  # the static Noto fonts, loaded once per process (app/pdf.py)
    pdf.set_auto_page_break(False)
    slip_height, top = 54, 12
    per_page = 5
    for index, slip in enumerate(slips):
        if index % per_page == 0:
            pdf.add_page()
            pdf.set_font("Noto", "", 8)
            pdf.set_xy(10, 4)
            pdf.cell(0, 6, f"{agency.name}: phiếu mật khẩu tạm (cắt theo đường kẻ, trao tận tay từng người)")
        y = top + (index % per_page) * slip_height
        pdf.set_dash_pattern(dash=1.5, gap=1.5)
        pdf.rect(10, y, 190, slip_height - 4)
        pdf.set_dash_pattern()
        pdf.set_xy(15, y + 4)
        pdf.set_font("Noto", "B", 13)
        pdf.cell(0, 8, slip.full_name + (f" ({slip.employee_code})" if slip.employee_code else ""))
        rows = [("Tên đăng nhập", slip.username), ("Mật khẩu tạm", slip.password), ("Đăng nhập tại", sign_in_url)]
        for number, (label, value) in enumerate(rows):
            pdf.set_xy(15, y + 14 + number * 8)
            pdf.set_font("Noto", "", 11)
            pdf.cell(40, 7, label + ":")
            pdf.set_font("Noto", "B", 12)
            pdf.cell(0, 7, value)
        pdf.set_xy(15, y + 39)
        pdf.set_font("Noto", "", 9)
        pdf.multi_cell(180, 4.5, "Lần đăng nhập đầu tiên, hệ thống sẽ yêu cầu bạn chọn mật khẩu mới của riêng mình. "
                                 "Không đưa phiếu này cho người khác; hủy phiếu sau khi đã đổi mật khẩu.")
    if not slips:
        pdf.add_page()
        pdf.set_font("Noto", "", 12)
        pdf.cell(0, 10, f"{agency.name}: không có cán bộ nào cần mật khẩu tạm.")
    return bytes(pdf.output())
