"""`python -m loadtest.population`: the people a load test signs in as, and the plan the locustfile reads.

Runs after the migrations and `flask content load`, on the same database as the servers. Writes a
province with a few departments, learners spread over them, managers of the whole province and the
course assigned to everyone, in bulk (COPY, as `make bench` does) with one password hash for all.
"""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
from sqlalchemy import select

from app import create_app
from app.auth.services import hash_password
from app.content.text import strip_diacritics
from app.extensions import db
from app.models import Course, Lesson, Quiz
from app.tracking import progress
from bench.generate import PostgresWriter, _agency_name, _random_name

PASSWORD = "tai-thu-mat-khau-2026"
DEPARTMENTS = 10


@click.command()
@click.option("--learners", type=click.IntRange(1), required=True)
@click.option("--managers", type=click.IntRange(0), default=0, show_default=True)
@click.option("--plan", "plan_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the plan (accounts, lessons, quizzes) for the locustfile.")
def main(learners: int, managers: int, plan_path: Path) -> None:
    """Create the learners and managers of a load test and write its plan as JSON."""
    rng = random.Random(2026)
    app = create_app("production")
    with app.app_context():
        course = db.session.scalar(select(Course).where(Course.status == "published").order_by(Course.id))
        lessons = db.session.scalars(select(Lesson.slug).where(
            Lesson.course_id == course.id, Lesson.status == "published").order_by(Lesson.position)).all()
        quizzes = db.session.execute(select(Quiz.slug, Quiz.kind).where(
            Quiz.course_id == course.id, Quiz.status == "published")).all()
        password_hash = hash_password(PASSWORD)
        db.session.remove()
        now = datetime.now(timezone.utc)
        writer = PostgresWriter(db.engine)
        name, kind = _agency_name(0, "")
        writer.write("agency", [(1, "LOAD-ROOT", name, strip_diacritics(name), kind, None, "/1/", 0, True, now)])
        departments = []
        for number in range(1, DEPARTMENTS + 1):
            name, kind = _agency_name(1, str(number))
            departments.append((number + 1, f"LOAD-{number:02d}", name, strip_diacritics(name), kind, 1,
                                f"/1/{number + 1}/", 1, True, now))
        writer.write("agency", departments)
        accounts = [(f"ql{number:03d}", 1) for number in range(1, managers + 1)]
        accounts += [(f"hv{number:05d}", 2 + number % DEPARTMENTS) for number in range(1, learners + 1)]
        users = []
        for user_id, (username, agency_id) in enumerate(accounts, 1):
            full_name = _random_name(rng)
            users.append((user_id, username, f"{username}@load.invalid", full_name, strip_diacritics(full_name),
                          None, agency_id, password_hash, True, False, False, now))
        writer.write("user", users)
        writer.write("manager_scope", [(user_id, user_id, 1, now) for user_id in range(1, managers + 1)])
        start = now - timedelta(days=30)
        # Columns as bench.generate.COLUMNS["assignment"]: no validity, no recertification.
        writer.write("assignment", [(1, course.id, 1, start, now + timedelta(days=30), None, None, True, start)])
        writer.commit()
        writer.finish()
        # Written in bulk: the assignments' coverage and the summaries are counted once, afterwards.
        progress.rebuild(db.session)
        db.session.commit()
    plan = {
        "password": PASSWORD, "course": course.slug, "root_agency": 1, "lessons": list(lessons),
        "checks": [slug for slug, kind in quizzes if kind == "lesson_check"],
        "final": next(slug for slug, kind in quizzes if kind == "final"),
        "managers": [[username, user_id] for user_id, (username, _) in enumerate(accounts, 1) if user_id <= managers],
        "learners": [[username, user_id] for user_id, (username, _) in enumerate(accounts, 1) if user_id > managers],
    }
    plan_path.write_text(json.dumps(plan))
    click.echo(f"{learners} learners and {managers} managers; plan in {plan_path}", err=True)


if __name__ == "__main__":
    main()
