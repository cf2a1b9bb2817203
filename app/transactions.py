"""How a request's database transaction ends when the request only read.

Flask-SQLAlchemy ends each request's session with a ROLLBACK when a transaction is still open: a
page that only read, or a view that read again after its commit. psycopg 3 answers every
ROLLBACK by forgetting all the statements it has prepared on that connection and sending
DEALLOCATE ALL (a rollback could have undone DDL they depend on), so PostgreSQL plans each of
them again and they are prepared anew. Measured on the exam hour's arrivals (bench.arrival with
pg_stat_statements), about half of the executions were planned again, and planning was as much of
PostgreSQL's time as executing. A transaction that wrote nothing ends the same with a COMMIT,
which keeps them: that is what `commit_if_only_read` does at the end of a request.

Anything that may have written still ends with the ROLLBACK: a statement other than a SELECT
since the transaction began (`_notice_writes`), a change not flushed yet, or an error.
"""
from __future__ import annotations

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .extensions import db

#: in a connection's info: a statement other than a SELECT ran in its current transaction
_WROTE = "wrote_in_transaction"
#: in a session's info: the connection its current transaction began on
_CONNECTION = "transaction_connection"


@event.listens_for(Session, "after_begin")
def _remember_transaction(session: Session, _transaction, connection) -> None:
    connection.info.pop(_WROTE, None)  # a new transaction has written nothing yet
    session.info[_CONNECTION] = connection


@event.listens_for(Engine, "before_cursor_execute")
def _notice_writes(conn, _cursor, statement: str, _parameters, _context, _executemany) -> None:
    if statement.lstrip()[:6].upper() != "SELECT":
        conn.info[_WROTE] = True


def register_read_only_commit(app: Flask) -> None:
    """End a request whose transaction only read with a COMMIT instead of a ROLLBACK. Registered
    after Flask-SQLAlchemy, so it runs before the session is removed (teardowns run in reverse)."""

    @app.teardown_appcontext
    def commit_if_only_read(error: BaseException | None) -> None:
        session = db.session()
        connection = session.info.pop(_CONNECTION, None)
        if (error is not None or connection is None or connection.closed or not connection.in_transaction()
                or connection.info.get(_WROTE) or session.new or session.dirty or session.deleted):
            return  # nothing open, or something that may have written: the removal rolls it back
        try:
            session.commit()
        except SQLAlchemyError:
            session.rollback()
