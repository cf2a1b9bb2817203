"""Home: the courses a learner can take."""
from flask import Blueprint, render_template
from flask_login import login_required
from sqlalchemy import func, select

from ..extensions import db
from ..models import Course, Lesson

bp = Blueprint("main", __name__, template_folder="templates")


@bp.route("/")
@login_required
def home():
    """The learner's home: published courses with their outline."""
    courses = db.session.scalars(
        select(Course).where(Course.status == "published").order_by(Course.title)).all()
    lessons = db.session.scalars(
        select(Lesson).where(Lesson.status == "published").order_by(Lesson.course_id, Lesson.position)).all()
    outline: dict[int, list[Lesson]] = {}
    for lesson in lessons:
        outline.setdefault(lesson.course_id, []).append(lesson)
    return render_template("main/home.html", courses=courses, outline=outline)


@bp.route("/healthz")
def healthz():
    """Liveness and database check for load balancers."""
    db.session.execute(select(func.count()).select_from(Course))
    return {"status": "ok"}
