"""The completion certificate: a one-page PDF with a QR code pointing at the public verification page."""
from __future__ import annotations

import io

import fontpkg_noto_sans
import segno
from fpdf import FPDF

from ..formatting import format_datetime_local
from ..models import CourseCompletion

FONT_FILE = str(fontpkg_noto_sans.ROOT / "files" / "NotoSans[wdth,wght].ttf")
ITALIC_FONT_FILE = str(fontpkg_noto_sans.ROOT / "files" / "NotoSans-Italic[wdth,wght].ttf")


def certificate_pdf(completion: CourseCompletion, verify_url: str) -> bytes:
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_title(f"Giấy chứng nhận {completion.certificate_code}")
    pdf.set_author("Hệ thống học ứng xử trên mạng xã hội")
    pdf.add_font("Noto", "", FONT_FILE)
    pdf.add_font("Noto", "B", FONT_FILE, variations={"wght": 700})
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_draw_color(13, 110, 253)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, 277, 190)
    pdf.set_line_width(0.3)
    pdf.rect(14, 14, 269, 182)

    def centred(text: str, size: int, style: str = "", height: float = 10, gap: float = 0) -> None:
        pdf.set_font("Noto", style, size)
        pdf.set_x(20)
        pdf.multi_cell(257, height, text, align="C")
        pdf.ln(gap)

    pdf.set_y(28)
    centred("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", 12, "B", 7)
    centred("Độc lập - Tự do - Hạnh phúc", 12, "", 7, 8)
    centred("GIẤY CHỨNG NHẬN HOÀN THÀNH KHÓA HỌC", 24, "B", 14, 6)
    centred("Chứng nhận", 13, "", 8)
    centred(completion.user.full_name, 22, "B", 13)
    centred(completion.agency.name, 13, "", 8, 6)
    centred("đã hoàn thành khóa học", 13, "", 8)
    centred(completion.course.title, 16, "B", 9, 4)
    completed = format_datetime_local(completion.completed_at, "%d/%m/%Y")
    centred(f"Ngày hoàn thành: {completed}", 12, "", 8)

    qr = io.BytesIO()
    segno.make(verify_url, error="m").save(qr, kind="png", scale=6, border=2)
    qr.seek(0)
    pdf.image(qr, x=232, y=150, w=40, h=40)
    pdf.set_font("Noto", "", 10)
    pdf.set_xy(24, 172)
    pdf.multi_cell(200, 6, f"Mã chứng nhận: {completion.certificate_code}\nKiểm tra tại: {verify_url}")
    return bytes(pdf.output())
