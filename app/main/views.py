"""Service endpoints that are not a feature of their own."""
from flask import Blueprint, current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db, limiter

bp = Blueprint("main", __name__)


@bp.route("/healthz")
@limiter.exempt
def healthz():
    """Liveness and database check for load balancers: 200 when `SELECT 1` answers, else 503."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        current_app.logger.exception("health check: the database does not answer")
        return {"status": "error",
                "message": "Không kết nối được cơ sở dữ liệu / database unavailable"}, 503
    return {"status": "ok"}
