"""The tables of the privacy feature (migration 0012)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..models import Agency, User, UTCDateTime, _in_list, utcnow


class PrivacyNotice(db.Model):
    """A version of the privacy notice written by the deploying agency; the newest is shown."""

    __tablename__ = "privacy_notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Markdown, sanitised when shown
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))


CORRECTION_STATUSES = ("open", "done", "rejected")
CORRECTION_STATUS_LABELS = {"open": "Đang chờ xử lý", "done": "Đã sửa", "rejected": "Không sửa (có giải thích)"}


class CorrectionRequest(db.Model):
    """A person asks the administrators to correct something the app holds about them."""

    __tablename__ = "correction_request"
    __table_args__ = (
        CheckConstraint(_in_list("status", CORRECTION_STATUSES), name="status_known"),
        CheckConstraint("(status = 'open') = (handled_at IS NULL)", name="handled_when_closed"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    #: what the administrator answered, shown to the person
    response: Mapped[str] = mapped_column(Text, default="")

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    handled_by: Mapped[User | None] = relationship(foreign_keys=[handled_by_id])


ACCESS_ACTIONS = ("person.viewed", "list.exported")
ACCESS_ACTION_LABELS = {"person.viewed": "Xem hồ sơ học tập", "list.exported": "Xuất danh sách"}


class AccessLog(db.Model):
    """Someone opened a person's record, or exported a list of people (of an agency subtree)."""

    __tablename__ = "access_log"
    __table_args__ = (
        CheckConstraint(_in_list("action", ACCESS_ACTIONS), name="action_known"),
        CheckConstraint("(action = 'person.viewed') = (subject_id IS NOT NULL)", name="subject_of_a_view"),
        Index("ix_access_log_agency_path", "agency_path"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    viewer_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    action: Mapped[str] = mapped_column(String(30))
    #: the person whose record was opened (None for a list)
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    #: the agency whose subtree a list covered, and its path then, so each person in it sees the export
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    agency_path: Mapped[str | None] = mapped_column(String(1000))
    #: what was opened or exported, e.g. "/tracking/people/42" or "CSV, trạng thái: quá hạn"
    detail: Mapped[str] = mapped_column(String(500), default="")

    viewer: Mapped[User] = relationship(foreign_keys=[viewer_id])
    subject: Mapped[User | None] = relationship(foreign_keys=[subject_id])
    agency: Mapped[Agency | None] = relationship()


#: kinds of record with a retention setting: label, what happens once past it, default in months
RETENTION_KINDS = {
    "answers": ("Câu trả lời trong các lần làm bài (tính từ lúc nộp bài)",
                "xóa câu trả lời, giữ điểm của lần làm bài", 36),
    "commitment_network": ("Địa chỉ mạng và trình duyệt khi cam kết", "xóa địa chỉ và trình duyệt, giữ bản cam kết", 12),
    "reminders": ("Thư nhắc việc đã gửi", "xóa bản ghi thư", 24),
    "access_log": ("Nhật ký truy cập hồ sơ", "xóa bản ghi", 24),
    "account_links": ("Liên kết đặt mật khẩu đã dùng hoặc hết hạn", "xóa bản ghi", 12),
    "corrections": ("Yêu cầu sửa thông tin đã xử lý", "xóa yêu cầu", 36),
}


class RetentionSetting(db.Model):
    """How long one kind of record is kept; the completion record and certificate are the official
    record and have no setting (they are kept)."""

    __tablename__ = "retention_setting"
    __table_args__ = (
        CheckConstraint(_in_list("kind", tuple(RETENTION_KINDS)), name="kind_known"),
        CheckConstraint("months > 0", name="months_positive"),
    )

    kind: Mapped[str] = mapped_column(String(30), primary_key=True)
    months: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
