"""Security headers on every response, HSTS in production, and trust in the reverse proxy.

The Content-Security-Policy allows scripts from this site only: no inline <script> and no on*=
attributes anywhere (page behaviour lives in app/static/js/). See docs/deploy.md.
"""
from __future__ import annotations

from flask import Flask, abort, request
from werkzeug.middleware.proxy_fix import ProxyFix

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    # Style *attributes* stay allowed: completion bars set their width with style="width: N%".
    # They cannot run code; what the requirement forbids is inline script. Browsers that know
    # style-src-elem (CSP 3) still refuse inline <style> elements; older ones fall back to style-src.
    "style-src 'self' 'unsafe-inline'",
    "style-src-elem 'self'",
    "style-src-attr 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def register_proxy_fix(app: Flask) -> None:
    """Believe X-Forwarded-For/-Proto/-Host/-Port from PROXY_COUNT proxies, and no more.

    Without it the rate limiter would see every request coming from nginx's address, and
    url_for(_external=True) would build http:// links behind a TLS-terminating proxy.
    """
    count = app.config.get("PROXY_COUNT", 0)
    if count > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count, x_port=count)


def register_security_headers(app: Flask) -> None:
    hsts_max_age = app.config.get("HSTS_MAX_AGE", 0)

    @app.after_request
    def add_security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if hsts_max_age > 0:
            response.headers.setdefault("Strict-Transport-Security",
                                        f"max-age={hsts_max_age}; includeSubDomains")
        if _is_personal(request):
            # Signed-in pages and downloads (results, certificates, exports) must not stay in the
            # browser's cache of a shared office computer.
            response.headers["Cache-Control"] = "no-store"
            response.headers["Pragma"] = "no-cache"
        return response


#: the same for everyone: files, the manifest, the service worker and its offline page (cached by
#: their own rules, the worker revalidated at each visit)
NOT_PERSONAL = (None, "static", "bootstrap.static", "main.manifest", "main.service_worker", "main.offline")


def _is_personal(req) -> bool:
    """A response for a signed-in person (the session says so), not a static file."""
    from flask import session

    return req.endpoint not in NOT_PERSONAL and "_user_id" in session


def register_input_guard(app: Flask) -> None:
    """Refuse a NUL character anywhere in the query or a form: no field of ours can hold one, and
    PostgreSQL would fail on it deep inside a query (a 500 instead of a clear 400)."""

    @app.before_request
    def refuse_nul_characters():
        fields = (*request.args.items(multi=True), *(request.form.items(multi=True) if request.form else ()))
        if any("\x00" in key or "\x00" in value for key, value in fields) or "\x00" in request.path:
            abort(400)


def register_security(app: Flask) -> None:
    register_proxy_fix(app)
    register_security_headers(app)
    register_input_guard(app)
