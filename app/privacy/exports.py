"""A person's own data as a PDF (the JSON download is `services.personal_data` as it is)."""
from __future__ import annotations

from fpdf import FPDF, XPos, YPos

from ..pdf import add_fonts

_NEXT_LINE = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}

#: the sections of the download, in order, with their Vietnamese titles
SECTIONS = {"account": "Tài khoản", "agency_history": "Lịch sử cơ quan công tác", "lessons": "Tiến độ bài học",
            "attempts": "Các lần làm bài và câu trả lời", "completions": "Hoàn thành và cam kết",
            "reminders": "Thư nhắc việc đã gửi", "corrections": "Yêu cầu sửa thông tin",
            "accesses": "Ai đã xem hồ sơ hoặc xuất danh sách có bạn"}


#: the JSON's field names as a reader of the PDF sees them
FIELD_LABELS = {
    "username": "Tên đăng nhập", "full_name": "Họ và tên", "email": "Email", "employee_code": "Mã cán bộ",
    "agency": "Cơ quan", "code": "Mã", "name": "Tên", "roles": "Vai trò", "is_active": "Đang hoạt động",
    "created_at": "Tạo lúc", "last_login_at": "Đăng nhập lần cuối", "password_changed_at": "Đổi mật khẩu lúc",
    "privacy_notice_seen_at": "Đã đọc thông báo xử lý dữ liệu lúc", "manages": "Quản lý", "at": "Lúc",
    "from": "Từ", "to": "Sang", "lesson": "Bài học", "started_at": "Bắt đầu", "completed_at": "Hoàn thành",
    "course": "Khóa học", "quiz": "Bài kiểm tra", "number": "Lần", "submitted_at": "Nộp bài",
    "score_percent": "Điểm (%)", "passed": "Đạt", "answers": "Câu trả lời", "position": "Câu",
    "question": "Câu hỏi", "answer": "Đã chọn", "answered_at": "Trả lời lúc", "score": "Điểm",
    "certificate_code": "Mã chứng nhận", "commitment_text": "Nội dung cam kết", "commitment_ip": "Địa chỉ mạng",
    "commitment_user_agent": "Trình duyệt", "archived_at": "Lưu trữ lúc", "sent_at": "Gửi lúc", "kind": "Loại",
    "subject": "Tiêu đề", "request": "Yêu cầu", "status": "Trạng thái", "response": "Trả lời", "by": "Người thực hiện",
    "action": "Hành động", "what": "Nội dung",
}


def _show(item) -> str:
    if item in (None, "", []):
        return "—"
    if item is True or item is False:
        return "có" if item else "không"
    if isinstance(item, list):
        return ", ".join(str(part) for part in item)
    return str(item)


def _lines(value, indent: str = "") -> list[str]:
    if isinstance(value, dict):
        out = []
        for key, item in value.items():
            label = FIELD_LABELS.get(key, key)
            if isinstance(item, dict) or (isinstance(item, list) and item and isinstance(item[0], dict)):
                out.append(f"{indent}{label}:")
                out.extend(_lines(item, indent + "    "))
            else:
                out.append(f"{indent}{label}: {_show(item)}")
        return out
    if isinstance(value, list):
        out = []
        for number, item in enumerate(value, 1):
            out.append(f"{indent}{number}.")
            out.extend(_lines(item, indent + "    "))
        return out or [f"{indent}(không có)"]
    return [f"{indent}{value}"]


def personal_data_pdf(data: dict, full_name: str) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_title(f"Dữ liệu của {full_name}")
    add_fonts(pdf)  # the static Noto fonts, loaded once per process (app/pdf.py)
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font("Noto", "B", 16)
    pdf.multi_cell(0, 9, f"Dữ liệu hệ thống lưu về {full_name}", **_NEXT_LINE)
    for key, title in SECTIONS.items():
        pdf.ln(3)
        pdf.set_font("Noto", "B", 12)
        pdf.multi_cell(0, 7, title, **_NEXT_LINE)
        pdf.set_font("Noto", "", 9)
        for line in _lines(data[key]):
            pdf.multi_cell(0, 4.8, line, **_NEXT_LINE)
    return bytes(pdf.output())
