"""The gate in front of every page for a person signed in with a temporary password.

A password set by someone else (an administrator, a printed slip) opens nothing but the page to
choose a new one, the sign-out, and the static files those pages need: a GET anywhere else is sent
there, anything else is refused (403).
"""
from __future__ import annotations

from flask import Flask, abort, redirect, request, url_for
from flask_login import current_user

#: what a person with a temporary password may still reach
OPEN_ENDPOINTS = {"auth.password", "auth.logout", "static", "bootstrap.static", "main.healthz",
                  "account.forgot", "account.forgot_sent", "account.invitation", "account.reset"}


def register_account_gate(app: Flask) -> None:
    @app.before_request
    def require_a_chosen_password():
        if request.endpoint in OPEN_ENDPOINTS or not current_user.is_authenticated:
            return None
        if not current_user.must_change_password:
            return None
        if request.method == "GET":
            return redirect(url_for("auth.password"))
        abort(403)
