"""Service endpoints that are not a feature of their own."""
from flask import Blueprint
from sqlalchemy import func, select

from ..extensions import db
from ..models import Course

bp = Blueprint("main", __name__)


@bp.route("/healthz")
def healthz():
    """Liveness and database check for load balancers."""
    db.session.execute(select(func.count()).select_from(Course))
    return {"status": "ok"}
