"""Configuration classes, chosen by name in create_app(config_name).

Secrets come from the environment. In development a secret key is generated once into
instance/secret_key (never committed) so sessions survive restarts.
"""
import json
import os
import secrets
from datetime import timedelta
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


def _env_json_object(name: str) -> dict:
    """A JSON object from the environment ({} when unset); a clear error when it is not one."""
    text = os.environ.get(name, "").strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as error:
        raise RuntimeError(f"{name} must be a JSON object, e.g. {{\"so-y-te\": \"SYT\"}}: {error}") from None
    if not isinstance(value, dict):
        raise RuntimeError(f"{name} must be a JSON object, e.g. {{\"so-y-te\": \"SYT\"}}")
    return {str(key): str(code) for key, code in value.items()}


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
    #: per signed-in user, all PDFs together (certificates, reports) and all exports together
    PDF_RATE_LIMIT = os.environ.get("PDF_RATE_LIMIT", "3 per minute; 30 per hour")
    EXPORT_RATE_LIMIT = os.environ.get("EXPORT_RATE_LIMIT", "10 per minute; 100 per hour")
    #: how often one manager may send reminders from the people list
    NUDGE_RATE_LIMIT = os.environ.get("NUDGE_RATE_LIMIT", "10 per hour")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    #: how long "remember me" lasts; a session or remember-me cookie older than this is refused too
    REMEMBER_COOKIE_DURATION = timedelta(days=_env_int("REMEMBER_COOKIE_DAYS", 14))
    #: links mailed to set (invitation) or reset a password stay valid this long, and work once
    INVITATION_LINK_DAYS = _env_int("INVITATION_LINK_DAYS", 14)
    RESET_LINK_MINUTES = _env_int("RESET_LINK_MINUTES", 60)
    #: asking for a reset link: per network address, and per account (whatever it was typed as)
    RESET_RATE_LIMIT_PER_ADDRESS = "20 per hour"
    RESET_RATE_LIMIT_PER_ACCOUNT = "3 per hour"
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
    #: answers a question needs before it ranks on "what staff get wrong" (fewer are listed apart)
    WRONG_ANSWERS_MIN_ANSWERS = int(os.environ.get("WRONG_ANSWERS_MIN_ANSWERS", "5"))
    #: a learner this many days overdue also appears in the digest of the next head up the tree
    ESCALATE_AFTER_DAYS = int(os.environ.get("ESCALATE_AFTER_DAYS", "7"))
    #: "Gửi ngay" on the reminders page starts at most one run in this many minutes (any run counts)
    REMINDERS_SEND_NOW_MINUTES = int(os.environ.get("REMINDERS_SEND_NOW_MINUTES", "10"))
    # Violation reports (app/violations): where evidence is kept, and the limits of an upload.
    #: originals and previews, one folder per report; back it up with the database
    VIOLATION_EVIDENCE_DIR = os.environ.get("VIOLATION_EVIDENCE_DIR", str(INSTANCE_DIR / "evidence"))
    #: staff files kept between the import's preview and its confirmation, deleted once applied
    IMPORT_PENDING_DIR = os.environ.get("IMPORT_PENDING_DIR", str(INSTANCE_DIR / "pending-imports"))
    #: how long a previewed staff file may wait for its confirmation
    IMPORT_PENDING_MINUTES = int(os.environ.get("IMPORT_PENDING_MINUTES", "60"))
    VIOLATION_MAX_FILE_BYTES = _env_int("VIOLATION_MAX_FILE_BYTES", 4 * 1024 * 1024)
    #: all files of one report together; stays under MAX_CONTENT_LENGTH (the whole request)
    VIOLATION_MAX_REPORT_BYTES = _env_int("VIOLATION_MAX_REPORT_BYTES", 9 * 1024 * 1024)
    VIOLATION_MAX_FILES = _env_int("VIOLATION_MAX_FILES", 10)
    #: an image with more pixels (width × height) is refused before it is decoded (image bombs)
    VIOLATION_MAX_IMAGE_PIXELS = _env_int("VIOLATION_MAX_IMAGE_PIXELS", 40_000_000)
    #: a report nobody acted on after this many working days goes into its officers' digest…
    VIOLATION_ACTION_WORKING_DAYS = _env_int("VIOLATION_ACTION_WORKING_DAYS", 2)
    #: …and after this many into the digest of the head of their agency (or the nearest above)
    VIOLATION_ESCALATE_WORKING_DAYS = _env_int("VIOLATION_ESCALATE_WORKING_DAYS", 5)

    # Background jobs (app/jobs, docs/deploy.md).
    #: "inline": jobs run in the process that starts them (make run: no Redis, no worker); "rq": on
    #: the RQ queue in JOBS_REDIS_URL, run by `flask jobs worker` (make serve, production)
    JOBS_MODE = os.environ.get("JOBS_MODE", "inline")
    JOBS_REDIS_URL = os.environ.get("JOBS_REDIS_URL", "redis://127.0.0.1:6379/1")
    #: where results are written; with several servers, a folder they all mount (the worker writes,
    #: the app server sends)
    JOBS_RESULT_DIR = os.environ.get("JOBS_RESULT_DIR", str(INSTANCE_DIR / "job-results"))
    #: a result is kept this many days after its job finished, then deleted by `flask jobs purge`
    JOBS_RESULT_DAYS = _env_int("JOBS_RESULT_DAYS", 7)
    #: an export of a subtree with more active people than this runs as a job; the PDF report likewise
    JOBS_EXPORT_THRESHOLD = _env_int("JOBS_EXPORT_THRESHOLD", 20_000)
    JOBS_PDF_THRESHOLD = _env_int("JOBS_PDF_THRESHOLD", 100_000)
    #: a recount of a subtree of more active people than this (an assignment given to a province, a
    #: big subtree moved) runs as a job when jobs run on a queue, not inside the request
    RECOUNT_JOB_THRESHOLD = _env_int("RECOUNT_JOB_THRESHOLD", 20_000)
    #: a job running longer than this is stopped and marked failed
    JOBS_TIMEOUT = _env_int("JOBS_TIMEOUT", 3 * 3600)
    #: how many times RQ runs a job again after its worker died in the middle of it
    JOBS_MAX_RETRIES = _env_int("JOBS_MAX_RETRIES", 3)
    #: the worker vouches for its running job this often; a job not vouched for within this plus
    #: JOBS_HEARTBEAT_GRACE seconds is abandoned and queued again by the next worker's maintenance,
    #: which runs every JOBS_MAINTENANCE_SECONDS
    JOBS_HEARTBEAT_SECONDS = _env_int("JOBS_HEARTBEAT_SECONDS", 30)
    JOBS_HEARTBEAT_GRACE = _env_int("JOBS_HEARTBEAT_GRACE", 60)
    JOBS_MAINTENANCE_SECONDS = _env_int("JOBS_MAINTENANCE_SECONDS", 120)
    #: the page's progress is written at most this often
    JOBS_PROGRESS_SECONDS = float(os.environ.get("JOBS_PROGRESS_SECONDS", "1"))
    #: tests only: seconds to wait after each exported row (a slow job to kill a worker during)
    JOBS_TEST_ROW_DELAY = float(os.environ.get("JOBS_TEST_ROW_DELAY", "0"))

    # Sign-in through the province's directory (docs/directory.md). Both are off unless configured.
    #: the account a directory person signs in to is the one with the same "employee_code" or "email"
    DIRECTORY_MATCH_BY = os.environ.get("DIRECTORY_MATCH_BY", "employee_code")
    #: a person the directory knows but the app does not: "refuse", or "create" the account in the
    #: agency that DIRECTORY_AGENCY_MAP gives for the directory's agency value
    DIRECTORY_UNKNOWN_PEOPLE = os.environ.get("DIRECTORY_UNKNOWN_PEOPLE", "refuse")
    #: {"value the directory gives": "agency code in the app"}, JSON
    DIRECTORY_AGENCY_MAP = _env_json_object("DIRECTORY_AGENCY_MAP")
    #: OpenID Connect: the provider's issuer URL (its /.well-known/openid-configuration is read)
    OIDC_ISSUER = os.environ.get("OIDC_ISSUER", "")
    OIDC_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID", "")
    OIDC_CLIENT_SECRET = os.environ.get("OIDC_CLIENT_SECRET", "")
    OIDC_SCOPE = os.environ.get("OIDC_SCOPE", "openid email profile")
    #: the name shown on the sign-in button, e.g. "Cổng đăng nhập một lần của tỉnh"
    OIDC_PROVIDER_NAME = os.environ.get("OIDC_PROVIDER_NAME", "tài khoản của tỉnh")
    #: which claims hold each piece of the person (standard names by default; employee code and
    #: agency are the province's own claims)
    OIDC_CLAIM_USERNAME = os.environ.get("OIDC_CLAIM_USERNAME", "preferred_username")
    OIDC_CLAIM_EMAIL = os.environ.get("OIDC_CLAIM_EMAIL", "email")
    OIDC_CLAIM_NAME = os.environ.get("OIDC_CLAIM_NAME", "name")
    OIDC_CLAIM_EMPLOYEE_CODE = os.environ.get("OIDC_CLAIM_EMPLOYEE_CODE", "employee_code")
    OIDC_CLAIM_AGENCY = os.environ.get("OIDC_CLAIM_AGENCY", "agency")
    #: LDAP / Active Directory: ldap://host:389 or ldaps://host:636; the normal sign-in form tries it
    LDAP_URL = os.environ.get("LDAP_URL", "")
    LDAP_BASE_DN = os.environ.get("LDAP_BASE_DN", "")
    #: bind straight as the person: "uid={username},ou=people,dc=…" (or "{username}@tinh.gov.vn" on AD);
    #: empty: search-then-bind with the service account below
    LDAP_BIND_TEMPLATE = os.environ.get("LDAP_BIND_TEMPLATE", "")
    LDAP_SERVICE_DN = os.environ.get("LDAP_SERVICE_DN", "")
    LDAP_SERVICE_PASSWORD = os.environ.get("LDAP_SERVICE_PASSWORD", "")
    #: how to find the person under LDAP_BASE_DN (AD: "(sAMAccountName={username})")
    LDAP_USER_FILTER = os.environ.get("LDAP_USER_FILTER", "(uid={username})")
    #: STARTTLS on an ldap:// URL; LDAP_CA_FILE verifies the server's certificate (ldaps:// too)
    LDAP_STARTTLS = os.environ.get("LDAP_STARTTLS", "") == "1"
    LDAP_CA_FILE = os.environ.get("LDAP_CA_FILE", "")
    LDAP_TIMEOUT = _env_int("LDAP_TIMEOUT", 10)
    LDAP_ATTR_USERNAME = os.environ.get("LDAP_ATTR_USERNAME", "uid")
    LDAP_ATTR_EMAIL = os.environ.get("LDAP_ATTR_EMAIL", "mail")
    LDAP_ATTR_NAME = os.environ.get("LDAP_ATTR_NAME", "cn")
    LDAP_ATTR_EMPLOYEE_CODE = os.environ.get("LDAP_ATTR_EMPLOYEE_CODE", "employeeNumber")
    LDAP_ATTR_AGENCY = os.environ.get("LDAP_ATTR_AGENCY", "departmentNumber")

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


_TEST_SCRATCH: dict[str, str] = {}


def _test_scratch(prefix: str) -> str:
    """Never the project's instance/: one scratch folder per test process and purpose (tests may set
    their own)."""
    if prefix not in _TEST_SCRATCH:
        import tempfile
        _TEST_SCRATCH[prefix] = tempfile.mkdtemp(prefix=prefix)
    return _TEST_SCRATCH[prefix]


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "testing-secret-key"
    SQLALCHEMY_DATABASE_URI = database_url(os.environ.get("DATABASE_URL", "sqlite://"))
    WTF_CSRF_ENABLED = True
    RATELIMIT_ENABLED = True
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # fast hashes keep the suite quick; never in production
    SERVICE_OWNER = "Cơ quan chủ quản thử nghiệm"

    @property
    def VIOLATION_EVIDENCE_DIR(self) -> str:  # noqa: N802
        return _test_scratch("evidence-")

    @property
    def JOBS_RESULT_DIR(self) -> str:  # noqa: N802
        return _test_scratch("job-results-")

    @property
    def IMPORT_PENDING_DIR(self) -> str:  # noqa: N802
        # Beside the evidence scratch folder: never the project's instance/.
        return os.path.join(self.VIOLATION_EVIDENCE_DIR, "pending-imports")


class ProductionConfig(Config):
    """Everything an app server needs comes from the environment: no state on its disk."""

    #: `make serve` starts a worker beside gunicorn: big exports never run inside a request
    JOBS_MODE = os.environ.get("JOBS_MODE", "rq")

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
