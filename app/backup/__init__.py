"""Backups of the database: pg_dump/pg_restore on PostgreSQL, the SQLite backup API on SQLite."""
