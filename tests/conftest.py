"""Shared fixtures: an app on a fresh database per test, factories, sign-in and query counting.

SQLite in memory by default; PostgreSQL when DATABASE_URL says so (then the schema is created once
and every table is emptied after each test).
"""
from __future__ import annotations

import itertools
import os
from contextlib import contextmanager

import pytest

pytest.register_assert_rewrite("support")  # its checks show both sides when they fail

from flask import g  # noqa: E402
from sqlalchemy import event, select, text

from app import create_app
from app.agencies.services import create_agency
from app.auth.services import create_user
from app.extensions import db, limiter
from support import FIXTURES, ON_POSTGRES, PASSWORD, ROOT, csrf_token

_schema_ready = False


def pytest_configure(config):
    if os.environ.get("REQUIRE_POSTGRES") and not ON_POSTGRES:
        raise pytest.UsageError("REQUIRE_POSTGRES is set but DATABASE_URL is not a PostgreSQL URL")


def pytest_collection_modifyitems(config, items):
    if ON_POSTGRES:
        return
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL (run by make test)"))


def _empty_all_tables() -> None:
    names = ", ".join(f'"{table.name}"' for table in db.metadata.sorted_tables)
    db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    db.session.commit()


@pytest.fixture
def app():
    global _schema_ready
    app = create_app("testing")

    def load_the_user_afresh():
        # The test keeps one app context open, which requests reuse; in production every request
        # has its own, so Flask-Login loads the user again each time. Do the same here.
        g.pop("_login_user", None)

    # First of all hooks: the app's own (the temporary-password gate) read current_user too.
    app.before_request_funcs.setdefault(None, []).insert(0, load_the_user_afresh)

    with app.app_context():
        if ON_POSTGRES:
            if not _schema_ready:
                db.drop_all()
                db.create_all()
                _schema_ready = True
        else:
            db.create_all()
        limiter.reset()
        yield app
        db.session.remove()
        if ON_POSTGRES:
            _empty_all_tables()
        else:
            db.drop_all()
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


_counter = itertools.count(1)


@pytest.fixture
def make_agency(app):
    def make(name=None, parent=None, kind="unit", code=None):
        number = next(_counter)
        agency = create_agency(db.session, code=code or f"AG{number}", name=name or f"Cơ quan {number}",
                               kind=kind, parent=parent)
        db.session.commit()
        return agency

    return make


@pytest.fixture
def make_agency_tree(make_agency):
    """A tree `depth` levels deep with `width` children under each agency; returns all, root first."""

    def make(depth=3, width=2):
        root = make_agency(kind="province")
        agencies, level = [root], [root]
        for _ in range(depth - 1):
            level = [make_agency(parent=parent) for parent in level for _ in range(width)]
            agencies.extend(level)
        return agencies

    return make


@pytest.fixture
def make_user(make_agency):
    def make(role="learner", agency=None, manages=None, username=None, password=PASSWORD, **extra):
        number = next(_counter)
        agency = agency or make_agency()
        if role == "manager" and manages is None:
            manages = [agency]
        user = create_user(
            db.session, username=username or f"user{number}", email=f"user{number}@example.org",
            full_name=extra.pop("full_name", f"Người dùng {number}"), agency=agency, password=password,
            is_trainer=role == "trainer", is_admin=role == "admin", manages=manages, **extra)
        db.session.commit()
        return user

    return make


class AuthActions:
    def __init__(self, client):
        self.client = client

    def login(self, user_or_name, password=PASSWORD, follow_redirects=False):
        username = getattr(user_or_name, "username", user_or_name)
        token = csrf_token(self.client, "/auth/login")
        return self.client.post("/auth/login", data={"username": username, "password": password,
                                                     "csrf_token": token},
                                follow_redirects=follow_redirects)

    def logout(self):
        token = csrf_token(self.client, "/")
        return self.client.post("/auth/logout", data={"csrf_token": token})


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def count_queries(app):
    """`with count_queries() as counter:` … `counter.count` is the number of SQL statements run."""

    class Counter:
        count = 0

    @contextmanager
    def counting():
        # Tests share the request's session: start from an empty identity map, as a new request
        # in production does, so nothing cached by earlier requests hides a query.
        db.session.commit()
        db.session.expunge_all()
        counter = Counter()

        def before(*args, **kwargs):
            counter.count += 1

        engine = db.engine
        event.listen(engine, "before_cursor_execute", before)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return counting


@pytest.fixture
def fixture_content(tmp_path):
    """A writable copy of the small fixture curriculum: returns (content_dir, quizzes_dir)."""
    import shutil

    content = tmp_path / "content"
    quizzes = tmp_path / "quizzes"
    shutil.copytree(FIXTURES / "content", content)
    shutil.copytree(FIXTURES / "quizzes", quizzes)
    # The real letters and their metadata: the fixtures quote them like the curriculum does.
    shutil.copytree(ROOT / "content" / "sources", content / "sources")
    return content, quizzes


@pytest.fixture
def fixture_course(app, fixture_content):
    """The small fixture curriculum, loaded: returns its course."""
    from app.content.checks import check_content
    from app.content.services import load_bundle
    from app.models import Course

    result = check_content(*fixture_content)
    assert result.ok, [str(e) for e in result.errors]
    load_bundle(db.session, result.bundle)
    db.session.commit()
    return db.session.scalar(select(Course))


class _MailBox:
    """What the loopback SMTP server received, parsed."""

    def __init__(self) -> None:
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        import email
        from email import policy

        message = email.message_from_bytes(envelope.content, policy=policy.default)
        message.recipients = list(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list:
        return [message for message in self.messages if address in message.recipients]


@pytest.fixture
def smtp_server(app):
    """A real SMTP server (aiosmtpd) on loopback; the app's mail settings point at it."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = _MailBox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_USE_TLS=False, MAIL_USE_SSL=False,
                      MAIL_USERNAME=None, PUBLIC_BASE_URL="https://hoc.example.vn")
    yield mailbox
    controller.stop()


@pytest.fixture(scope="session")
def openid_provider(tmp_path_factory):
    """The real test OpenID Provider (tests/oidc/provider.js under Node); yields its issuer URL.

    Never skipped: if Node or oidc-provider is missing, or it does not start, the test fails.
    """
    from directory_servers import ServerDidNotStart, openid_provider

    try:
        with openid_provider(tmp_path_factory.mktemp("oidc")) as issuer:
            yield issuer
    except ServerDidNotStart as error:
        pytest.fail(f"the test OpenID Provider did not start: {error}")


@pytest.fixture(scope="session")
def ldap_server(tmp_path_factory):
    """A real OpenLDAP (Debian slapd) in a temporary folder, loaded with tests/ldap/people.ldif;
    yields its ldap:// URL (STARTTLS offered), its ldaps:// URL and the certificate to trust.

    Never skipped: if slapd is missing or does not start, the test fails.
    """
    from directory_servers import ServerDidNotStart, ldap_server

    try:
        with ldap_server(tmp_path_factory.mktemp("ldap")) as server:
            yield server
    except ServerDidNotStart as error:
        pytest.fail(f"the test OpenLDAP (slapd) did not start: {error}")
