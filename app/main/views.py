"""Service endpoints that are not a feature of their own."""
import hashlib
import json

from flask import Blueprint, current_app, redirect, render_template, request, url_for
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


#: the shell every page needs, precached by the service worker (their content-hashed names)
SHELL_FILES = ("css/bootstrap.css", "css/app.css", "js/site.js", "icons/favicon.ico", "icons/icon-192.png")


@bp.route("/sw.js")
@limiter.exempt
def service_worker():
    """The service worker, served from the root so that its scope is the whole site: it precaches
    the shell and the offline page, and reads the learner's saved lessons when the network is gone."""
    from ..assets import PREFIX, static_url

    shell = [static_url(name) for name in SHELL_FILES] + [url_for("main.offline")]
    version = hashlib.sha256(json.dumps(shell).encode()).hexdigest()[:10]
    body = render_template("main/sw.js", shell=shell, version=version, offline=url_for("main.offline"),
                           assets=request.script_root + PREFIX)
    response = current_app.response_class(body, mimetype="text/javascript")
    # A browser checks for a new worker at each visit: it revalidates its copy (no-cache; site.js
    # registers with updateViaCache "all"), and an unchanged one is a 304 (its ETag), a few bytes.
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    response.add_etag()
    return response.make_conditional(request)


@bp.route("/offline")
@limiter.exempt
def offline():
    """The page the service worker shows for a page not saved on the device: it names no one, so
    the copy kept on a shared phone tells nothing about who used it."""
    return render_template("main/offline.html")
