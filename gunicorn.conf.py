"""gunicorn settings for `make serve`: everything from the environment, nothing written to disk.

WEB_CONCURRENCY sets the number of worker processes (default 2 × CPUs + 1, at most 9 so one
PostgreSQL is not flooded with connections: each worker holds a pool); HOST and PORT the address;
GUNICORN_TIMEOUT how long one request may take (PDF reports of a whole province take a while).
"""
import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 9)))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# The app is imported once, by the master, and each worker is forked from it: a worker (re)started
# costs a fork, not the 1.5 s of CPU an import of the app takes on its own. A new version is
# therefore deployed by restarting gunicorn (docs/deploy.md), not by HUP.
preload_app = True
# Restart workers now and then so a slow leak never grows without bound; rarely enough that their
# first requests, which fill the per-process caches (templates, SQL, rendered questions), stay few.
max_requests = 10000
max_requests_jitter = 1000
# Logs go to stdout/stderr, for journald or the container runtime: no log files on the server.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# One JSON object a line, with the request id the app returns (X-Request-ID) to join with app logs.
access_log_format = (
    '{"time": "%(t)s", "logger": "gunicorn.access", "request_id": "%({x-request-id}o)s", '
    '"remote_addr": "%({x-forwarded-for}i)s", "method": "%(m)s", "path": "%(U)s", "query": "%(q)s", '
    '"status": %(s)s, "bytes": "%(B)s", "duration_ms": %(M)s, "user_agent": "%(a)s"}'
)
# Trust X-Forwarded-* only from the proxy in front (the app's ProxyFix does the rest).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn 27's control socket would be a file under $HOME: nothing is kept on the server's disk.
control_socket_disable = True


def post_fork(server, worker):
    """A worker starts with no database connection of the master's: with preload_app, a pool filled
    before the fork would otherwise be shared by every worker."""
    from app.extensions import db

    with server.app.wsgi().app_context():
        db.engine.dispose(close=False)
