"""Exports of a subtree's completion: XLSX and CSV of every person, and a PDF report to send upward.

The people exports read the database in batches (`yield_per`) and write as they go, so memory
stays flat whatever the size of the subtree: the XLSX through openpyxl's write-only workbook into
a spooled temporary file, the CSV straight into the response.
"""
from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime

from fpdf import FPDF, XPos, YPos
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ..formatting import VIETNAM, format_datetime_local, format_percent, spreadsheet_safe
from ..models import Agency, Course, User
from ..pdf import add_fonts, document_date, place_name
from .services import STATUS_LABELS, AgencyReport, filter_people, people_rows

HEADERS = ("STT", "Mã cán bộ", "Họ và tên", "Email", "Cơ quan, đơn vị", "Trạng thái", "Hạn hoàn thành",
           "Ngày hoàn thành", "Hoạt động gần nhất", "Điểm cao nhất bài kiểm tra cuối (%)")
COLUMN_WIDTHS = (6, 14, 28, 30, 40, 14, 16, 16, 18, 16)
BATCH = 2000
#: data rows per sheet: Excel's limit is 1,048,576 rows, the header included
SHEET_ROWS = 1_000_000
#: the PDF lists at most this many overdue people (a province's report counts them per unit); the
#: XLSX and CSV always list everyone
PDF_OVERDUE_LIMIT = 200


def person_rows(session: Session, course: Course, agency: Agency, now: datetime, limit: int | None = None,
                **filters) -> Iterator[tuple]:
    """One tuple per person of the subtree (the people list's filters apply), in batches; the first
    `limit` in name order when given.

    The rows are the people list's (`services.people_rows`): the stored standings when they answer
    for `now`, a page-free read of one table; the rule worked out person by person otherwise.
    """
    people = people_rows(session, course, agency, now)
    query = (select(User.employee_code, User.full_name, User.email, Agency.name, people.c.status,
                    people.c.due_at, people.c.completed_at, people.c.last_activity_at, people.c.best_score)
             .select_from(people)
             .join(User, User.id == people.c.user_id)
             .join(Agency, Agency.id == people.c.agency_id)
             .order_by(User.search_name, User.id))
    query = filter_people(query, people, **filters)
    if limit is not None:
        query = query.limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        # A server-side cursor is planned for its first rows only (cursor_tuple_fraction 0.1), which
        # picks nested loops over the whole province; we read every row, so say so.
        session.execute(text("SET LOCAL cursor_tuple_fraction = 1"))
    for number, row in enumerate(session.execute(query.execution_options(yield_per=BATCH)), start=1):
        yield (number, spreadsheet_safe(row.employee_code or ""), spreadsheet_safe(row.full_name),
               spreadsheet_safe(row.email), spreadsheet_safe(row.name), STATUS_LABELS[row.status],
               _day(row.due_at), _day(row.completed_at), _day(row.last_activity_at),
               round(row.best_score, 1) if row.best_score is not None else None)


def _day(moment: datetime | None) -> str:
    return format_datetime_local(moment, "%d/%m/%Y") if moment else ""


def xlsx_file(rows: Iterable[tuple], title: str, sheet_rows: int = SHEET_ROWS) -> tempfile.SpooledTemporaryFile:
    """A workbook with a bold frozen header row and filters, written row by row.

    Excel opens at most 1,048,576 rows a sheet, so a country-sized list goes on as many sheets as
    it needs ("Kết quả", "Kết quả (2)", …), each with its header; the numbering runs on.
    """
    workbook = Workbook(write_only=True)
    workbook.properties.title = title
    sheet, count, sheets = None, 0, 0
    for row in rows:
        if sheet is None or count == sheet_rows:
            if sheet is not None:
                _close_sheet(sheet, count)
            sheets += 1
            sheet, count = _new_sheet(workbook, "Kết quả" if sheets == 1 else f"Kết quả ({sheets})"), 0
        sheet.append(row)
        count += 1
    if sheet is None:  # nobody in the list: still one sheet with its header
        sheet = _new_sheet(workbook, "Kết quả")
    _close_sheet(sheet, count)
    target = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    workbook.save(target)
    target.seek(0)
    return target


def _new_sheet(workbook: Workbook, name: str):
    sheet = workbook.create_sheet(name)
    sheet.freeze_panes = "A2"
    for index, width in enumerate(COLUMN_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    bold = Font(bold=True)
    header = []
    for heading in HEADERS:
        cell = WriteOnlyCell(sheet, value=heading)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    return sheet


def _close_sheet(sheet, count: int) -> None:
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(HEADERS))}{count + 1}"


def csv_chunks(rows: Iterable[tuple]) -> Iterator[str]:
    """UTF-8 CSV with a byte-order mark, so Excel shows the diacritics; yielded in chunks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(HEADERS)
    for index, row in enumerate(rows, start=1):
        writer.writerow(row)
        if index % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


# -- the report sent upward (Nghị định 30/2020/NĐ-CP on administrative documents) --------------

def new_report_pdf(title: str) -> FPDF:
    """An A4 page with the margins of an administrative document and the static Noto fonts (also used
    by the violation reports, app/violations/exports.py)."""
    pdf = _ReportPdf(orientation="portrait", format="A4")
    pdf.set_title(title)
    pdf.set_margins(left=30, top=20, right=15)
    pdf.set_auto_page_break(True, margin=20)
    add_fonts(pdf)
    pdf.add_page()
    return pdf


def overdue_rows(session: Session, course: Course, agency: Agency, now: datetime,
                 limit: int = PDF_OVERDUE_LIMIT) -> list[tuple]:
    """The first `limit` overdue people of the subtree in name order, as the report lists them:
    (number, employee code, full name, agency name, due date). Only the columns the report prints:
    the best score and the lessons are not read."""
    people = people_rows(session, course, agency, now)
    query = filter_people(
        select(User.employee_code, User.full_name, Agency.name, people.c.due_at)
        .select_from(people)
        .join(User, User.id == people.c.user_id)
        .join(Agency, Agency.id == people.c.agency_id)
        .order_by(User.search_name, User.id), people, status="overdue").limit(limit)
    return [(number, row.employee_code or "", row.full_name, row.name, _day(row.due_at))
            for number, row in enumerate(session.execute(query), start=1)]


def subtree_report_pdf(session: Session, course: Course, agency: Agency, now: datetime) -> bytes:
    """The subtree's report for its superior as it stands at `now`, from the summaries and the first
    overdue people (the export view, or a job for a big subtree)."""
    from .services import agency_report

    report = agency_report(session, course, agency, now)
    root = session.get(Agency, agency.ancestor_ids()[0])
    return report_pdf(report, overdue_rows(session, course, agency, now), root=root, now=now)


def report_pdf(report: AgencyReport, overdue: list[tuple], *, root: Agency, now: datetime) -> bytes:
    """The completion report of an agency for its superior, in the administrative document form;
    `overdue` holds the first PDF_OVERDUE_LIMIT overdue people (`overdue_rows`).

    The number's symbol ("Số: …/BC-UBND") and the signer come from the agency's settings
    (administration → agency → edit); an agency without them gets blanks to fill in by hand.
    """
    pdf = new_report_pdf(f"Báo cáo kết quả học tập — {report.agency.name}")
    headings(pdf, report.agency, root, now)
    _title(pdf, report)
    _summary(pdf, report, now)
    _children_table(pdf, report)
    _overdue_list(pdf, overdue, report.total.overdue)
    closing(pdf, report.agency)
    return bytes(pdf.output())


class _ReportPdf(FPDF):
    def footer(self) -> None:
        if self.page_no() > 1:
            self.set_y(-15)
            self.set_font("Noto", "", 9)
            self.cell(0, 6, str(self.page_no()), align="C")


def headings(pdf: FPDF, agency: Agency, root: Agency, now: datetime) -> None:
    """Left: the superior and the agency, with a number; right: the national heading and the date."""
    top = pdf.get_y()
    left = pdf.l_margin  # everything inside the margins (30 mm left, 15 mm right)
    left_width, right_x = 68, pdf.l_margin + 70
    right_width = pdf.w - pdf.r_margin - right_x
    pdf.set_xy(left, top)
    if agency.parent is not None:
        pdf.set_font("Noto", "", 12)
        text_block(pdf, left_width, 6, agency.parent.name.upper(), align="C")
    pdf.set_font("Noto", "B", 12)
    text_block(pdf, left_width, 6, agency.name.upper(), align="C")
    _rule_under(pdf, left + left_width / 2, 25)
    pdf.set_xy(left, pdf.get_y() + 3)
    pdf.set_font("Noto", "", 12)
    text_block(pdf, left_width, 6, report_number(agency), align="C")
    left_bottom = pdf.get_y()

    pdf.set_xy(right_x, top)
    pdf.set_font("Noto", "B", 12)
    text_block(pdf, right_width, 6, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", align="C")
    pdf.set_x(right_x)
    pdf.set_font("Noto", "B", 13)
    text_block(pdf, right_width, 6.5, "Độc lập - Tự do - Hạnh phúc", align="C")
    _rule_under(pdf, right_x + right_width / 2, pdf.get_string_width("Độc lập - Tự do - Hạnh phúc"))
    pdf.set_xy(right_x, pdf.get_y() + 4)
    pdf.set_font("Noto", "I", 13)
    text_block(pdf, right_width, 6.5, document_date(place_name(root), now), align="C")
    pdf.set_y(max(left_bottom, pdf.get_y()) + 8)


def report_number(agency: Agency) -> str:
    """"Số:     /BC-UBND": the number is written by the clerk who registers the document."""
    symbol = agency.document_symbol or "……"
    return f"Số:        /BC-{symbol}"


def text_block(pdf: FPDF, width: float, height: float, text: str, align: str = "L") -> None:
    """A wrapped block of text; the next one starts on a new line at the left margin."""
    pdf.multi_cell(width, height, text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _rule_under(pdf: FPDF, centre_x: float, width: float) -> None:
    y = pdf.get_y() + 0.5
    pdf.set_line_width(0.3)
    pdf.line(centre_x - width / 2, y, centre_x + width / 2, y)


def _title(pdf: FPDF, report: AgencyReport) -> None:
    pdf.set_font("Noto", "B", 14)
    text_block(pdf, 0, 7, "BÁO CÁO", align="C")
    text_block(pdf, 0, 7, f"Kết quả học tập khóa «{report.course.title}»", align="C")
    pdf.ln(5)


def paragraph(pdf: FPDF, text: str, style: str = "") -> None:
    pdf.set_font("Noto", style, 13)
    text_block(pdf, 0, 7, text, align="J")
    pdf.ln(1)


def _summary(pdf: FPDF, report: AgencyReport, now: datetime) -> None:
    total = report.total
    paragraph(pdf, "1. Kết quả chung", "B")
    paragraph(pdf, f"Tính đến {format_datetime_local(now)}, {report.agency.name} và các đơn vị trực thuộc "
               f"có {total.staff} cán bộ, công chức, viên chức, người lao động được giao khóa học; "
               f"{total.completed} người đã hoàn thành (đạt {format_percent(total.completion_rate)}), {total.in_progress} "
               f"người đang học, {total.not_started} người chưa bắt đầu và {total.overdue} người quá hạn.")


def _children_table(pdf: FPDF, report: AgencyReport) -> None:
    paragraph(pdf, "2. Kết quả theo đơn vị trực thuộc", "B")
    rows = list(report.children)
    if report.direct.staff:
        rows.append((None, report.direct))
    if not rows:
        paragraph(pdf, "Đơn vị không có đơn vị trực thuộc.")
        return
    body = []
    for number, (child, figures) in enumerate(rows, start=1):
        name = child.name if child is not None else f"Trực tiếp tại {report.agency.name}"
        body.append((str(number), name, str(figures.staff), str(figures.completed), str(figures.in_progress),
                     str(figures.not_started), str(figures.overdue), format_percent(figures.completion_rate)))
    total = report.total
    body.append(("", "Tổng cộng", str(total.staff), str(total.completed), str(total.in_progress),
                 str(total.not_started), str(total.overdue), format_percent(total.completion_rate)))
    _table(pdf, (8, 52, 14, 16, 14, 16, 14, 14), "CLRRRRRR",
           ("STT", "Đơn vị", "Cán bộ", "Hoàn thành", "Đang học", "Chưa bắt đầu", "Quá hạn", "Tỷ lệ"), body)
    pdf.ln(4)


def _overdue_list(pdf: FPDF, overdue: list[tuple], total: int) -> None:
    paragraph(pdf, "3. Danh sách quá hạn", "B")
    if not overdue:
        paragraph(pdf, "Không có người quá hạn.")
        return
    shown = overdue[:PDF_OVERDUE_LIMIT]
    _table(pdf, (8, 50, 18, 62, 20), "CLLLC", ("STT", "Họ và tên", "Mã cán bộ", "Đơn vị", "Hạn"),
           [(str(number), name, code, agency_name, due) for number, code, name, agency_name, due in shown])
    if total > len(shown):
        pdf.ln(2)
        paragraph(pdf, f"(Danh sách trên có {len(shown)} trong tổng số {total} người quá hạn; số quá hạn của "
                   "từng đơn vị ở mục 2, danh sách đầy đủ ở tệp Excel kèm theo.)", "I")
    pdf.ln(4)


def _table(pdf: FPDF, weights: tuple[int, ...], aligns: str, header: tuple[str, ...], rows: list[tuple],
           size: int = 10, line_height: float = 5.0, pad: float = 1.2) -> None:
    """A ruled table across the text width, its header repeated on each page.

    Drawn cell by cell with our own word wrap: fpdf2's table lays every cell out twice through
    multi_cell, which took 20 s for a province's 500 rows. Widths come straight from the font's
    table of character widths and each line is placed with `text()`: fpdf2's `cell()` and
    `get_string_width()` parse every string into styled fragments, which was half the report's time.
    """
    widths = [pdf.epw * weight / sum(weights) for weight in weights]

    def measure(text: str) -> float:
        return pdf.current_font.get_text_width(text, pdf.font_size_pt, None)[1] / pdf.k

    def wrap(text: str, width: float) -> list[str]:
        room = width - 2 * (pad + pdf.c_margin)
        if measure(text) <= room:
            return [text]
        lines, current = [], ""
        for word in text.split():
            while measure(word) > room and len(word) > 1:  # a word wider than its cell
                cut = len(word) - 1
                while cut > 1 and measure(word[:cut]) > room:
                    cut -= 1
                if current:
                    lines.append(current)
                    current = ""
                lines.append(word[:cut])
                word = word[cut:]
            candidate = f"{current} {word}" if current else word
            if current and measure(candidate) > room:
                lines.append(current)
                current = word
            else:
                current = candidate
        lines.append(current)
        return lines

    def draw(cells: tuple[str, ...], bold: bool) -> None:
        pdf.set_font("Noto", "B" if bold else "", size)
        wrapped = [wrap(str(cell), width) for cell, width in zip(cells, widths)]
        height = max(len(lines) for lines in wrapped) * line_height + 2 * pad
        if pdf.get_y() + height > pdf.page_break_trigger:
            pdf.add_page()
            if not bold:
                draw(header, True)
                pdf.set_font("Noto", "", size)
        x, top = pdf.l_margin, pdf.get_y()
        inset = pad + pdf.c_margin
        baseline = 0.5 * line_height + 0.3 * pdf.font_size  # where cell() puts it
        for lines, width, align in zip(wrapped, widths, aligns):
            pdf.rect(x, top, width, height)
            for number, line in enumerate(lines):
                if align == "L":
                    left = x + inset
                else:
                    spare = width - 2 * inset - measure(line)
                    left = x + inset + (spare if align == "R" else spare / 2)
                pdf.text(left, top + pad + number * line_height + baseline, line)
            x += width
        pdf.set_xy(pdf.l_margin, top + height)

    pdf.set_line_width(0.2)
    draw(header, True)
    for row in rows:
        draw(row, False)


def closing(pdf: FPDF, agency: Agency) -> None:
    """"Nơi nhận" on the left, the signature block on the right; kept together on one page."""
    if pdf.get_y() > pdf.h - 55:
        pdf.add_page()
    top = pdf.get_y() + 4
    pdf.set_xy(pdf.l_margin, top)
    pdf.set_font("Noto", "BI", 12)
    pdf.cell(65, 6, "Nơi nhận:")
    pdf.set_xy(pdf.l_margin, top + 6)
    pdf.set_font("Noto", "", 11)
    text_block(pdf, 65, 5.5, "- Cơ quan cấp trên;\n- Lưu: VT.")
    pdf.set_xy(100, top)
    pdf.set_font("Noto", "B", 13)
    text_block(pdf, 95, 6.5, (agency.signer_title or "Thủ trưởng cơ quan").upper(), align="C")
    pdf.set_x(100)
    pdf.set_font("Noto", "I", 12)
    text_block(pdf, 95, 6, "(Ký, ghi rõ họ tên, đóng dấu)", align="C")
    if agency.signer_name:
        pdf.ln(18)
        pdf.set_x(100)
        pdf.set_font("Noto", "B", 13)
        text_block(pdf, 95, 6.5, agency.signer_name, align="C")
