"""Flask extensions, created unbound and initialised in create_app()."""
from flask_bootstrap import Bootstrap5
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
bootstrap = Bootstrap5()
limiter = Limiter(key_func=get_remote_address)


def user_or_address() -> str:
    """The key of a per-user limit: the signed-in account (wherever it connects from), else the address."""
    from flask_login import current_user

    if current_user and current_user.is_authenticated:
        return f"user:{current_user.get_id()}"
    return f"address:{get_remote_address()}"


PDF_WAIT = "Anh/chị vừa tạo nhiều tệp PDF liên tiếp. Vui lòng chờ một phút rồi tải lại."
#: what one user may start of the costly downloads (config PDF_RATE_LIMIT, EXPORT_RATE_LIMIT): no
#: signed-in user can keep the workers busy enough to take a server out of the load balancer
pdf_limit = limiter.shared_limit(
    lambda: _config("PDF_RATE_LIMIT"), scope="pdf", key_func=user_or_address,
    error_message=PDF_WAIT)
#: the same limit on a route that answers a PDF only for some of its URLs (export.<kind>)
pdf_limit_when_pdf = limiter.shared_limit(
    lambda: _config("PDF_RATE_LIMIT"), scope="pdf", key_func=user_or_address,
    exempt_when=lambda: _view_arg("kind") != "pdf",
    error_message=PDF_WAIT)
export_limit = limiter.shared_limit(
    lambda: _config("EXPORT_RATE_LIMIT"), scope="export", key_func=user_or_address,
    error_message="Anh/chị vừa xuất nhiều tệp liên tiếp. Vui lòng chờ một phút rồi xuất lại.")

#: a manager's reminders by email (config NUDGE_RATE_LIMIT): the confirmation pages are free, the
#: sending is not, so no account can flood the staff's mailboxes
nudge_limit = limiter.shared_limit(
    lambda: _config("NUDGE_RATE_LIMIT"), scope="nudge", key_func=user_or_address,
    exempt_when=lambda: _method() != "POST",
    error_message="Anh/chị đã gửi nhiều lượt nhắc học liên tiếp. Vui lòng chờ một giờ rồi gửi tiếp.")


def _method() -> str:
    from flask import request

    return request.method


def _view_arg(name: str):
    from flask import request

    return (request.view_args or {}).get(name)


def _config(name: str) -> str:
    from flask import current_app

    return current_app.config[name]
