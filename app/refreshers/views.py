"""The learner's refresher page and the manager's refresher summary."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..auth.forms import EmptyForm
from ..extensions import db
from ..models import Course, Refresher
from ..permissions import get_agency_or_404, require_role
from . import services

bp = Blueprint("refreshers", __name__, template_folder="templates")


def _own_refresher_or_404(refresher_id: int) -> Refresher:
    refresher = db.session.get(Refresher, refresher_id)
    if refresher is None or refresher.user_id != current_user.id:
        abort(404)
    return refresher


@bp.route("/refreshers/<int:refresher_id>")
@login_required
def show(refresher_id: int):
    """What the refresher is, and the button to take it (or the way back to it)."""
    refresher = _own_refresher_or_404(refresher_id)
    return render_template("refreshers/show.html", refresher=refresher, form=EmptyForm())


@bp.route("/refreshers/<int:refresher_id>/start", methods=["POST"])
@login_required
def start(refresher_id: int):
    """Draw the three questions (once) and open them in the usual attempt page."""
    refresher = _own_refresher_or_404(refresher_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        attempt = services.start_refresher(db.session, current_user, refresher)
    except services.RefresherError as error:
        flash(str(error), "warning")
        return redirect(url_for("refreshers.show", refresher_id=refresher.id))
    db.session.commit()
    return redirect(url_for("learn.attempt", attempt_id=attempt.id))


@bp.route("/manage/agencies/<int:agency_id>/refreshers")
@require_role("manager")
def summary(agency_id: int):
    """Refresher participation and the share of answers right, over the subtree."""
    agency = get_agency_or_404(agency_id, need="manage")
    courses = list(db.session.scalars(select(Course).where(Course.status == "published").order_by(Course.title)))
    if not courses:
        abort(404)
    course = next((c for c in courses if c.slug == request.args.get("course")), courses[0])
    figures = services.summary(db.session, agency, course.id)
    return render_template("refreshers/summary.html", agency=agency, course=course, courses=courses,
                           figures=figures)
