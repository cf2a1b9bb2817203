"""Application factory: create_app(config_name) assembles the app from small named steps."""
import os

from flask import Flask, render_template
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from config import CONFIGS
from . import assets
from .auth.gate import register_account_gate
from .extensions import bootstrap, csrf, db, limiter, login_manager, migrate
from .observability import register_observability
from .pagination import register_url_converters
from .security import register_security
from .transactions import register_read_only_commit


def create_app(config_name: str | None = None, overrides: dict | None = None) -> Flask:
    """Build the app from a named config class; `overrides` lets tests point it elsewhere."""
    config_name = config_name or os.environ.get("APP_CONFIG", "development")
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_object(CONFIGS[config_name]())
    app.config.update(overrides or {})
    register_observability(app)
    register_security(app)
    register_extensions(app)
    register_url_converters(app)
    register_blueprints(app)
    register_account_gate(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    assets.init_app(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    register_read_only_commit(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"),
                     render_as_batch=True)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Vui lòng đăng nhập để tiếp tục."
    login_manager.login_message_category = "warning"
    login_manager.id_attribute = "session_token"  # versioned, see app/auth/sessions.py
    csrf.init_app(app)
    bootstrap.init_app(app)
    limiter.init_app(app)

    from . import models  # noqa: F401  (register the models with SQLAlchemy)
    from .violations import models as violation_models  # noqa: F401  (the violation reports' tables)
    from .privacy import models as privacy_models  # noqa: F401
    from .jobs import models as job_models  # noqa: F401  (background jobs)

    from .auth.sessions import parse_session_token, token_is_current

    # Every request loads its user: with the agency (shown in the menu) and the manager scopes
    # (checked by the menu and the permissions) in the same statement, not three. The statement is
    # built once: building it (and its loader options) per request was a third of its cost.
    user_by_id = (select(models.User).where(models.User.id == bindparam("user_id"))
                  .options(joinedload(models.User.agency), joinedload(models.User.manager_scopes)))

    @login_manager.user_loader
    def load_user(token: str):
        parsed = parse_session_token(token)
        if parsed is None:
            return None
        user_id, version, issued_at = parsed
        user = db.session.scalar(user_by_id, {"user_id": user_id})
        return user if token_is_current(user, version, issued_at) else None


def register_blueprints(app: Flask) -> None:
    from .admin.views import bp as admin_bp
    from .auth.link_views import bp as account_bp
    from .auth.views import bp as auth_bp
    from .authoring.views import bp as authoring_bp
    from .directory.views import bp as directory_bp
    from .jobs.views import bp as jobs_bp
    from .learn.views import bp as learn_bp
    from .main.views import bp as main_bp
    from .refreshers.views import bp as refreshers_bp
    from .privacy.views import bp as privacy_bp
    from .reminders.views import bp as reminders_bp
    from .tracking.views import bp as tracking_bp
    from .violations.views import bp as violations_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(learn_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(account_bp)
    app.register_blueprint(tracking_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(reminders_bp)
    app.register_blueprint(authoring_bp)
    app.register_blueprint(refreshers_bp)
    app.register_blueprint(directory_bp)
    app.register_blueprint(violations_bp)
    app.register_blueprint(privacy_bp)
    app.register_blueprint(jobs_bp)


def register_errorhandlers(app: Flask) -> None:
    from flask_wtf.csrf import CSRFError

    def render_error(error):
        code = getattr(error, "code", 500) or 500
        # A limit with its own message (extensions.pdf_limit…) says what to wait for.
        reason = getattr(getattr(error, "limit", None), "error_message", None)
        return render_template(f"errors/{code}.html", reason=reason), code

    for code in (400, 403, 404, 405, 413, 429, 500, 503):
        app.register_error_handler(code, render_error)

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_template("errors/400.html", reason="Phiên làm việc đã hết hạn hoặc biểu mẫu "
                               "không hợp lệ. Vui lòng tải lại trang và thử lại."), 400


def register_template_helpers(app: Flask) -> None:
    from . import permissions
    from .formatting import format_datetime_local, format_number, format_percent

    app.jinja_env.globals.update(
        can_manage_agency=permissions.can_manage_agency,
        can_author=permissions.can_author,
        has_role=permissions.has_role,
        can_handle_violations=permissions.can_handle_violations,
    )
    app.jinja_env.filters["local_datetime"] = format_datetime_local
    app.jinja_env.filters["percent"] = format_percent
    app.jinja_env.filters["number"] = format_number
    app.jinja_env.globals["service"] = {key[len("SERVICE_"):].lower(): value for key, value in app.config.items()
                                        if key.startswith("SERVICE_")}


def register_commands(app: Flask) -> None:
    from .card.cli import card_cli
    from .content.cli import content_cli
    from .demo.cli import demo_command
    from .auth.cli import users_cli
    from .backup.cli import backup_cli
    from .directory.cli import directory_cli
    from .jobs.cli import jobs_cli
    from .privacy.cli import privacy_cli
    from .reminders.cli import reminders_cli
    from .tracking.cli import tracking_cli

    app.cli.add_command(card_cli)
    app.cli.add_command(content_cli)
    app.cli.add_command(demo_command)
    app.cli.add_command(users_cli)
    app.cli.add_command(backup_cli)
    app.cli.add_command(directory_cli)
    app.cli.add_command(reminders_cli)
    app.cli.add_command(privacy_cli)
    app.cli.add_command(tracking_cli)
    app.cli.add_command(jobs_cli)
