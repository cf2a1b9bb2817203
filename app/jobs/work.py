"""What each kind of job does, and how the pages that start them decide to.

Each kind is a function (session, job, progress) that does its work through the feature's own
services (the exports, the progress recount, the daily reminders): a job changes where the work
runs, not what it is.
"""
from __future__ import annotations

import shutil

from flask import current_app
from sqlalchemy.orm import Session

from ..models import Agency, Course, User, utcnow
from ..tracking import exports
from ..tracking.services import agency_report
from .models import Job
from .services import JobError, Progress, ResultWriter, course_of, create_job, enqueue, subtree_size

CONTENT_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 "csv": "text/csv", "pdf": "application/pdf"}


def runs_as_job(session: Session, agency: Agency, kind: str) -> bool:
    """Above JOBS_EXPORT_THRESHOLD people (the report: JOBS_PDF_THRESHOLD) an export is a job."""
    config = current_app.config
    threshold = config["JOBS_PDF_THRESHOLD"] if kind == "pdf" else config["JOBS_EXPORT_THRESHOLD"]
    return subtree_size(session, agency) > threshold


def submit_export(session: Session, user: User, agency: Agency, course: Course, kind: str, filters: dict,
                  stem: str) -> Job:
    """Queue the export of `agency`'s people (kind xlsx or csv) or its report (pdf); commits."""
    within = filters.get("within")
    parameters = {"course_id": course.id, "format": kind,
                  "name": f"bao-cao-{stem}.pdf" if kind == "pdf" else f"{stem}.{kind}",
                  "filters": {"status": filters.get("status"), "search": filters.get("search"),
                              "within_id": within.id if within is not None else None}}
    job = create_job(session, kind="report_pdf" if kind == "pdf" else "people_export", user=user, agency=agency,
                     parameters=parameters, total=_expected_rows(session, course, agency, filters))
    session.commit()
    enqueue(job)
    return job


def _expected_rows(session: Session, course: Course, agency: Agency, filters: dict) -> int:
    """How many rows the export will have, from the summaries (exact unless a name or agency filter
    narrows it; the bar then ends early, and the job sets the total it found)."""
    total = agency_report(session, course, agency).total
    status = filters.get("status")
    return getattr(total, status) if status else total.staff


def people_export(session: Session, job: Job, progress: Progress) -> None:
    """The subtree's people as XLSX or CSV, written to the job's result file."""
    course, parameters = course_of(session, job), job.parameters
    agency = _agency_of(job)
    chosen = parameters.get("filters") or {}
    within = session.get(Agency, chosen["within_id"]) if chosen.get("within_id") else None
    filters = {"status": chosen.get("status"), "search": chosen.get("search"), "within": within}
    now = utcnow()
    rows = progress.counted(exports.person_rows(session, course, agency, now, **filters))
    writer = ResultWriter(job, parameters["name"])
    if parameters["format"] == "csv":
        with writer.open("w", encoding="utf-8", newline="") as target:
            for chunk in exports.csv_chunks(rows):
                target.write(chunk)
    else:
        workbook = exports.xlsx_file(rows, title=f"{agency.name} — {course.title}")
        with writer.open() as target:
            shutil.copyfileobj(workbook, target, 1024 * 1024)
        workbook.close()
    writer.commit()


def report_pdf(session: Session, job: Job, progress: Progress) -> None:
    """The report of the subtree for its superior, as a PDF."""
    course, agency = course_of(session, job), _agency_of(job)
    body = exports.subtree_report_pdf(session, course, agency, utcnow())
    writer = ResultWriter(job, job.parameters["name"])
    with writer.open() as target:
        target.write(body)
    progress.set_total(1)
    progress.advance()
    writer.commit()


def recount(session: Session, job: Job, progress: Progress) -> None:
    """Recount the progress summaries and stored statuses of a subtree (queued by a big move or
    assignment change: `tracking.progress._defer_large`; or by hand). Run again, it counts the same."""
    from ..tracking.progress import recount as recount_summaries

    agency = _agency_of(job)
    recount_summaries(session, subtrees={(agency.id, job.parameters.get("course_id"))})
    session.commit()
    progress.set_total(1)
    progress.advance()


def reminders(session: Session, job: Job, progress: Progress) -> None:
    """The daily reminders and digests, exactly as `flask reminders send` sends them."""
    from ..reminders.cli import send_command

    try:
        send_command.callback(dry_run=False, learners=True, digests=True, refreshers=True)
    except SystemExit as stop:
        if stop.code:
            raise JobError("Có thư không gửi được (máy chủ thư báo lỗi); xem nhật ký của tác vụ nền.") from None
    progress.set_total(1)
    progress.advance()


def _agency_of(job: Job) -> Agency:
    if job.agency is None or not job.agency.is_active:
        raise JobError("Đơn vị của tác vụ này không còn hoạt động.")
    return job.agency


KINDS = {"people_export": people_export, "report_pdf": report_pdf, "recount": recount, "reminders": reminders}
