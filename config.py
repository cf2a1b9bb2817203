"""Configuration classes, chosen by name in create_app(config_name).

Secrets come from the environment. In development a secret key is generated once into
instance/secret_key (never committed) so sessions survive restarts.
"""
import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


def _instance_secret_key() -> str:
    """Read the development secret key from instance/, generating it on first use."""
    INSTANCE_DIR.mkdir(exist_ok=True)
    key_file = INSTANCE_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def database_url(url: str) -> str:
    """Point plain PostgreSQL URLs (postgres://, postgresql://) at the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


class Config:
    SQLALCHEMY_DATABASE_URI = database_url(os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'app.sqlite3'}"
    ))
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    CONTENT_DIR = os.environ.get("CONTENT_DIR", str(BASE_DIR / "content"))
    QUIZZES_DIR = os.environ.get("QUIZZES_DIR", str(BASE_DIR / "quizzes"))
    BOOTSTRAP_SERVE_LOCAL = True
    BOOTSTRAP_BOOTSWATCH_THEME = None
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session: long lessons must not fail
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT_PER_ADDRESS = "20 per minute"
    LOGIN_RATE_LIMIT_PER_ACCOUNT = "10 per 5 minutes"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    DISPLAY_TIMEZONE = "Asia/Ho_Chi_Minh"
    MAX_CONTENT_LENGTH = 10 * 1024 * 1024
    #: this many failed sign-ins in a row lock an account for LOGIN_LOCKOUT_MINUTES
    LOGIN_LOCKOUT_THRESHOLD = _env_int("LOGIN_LOCKOUT_THRESHOLD", 10)
    LOGIN_LOCKOUT_MINUTES = _env_int("LOGIN_LOCKOUT_MINUTES", 15)
    #: rules for passwords people choose (app/auth/passwords.py)
    PASSWORD_MIN_LENGTH = _env_int("PASSWORD_MIN_LENGTH", 10)
    #: how many reverse proxies (nginx, a load balancer) sit in front and set X-Forwarded-*; 0: none
    PROXY_COUNT = _env_int("PROXY_COUNT", 0)
    #: Strict-Transport-Security is sent only when this is above 0 (production: one year)
    HSTS_MAX_AGE = 0
    #: "text" for people reading a terminal, "json" (one object a line) for a log collector
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    # Outgoing mail for `flask reminders send` (run from cron).
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_USE_TLS = os.environ.get("MAIL_USE_TLS", "") == "1"  # STARTTLS
    MAIL_USE_SSL = os.environ.get("MAIL_USE_SSL", "") == "1"  # SMTPS
    MAIL_TIMEOUT = int(os.environ.get("MAIL_TIMEOUT", "30"))
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "Học ứng xử trên MXH <no-reply@localhost>")
    #: the address people open from an email, e.g. https://hocmxh.example.gov.vn
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000")
    #: learners are reminded this many days before their due date, and every day once overdue
    REMINDER_DAYS_BEFORE_DUE = int(os.environ.get("REMINDER_DAYS_BEFORE_DUE", "3"))
    #: a learner this many days overdue also appears in the digest of the next head up the tree
    ESCALATE_AFTER_DAYS = int(os.environ.get("ESCALATE_AFTER_DAYS", "7"))
    # -- the deployment's owner, named in every page's header and on the certificates -----------
    #: the service's name in the header and page titles
    SERVICE_NAME = os.environ.get("SERVICE_NAME", "Học ứng xử trên mạng xã hội")
    #: the authority that runs this deployment, e.g. "Ủy ban nhân dân tỉnh Hòa An"
    SERVICE_OWNER = os.environ.get("SERVICE_OWNER", "Cơ quan chủ quản (đặt SERVICE_OWNER)")
    #: help and contact shown in the footer
    SERVICE_CONTACT_EMAIL = os.environ.get("SERVICE_CONTACT_EMAIL", "hotro@localhost")
    SERVICE_CONTACT_PHONE = os.environ.get("SERVICE_CONTACT_PHONE", "")
    #: the certificate's issuer, place and signature block (defaults: the owner, no name)
    CERTIFICATE_ISSUER = os.environ.get("CERTIFICATE_ISSUER", "")
    CERTIFICATE_PLACE = os.environ.get("CERTIFICATE_PLACE", "")
    CERTIFICATE_SIGNER_TITLE = os.environ.get("CERTIFICATE_SIGNER_TITLE", "Thủ trưởng cơ quan")
    CERTIFICATE_SIGNER_NAME = os.environ.get("CERTIFICATE_SIGNER_NAME", "")
    #: static (not variable) Noto Sans regular, bold, italic and bold italic: Debian's fonts-noto-core
    PDF_FONT_DIR = os.environ.get("PDF_FONT_DIR", "/usr/share/fonts/truetype/noto")


class DevelopmentConfig(Config):
    DEBUG = False  # `flask run --debug` turns the debugger on; the default stays quiet

    @property
    def SECRET_KEY(self) -> str:  # noqa: N802 (Flask reads config keys in upper case)
        return os.environ.get("SECRET_KEY") or _instance_secret_key()


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "testing-secret-key"
    SQLALCHEMY_DATABASE_URI = database_url(os.environ.get("DATABASE_URL", "sqlite://"))
    WTF_CSRF_ENABLED = True
    RATELIMIT_ENABLED = True
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # fast hashes keep the suite quick; never in production
    SERVICE_OWNER = "Cơ quan chủ quản thử nghiệm"


class ProductionConfig(Config):
    """Everything an app server needs comes from the environment: no state on its disk."""

    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"
    PROXY_COUNT = _env_int("PROXY_COUNT", 1)  # nginx in front, by default
    HSTS_MAX_AGE = _env_int("HSTS_MAX_AGE", 365 * 24 * 3600)
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")

    @property
    def SECRET_KEY(self) -> str:  # noqa: N802
        key = os.environ.get("SECRET_KEY")
        if not key:
            raise RuntimeError("SECRET_KEY must be set in the environment in production "
                               "(e.g. python3 -c 'import secrets; print(secrets.token_hex(32))')")
        return key

    @property
    def SQLALCHEMY_DATABASE_URI(self) -> str:  # noqa: N802
        # Never fall back to SQLite in instance/: a server's disk holds no data in production.
        url = os.environ.get("DATABASE_URL")
        if not url:
            raise RuntimeError("DATABASE_URL must be set in the environment in production "
                               "(postgresql+psycopg://user:password@host/dbname)")
        return database_url(url)


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
