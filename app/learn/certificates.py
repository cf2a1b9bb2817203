"""The completion certificate: a one-page PDF with a QR code pointing at the public verification page.

It names the issuing authority, the place and date, and carries a signature block, all set per
deployment (CERTIFICATE_* in config.py), with the final test's score and the course's hours.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import segno
from flask import current_app
from fpdf import FPDF

from ..formatting import format_hours, format_percent
from ..models import CourseCompletion
from ..pdf import FAMILY, add_fonts, document_date, place_name


@dataclass(frozen=True)
class Signature:
    """Who issues the certificate and signs it: from the deployment's configuration."""

    issuer: str
    place: str
    title: str
    name: str

    @classmethod
    def from_config(cls, completion: CourseCompletion) -> Signature:
        config = current_app.config
        root = completion.agency
        while root.parent is not None:
            root = root.parent
        return cls(issuer=config["CERTIFICATE_ISSUER"] or config["SERVICE_OWNER"],
                   place=config["CERTIFICATE_PLACE"] or place_name(root),
                   title=config["CERTIFICATE_SIGNER_TITLE"], name=config["CERTIFICATE_SIGNER_NAME"])


def certificate_pdf(completion: CourseCompletion, verify_url: str, *, score_percent: float | None,
                    course_minutes: int, signature: Signature | None = None) -> bytes:
    signature = signature or Signature.from_config(completion)
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_title(f"Giấy chứng nhận {completion.certificate_code}")
    pdf.set_author(signature.issuer)
    add_fonts(pdf)
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_draw_color(11, 61, 145)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, 277, 190)
    pdf.set_line_width(0.3)
    pdf.rect(14, 14, 269, 182)

    def block(x: float, y: float | None, width: float, text: str, size: int, style: str = "",
              height: float = 6) -> None:
        pdf.set_font(FAMILY, style, size)
        if y is not None:
            pdf.set_xy(x, y)
        else:
            pdf.set_x(x)
        pdf.multi_cell(width, height, text, align="C", new_x="LEFT", new_y="NEXT")

    # Headings: the issuer on the left, the national motto on the right.
    block(20, 22, 110, signature.issuer.upper(), 11, "B", 5.5)
    block(150, 22, 127, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", 11, "B", 5.5)
    block(150, None, 127, "Độc lập - Tự do - Hạnh phúc", 11, "B", 5.5)

    def centred(text: str, size: int, style: str = "", height: float = 10, gap: float = 0) -> None:
        block(20, None, 257, text, size, style, height)
        pdf.ln(gap)

    pdf.set_y(48)
    centred("GIẤY CHỨNG NHẬN HOÀN THÀNH KHÓA HỌC", 22, "B", 12, 4)
    centred("Chứng nhận", 13, "", 7)
    centred(completion.user.full_name, 21, "B", 12)
    centred(completion.agency.name, 12, "", 7, 3)
    centred("đã hoàn thành khóa học", 13, "", 7)
    centred(completion.course.title, 15, "B", 8, 2)
    details = [f"Thời lượng: {format_hours(course_minutes)}"]
    if score_percent is not None:
        details.append(f"Điểm bài kiểm tra cuối khóa: {format_percent(score_percent)}")
    centred(" · ".join(details), 12, "", 7)

    # Bottom left: the QR code and the code; bottom right: place, date and the signature block.
    qr = io.BytesIO()
    segno.make(verify_url, error="m").save(qr, kind="png", scale=6, border=2)
    qr.seek(0)
    pdf.image(qr, x=22, y=146, w=36, h=36)
    pdf.set_font(FAMILY, "", 9)
    pdf.set_xy(60, 160)
    pdf.multi_cell(90, 5, f"Mã chứng nhận: {completion.certificate_code}\nKiểm tra tại: {verify_url}",
                   new_x="LEFT", new_y="NEXT")
    block(160, 140, 117, document_date(signature.place, completion.completed_at), 11, "I", 6)
    block(160, None, 117, signature.title.upper(), 12, "B", 6)
    if signature.name:
        block(160, 180, 117, signature.name, 12, "B", 6)
    return bytes(pdf.output())
