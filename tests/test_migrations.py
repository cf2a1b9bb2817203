"""Migrations build the same schema as the models on a blank database, and undo it again."""
import flask_migrate
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from app import create_app
from app.extensions import db
from support import blank_database


def test_upgrade_matches_the_models_and_downgrade_removes_everything(tmp_path):
    with blank_database(tmp_path) as url:
        app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            assert set(inspect(db.engine).get_table_names()) == set()
            flask_migrate.upgrade()
            tables = set(inspect(db.engine).get_table_names())
            assert set(db.metadata.tables) | {"alembic_version"} == tables
            with db.engine.connect() as connection:
                differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
            assert differences == [], differences
            flask_migrate.downgrade(revision="base")
            assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
            flask_migrate.upgrade()  # and up again, as a redeploy would
            assert "user" in inspect(db.engine).get_table_names()
            db.session.remove()
            db.engine.dispose()


def test_constraints_are_enforced_by_the_database(app, make_agency):
    import pytest
    from sqlalchemy.exc import IntegrityError

    agency = make_agency()
    with pytest.raises(IntegrityError):
        db.session.execute(text("UPDATE agency SET kind = 'galaxy' WHERE id = :id"), {"id": agency.id})
    db.session.rollback()
    with pytest.raises(IntegrityError):
        db.session.execute(text("UPDATE agency SET parent_id = id WHERE id = :id"), {"id": agency.id})
    db.session.rollback()
