"""Migrations build the same schema as the models on a blank database, and undo it again."""
import flask_migrate
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from app import create_app
from app.extensions import db
from support import blank_database


def run(sql, **values):
    """Write rows as an older schema had them, bypassing the models (datetimes bound as the app stores them)."""
    from datetime import datetime

    from sqlalchemy import bindparam

    from app.models import UTCDateTime

    statement = text(sql).bindparams(*[bindparam(name, type_=UTCDateTime()) for name, value in values.items()
                                       if isinstance(value, datetime)])
    with db.engine.begin() as connection:
        connection.execute(statement, values)


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


def test_0010_carries_statuses_over_and_restores_only_the_wrongly_reset(tmp_path):
    """Data written as 0009 left it: a province's yearly assignment in its second cycle, and a
    commune's newer one-off assignment that (by the old rule) reset a completion made before it."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import select

    from app.models import Assignment, Course, CourseCompletion
    from app.tracking import rules

    now = datetime.now(timezone.utc)
    cycle_start, cycle_due = now - timedelta(days=30), now + timedelta(days=30)
    with blank_database(tmp_path, "carry") as url:
        app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            flask_migrate.upgrade(revision="0009")

            run("INSERT INTO agency (id, code, name, kind, path, depth, is_active, created_at) VALUES "
                "(1, 'P', 'Tỉnh', 'province', '/1/', 0, true, :t)", t=now)
            run("INSERT INTO agency (id, code, name, kind, parent_id, path, depth, is_active, created_at) VALUES "
                "(2, 'X', 'Xã', 'commune', 1, '/1/2/', 1, true, :t)", t=now)
            for number, agency in ((1, 2), (2, 2), (3, 2), (4, 1)):
                run("INSERT INTO \"user\" (id, username, email, full_name, search_name, agency_id, password_hash, "
                    "is_active, is_trainer, is_admin, created_at, failed_logins) VALUES (:id, :u, :e, :n, :n, :a, 'x', "
                    "true, false, false, :t, 0)", id=number, u=f"user{number}", e=f"u{number}@example.org",
                    n=f"Người {number}", a=agency, t=now)
            run("INSERT INTO course (id, slug, title, summary, status, content_hash) VALUES "
                "(1, 'k', 'Khóa', '', 'published', 'h')")
            run("INSERT INTO assignment (id, course_id, agency_id, starts_at, due_at, recurrence_months, cycle_number, "
                "cycle_start_at, cycle_due_at, is_active, created_at) VALUES (1, 1, 1, :s, :d, 12, 2, :cs, :cd, true, :s)",
                s=cycle_start - timedelta(days=365), d=cycle_due - timedelta(days=365), cs=cycle_start, cd=cycle_due)
            run("INSERT INTO assignment (id, course_id, agency_id, starts_at, due_at, recurrence_months, cycle_number, "
                "cycle_start_at, cycle_due_at, is_active, created_at) VALUES (2, 1, 2, :s, :d, NULL, 1, :s, :d, true, :s)",
                s=now - timedelta(days=2), d=now + timedelta(days=7))
            completions = ((1, 1, now - timedelta(days=20), None),   # this cycle, before the commune's start: wrongly reset
                           (2, 2, now - timedelta(days=1), None),    # this cycle, after it: completed
                           (3, 3, now - timedelta(days=380), now - timedelta(days=30)),  # last cycle, archived
                           (4, 4, now - timedelta(days=10), None))   # province staff: completed
            for number, user, completed, archived in completions:
                run("INSERT INTO course_completion (id, user_id, course_id, agency_id, completed_at, commitment_text, "
                    "commitment_ip, commitment_user_agent, certificate_code, archived_at) VALUES "
                    "(:id, :u, 1, 2, :c, 'cam kết', '', '', :code, :a)",
                    id=number, u=user, c=completed, code=f"CODE{number}", a=archived)

            flask_migrate.upgrade()
            province = db.session.get(Assignment, 1)
            assert (province.validity_months, province.recertify_days, province.due_at) == (12, 60, cycle_due)
            assert db.session.get(Assignment, 2).validity_months is None
            expiry = rules.add_months(cycle_due, 12)
            assert {c.id: c.expires_at for c in db.session.scalars(select(CourseCompletion))} == \
                {1: expiry, 2: expiry, 3: None, 4: expiry}
            course = db.session.get(Course, 1)
            people = rules.person_statuses(db.session, course, None, now)
            statuses = dict(db.session.execute(select(people.c.user_id, people.c.status)).all())
            # 1 was reset by the commune's assignment (wrongly): completed again. The others keep theirs.
            assert statuses == {1: "completed", 2: "completed", 3: "not_started", 4: "completed"}
            db.session.remove()  # its read locks would hold up the downgrade's ALTER TABLE on PostgreSQL
            flask_migrate.downgrade(revision="0009")  # and back, the cycles restored
            with db.engine.connect() as connection:
                assert connection.execute(text("SELECT recurrence_months FROM assignment ORDER BY id")).scalars().all() \
                    == [12, None]
            db.session.remove()
            db.engine.dispose()


def test_0019_fills_the_weekly_completion_tallies_from_the_current_completions(tmp_path):
    """Completions already recorded when 0019 runs are tallied per subtree and week (Vietnam time),
    the archived one left out."""
    from datetime import date, datetime, timezone

    with blank_database(tmp_path, "weekly") as url:
        app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            flask_migrate.upgrade(revision="0018")

            now = datetime(2026, 12, 7, 5, tzinfo=timezone.utc)
            run("INSERT INTO agency (id, code, name, kind, path, depth, is_active, created_at) VALUES "
                "(1, 'P', 'Tỉnh', 'province', '/1/', 0, true, :t)", t=now)
            run("INSERT INTO agency (id, code, name, kind, parent_id, path, depth, is_active, created_at) VALUES "
                "(2, 'X', 'Xã', 'commune', 1, '/1/2/', 1, true, :t)", t=now)
            run("INSERT INTO course (id, slug, title, summary, status, content_hash) VALUES "
                "(1, 'k', 'Khóa', '', 'published', 'h')")
            completions = ((1, datetime(2026, 11, 29, 17, 30, tzinfo=timezone.utc), None),  # Monday 30/11 in Vietnam
                           (2, datetime(2026, 11, 29, 16, 30, tzinfo=timezone.utc), None),  # Sunday 29/11
                           (3, datetime(2026, 11, 24, 3, tzinfo=timezone.utc), now))  # renewed since
            for number, completed, archived in completions:
                run("INSERT INTO \"user\" (id, username, email, full_name, search_name, agency_id, password_hash, "
                    "is_active, is_trainer, is_admin, created_at, failed_logins) VALUES (:id, :u, :e, 'N', 'n', 2, 'x', "
                    "true, false, false, :t, 0)", id=number, u=f"user{number}", e=f"u{number}@example.org", t=now)
                run("INSERT INTO course_completion (id, user_id, course_id, agency_id, completed_at, commitment_text, "
                    "commitment_ip, commitment_user_agent, certificate_code, archived_at) VALUES "
                    "(:id, :id, 1, 2, :c, 'cam kết', '', '', :code, :a)",
                    id=number, c=completed, code=f"CODE{number}", a=archived)
            flask_migrate.upgrade()
            with db.engine.connect() as connection:
                rows = sorted(tuple(row) for row in connection.execute(text(
                    "SELECT agency_id, week, completed FROM completion_tally")))
            weeks = {(agency, date.fromisoformat(str(week)), count) for agency, week, count in rows}
            assert weeks == {(agency, day, 1) for agency in (1, 2) for day in (date(2026, 11, 30), date(2026, 11, 23))}
            db.session.remove()
            db.engine.dispose()


def test_0021_fills_the_coverage_of_the_active_assignments_from_the_paths(tmp_path):
    """Each active assignment covers its agency and every one below it; a cancelled one, none."""
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    with blank_database(tmp_path, "coverage") as url:
        app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            flask_migrate.upgrade(revision="0020")

            for id_, parent, path in ((1, None, "/1/"), (2, 1, "/1/2/"), (3, 2, "/1/2/3/"), (4, 1, "/1/4/")):
                run("INSERT INTO agency (id, code, name, kind, parent_id, path, depth, is_active, created_at) VALUES "
                    "(:id, :code, :code, 'unit', :parent, :path, 0, true, :t)",
                    id=id_, code=f"A{id_}", parent=parent, path=path, t=now)
            run("INSERT INTO course (id, slug, title, summary, status, content_hash) VALUES "
                "(1, 'k', 'Khóa', '', 'published', 'h')")
            for id_, agency, active in ((1, 2, True), (2, 1, False), (3, 4, True)):
                run("INSERT INTO assignment (id, course_id, agency_id, starts_at, due_at, is_active, created_at) "
                    "VALUES (:id, 1, :a, :s, :d, :active, :s)", id=id_, a=agency, active=active,
                    s=now + timedelta(days=3), d=now + timedelta(days=30))  # not started: covered all the same

            flask_migrate.upgrade()
            with db.engine.connect() as connection:
                rows = connection.execute(text("SELECT assignment_id, agency_id, course_id FROM assignment_coverage"))
                assert set(rows.tuples()) == {(1, 2, 1), (1, 3, 1), (3, 4, 1)}
            db.session.remove()
            db.engine.dispose()
