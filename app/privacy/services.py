"""Each person's own data: what the app holds about them, the access trace, corrections, retention.

Every function takes the session and returns data; views, the command and tests share them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, null, or_, select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from ..audit import record
from ..models import (AccountLink, Agency, Attempt, AttemptQuestion, AuditLog, CourseCompletion, Lesson,
                      LessonProgress, ReminderMessage, User, utcnow)
from .models import (ACCESS_ACTION_LABELS, CORRECTION_STATUS_LABELS, RETENTION_KINDS, AccessLog,
                     CorrectionRequest, PrivacyNotice, RetentionSetting)

DEFAULT_NOTICE = """\
## Thông báo xử lý dữ liệu cá nhân

Cơ quan triển khai hệ thống học này (gọi là **cơ quan quản lý hệ thống**) xử lý dữ liệu cá nhân của cán bộ,
công chức, viên chức và người lao động theo Luật Bảo vệ dữ liệu cá nhân (số 91/2025/QH15, có hiệu lực từ
ngày 01/01/2026). Đây là nội dung mặc định; cơ quan quản lý hệ thống cần sửa lại cho đúng với mình.

### Dữ liệu được thu thập
- Thông tin tài khoản: họ và tên, tên đăng nhập, email, mã cán bộ, cơ quan công tác, vai trò.
- Quá trình học: bài đã đọc, các lần làm bài và câu trả lời, điểm, chứng nhận hoàn thành.
- Khi cam kết thực hiện Bộ Quy tắc: nội dung cam kết, thời điểm, địa chỉ mạng và trình duyệt đã dùng.
- Thư nhắc việc đã gửi, và nhật ký ai đã xem hồ sơ học tập của bạn.

### Mục đích
Tổ chức việc học Bộ Quy tắc ứng xử trên mạng xã hội và theo dõi kết quả hoàn thành trong cơ quan.
Không dùng dữ liệu vào mục đích khác.

### Ai được xem
Bạn; người quản lý của cơ quan bạn và các cấp trên (chỉ trong phạm vi được giao); quản trị viên hệ thống.

### Thời gian lưu
Theo thiết lập lưu giữ của cơ quan quản lý hệ thống, hiển thị trong trang «Dữ liệu của tôi». Bản ghi hoàn
thành và chứng nhận được giữ làm hồ sơ chính thức.

### Quyền của bạn
Luật Bảo vệ dữ liệu cá nhân quy định các quyền của chủ thể dữ liệu, trong đó có quyền được biết, được đồng ý
hoặc rút lại sự đồng ý, được xem và yêu cầu chỉnh sửa, yêu cầu cung cấp, xóa hoặc hạn chế xử lý, phản đối
việc xử lý, khiếu nại và yêu cầu bồi thường. Trong hệ thống này, bạn xem và tải toàn bộ dữ liệu của mình và
gửi yêu cầu sửa thông tin tại trang «Dữ liệu của tôi»; các yêu cầu khác xin gửi cơ quan quản lý hệ thống.
"""


# -- the notice ------------------------------------------------------------------------------------

def current_notice(session: Session) -> PrivacyNotice | None:
    return session.scalar(select(PrivacyNotice).order_by(PrivacyNotice.id.desc()).limit(1))


def notice_text(session: Session) -> str:
    notice = current_notice(session)
    return notice.body if notice is not None else DEFAULT_NOTICE


def publish_notice(session: Session, body: str, actor: User, ask_again: bool) -> PrivacyNotice:
    """A new version of the notice; `ask_again` shows it once more to everyone at their next page."""
    notice = PrivacyNotice(body=body.strip(), created_by_id=actor.id)
    session.add(notice)
    if ask_again:
        session.execute(update(User).values(privacy_notice_seen_at=None).execution_options(synchronize_session=False))
    session.flush()
    record(session, actor, "privacy.notice_published", notice, after={"ask_again": ask_again},
           summary="Cập nhật thông báo xử lý dữ liệu cá nhân")
    session.flush()
    return notice


def acknowledge_notice(session: Session, user: User) -> None:
    user.privacy_notice_seen_at = utcnow()
    session.flush()


# -- the access trace ------------------------------------------------------------------------------

def trace_person_viewed(session: Session, viewer: User, person: User, detail: str) -> None:
    """The viewer opened the person's record (not traced when it is their own)."""
    if viewer.id != person.id:
        session.add(AccessLog(viewer_id=viewer.id, action="person.viewed", subject_id=person.id, detail=detail[:500]))
        session.flush()


def trace_list_exported(session: Session, viewer: User, agency: Agency, detail: str) -> None:
    session.add(AccessLog(viewer_id=viewer.id, action="list.exported", agency_id=agency.id, agency_path=agency.path,
                          detail=detail[:500]))
    session.flush()


def accesses_to(session: Session, person: User):
    """A select of the trace rows about `person`: their record opened, or a list covering their agency."""
    agency_path = select(Agency.path).where(Agency.id == person.agency_id).scalar_subquery()
    return (select(AccessLog).options(joinedload(AccessLog.viewer), joinedload(AccessLog.agency))
            .where(or_(AccessLog.subject_id == person.id,
                       (AccessLog.action == "list.exported")
                       & (func.substr(agency_path, 1, func.length(AccessLog.agency_path)) == AccessLog.agency_path)))
            .order_by(AccessLog.at.desc(), AccessLog.id.desc()))


@dataclass
class AccessFilters:
    viewer: str = ""
    subject: str = ""
    action: str = ""
    since: datetime | None = None
    until: datetime | None = None


def access_query(filters: AccessFilters):
    """The administrator's view of the trace, filtered by viewer, person, action and dates."""
    viewer, subject = User.__table__.alias("viewer"), User.__table__.alias("subject")
    query = (select(AccessLog).options(joinedload(AccessLog.viewer), joinedload(AccessLog.subject),
                                       joinedload(AccessLog.agency))
             .join(viewer, viewer.c.id == AccessLog.viewer_id).outerjoin(subject, subject.c.id == AccessLog.subject_id)
             .order_by(AccessLog.at.desc(), AccessLog.id.desc()))
    if filters.viewer:
        query = query.where(func.lower(viewer.c.username) == filters.viewer.strip().lower())
    if filters.subject:
        query = query.where(func.lower(subject.c.username) == filters.subject.strip().lower())
    if filters.action:
        query = query.where(AccessLog.action == filters.action)
    if filters.since:
        query = query.where(AccessLog.at >= filters.since)
    if filters.until:
        query = query.where(AccessLog.at < filters.until)
    return query


# -- corrections -----------------------------------------------------------------------------------

def request_correction(session: Session, user: User, body: str) -> CorrectionRequest:
    request = CorrectionRequest(user_id=user.id, body=body.strip())
    session.add(request)
    session.flush()
    record(session, user, "privacy.correction_requested", request, summary=f"{user.username} yêu cầu sửa thông tin")
    session.flush()
    return request


def handle_correction(session: Session, request: CorrectionRequest, status: str, response: str, actor: User) -> None:
    before = request.status
    request.status = status
    request.response = response.strip()
    request.handled_at = None if status == "open" else utcnow()
    request.handled_by_id = None if status == "open" else actor.id
    session.flush()
    record(session, actor, "privacy.correction_handled", request, before={"status": before},
           after={"status": status}, summary=f"Xử lý yêu cầu sửa thông tin của {request.user.username}: "
                                             f"{CORRECTION_STATUS_LABELS[status].lower()}")
    session.flush()


# -- everything held about a person ----------------------------------------------------------------

def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def personal_data(session: Session, user: User) -> dict:
    """Everything the app holds about `user`, as plain data (the JSON download and the page)."""
    agency = session.get(Agency, user.agency_id)
    agency_changes = session.execute(
        select(AuditLog.created_at, AuditLog.before, AuditLog.after)
        .where(AuditLog.object_type == "user", AuditLog.object_id == str(user.id),
               AuditLog.action.in_(("user.updated", "user.moved", "user.imported", "user.created")))
        .order_by(AuditLog.id)).all()
    progress = session.execute(
        select(Lesson.title, LessonProgress.started_at, LessonProgress.completed_at)
        .join(Lesson, Lesson.id == LessonProgress.lesson_id).where(LessonProgress.user_id == user.id)
        .order_by(LessonProgress.started_at)).all()
    attempts = session.scalars(
        select(Attempt).where(Attempt.user_id == user.id).order_by(Attempt.started_at)
        .options(joinedload(Attempt.quiz), joinedload(Attempt.course),
                 selectinload(Attempt.questions).joinedload(AttemptQuestion.version))).unique().all()
    completions = session.scalars(select(CourseCompletion).where(CourseCompletion.user_id == user.id)
                                  .options(joinedload(CourseCompletion.course), joinedload(CourseCompletion.agency))
                                  .order_by(CourseCompletion.completed_at)).all()
    reminders = session.execute(select(ReminderMessage.sent_at, ReminderMessage.kind, ReminderMessage.email,
                                       ReminderMessage.subject).where(ReminderMessage.user_id == user.id)
                                .order_by(ReminderMessage.sent_at)).all()
    corrections = session.scalars(select(CorrectionRequest).where(CorrectionRequest.user_id == user.id)
                                  .order_by(CorrectionRequest.created_at)).all()
    accesses = session.scalars(accesses_to(session, user)).unique().all()
    return {
        "account": {"username": user.username, "full_name": user.full_name, "email": user.email,
                    "employee_code": user.employee_code, "agency": {"code": agency.code, "name": agency.name},
                    "roles": user.role_labels, "is_active": user.is_active, "created_at": _iso(user.created_at),
                    "last_login_at": _iso(user.last_login_at), "password_changed_at": _iso(user.password_changed_at),
                    "privacy_notice_seen_at": _iso(user.privacy_notice_seen_at),
                    "manages": [scope.agency.name for scope in user.manager_scopes]},
        "agency_history": [{"at": _iso(at), "from": (before or {}).get("agency"), "to": (after or {}).get("agency")}
                           for at, before, after in agency_changes if (after or {}).get("agency")],
        "lessons": [{"lesson": title, "started_at": _iso(started), "completed_at": _iso(completed)}
                    for title, started, completed in progress],
        "attempts": [{
            "course": attempt.course.title, "quiz": attempt.quiz.title if attempt.quiz else "Luyện tập",
            "number": attempt.number, "started_at": _iso(attempt.started_at), "submitted_at": _iso(attempt.submitted_at),
            "score_percent": attempt.score_percent, "passed": attempt.passed,
            # the person's own answers; no correct answer is ever part of this (nor of an open attempt's score)
            "answers": [{"position": item.position, "question": item.version.prompt, "answer": item.answer,
                         "answered_at": _iso(item.answered_at),
                         "score": item.score if attempt.submitted_at is not None else None}
                        for item in attempt.questions]} for attempt in attempts],
        "completions": [{"course": c.course.title, "completed_at": _iso(c.completed_at), "agency": c.agency.name,
                         "certificate_code": c.certificate_code, "commitment_text": c.commitment_text,
                         "commitment_ip": c.commitment_ip, "commitment_user_agent": c.commitment_user_agent,
                         "archived_at": _iso(c.archived_at)} for c in completions],
        "reminders": [{"sent_at": _iso(at), "kind": kind, "email": email, "subject": subject}
                      for at, kind, email, subject in reminders],
        "corrections": [{"at": _iso(c.created_at), "request": c.body, "status": CORRECTION_STATUS_LABELS[c.status],
                         "response": c.response} for c in corrections],
        "accesses": [{"at": _iso(a.at), "by": f"{a.viewer.full_name} ({a.viewer.username})",
                      "action": ACCESS_ACTION_LABELS[a.action],
                      "what": a.detail if a.action == "person.viewed" else f"{a.agency.name}: {a.detail}"}
                     for a in accesses],
    }


# -- retention -------------------------------------------------------------------------------------

def retention_months(session: Session) -> dict[str, int]:
    saved = dict(session.execute(select(RetentionSetting.kind, RetentionSetting.months)).all())
    return {kind: saved.get(kind, default) for kind, (_, _, default) in RETENTION_KINDS.items()}


def set_retention(session: Session, months: dict[str, int], actor: User) -> dict:
    current = retention_months(session)
    changed = {kind: (current[kind], value) for kind, value in months.items() if current[kind] != value}
    for kind, (_, value) in changed.items():
        setting = session.get(RetentionSetting, kind)
        if setting is None:
            session.add(RetentionSetting(kind=kind, months=value, updated_by_id=actor.id))
        else:
            setting.months, setting.updated_at, setting.updated_by_id = value, utcnow(), actor.id
    if changed:
        session.flush()
        record(session, actor, "privacy.retention_changed", ("retention", ""),
               before={k: old for k, (old, _) in changed.items()}, after={k: new for k, (_, new) in changed.items()},
               summary="Đổi thời gian lưu giữ dữ liệu")
        session.flush()
    return changed


@dataclass
class PurgeReport:
    cutoffs: dict[str, datetime] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


def _months_ago(now: datetime, months: int) -> datetime:
    return now - timedelta(days=round(months * 30.44))


def purge(session: Session, now: datetime | None = None) -> PurgeReport:
    """Remove or de-identify what is past its retention, set-based, in the caller's transaction.

    Answers: the chosen keys of submitted attempts are erased (the attempt and its score stay);
    commitments: the address and browser are blanked (the completion, the official record, stays);
    sent reminders, the access trace, used or expired links and handled corrections are deleted.
    """
    now = now or utcnow()
    months = retention_months(session)
    cutoff = {kind: _months_ago(now, value) for kind, value in months.items()}
    report = PurgeReport(cutoffs=cutoff)
    old_attempts = select(Attempt.id).where(Attempt.submitted_at.is_not(None), Attempt.submitted_at < cutoff["answers"])
    report.counts["answers"] = session.execute(
        update(AttemptQuestion).where(AttemptQuestion.attempt_id.in_(old_attempts), AttemptQuestion.answer.is_not(None))
        .values(answer=null()).execution_options(synchronize_session=False)).rowcount  # SQL NULL, not JSON null
    report.counts["commitment_network"] = session.execute(
        update(CourseCompletion).where(CourseCompletion.completed_at < cutoff["commitment_network"],
                                       or_(CourseCompletion.commitment_ip != "", CourseCompletion.commitment_user_agent != ""))
        .values(commitment_ip="", commitment_user_agent="").execution_options(synchronize_session=False)).rowcount
    report.counts["reminders"] = session.execute(
        delete(ReminderMessage).where(ReminderMessage.sent_at < cutoff["reminders"])
        .execution_options(synchronize_session=False)).rowcount
    report.counts["access_log"] = session.execute(
        delete(AccessLog).where(AccessLog.at < cutoff["access_log"]).execution_options(synchronize_session=False)).rowcount
    report.counts["account_links"] = session.execute(
        delete(AccountLink).where(or_(AccountLink.used_at < cutoff["account_links"],
                                      AccountLink.expires_at < cutoff["account_links"]))
        .execution_options(synchronize_session=False)).rowcount
    report.counts["corrections"] = session.execute(
        delete(CorrectionRequest).where(CorrectionRequest.status != "open",
                                        CorrectionRequest.handled_at < cutoff["corrections"])
        .execution_options(synchronize_session=False)).rowcount
    return report


