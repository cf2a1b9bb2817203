"""Background jobs: create one, hand it to the queue (or run it in process), run it, retry it, and
delete results that have expired.

A job's row is the truth; the queue only carries its id. Running a job claims the row first (queued
or running → running, attempts + 1), so an RQ retry after a worker died runs it again from the
start, and a stale queue entry for a job already finished does nothing. The result is written to a
temporary file in the job's own folder and renamed over its one final name: a retry replaces it,
never adds a second.
"""
from __future__ import annotations

import logging
import os
import resource
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from flask import current_app
from rq.timeouts import JobTimeoutException
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from ..extensions import db
from ..formatting import format_number
from ..models import Agency, Course, User, utcnow
from .models import Job

log = logging.getLogger(__name__)

QUEUE_NAME = "jobs"
#: advisory lock class of a running job (tracking.progress uses 874 and 875)
_JOB_LOCK = 876
FAILED_UNEXPECTEDLY = "Tác vụ gặp lỗi ngoài dự kiến. Anh/chị hãy thử lại; nếu vẫn lỗi, báo cho quản trị viên."


class JobError(Exception):
    """A failure whose message (in Vietnamese) is shown to the person as it is."""


# -- creating and queueing --------------------------------------------------------------------------

def create_job(session: Session, *, kind: str, user: User | None, agency: Agency | None,
               parameters: dict, total: int = 0) -> Job:
    """A queued job; the caller commits, then calls `enqueue` (a worker must find the row)."""
    job = Job(kind=kind, user=user, agency=agency, parameters=parameters, progress_total=total)
    session.add(job)
    session.flush()
    return job


def enqueue(job: Job | int) -> None:
    """Run the job (or the job of this id: a session hook after a commit cannot load a row): on the
    RQ queue (JOBS_MODE=rq), or now, in this process (JOBS_MODE=inline, the embedded default of
    `make run`: no Redis and no worker needed, the pages behave the same)."""
    config = current_app.config
    job_id = job if isinstance(job, int) else job.id
    if config["JOBS_MODE"] == "inline":
        run_job(job_id)
        return
    from rq import Retry

    # A worker that dies mid-job leaves it in RQ's started registry; the next worker's maintenance
    # finds it abandoned and, with retries left, queues it again (run_job starts it afresh).
    queue().enqueue("app.jobs.services.run_job", job_id, job_id=f"job-{job_id}-{uuid.uuid4().hex[:8]}",
                    retry=Retry(max=config["JOBS_MAX_RETRIES"]), job_timeout=config["JOBS_TIMEOUT"],
                    result_ttl=3600, failure_ttl=7 * 24 * 3600)


def queue():
    from redis import Redis
    from rq import Queue

    return Queue(QUEUE_NAME, connection=Redis.from_url(current_app.config["JOBS_REDIS_URL"]))


def retry_job(session: Session, job: Job) -> bool:
    """Queue a failed job again, from the start; False when it is no longer failed (a second click
    raced this one). One statement, so two clicks never queue it twice. The caller commits, then
    calls `enqueue`."""
    changed = session.execute(update(Job).where(Job.id == job.id, Job.status == "failed").values(
        status="queued", error_message="", progress_done=0, started_at=None, finished_at=None))
    session.refresh(job)
    return changed.rowcount == 1


def jobs_of(session: Session, user: User, limit: int = 50) -> list[Job]:
    """The person's newest jobs, for "Tác vụ của tôi"."""
    return list(session.scalars(select(Job).where(Job.user_id == user.id).options(selectinload(Job.agency))
                                .order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)))


# -- running ------------------------------------------------------------------------------------------

class Progress:
    """Moves a job's done count; written at most every JOBS_PROGRESS_SECONDS in a transaction of its
    own, so the page sees it while the job's long read goes on."""

    def __init__(self, job: Job):
        self.job_id, self.done, self.total = job.id, 0, job.progress_total
        self.every = current_app.config["JOBS_PROGRESS_SECONDS"]
        self.delay = current_app.config["JOBS_TEST_ROW_DELAY"]
        self.written_at = time.monotonic()
        # SQLite allows one writer and the job's read holds the database: the count is written at
        # the end only there (make run); PostgreSQL shows it as it goes.
        self.live = db.engine.dialect.name == "postgresql"

    def set_total(self, total: int) -> None:
        self.total = total
        self._write()

    def advance(self, rows: int = 1) -> None:
        self.done += rows
        if self.delay:  # tests only: a slow job to kill a worker in the middle of
            time.sleep(self.delay * rows)
        if self.live and time.monotonic() - self.written_at >= self.every:
            self._write()

    def counted(self, rows):
        """Pass rows through, counting each."""
        for row in rows:
            yield row
            self.advance()

    def _write(self) -> None:
        if not self.live:
            return
        with db.engine.begin() as connection:
            connection.execute(update(Job).where(Job.id == self.job_id)
                               .values(progress_done=self.done, progress_total=max(self.total, self.done)))
        self.written_at = time.monotonic()


@contextmanager
def _alone(job_id: int):
    """Hold the job's advisory lock (PostgreSQL) while it runs: a worker's process killed without its
    work horse leaves the horse running the job, and RQ queues it again once the worker stops
    vouching for it. The second run waits here, then finds the job finished, or, if the horse died
    too, runs it. The lock goes with the connection when a process dies."""
    if db.engine.dialect.name != "postgresql":
        yield  # SQLite (make run): one process runs the jobs, in the request
        return
    with db.engine.connect() as connection:
        connection.execute(select(func.pg_advisory_lock(_JOB_LOCK, job_id)))
        connection.commit()
        try:
            yield
        finally:
            connection.execute(select(func.pg_advisory_unlock(_JOB_LOCK, job_id)))
            connection.commit()


def run_job(job_id: int) -> None:
    """Run one job (in a worker, or in process): claim it, do its work, record how it ended."""
    with _alone(job_id):
        _run(job_id)


def _run(job_id: int) -> None:
    session = db.session
    claimed = session.execute(update(Job).where(Job.id == job_id, Job.status.in_(("queued", "running")))
                              .values(status="running", attempts=Job.attempts + 1, started_at=utcnow(),
                                      finished_at=None, progress_done=0, error_message=""))
    session.commit()
    if claimed.rowcount == 0:
        log.info("job %s is no longer waiting to run; nothing to do", job_id)
        return
    job = session.get(Job, job_id)
    kind, progress = job.kind, Progress(job)
    try:
        from .work import KINDS

        KINDS[kind](session, job, progress)
        job = session.get(Job, job_id)
        job.status = "finished"
        # what was done is the whole (a name or agency filter makes the estimate too high)
        job.progress_done = job.progress_total = progress.done
    except JobError as error:
        _fail(session, job_id, str(error))
        return
    except JobTimeoutException:  # RQ stops a job past JOBS_TIMEOUT by raising this in it
        _fail(session, job_id, f"Tác vụ chạy quá thời gian cho phép ({_duration(current_app.config['JOBS_TIMEOUT'])}) "
                               "nên đã dừng. Anh/chị hãy thử lại, hoặc xuất từng đơn vị cấp dưới.")
        return
    except (Exception, SystemExit):
        log.exception("job %s (%s) failed", job_id, kind)
        _fail(session, job_id, FAILED_UNEXPECTEDLY)
        return
    job.finished_at = utcnow()
    if job.result_path:
        job.expires_at = job.finished_at + timedelta(days=current_app.config["JOBS_RESULT_DAYS"])
    job.peak_memory_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    session.commit()


def _duration(seconds: int) -> str:
    if seconds >= 3600:
        return f"{format_number(seconds / 3600)} giờ"
    if seconds >= 60:
        return f"{format_number(seconds / 60)} phút"
    return f"{seconds} giây"


def _fail(session: Session, job_id: int, message: str) -> None:
    session.rollback()
    job = session.get(Job, job_id)
    job.status, job.error_message, job.finished_at = "failed", message, utcnow()
    job.peak_memory_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    session.commit()


# -- results ------------------------------------------------------------------------------------------

def result_root() -> Path:
    return Path(current_app.config["JOBS_RESULT_DIR"])


def result_file(job: Job) -> Path | None:
    return result_root() / job.result_path if job.result_path else None


@dataclass
class ResultWriter:
    """Where a job writes its one result: a temporary file in the job's folder, renamed at the end."""

    job: Job
    name: str

    def __post_init__(self):
        self.folder = result_root() / str(self.job.id)
        # Whatever an earlier, interrupted attempt left here goes: there is only ever one result.
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.temporary = self.folder / f".{uuid.uuid4().hex}.part"

    def open(self, mode: str = "wb", **options):
        return open(self.temporary, mode, **options)

    def commit(self) -> None:
        """Rename the finished file over its final name (atomic on one file system) and record it."""
        final = self.folder / "result"
        os.replace(self.temporary, final)
        self.job.result_path = f"{self.job.id}/result"
        self.job.result_name = self.name
        self.job.result_size = final.stat().st_size


def purge_expired(session: Session, now=None) -> int:
    """Delete the result files whose time is over (the rows stay, saying so); returns how many."""
    now = now or utcnow()
    expired = session.scalars(select(Job).where(Job.expires_at <= now, Job.result_path.is_not(None))).all()
    for job in expired:
        shutil.rmtree(result_root() / str(job.id), ignore_errors=True)
        job.result_path = None
    return len(expired)


def subtree_size(session: Session, agency: Agency) -> int:
    """Active people in the subtree: what decides whether an export runs as a job."""
    return session.scalar(select(func.count(User.id)).join(Agency, Agency.id == User.agency_id)
                          .where(agency.subtree_filter(), User.is_active)) or 0


def course_of(session: Session, job: Job) -> Course:
    course = session.get(Course, job.parameters.get("course_id"))
    if course is None:
        raise JobError("Khóa học của tác vụ này không còn nữa.")
    return course
