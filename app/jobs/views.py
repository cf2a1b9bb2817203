"""The asker's pages: "Tác vụ của tôi", one job's progress, its result, a retry after a failure."""
from flask import Blueprint, abort, flash, jsonify, redirect, render_template, send_file, url_for
from flask_login import current_user, login_required

from ..auth.forms import EmptyForm
from ..extensions import db
from ..formatting import format_number, format_percent
from ..permissions import can_download_job, get_own_job_or_404
from . import services
from .models import JOB_KIND_LABELS, JOB_STATUS_LABELS
from .work import CONTENT_TYPES

bp = Blueprint("jobs", __name__, url_prefix="/jobs", template_folder="templates")


def describe(job) -> str:
    """The progress in words, as the bar's text and the page's live region say it."""
    if job.status == "queued":
        return "Đang chờ đến lượt."
    if job.status == "running":
        if job.kind == "recount":  # one transaction: no rows to count on the way
            return "Đang tính lại số liệu của đơn vị và các đơn vị cấp dưới."
        if job.percent is None:
            return "Đang chuẩn bị."
        return (f"Đã xử lý {_count(job.progress_done)} / {_count(job.progress_total)} dòng "
                f"({format_percent(job.percent * 100)}).")
    if job.status == "finished":
        return "Đã xong."
    return job.error_message or services.FAILED_UNEXPECTEDLY


def _count(number: int) -> str:
    return format_number(number, 0)  # Vietnamese thousands: 12.500


@bp.app_context_processor
def job_helpers():
    return {"job_kind_labels": JOB_KIND_LABELS, "job_status_labels": JOB_STATUS_LABELS, "describe_job": describe}


@bp.route("/")
@login_required
def index():
    """The signed-in person's jobs, newest first."""
    return render_template("jobs/index.html", jobs=services.jobs_of(db.session, current_user))


@bp.route("/<int:job_id>")
@login_required
def show(job_id: int):
    """One job: its progress (refreshed while it runs), its result or why it failed."""
    job = get_own_job_or_404(job_id)
    return render_template("jobs/show.html", job=job, form=EmptyForm(),
                           downloadable=can_download_job(current_user, job))


@bp.route("/<int:job_id>/status.json")
@login_required
def status(job_id: int):
    """What the job page's script polls: small, and nothing the page does not show."""
    job = get_own_job_or_404(job_id)
    return jsonify(status=job.status, label=JOB_STATUS_LABELS[job.status], done=job.progress_done,
                   total=job.progress_total, percent=None if job.percent is None else round(job.percent * 100, 1),
                   text=describe(job), finished=job.is_done)


@bp.route("/<int:job_id>/download")
@login_required
def download(job_id: int):
    """The result file, for its asker, while it is kept and within their scope."""
    job = get_own_job_or_404(job_id, need="download")
    path = services.result_file(job)
    if not path.is_file():
        abort(404)
    kind = job.result_name.rsplit(".", 1)[-1]
    return send_file(path, as_attachment=True, download_name=job.result_name,
                     mimetype=CONTENT_TYPES.get(kind, "application/octet-stream"))


@bp.route("/<int:job_id>/retry", methods=["POST"])
@login_required
def retry(job_id: int):
    """Run a failed job again from the start."""
    job = get_own_job_or_404(job_id)
    if not services.retry_job(db.session, job):  # it already runs again (a second tab, a double click)
        return redirect(url_for("jobs.show", job_id=job.id))
    db.session.commit()
    services.enqueue(job)
    flash("Đã đưa tác vụ vào hàng đợi để chạy lại.", "success")
    return redirect(url_for("jobs.show", job_id=job.id))
