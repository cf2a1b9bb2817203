"""`flask backup`: a backup restores into a scratch database with exactly the same rows."""
import flask_migrate

from app import create_app
from app.backup.services import row_counts
from app.demo.cli import build_demo
from app.extensions import db
from support import blank_database


def test_a_backup_restores_into_a_scratch_database_with_the_same_rows(tmp_path):
    backup_file = tmp_path / "sao-luu.dump"
    with blank_database(tmp_path, "source") as source_url, blank_database(tmp_path, "scratch") as scratch_url:
        app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": source_url})
        runner = app.test_cli_runner()
        with app.app_context():
            flask_migrate.upgrade()
            build_demo(db.session)
            db.session.commit()
            created = runner.invoke(args=["backup", "create", str(backup_file)])
            assert created.exit_code == 0, created.output
            assert "Đã sao lưu" in created.output and backup_file.stat().st_size > 0
            before = row_counts(source_url)
            restored = runner.invoke(args=["backup", "restore", str(backup_file), "--to", scratch_url, "--yes"])
            assert restored.exit_code == 0, restored.output
            after = row_counts(scratch_url)
            assert before == after
            assert before["user"] == 60 and before["agency"] >= 15 and before["alembic_version"] == 1
            db.session.remove()
            db.engine.dispose()


def test_restoring_a_missing_file_is_a_clear_error(app, runner, tmp_path):
    result = runner.invoke(args=["backup", "restore", str(tmp_path / "khong-co.dump"), "--yes"])
    assert result.exit_code == 1 and "Không tìm thấy tệp sao lưu" in result.output
