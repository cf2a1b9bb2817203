"""PDFs and spreadsheets of violation reports: the reporter's receipt, the summary sent with a
forwarded case, and the periodic report upward (PDF in the administrative form of the completion
report, and XLSX)."""
from __future__ import annotations

import tempfile
from datetime import datetime

from fpdf import FPDF
from fpdf.fonts import FontFace
from openpyxl import Workbook

from ..formatting import format_datetime_local, spreadsheet_safe
from ..models import Agency
from ..tracking.exports import closing, headings, new_report_pdf, paragraph, text_block
from .models import ViolationCase, ViolationReport
from .services import (
    KIND_LABELS,
    PLATFORM_LABELS,
    STATUS_LABELS,
    Dashboard,
    format_hours,
)


def _size(size: int) -> str:
    return f"{size:,} byte".replace(",", ".")


def _hash_line(pdf: FPDF, digest: str) -> None:
    """A SHA-256 on one line of its own, small enough never to wrap (a copied hash must be whole)."""
    pdf.set_font("Noto", "", 9)
    text_block(pdf, 0, 5, digest)


def receipt_pdf(report: ViolationReport) -> bytes:
    """The reporter's proof of what they sent and when: codes, the server's times and every hash."""
    pdf = new_report_pdf(f"Biên nhận báo cáo vi phạm {report.code}")
    pdf.set_font("Noto", "B", 14)
    text_block(pdf, 0, 7, "BIÊN NHẬN BÁO CÁO THÔNG TIN VI PHẠM", align="C")
    pdf.ln(3)
    for label, value in (
        ("Mã báo cáo", report.code),
        ("Mã vụ việc", report.case.code + (" (báo cáo được gộp vào vụ việc đã có)" if report.joined_existing else "")),
        ("Máy chủ nhận lúc", format_datetime_local(report.created_at, "%H:%M:%S %d/%m/%Y") + " (giờ Việt Nam)"),
        ("Đường link", report.url),
        ("Nền tảng", PLATFORM_LABELS[report.platform]),
        ("Thời điểm phát hiện", format_datetime_local(report.seen_at)),
        ("Loại vi phạm", KIND_LABELS[report.kind]),
    ):
        paragraph(pdf, f"{label}: {value}")
    paragraph(pdf, f"Mô tả: {report.description}")
    pdf.ln(2)
    paragraph(pdf, f"Tệp chứng cứ ({len(report.evidence)}), lưu nguyên gốc, kèm mã băm SHA-256:", "B")
    for evidence in report.evidence:
        paragraph(pdf, f"{evidence.position}. {evidence.original_name} — {evidence.content_type}, "
                  f"{_size(evidence.size)}, nhận lúc {format_datetime_local(evidence.received_at, '%H:%M:%S %d/%m/%Y')}")
        _hash_line(pdf, f"SHA-256: {evidence.sha256}")
        pdf.ln(1)
    if not report.evidence:
        paragraph(pdf, "Không có tệp chứng cứ.")
    pdf.ln(2)
    paragraph(pdf, "Mã SHA-256 thay đổi nếu tệp bị sửa dù chỉ một byte: so mã của tệp trên máy anh/chị với mã "
              "trên biên nhận này để chứng minh tệp đã gửi.", "I")
    return bytes(pdf.output())


def case_summary_pdf(case: ViolationCase, *, now: datetime, withhold_names: bool) -> bytes:
    """The summary sent with a forwarded case. Reporters who asked, or all when told, are unnamed."""
    pdf = new_report_pdf(f"Tóm tắt vụ việc {case.code}")
    pdf.set_font("Noto", "B", 14)
    text_block(pdf, 0, 7, f"TÓM TẮT THÔNG TIN VI PHẠM — {case.code}", align="C")
    pdf.ln(3)
    for label, value in (
        ("Đường link", case.url), ("Nền tảng", PLATFORM_LABELS[case.platform]),
        ("Loại vi phạm", KIND_LABELS[case.kind]), ("Trạng thái", STATUS_LABELS[case.status]),
        ("Tiếp nhận lúc", format_datetime_local(case.created_at)), ("Lập tóm tắt lúc", format_datetime_local(now)),
    ):
        paragraph(pdf, f"{label}: {value}")
    for number, report in enumerate(case.reports, start=1):
        pdf.ln(2)
        paragraph(pdf, f"Báo cáo {number} ({report.code})", "B")
        if withhold_names or report.withhold_name:
            who = "Người báo cáo đề nghị không chuyển danh tính." if report.withhold_name else \
                "Danh tính người báo cáo không được chuyển kèm."
        else:
            who = f"Người báo cáo: {report.reporter.full_name}, {report.agency.name}, {report.reporter.email}"
        paragraph(pdf, who)
        paragraph(pdf, f"Phát hiện lúc {format_datetime_local(report.seen_at)}; gửi lúc "
                  f"{format_datetime_local(report.created_at)}. Mô tả: {report.description}")
        for evidence in report.evidence:
            paragraph(pdf, f"Tệp {evidence.position}: {evidence.original_name}, {evidence.content_type}, {_size(evidence.size)}")
            _hash_line(pdf, f"SHA-256: {evidence.sha256}")
    return bytes(pdf.output())


def period_text(since: datetime | None, until: datetime | None) -> str:
    if since and until:
        return f"từ {format_datetime_local(since, '%d/%m/%Y')} đến trước {format_datetime_local(until, '%d/%m/%Y')}"
    return "từ khi bắt đầu tiếp nhận"


def report_pdf(board: Dashboard, *, root: Agency, now: datetime,
               since: datetime | None = None, until: datetime | None = None) -> bytes:
    """"Báo cáo kết quả phát hiện, xử lý thông tin vi phạm" of a subtree, for the superior."""
    agency = board.agency
    pdf = new_report_pdf(f"Báo cáo kết quả phát hiện, xử lý thông tin vi phạm — {agency.name}")
    headings(pdf, agency, root, now)
    pdf.set_font("Noto", "B", 14)
    text_block(pdf, 0, 7, "BÁO CÁO", align="C")
    text_block(pdf, 0, 7, "Kết quả phát hiện, xử lý thông tin vi phạm trên mạng", align="C")
    pdf.ln(5)
    by_status = dict(board.by_status)
    paragraph(pdf, "1. Kết quả chung", "B")
    paragraph(pdf, f"Trong kỳ báo cáo ({period_text(since, until)}), {agency.name} và các đơn vị trực thuộc "
              f"tiếp nhận {board.total} vụ việc có dấu hiệu vi phạm; trong đó {by_status['resolved']} vụ việc đã "
              f"xử lý, {by_status['referred']} vụ việc đã chuyển cơ quan chức năng, {by_status['verifying']} vụ "
              f"việc đang xác minh, {by_status['new']} vụ việc mới và {by_status['no_violation']} vụ việc xác "
              "định không vi phạm.")
    paragraph(pdf, f"Thời gian trung vị đến lần xử lý đầu tiên: {format_hours(board.median_first_action_hours)}; "
              f"đến khi kết thúc: {format_hours(board.median_closure_hours)}.")
    paragraph(pdf, "2. Theo loại vi phạm", "B")
    _table(pdf, ("STT", "Loại vi phạm", "Số vụ việc"), [(KIND_LABELS.get(k, k), n) for k, n in board.by_kind])
    paragraph(pdf, "3. Theo nền tảng", "B")
    _table(pdf, ("STT", "Nền tảng", "Số vụ việc"), [(PLATFORM_LABELS.get(k, k), n) for k, n in board.by_platform])
    paragraph(pdf, "4. Theo tháng tiếp nhận", "B")
    _table(pdf, ("STT", "Tháng", "Số vụ việc"), [(f"{m[5:]}/{m[:4]}", n) for m, n in board.by_month])
    paragraph(pdf, "5. Vụ việc chưa kết thúc", "B")
    if board.open_cases:
        pdf.set_font("Noto", "", 10)
        with pdf.table(col_widths=(8, 26, 50, 40, 16), text_align=("CENTER", "LEFT", "LEFT", "LEFT", "RIGHT"),
                       headings_style=FontFace(emphasis="BOLD"), line_height=5.5) as table:
            table.row(("STT", "Mã", "Loại", "Trạng thái", "Số ngày"))
            for number, row in enumerate(board.open_cases, start=1):
                table.row((str(number), row[1], KIND_LABELS[row[2]], STATUS_LABELS[row[4]], str(row[7])))
        pdf.ln(4)
    else:
        paragraph(pdf, "Không có vụ việc chưa kết thúc.")
    closing(pdf, agency)  # the signer from the agency's settings, like the completion report
    return bytes(pdf.output())


def _table(pdf: FPDF, heading: tuple, rows: list[tuple[str, int]]) -> None:
    if not rows:
        paragraph(pdf, "Không có.")
        return
    pdf.set_font("Noto", "", 10)
    with pdf.table(col_widths=(10, 110, 30), text_align=("CENTER", "LEFT", "RIGHT"),
                   headings_style=FontFace(emphasis="BOLD"), line_height=5.5) as table:
        table.row(heading)
        for number, (label, count) in enumerate(rows, start=1):
            table.row((str(number), label, str(count)))
    pdf.ln(4)


XLSX_HEADERS = ("STT", "Mã vụ việc", "Đường link", "Nền tảng", "Loại vi phạm", "Trạng thái", "Đơn vị",
                "Số báo cáo", "Tiếp nhận", "Xử lý lần đầu", "Kết thúc")


def report_xlsx(board: Dashboard, rows) -> tempfile.SpooledTemporaryFile:
    """The cases of the subtree one per row, and the counts on a second sheet."""
    workbook = Workbook(write_only=True)
    workbook.properties.title = f"Báo cáo vi phạm — {board.agency.name}"
    sheet = workbook.create_sheet("Vụ việc")
    sheet.freeze_panes = "A2"
    sheet.append(list(XLSX_HEADERS))
    for number, row in enumerate(rows, start=1):
        sheet.append([number, row.code, spreadsheet_safe(row.url), PLATFORM_LABELS[row.platform],
                      KIND_LABELS[row.kind], STATUS_LABELS[row.status], spreadsheet_safe(row.name), row.reports,
                      format_datetime_local(row.created_at),
                      format_datetime_local(row.first_action_at) if row.first_action_at else "",
                      format_datetime_local(row.closed_at) if row.closed_at else ""])
    counts = workbook.create_sheet("Tổng hợp")
    counts.append(["Nhóm", "Giá trị", "Số vụ việc"])
    for group, items, labels in (("Trạng thái", board.by_status, STATUS_LABELS), ("Loại", board.by_kind, KIND_LABELS),
                                 ("Nền tảng", board.by_platform, PLATFORM_LABELS), ("Tháng", board.by_month, {})):
        for key, count in items:
            counts.append([group, labels.get(key, key), count])
    target = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    workbook.save(target)
    target.seek(0)
    return target

