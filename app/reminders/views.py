"""The reminders page: what a run now would send, a "Gửi ngay" button, and the history of runs."""
from datetime import timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..formatting import format_datetime_local
from ..models import ReminderMessage
from ..permissions import require_role
from . import runs
from .forms import SendNowForm
from .mail import SmtpMailer
from .services import Settings

bp = Blueprint("reminders", __name__, url_prefix="/reminders", template_folder="templates")
RUNS_SHOWN = 20
MESSAGES_SHOWN = 200
PREVIEW_SHOWN = 200


def _interval() -> timedelta:
    return timedelta(minutes=current_app.config["REMINDERS_SEND_NOW_MINUTES"])


@bp.route("/")
@require_role("admin")
def index():
    """The preview of a run now (nothing sent), the latest runs, and the messages of the chosen one."""
    return _page()


def _page(status: int = 200):
    preview = runs.preview(db.session, Settings.from_config(current_app.config))
    db.session.rollback()  # the preview only reads; leave nothing behind
    history = runs.recent_runs(db.session, RUNS_SHOWN)
    chosen = next((run for run in history if run.id == request.args.get("run", type=int)),
                  history[0] if history else None)
    messages, total = [], 0
    if chosen is not None:
        messages = db.session.scalars(
            select(ReminderMessage).where(ReminderMessage.run_id == chosen.id)
            .options(selectinload(ReminderMessage.user), selectinload(ReminderMessage.course))
            .order_by(ReminderMessage.id).limit(MESSAGES_SHOWN)).all()
        total = db.session.scalar(select(func.count()).where(ReminderMessage.run_id == chosen.id))
    return render_template("reminders/index.html", preview=preview, preview_shown=PREVIEW_SHOWN,
                           kind_labels=runs.KIND_LABELS, runs=history, chosen=chosen, messages=messages,
                           total=total, form=SendNowForm(),
                           allowed_at=runs.next_allowed_at(db.session, _interval())), status


@bp.route("/send", methods=["POST"])
@require_role("admin")
def send_now():
    """Run the reminders now (at most one run per REMINDERS_SEND_NOW_MINUTES), then show the run."""
    form = SendNowForm()
    if not form.validate_on_submit():
        flash("Phiên làm việc đã hết hạn; hãy bấm «Gửi ngay» lại.", "danger")
        return redirect(url_for("reminders.index"))
    try:
        run = runs.send_now(db.session, SmtpMailer(current_app.config), Settings.from_config(current_app.config),
                            current_user, interval=_interval())
    except runs.SendRefused as refused:
        flash("Vừa có một lần gửi; để tránh gửi trùng, hãy chờ đến "
              f"{format_datetime_local(refused.allowed_at, '%H:%M')} rồi bấm lại.", "warning")
        return _page(429)
    if run.error:
        flash(f"Đã gửi {run.learner_emails} thư nhắc học viên và {run.digests} bản tổng hợp; "
              f"{run.failures} thư lỗi: {run.error}", "danger")
    else:
        flash(f"Đã gửi {run.learner_emails} thư nhắc học viên và {run.digests} bản tổng hợp; "
              f"bỏ qua {run.skipped} thư đã gửi hôm nay.", "success")
    return redirect(url_for("reminders.index", run=run.id))
