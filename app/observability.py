"""Request ids and structured logs: every log line of a request carries the id the proxy sees.

The id comes from the proxy's X-Request-ID header when it looks sane (nginx: `$request_id`), else
it is generated; it is kept in `g.request_id`, sent back in the response header of the same name
and added to every log record by a logging filter. In production each line is one JSON object.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from datetime import datetime, timezone

from flask import Flask, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
#: what a proxy may hand us: letters, digits and a few separators, short (anything else is replaced)
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
#: the logger every module's `logging.getLogger(__name__)` ("app.…") propagates to
APP_LOGGER = "app"


def _new_request_id() -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _SANE_REQUEST_ID.match(given) else uuid.uuid4().hex


def current_request_id() -> str:
    """The id of the request being served, or "-" outside a request."""
    if not has_request_context():
        return "-"
    if not getattr(g, "request_id", None):  # a request that failed before before_request ran
        g.request_id = _new_request_id()
    return g.request_id


class RequestIdFilter(logging.Filter):
    """Adds `request_id` (and the path and address) to every record, so formatters can use it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        if has_request_context():
            record.path = request.path
            record.method = request.method
            record.remote_addr = request.remote_addr
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: what log collectors (journald, Loki, ELK) read without parsing."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for key in ("method", "path", "remote_addr"):
            if getattr(record, key, None) is not None:
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


def configure_logging(app: Flask) -> None:
    """One handler on stderr for the app's logger, replaced (not added to) when an app is rebuilt."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if app.config.get("LOG_FORMAT") == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler._request_id_handler = True  # marks ours, so a second create_app() replaces it
    logger = logging.getLogger(APP_LOGGER)
    for old in list(logger.handlers):
        if getattr(old, "_request_id_handler", False):
            logger.removeHandler(old)
    from flask.logging import default_handler

    logger.removeHandler(default_handler)
    logger.addHandler(handler)
    logger.setLevel(app.config.get("LOG_LEVEL", "INFO"))


def register_request_ids(app: Flask) -> None:
    """Give each request an id (the proxy's, if sane) and return it in the response."""

    @app.before_request
    def assign_request_id():
        g.request_id = _new_request_id()

    @app.after_request
    def send_request_id(response):
        response.headers[REQUEST_ID_HEADER] = current_request_id()
        return response


def register_observability(app: Flask) -> None:
    configure_logging(app)
    register_request_ids(app)
