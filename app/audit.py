"""The audit log: one helper that appends a record, and the guards that keep the log append-only.

Services call `record()` for every change a trainer or an administrator makes; the view or the
command commits it together with the change. The application never updates or deletes a row of
`audit_log`: a flush that would, or an UPDATE/DELETE statement aimed at the table, raises
`AuditLogIsAppendOnly` before anything reaches the database.
"""
from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Delete, Update

from .models import AuditLog, User


class AuditLogIsAppendOnly(RuntimeError):
    """Something tried to change or delete a row of the audit log."""


def record(session: Session, actor: User | None, action: str, obj, before: dict | None = None,
           after: dict | None = None, summary: str = "") -> AuditLog:
    """Append one audit row (the caller flushes and commits).

    `obj` is a model instance with an `id`, or an `(object_type, object_id)` pair for things that
    are not rows (an import file); `actor` is None for the command line.
    """
    if isinstance(obj, tuple):
        object_type, object_id = obj
    else:
        object_type, object_id = obj.__tablename__, obj.id
    entry = AuditLog(actor_id=actor.id if actor is not None else None, action=action,
                     object_type=object_type, object_id=str(object_id if object_id is not None else ""),
                     summary=summary, before=before, after=after)
    session.add(entry)
    return entry


@event.listens_for(Session, "before_flush")
def _refuse_changed_audit_rows(session, flush_context, instances) -> None:
    for obj in session.deleted:
        if isinstance(obj, AuditLog):
            raise AuditLogIsAppendOnly("Nhật ký thay đổi chỉ được ghi thêm, không được xóa.")
    for obj in session.dirty:
        if isinstance(obj, AuditLog) and session.is_modified(obj, include_collections=False):
            raise AuditLogIsAppendOnly("Nhật ký thay đổi chỉ được ghi thêm, không được sửa.")


@event.listens_for(Engine, "before_execute")
def _refuse_audit_statements(conn, clauseelement, multiparams, params, execution_options) -> None:
    # Catches bulk `update(AuditLog)`/`delete(AuditLog)`, ORM or Core, which bypass the flush.
    if isinstance(clauseelement, (Update, Delete)):
        table = getattr(clauseelement, "table", None)
        if getattr(table, "name", None) == AuditLog.__tablename__:
            raise AuditLogIsAppendOnly("Nhật ký thay đổi chỉ được ghi thêm.")
