"""Constants and helpers shared by tests (conftest modules are not importable by name)."""
from __future__ import annotations

import os
import re
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PASSWORD = "mat-khau-thu-nghiem"
DATABASE_URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRES = DATABASE_URL.startswith("postgresql")

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def started_attempt_id(response) -> int:
    """The attempt a start opened (test client or loadtest.servers.Client), read as the load tests
    read it (`loadtest.servers.started_attempt`); fails when the answer names none."""
    from loadtest.servers import started_attempt

    status = getattr(response, "status_code", None) or response.status
    attempt_id = started_attempt(status, response.headers)
    assert attempt_id is not None, (status, dict(response.headers))
    return attempt_id


def csrf_token(client, url: str) -> str:
    """The CSRF token of the form on `url`, as a browser would read it."""
    html = client.get(url).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, f"no CSRF token on {url}"
    return match.group(1) or match.group(2)


def several_browsers(app) -> None:
    """Let several test clients of one app each get their own CSRF token.

    The tests keep one app context open, and Flask-WTF caches the signed token in `g` for it: a
    second client would be handed the first one's token, which its own session cannot validate.
    Call this before the first request of a test that uses several clients.
    """
    from flask import g

    def forget_the_last_token():
        g.pop("csrf_token", None)

    app.before_request_funcs.setdefault(None, []).insert(0, forget_the_last_token)


def no_sideways_scroll(page) -> bool:
    """True when a browser page fits its viewport's width (nothing scrolls sideways)."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def complete_fixture_course(user, course, when=None):
    """Everything a learner does to complete the fixture course, through the services."""
    from sqlalchemy import select

    from app.extensions import db
    from app.learn import services as learn
    from app.models import Lesson, Quiz

    for lesson in db.session.scalars(select(Lesson)):
        learn.complete_lesson(db.session, user, lesson, now=when)
    final = db.session.scalar(select(Quiz).where(Quiz.counts_for_completion))
    attempt = learn.start_attempt(db.session, user, final, now=when)
    for item in attempt.questions:
        learn.save_answer(db.session, attempt, item.position, item.version.correct_keys, now=when)
    learn.submit_attempt(db.session, attempt, now=when)
    completion = learn.record_commitment(db.session, user, course, ip="127.0.0.1", user_agent="test", now=when)
    db.session.commit()
    return completion


@contextmanager
def blank_database(tmp_path, name: str = "blank"):
    """A brand-new empty database on the same server as the test database (a file on SQLite)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path / f'{name}.sqlite3'}"
        return
    database = f"{name}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    try:
        yield make_url(DATABASE_URL).set(database=database).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{database}" WITH (FORCE)'))
        admin.dispose()


def sign_in(page, base_url: str, username: str, password: str | None = None) -> None:
    """Sign in through the real form in a browser page (the demo password by default)."""
    from app.demo.cli import DEMO_PASSWORD

    page.goto(f"{base_url}/auth/login")
    page.get_by_label("Tên đăng nhập hoặc email").fill(username)
    page.get_by_label("Mật khẩu").fill(password or DEMO_PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(f"{base_url}/")


def uncovered_endpoints(app, prefix: str, pages: list[str], actions: list[str], **fill) -> set[str]:
    """Endpoints under `prefix` that no URL of a role matrix reaches (GET pages, POST actions)."""
    adapter = app.url_map.bind("localhost")
    covered = {adapter.match(url.split("?")[0].format(**fill), method=method)[0]
               for urls, method in ((pages, "GET"), (actions, "POST")) for url in urls}
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.rule.startswith(prefix)}
    return endpoints - covered


# -- progress summaries (tracking.progress) --------------------------------------------------------

def live_counts(course, root, now):
    """What the dashboard counted before the summaries: every person's status, grouped."""
    from collections import Counter

    from sqlalchemy import func, select

    from app.extensions import db
    from app.tracking import services

    people = services.person_statuses(db.session, course, root, now)
    return Counter({(agency_id, status): number for agency_id, status, number in db.session.execute(
        select(people.c.agency_id, people.c.status, func.count()).group_by(people.c.agency_id, people.c.status))})


def assert_summaries_follow(course, roots, *, now=None):
    """The summaries are in use (not the person-by-person fallback) and agree with it everywhere."""
    from collections import Counter

    from sqlalchemy import select

    from app.extensions import db
    from app.models import Agency, utcnow
    from app.tracking import progress

    now = now or utcnow()
    for root in roots:
        db.session.refresh(root)
        counted = progress.status_counts(db.session, course, root, now)
        assert counted is not None, "the summaries should be counted"
        live = live_counts(course, root, now)
        assert Counter({(agency_id, status): number for agency_id, status, number in counted}) == live, root.path
        # and added up per child of the root, as the dashboard reads them
        paths = dict(db.session.execute(select(Agency.id, Agency.path)).all())
        by_child = Counter()
        for (agency_id, status), number in live.items():
            below = paths[agency_id][len(root.path):].split("/", 1)[0]
            by_child[int(below) if below else None, status] += number
        counted = progress.status_counts(db.session, course, root, now, by_child=True)
        assert Counter({(key, status): number for key, status, number in counted}) == by_child, root.path
        assert_stored_follow(course, root, now=now)


def assert_stored_follow(course, root, *, now=None):
    """The stored standings (`PersonCourseStatus`) answer for `now` and say, for every person of the
    subtree, what a person-by-person recount says (`rules.standing`), and the people list reads the
    same columns from them as it would work out person by person."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Agency, CourseActivity, CourseCompletion, User, utcnow
    from app.tracking import progress, rules, services

    now = now or utcnow()
    assert_coverage_exact()
    assert progress.people_stored(db.session, course, now), "the stored standings should answer"
    stored = {row.user_id: row for row in db.session.execute(select(services.stored_people(db.session, course, root, now)))}
    computed = {row.user_id: row for row in db.session.execute(select(services.computed_people(db.session, course, root, now)))}
    assert {user_id: tuple(row) for user_id, row in stored.items()} == \
        {user_id: tuple(row) for user_id, row in computed.items()}, root.path
    # The people list's count, from the summaries when they answer, is the number of rows it pages.
    for status in (None, *rules.STATUSES):
        counted = services.people_count(db.session, course, root, now, status=status)
        if counted is not None:
            assert counted == sum(1 for row in stored.values() if status in (None, row.status)), (root.path, status)
    expected = {}
    people = db.session.scalars(select(User).join(Agency, Agency.id == User.agency_id)
                                .where(User.is_active, Agency.path.startswith(root.path))).all()
    for person in people:
        terms = rules.terms_for_person(db.session, person, [course.id], now).get(course.id)
        if not terms:
            continue
        held = db.session.scalar(select(CourseCompletion).where(
            CourseCompletion.user_id == person.id, CourseCompletion.course_id == course.id,
            CourseCompletion.archived_at.is_(None)))
        activity = db.session.scalar(select(CourseActivity.last_activity_at).where(
            CourseActivity.user_id == person.id, CourseActivity.course_id == course.id))
        standing = rules.standing(terms, rules.Holding(held.completed_at, held.expires_at) if held else None,
                                  activity, now)
        expected[person.id] = (standing.status, standing.due_at)
    assert {user_id: (row.status, row.due_at) for user_id, row in stored.items()} == expected, root.path


def assert_coverage_exact():
    """The assignments' coverage table (`tracking.coverage`) holds exactly what the paths say, with
    nothing of this transaction left to write."""
    from app.extensions import db
    from app.tracking import coverage

    assert not coverage.is_pending(db.session), "every change should have been written by now"
    missing, extra = coverage.check(db.session)
    assert (missing, extra) == (set(), set())


def in_background_until_blocked(work, errors: list):
    """Run `work` in a thread and return the thread once a database session waits on a lock
    (PostgreSQL), or after 5 s; an exception of `work` is added to `errors`."""
    import threading
    import time

    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from app.extensions import db

    def run():
        try:
            work()
        except Exception as error:  # the caller asserts on `errors`
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    watcher = Session(db.engine)
    try:
        for _ in range(100):
            waiting = watcher.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"))
            watcher.rollback()
            if waiting:
                break
            time.sleep(0.05)
    finally:
        watcher.close()
    return thread


def opaque_keys(attempt_id: int, position: int, keys: list[str], secret: str | None = None) -> list[str]:
    """The opaque keys an attempt's page shows for these bank keys (learn.services.choice_tokens), as
    a learner's browser sends them back; `secret` is the server's when it is not this test's app."""
    from flask import current_app

    from app.learn.services import choice_tokens

    tokens = choice_tokens((secret or current_app.secret_key).encode(), attempt_id, position, list(keys))
    return [tokens[key] for key in keys]


def at_once(app, work, count: int) -> list:
    """Run `work()` in `count` threads that start together, each in its own app context (its own
    session); returns what each returned, after all have finished. A failure fails the caller:
    the first exception is raised again."""
    import threading

    from app.extensions import db

    barrier = threading.Barrier(count)
    results, errors = [], []

    def run():
        with app.app_context():
            try:
                barrier.wait()
                results.append(work())
                db.session.commit()
            except Exception as error:  # raised again below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
