"""Service endpoints that are not a feature of their own."""
import json

from flask import Blueprint, current_app, redirect, render_template, url_for
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db, limiter

bp = Blueprint("main", __name__, template_folder="templates")


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


@bp.route("/help")
def help():
    """Help and contact: who runs the service and how to reach them."""
    return render_template("main/help.html")


@bp.route("/privacy")
def privacy():
    """The privacy notice lives with the privacy feature, where the administrator edits it."""
    return redirect(url_for("privacy.notice"), 301)


@bp.route("/accessibility")
def accessibility():
    """The accessibility statement: the standard aimed at, how it is checked, what is known not to work."""
    return render_template("main/accessibility.html")


@bp.route("/manifest.webmanifest")
def manifest():
    """The web app manifest: the service installs on a phone's home screen."""
    from ..assets import static_url

    body = {
        "name": current_app.config["SERVICE_NAME"],
        "short_name": "Ứng xử MXH",
        "lang": "vi",
        "start_url": url_for("learn.home"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#0b3d91",
        "icons": [
            {"src": static_url("icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static_url("icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
        ],
    }
    response = current_app.response_class(json.dumps(body, ensure_ascii=False),
                                          mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
