"""Administrators see when `flask reminders send` last ran and what it sent."""
from flask import Blueprint, render_template, request
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import ReminderMessage, ReminderRun
from ..permissions import require_role

bp = Blueprint("reminders", __name__, url_prefix="/reminders", template_folder="templates")
RUNS_SHOWN = 20
MESSAGES_SHOWN = 200


@bp.route("/")
@require_role("admin")
def index():
    """The latest runs, and the messages of the chosen one (the latest by default)."""
    runs = db.session.scalars(select(ReminderRun).order_by(ReminderRun.started_at.desc(), ReminderRun.id.desc())
                              .limit(RUNS_SHOWN)).all()
    chosen = next((run for run in runs if run.id == request.args.get("run", type=int)), runs[0] if runs else None)
    messages, total = [], 0
    if chosen is not None:
        messages = db.session.scalars(
            select(ReminderMessage).where(ReminderMessage.run_id == chosen.id)
            .options(selectinload(ReminderMessage.user), selectinload(ReminderMessage.course))
            .order_by(ReminderMessage.id).limit(MESSAGES_SHOWN)).all()
        total = db.session.scalar(select(func.count()).where(ReminderMessage.run_id == chosen.id))
    return render_template("reminders/index.html", runs=runs, chosen=chosen, messages=messages, total=total)
