"""Administration: the queries behind the agency, user and audit pages, and the source contact.

Writes to agencies and accounts live with their features (agencies/services.py,
auth/services.py); what is here either reads, in a fixed number of queries whatever the size of
the tree, or changes what only an administrator owns (a source's current reporting contact).
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from ..agencies.services import direct_staff_counts, subtree_staff_counts
from ..audit import record
from ..content.text import strip_diacritics
from ..formatting import format_datetime_local, spreadsheet_safe
from ..models import Agency, Assignment, AuditLog, CourseCompletion, ManagerScope, Source, User

#: action → what it means, for the audit page and its export
ACTION_LABELS = {
    "agency.created": "Tạo cơ quan",
    "agency.renamed": "Đổi tên cơ quan",
    "agency.moved": "Chuyển cơ quan",
    "agency.merged": "Hợp nhất cơ quan",
    "user.created": "Tạo tài khoản",
    "user.updated": "Sửa tài khoản",
    "user.deactivated": "Vô hiệu hóa tài khoản",
    "user.reactivated": "Kích hoạt lại tài khoản",
    "user.roles_changed": "Đổi vai trò",
    "user.scope_granted": "Giao quyền quản lý",
    "user.scope_revoked": "Thu hồi quyền quản lý",
    "user.password_reset": "Đặt lại mật khẩu",
    "user.password_changed": "Tự đổi mật khẩu",
    "users.imported": "Nhập danh sách cán bộ",
    "source.contact_changed": "Đổi đầu mối tiếp nhận phản ánh",
    "assignment.created": "Giao khóa học",
    "assignment.new_cycle": "Bắt đầu chu kỳ mới",
    "reminders.nudged": "Quản lý nhắc học qua thư",
    "user.locked": "Khóa tạm tài khoản",
    "content.load": "Nạp nội dung",
    "lesson.draft_saved": "Lưu bản nháp bài học",
    "lesson.draft_discarded": "Bỏ bản nháp bài học",
    "lesson.published": "Xuất bản bài học",
    "lesson.retired": "Ngừng dùng bài học",
    "lesson.restored": "Dùng lại bài học",
    "question.draft_saved": "Lưu bản nháp câu hỏi",
    "question.draft_discarded": "Bỏ bản nháp câu hỏi",
    "question.published": "Xuất bản câu hỏi",
    "question.retired": "Ngừng dùng câu hỏi",
    "question.restored": "Dùng lại câu hỏi",
    "reminders.sent_now": "Gửi ngay thư nhắc việc",
}
#: the audit log's before/after fields in words (an unknown field shows as recorded)
FIELD_LABELS = {
    "course": "Khóa học", "user_ids": "Mã người được nhắc", "cut": "Cắt ở giới hạn số người",
    "code": "Mã", "name": "Tên", "parent": "Trực thuộc", "kind": "Loại", "status": "Trạng thái",
    "email": "Thư điện tử", "full_name": "Họ và tên", "username": "Tên đăng nhập", "employee_code": "Mã cán bộ",
    "agency": "Cơ quan", "agency_code": "Mã cơ quan", "roles": "Vai trò", "is_active": "Đang hoạt động",
    "is_trainer": "Giảng viên", "is_admin": "Quản trị", "manages": "Quản lý", "locked_until": "Khóa đến",
    "current_contact": "Đầu mối tiếp nhận", "cycle_start_at": "Chu kỳ bắt đầu", "file": "Tệp",
    "document_symbol": "Ký hiệu văn bản", "signer_title": "Chức danh người ký", "signer_name": "Người ký",
    "title": "Tiêu đề", "slug": "Mã nội dung", "version": "Phiên bản", "created": "Tạo mới",
    "updated": "Cập nhật", "unchanged": "Không đổi", "retired": "Ngừng dùng", "rows": "Số dòng",
    "learner_emails": "Thư nhắc học viên", "digests": "Bản tổng hợp", "skipped": "Bỏ qua", "failures": "Thư lỗi",
}


def audit_value(value) -> str:
    """A recorded value as people read it: yes/no, lists joined, nothing for empty."""
    if value is True:
        return "có"
    if value is False:
        return "không"
    if value is None or value == "":
        return "(trống)"
    if isinstance(value, (list, tuple)):
        return ", ".join(audit_value(item) for item in value) or "(trống)"
    if isinstance(value, dict):
        return "; ".join(f"{FIELD_LABELS.get(key, key)}: {audit_value(item)}" for key, item in sorted(value.items()))
    return str(value)


OBJECT_TYPE_LABELS = {"agency": "Cơ quan", "user": "Tài khoản", "import": "Tệp nhập",
                      "source": "Văn bản nguồn", "assignment": "Giao khóa học",
                      "content": "Nội dung", "lesson": "Bài học", "question": "Câu hỏi",
                      "reminder_run": "Lần gửi thư nhắc việc"}
ROLE_FILTERS = {"learner": "Chỉ học viên", "manager": "Quản lý", "trainer": "Giảng viên", "admin": "Quản trị"}


class AdminError(ValueError):
    """A rule of the administration pages was broken; the message is for the user, in Vietnamese."""


# -- agencies -------------------------------------------------------------------------------------

def agency_choices(session: Session, *, exclude: Agency | None = None) -> list[tuple[int, str]]:
    """Active agencies in tree order, indented, for a select (one query); `exclude` drops a subtree."""
    query = select(Agency.id, Agency.name, Agency.code, Agency.depth).where(Agency.is_active).order_by(Agency.path)
    if exclude is not None:
        query = query.where(~Agency.path.startswith(exclude.path, autoescape=True))
    return [(row.id, f"{'· ' * row.depth}{row.name} ({row.code})") for row in session.execute(query)]


def agencies_query(session: Session, *, search: str = "", include_merged: bool = False):
    """A select of agencies in tree order, filtered by name or code (diacritics ignored)."""
    query = select(Agency).options(selectinload(Agency.parent)).order_by(Agency.path)
    if not include_merged:
        query = query.where(Agency.is_active)
    words = strip_diacritics(search).split()
    if words:
        # Agency names have no search column; the table is small (hundreds to a few thousand rows),
        # so the names are folded here in one query and the page is selected by id.
        rows = session.execute(select(Agency.id, Agency.name, Agency.code)).all()
        ids = [row.id for row in rows
               if all(word in strip_diacritics(f"{row.name} {row.code}") for word in words)]
        query = query.where(Agency.id.in_(ids or [0]))
    return query


def staff_counts(session: Session, agencies: list[Agency]) -> dict[int, tuple[int, int]]:
    """agency id → (active staff placed directly there, active staff in the whole subtree)."""
    ids = [agency.id for agency in agencies]
    direct = direct_staff_counts(session, ids)
    subtree = subtree_staff_counts(session, ids)
    return {agency_id: (direct[agency_id], subtree[agency_id]) for agency_id in ids}


@dataclass
class AgencyDetail:
    agency: Agency
    ancestors: list[Agency]
    children: list[Agency]
    counts: dict[int, tuple[int, int]]
    managers: list[User]
    assignments: list[Assignment]
    completions: int
    merged_from: list[Agency]
    merged_into: Agency | None


def agency_detail(session: Session, agency: Agency) -> AgencyDetail:
    ancestors = list(session.scalars(select(Agency).where(Agency.id.in_(agency.ancestor_ids()[:-1]))
                                     .order_by(Agency.depth)))
    children = list(session.scalars(select(Agency).where(Agency.parent_id == agency.id)
                                    .order_by(Agency.is_active.desc(), Agency.name)))
    managers = list(session.scalars(select(User).join(ManagerScope, ManagerScope.user_id == User.id)
                                    .where(ManagerScope.agency_id == agency.id).order_by(User.search_name)))
    assignments = list(session.scalars(select(Assignment).where(Assignment.agency_id == agency.id)
                                       .options(selectinload(Assignment.course))
                                       .order_by(Assignment.is_active.desc(), Assignment.due_at)))
    completions = session.scalar(select(func.count(CourseCompletion.id))
                                 .where(CourseCompletion.agency_id == agency.id)) or 0
    merged_from = list(session.scalars(select(Agency).where(Agency.merged_into_id == agency.id)
                                       .order_by(Agency.name)))
    merged_into = session.get(Agency, agency.merged_into_id) if agency.merged_into_id else None
    return AgencyDetail(agency, ancestors, children, staff_counts(session, [agency, *children]), managers,
                        assignments, completions, merged_from, merged_into)


# -- users ----------------------------------------------------------------------------------------

def users_query(*, search: str = "", agency: Agency | None = None, role: str = "", status: str = "active"):
    """A select of users with their agency, filtered; ordered by name without diacritics."""
    query = (select(User).options(selectinload(User.agency))
             .order_by(User.search_name, User.id))
    for word in strip_diacritics(search).split()[:6]:
        query = query.where(or_(User.search_name.contains(word, autoescape=True),
                                func.lower(User.username).contains(word, autoescape=True),
                                func.lower(User.email).contains(word, autoescape=True),
                                func.lower(User.employee_code) == word))
    if agency is not None:
        query = query.join(Agency, Agency.id == User.agency_id).where(agency.subtree_filter())
    has_scope = select(ManagerScope.id).where(ManagerScope.user_id == User.id).exists()
    if role == "manager":
        query = query.where(has_scope)
    elif role == "trainer":
        query = query.where(User.is_trainer)
    elif role == "admin":
        query = query.where(User.is_admin)
    elif role == "learner":
        query = query.where(~has_scope, ~User.is_trainer, ~User.is_admin)
    if status == "active":
        query = query.where(User.is_active)
    elif status == "inactive":
        query = query.where(~User.is_active)
    return query


# -- sources --------------------------------------------------------------------------------------

def set_source_contact(session: Session, source: Source, contact: str, actor: User | None = None) -> bool:
    """Set the current reporting contact a province's letter is read with; returns True if changed."""
    contact = "\n".join(line.rstrip() for line in contact.strip().splitlines()) or None
    if contact == source.current_contact:
        return False
    before = source.current_contact
    source.current_contact = contact
    session.flush()
    record(session, actor, "source.contact_changed", source, before={"current_contact": before},
           after={"current_contact": contact}, summary=f"{source.number} ({source.issuer})")
    session.flush()
    return True


# -- audit log ------------------------------------------------------------------------------------

@dataclass
class AuditFilters:
    actor: str = ""
    action: str = ""
    object_type: str = ""
    since: datetime | None = None
    until: datetime | None = None


def audit_query(filters: AuditFilters):
    """Rows (AuditLog, actor username, actor name), newest first, filtered."""
    query = (select(AuditLog, User.username, User.full_name)
             .outerjoin(User, User.id == AuditLog.actor_id)
             .order_by(AuditLog.created_at.desc(), AuditLog.id.desc()))
    actor = filters.actor.strip()
    if actor == "-":
        query = query.where(AuditLog.actor_id.is_(None))
    elif actor:
        folded = strip_diacritics(actor)
        query = query.where(or_(func.lower(User.username) == actor.lower(),
                                User.search_name.contains(folded, autoescape=True)))
    if filters.action:
        query = query.where(AuditLog.action == filters.action)
    if filters.object_type:
        query = query.where(AuditLog.object_type == filters.object_type)
    if filters.since is not None:
        query = query.where(AuditLog.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditLog.created_at < filters.until)
    return query


def audit_facets(session: Session) -> tuple[list[str], list[str]]:
    """The actions and object types present in the log, for the filter selects (two queries)."""
    actions = list(session.scalars(select(AuditLog.action).distinct().order_by(AuditLog.action)))
    types = list(session.scalars(select(AuditLog.object_type).distinct().order_by(AuditLog.object_type)))
    return actions, types


AUDIT_CSV_HEADER = ["Thời điểm (giờ Việt Nam)", "Người thực hiện", "Tên đăng nhập", "Hành động", "Mã hành động",
                    "Loại đối tượng", "Mã đối tượng", "Tóm tắt", "Trước", "Sau"]


def _json(value) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def audit_csv_lines(session: Session, filters: AuditFilters, batch: int = 1000):
    """The filtered log as CSV text, in chunks (UTF-8 with a BOM is the caller's encoding)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(AUDIT_CSV_HEADER)
    yield "\ufeff" + out.getvalue()
    result = session.execute(audit_query(filters).execution_options(yield_per=batch))
    for rows in result.partitions():
        out.seek(0)
        out.truncate()
        for entry, username, full_name in rows:
            writer.writerow([spreadsheet_safe(str(cell)) for cell in (
                format_datetime_local(entry.created_at, "%Y-%m-%d %H:%M:%S"),
                full_name or "Dòng lệnh", username or "", ACTION_LABELS.get(entry.action, entry.action),
                entry.action, OBJECT_TYPE_LABELS.get(entry.object_type, entry.object_type), entry.object_id,
                entry.summary, _json(entry.before), _json(entry.after))])
        yield out.getvalue()
