"""Dump the database to a file and restore it into another, and count rows to compare them.

PostgreSQL goes through pg_dump's custom format and pg_restore (the tools of the `postgresql-client`
package); SQLite through its online backup API. Passwords travel in the environment, never on a
command line that `ps` shows.
"""
from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, func, inspect, select, table
from sqlalchemy.engine import URL, make_url


class BackupError(RuntimeError):
    """A dump or restore failed; the message is for the operator, in Vietnamese."""


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and the environment that carries it."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{command[0]} thất bại (mã {result.returncode}): {result.stderr.strip()[-2000:]}")


def dump(database_url: str, target: Path) -> Path:
    """Write a backup of the database to `target`."""
    url = make_url(database_url)
    target.parent.mkdir(parents=True, exist_ok=True)
    if url.get_backend_name() == "postgresql":
        connection, env = _libpq(url)
        _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={target}", connection], env)
    elif url.get_backend_name() == "sqlite":
        with sqlite3.connect(url.database) as source, sqlite3.connect(target) as copy:
            source.backup(copy)
    else:
        raise BackupError(f"Không hỗ trợ sao lưu cơ sở dữ liệu loại «{url.get_backend_name()}».")
    target.chmod(0o600)  # it holds every email address and password hash
    return target


def restore(source: Path, database_url: str) -> None:
    """Restore a backup into the database at `database_url`, replacing what it holds."""
    if not source.exists():
        raise BackupError(f"Không tìm thấy tệp sao lưu «{source}».")
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        connection, env = _libpq(url)
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
              f"--dbname={connection}", str(source)], env)
    elif url.get_backend_name() == "sqlite":
        with sqlite3.connect(source) as backup, sqlite3.connect(url.database) as target:
            backup.backup(target)
    else:
        raise BackupError(f"Không hỗ trợ khôi phục vào cơ sở dữ liệu loại «{url.get_backend_name()}».")


def row_counts(database_url: str) -> dict[str, int]:
    """Rows in every table: what a restore must reproduce."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            names = sorted(inspect(connection).get_table_names())
            return {name: connection.scalar(select(func.count()).select_from(table(name))) for name in names}
    finally:
        engine.dispose()
