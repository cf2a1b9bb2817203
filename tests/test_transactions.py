"""How a request's transaction ends (app/transactions.py): a COMMIT when it only read, so psycopg keeps
the statements it prepared; a ROLLBACK whenever it may have written or failed."""
import pytest
from flask import abort
from sqlalchemy import event, text

from app import create_app
from app.extensions import db
from app.models import Agency

PROBE = "transaction_probe"


@pytest.fixture
def probe_app(app, tmp_path):
    """An app of its own, whose requests each get their own app context as in production (the
    `app` fixture keeps one context open, which test requests reuse): on the suite's PostgreSQL,
    or on a SQLite file of its own (an in-memory database is the app fixture's connection's alone)."""
    address = app.config["SQLALCHEMY_DATABASE_URI"]
    in_memory = address.startswith("sqlite") and ":memory:" in address or address == "sqlite://"
    if in_memory:
        address = f"sqlite:///{tmp_path / 'probe.sqlite3'}"
    probe = create_app("testing", {"SQLALCHEMY_DATABASE_URI": address})

    @probe.get("/_read")
    def read():
        return {"users": db.session.execute(text('SELECT count(*) FROM "user"')).scalar()}

    @probe.get("/_write_then_refuse")
    def write_then_refuse():
        db.session.execute(text(f"INSERT INTO {PROBE} (n) VALUES (1)"))
        abort(409)

    @probe.get("/_change_then_refuse")
    def change_then_refuse():
        db.session.execute(text("SELECT 1"))
        db.session.add(Agency(code="KHONG-LUU", name="Không được lưu", kind="unit", path="/"))
        abort(409)

    @probe.get("/_read_then_fail")
    def read_then_fail():
        db.session.execute(text("SELECT 1"))
        raise RuntimeError("a failure after reading")

    @probe.get("/_prepared")
    def prepared():
        return {"prepared": db.session.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar()}

    with probe.app_context():
        if in_memory:
            db.create_all()
        with db.engine.begin() as connection:
            connection.execute(text(f"CREATE TABLE IF NOT EXISTS {PROBE} (n INTEGER)"))
            connection.execute(text(f"DELETE FROM {PROBE}"))
        ends = []
        event.listen(db.engine, "commit", lambda _connection: ends.append("commit"))
        event.listen(db.engine, "rollback", lambda _connection: ends.append("rollback"))
    probe.config["PROPAGATE_EXCEPTIONS"] = False
    yield probe, ends
    with probe.app_context():
        with db.engine.begin() as connection:
            connection.execute(text(f"DROP TABLE {PROBE}"))
        db.engine.dispose()


def _count(probe, sql: str) -> int:
    with probe.app_context():
        with db.engine.connect() as connection:
            return connection.execute(text(sql)).scalar()


def test_a_request_that_only_read_ends_with_a_commit(probe_app):
    probe, ends = probe_app
    assert probe.test_client().get("/_read").status_code == 200
    assert ends == ["commit"]


def test_a_request_that_wrote_and_was_refused_is_rolled_back(probe_app):
    probe, ends = probe_app
    assert probe.test_client().get("/_write_then_refuse").status_code == 409
    assert ends == ["rollback"]
    assert _count(probe, f"SELECT count(*) FROM {PROBE}") == 0


def test_a_change_not_yet_written_is_not_committed_by_the_end_of_a_request(probe_app):
    probe, ends = probe_app
    assert probe.test_client().get("/_change_then_refuse").status_code == 409
    assert ends == ["rollback"]
    assert _count(probe, "SELECT count(*) FROM agency WHERE code = 'KHONG-LUU'") == 0


def test_a_request_that_failed_is_rolled_back(probe_app):
    probe, ends = probe_app
    assert probe.test_client().get("/_read_then_fail").status_code == 500
    assert ends == ["rollback"]


@pytest.mark.postgres
def test_prepared_statements_outlive_requests_that_only_read(probe_app):
    """psycopg prepares a statement on its fifth run and forgets them all at a ROLLBACK: after read-only
    requests (one connection, requests one after another) they are still there."""
    probe, _ = probe_app
    client = probe.test_client()
    for _ in range(8):
        assert client.get("/_read").status_code == 200
    assert client.get("/_prepared").get_json()["prepared"] >= 1
