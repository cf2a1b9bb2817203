"""The table of the jobs feature (migration 0018): one row per piece of background work."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..models import Agency, User, UTCDateTime, _in_list, utcnow

JOB_STATUSES = ("queued", "running", "finished", "failed")
JOB_STATUS_LABELS = {"queued": "Đang chờ", "running": "Đang chạy", "finished": "Đã xong", "failed": "Không thành công"}
JOB_KINDS = ("people_export", "report_pdf", "recount", "reminders")
JOB_KIND_LABELS = {"people_export": "Xuất danh sách cán bộ", "report_pdf": "Báo cáo PDF",
                   "recount": "Tính lại số liệu tổng hợp", "reminders": "Gửi thư nhắc việc hằng ngày"}


class Job(db.Model):
    """Background work someone asked for (or cron, with no person): its progress and its result.

    The database row is the truth the pages read; the queue (RQ over Redis) only carries the job's
    id to a worker. A retry, by RQ after a worker died or by the person after a failure, runs the
    same row again: the result file has one path per job, so there is never a second result.
    """

    __tablename__ = "job"
    __table_args__ = (
        CheckConstraint(_in_list("status", JOB_STATUSES), name="status_known"),
        CheckConstraint(_in_list("kind", JOB_KINDS), name="kind_known"),
        CheckConstraint("progress_done >= 0 AND progress_total >= 0", name="progress_not_negative"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        CheckConstraint("status != 'finished' OR finished_at IS NOT NULL", name="finished_when_finished"),
        Index("ix_job_user_id_created_at", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: who asked; None for the daily work started by cron
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    #: what to do, e.g. {"course_id": 1, "format": "xlsx", "filters": {...}}
    parameters: Mapped[dict] = mapped_column(JSON, default=dict)
    #: the subtree the job reads; its result is downloadable only while the asker manages it
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    #: why it failed, in Vietnamese, shown to the person
    error_message: Mapped[str] = mapped_column(Text, default="")
    #: the result file, relative to JOBS_RESULT_DIR, and the name it is downloaded under
    result_path: Mapped[str | None] = mapped_column(String(300))
    result_name: Mapped[str | None] = mapped_column(String(200))
    result_size: Mapped[int | None] = mapped_column(BigInteger)
    #: peak resident memory of the process that ran it, in KiB (ru_maxrss)
    peak_memory_kb: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the result file is deleted after this moment (JOBS_RESULT_DAYS after it finished)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    #: how many times a worker started it (a retry after a worker died counts)
    attempts: Mapped[int] = mapped_column(Integer, default=0)

    user: Mapped[User | None] = relationship()
    agency: Mapped[Agency | None] = relationship()

    @property
    def is_done(self) -> bool:
        return self.status in ("finished", "failed")

    @property
    def percent(self) -> float | None:
        """Share done, 0 to 1; None while the total is not known yet."""
        if self.status == "finished":
            return 1.0
        if not self.progress_total:
            return None
        return min(1.0, self.progress_done / self.progress_total)
