"""Drawing the "Trước khi đăng" card. Its text is the course's own checklist (lesson 11), not legal
text; it is drawn once per process, since it never changes while the process runs."""
from __future__ import annotations

import io
from functools import lru_cache

from fpdf import FPDF
from flask import current_app
from PIL import Image, ImageDraw, ImageFont

from ..pdf import add_fonts, font_paths

TITLE = "Trước khi đăng"
SUBTITLE = "Trước khi bấm Đăng, Gửi, Chia sẻ hay Bình luận, hãy tự hỏi:"
QUESTIONS = [
    ("Thật không?", "Đã kiểm chứng chưa? Nguồn có chính thức, đáng tin cậy không?"),
    ("Được phép không?", "Có phải văn bản, số liệu, hình ảnh nội bộ chưa được công khai?"),
    ("Có lộ thông tin của ai không?", "Tên, tuổi, địa chỉ, bệnh tình, giấy tờ, ảnh của người khác, "
                                      "của con mình; thẻ ngành, văn bản ở phía sau ảnh?"),
    ("Có xúc phạm ai không?", "Lời lẽ có tôn trọng, kể cả khi đang bức xúc?"),
    ("Có thuộc loại thông tin vi phạm không?", "Tin sai sự thật, mê tín, bạo lực rùng rợn, bản đồ sai "
                                               "chủ quyền, trích dẫn sai nguồn…"),
    ("Mình có đang nói thay cơ quan không?", "Chỉ người được giao mới phát ngôn nhân danh cơ quan."),
    ("Nếu mai bài này lên báo, kèm tên và chức vụ của mình, có ổn không?", ""),
]
RULE = "Một câu khiến mình ngập ngừng: đừng đăng. Điều tốt đẹp đã kiểm chứng: hãy lan tỏa."
FOUND = ("Thấy thông tin vi phạm, hoặc chính mình bị xúc phạm: lưu chứng cứ (ảnh chụp, đường link, thời "
         "gian), không chia sẻ lại, báo lãnh đạo và cơ quan công an nơi gần nhất.")
SCAM = "Không ai của cơ quan nhà nước hỏi mã OTP hay bảo bấm đường link lạ."
FOOTER = "Khóa học Ứng xử trên mạng xã hội · bản tháng 12/2026"

#: the files `flask card build` writes under app/static/card/, linked from lesson 11 and the
#: certificate: drawing the PDF takes seconds, so it is drawn once, not per request
CARD_FILES = ("truoc-khi-dang.pdf", "truoc-khi-dang.png")
BLUE = (11, 83, 148)
INK = (11, 12, 12)
GREY = (80, 90, 95)


@lru_cache(maxsize=1)
def card_pdf() -> bytes:
    """An A5 portrait page: big enough to pin by a desk, small enough to print two on an A4."""
    pdf = FPDF(orientation="portrait", format=(148, 210))  # A5
    pdf.set_title(f"Thẻ «{TITLE}»")
    pdf.set_author("Hệ thống học ứng xử trên mạng xã hội")
    add_fonts(pdf)  # the static Noto fonts, loaded once per process (app/pdf.py)
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_fill_color(*BLUE)
    pdf.rect(0, 0, 148, 26, style="F")
    pdf.set_text_color(255, 255, 255)
    pdf.set_font("Noto", "B", 22)
    pdf.set_xy(10, 7)
    pdf.cell(128, 12, TITLE)
    pdf.set_text_color(*INK)
    pdf.set_xy(10, 31)
    pdf.set_font("Noto", "", 10)
    pdf.multi_cell(128, 5, SUBTITLE)
    pdf.ln(2)
    for number, (question, hint) in enumerate(QUESTIONS, 1):
        pdf.set_x(10)
        pdf.set_font("Noto", "B", 11)
        pdf.multi_cell(128, 5.6, f"{number}. {question}")
        if hint:
            pdf.set_x(15)
            pdf.set_font("Noto", "", 9.5)
            pdf.set_text_color(*GREY)
            pdf.multi_cell(123, 4.8, hint)
            pdf.set_text_color(*INK)
        pdf.ln(1.5)
    pdf.ln(1)
    pdf.set_draw_color(*BLUE)
    pdf.set_line_width(0.6)
    y = pdf.get_y()
    pdf.line(10, y, 138, y)
    pdf.ln(2)
    for text, style in ((RULE, "B"), (FOUND, ""), (SCAM, "")):
        pdf.set_x(10)
        pdf.set_font("Noto", style, 10)
        pdf.multi_cell(128, 5, text)
        pdf.ln(1.5)
    if pdf.get_y() > 198:  # the text must never run into the footer
        raise ValueError("the card's text does not fit the page")
    pdf.set_xy(10, 200)
    pdf.set_font("Noto", "", 8)
    pdf.set_text_color(*GREY)
    pdf.cell(128, 4, FOOTER)
    return bytes(pdf.output())


def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(font_paths(current_app.config["PDF_FONT_DIR"])["B" if bold else ""], size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if draw.textlength(candidate, font=font) <= width:
            line = candidate
        else:
            lines.append(line)
            line = word
    return lines + [line] if line else lines


@lru_cache(maxsize=1)
def card_png() -> bytes:
    """A 1080×1920 portrait image: a phone's screen, to keep in the photo gallery."""
    width, height, margin = 1080, 1920, 72
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, width, 230], fill=BLUE)
    draw.text((margin, 62), TITLE, font=_font(96, bold=True), fill="white")
    y = 280
    body, bold, small = _font(36), _font(40, bold=True), _font(33)

    def paragraph(text, font, colour=INK, indent=0, gap=14):
        nonlocal y
        for line in _wrap(draw, text, font, width - 2 * margin - indent):
            draw.text((margin + indent, y), line, font=font, fill=colour)
            y += font.size + gap

    paragraph(SUBTITLE, body, GREY)
    y += 24
    for number, (question, hint) in enumerate(QUESTIONS, 1):
        paragraph(f"{number}. {question}", bold, gap=10)
        if hint:
            paragraph(hint, small, GREY, indent=56, gap=8)
        y += 22
    draw.line([margin, y, width - margin, y], fill=BLUE, width=6)
    y += 30
    paragraph(RULE, bold)
    y += 16
    paragraph(FOUND, small)
    y += 16
    paragraph(SCAM, small)
    if y > height - 110:  # the text must never run into the footer
        raise ValueError("the card's text does not fit the image")
    draw.text((margin, height - 90), FOOTER, font=_font(30), fill=GREY)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
