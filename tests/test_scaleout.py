"""Two app servers (gunicorn) sharing PostgreSQL and Redis: limits, sessions and attempts carry over.

Started as in production: `app:create_app('production')` from gunicorn.conf.py, one SECRET_KEY,
RATELIMIT_STORAGE_URI pointing at a redis-server on loopback. `make test` runs this in its
PostgreSQL phase with REQUIRE_REDIS=1, so a missing or broken redis-server fails instead of skipping.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Attempt, AttemptQuestion, Quiz
from loadtest.servers import Client, app_environment, free_port, start_gunicorn, start_redis, stop, temporary_folder
from support import DATABASE_URL, PASSWORD, opaque_keys, started_attempt_id

pytestmark = [pytest.mark.postgres, pytest.mark.scaleout]


SERVERS_SECRET = secrets.token_hex(32)  # both servers' SECRET_KEY (also the key of the attempts' opaque choices)


@pytest.fixture
def two_servers(app, tmp_path):
    """Ports of two gunicorns on one database and one Redis; everything is stopped afterwards."""
    if shutil.which("redis-server") is None:
        message = "redis-server is not installed (scripts/ensure-system-deps.sh installs it)"
        if os.environ.get("REQUIRE_REDIS"):
            pytest.fail(message)
        pytest.skip(message)
    folder = temporary_folder("scaleout-")
    processes = []
    try:
        redis, redis_port = start_redis(folder)
        processes.append(redis)
        env = app_environment(DATABASE_URL, SERVERS_SECRET,
                              RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{redis_port}/0")
        ports = []
        for name in ("a", "b"):
            port = free_port()
            processes.append(start_gunicorn(port, env, tmp_path / f"gunicorn-{name}.log", workers=2))
            ports.append(port)
        yield ports
    finally:
        for process in reversed(processes):
            stop(process)
        shutil.rmtree(folder, ignore_errors=True)


def test_sign_in_throttling_is_shared(make_user, two_servers):
    """Ten failed sign-ins for one account spread over both servers: the next is refused on either."""
    victim = make_user(username="bi-do-mat-khau")
    first, second = (Client(port, forwarded_for="10.1.0.1") for port in two_servers)
    for number in range(10):
        client = first if number % 2 == 0 else second
        response = client.login(victim.username, f"sai-{number}")
        assert response.status == 200, f"attempt {number + 1} on port {client.port}: {response.status}"
    assert first.login(victim.username, "sai-nua").status == 429
    assert second.login(victim.username, "sai-nua").status == 429


def test_session_and_attempt_continue_on_the_other_server(fixture_course, make_user, two_servers):
    learner = make_user(username="hoc-vien-hai-may")
    final = db.session.scalar(select(Quiz).where(Quiz.counts_for_completion))
    port_a, port_b = two_servers
    browser = Client(port_a, forwarded_for="10.1.0.2")
    assert browser.login(learner.username, PASSWORD).status == 302

    browser.port = port_b  # the load balancer sends the next request to the other server
    home = browser.get("/")
    assert home.status == 200 and learner.full_name in home.text

    browser.port = port_a
    token = browser.csrf_token(f"/quizzes/{final.slug}")
    started = browser.post(f"/quizzes/{final.slug}/start", {"csrf_token": token})
    attempt_id = started_attempt_id(started)

    browser.port = port_b
    assert browser.get(f"/attempts/{attempt_id}").status == 200
    db.session.remove()
    items = db.session.scalars(select(AttemptQuestion).where(AttemptQuestion.attempt_id == attempt_id)
                               .order_by(AttemptQuestion.position)).all()
    sent = {}
    for item in items:
        browser.port = two_servers[item.position % 2]  # answers alternate between the servers
        sent[item.position] = [item.version.correct_keys[0]]
        saved = browser.post(f"/attempts/{attempt_id}/questions/{item.position}",
                             {"answer": opaque_keys(attempt_id, item.position, sent[item.position], SERVERS_SECRET),
                              "csrf_token": token},
                             headers={"X-Requested-With": "fetch"})
        assert saved.status == 200, saved.text
    browser.port = port_b
    submitted = browser.post(f"/attempts/{attempt_id}/submit", {"csrf_token": token})
    assert submitted.status == 200 and submitted.headers["Content-Location"] == f"/attempts/{attempt_id}/review"
    browser.port = port_a
    assert browser.get(f"/attempts/{attempt_id}/review").status == 200

    db.session.remove()
    attempt = db.session.get(Attempt, attempt_id)
    assert attempt.status == "submitted" and attempt.score is not None
    assert {item.position: item.answer for item in attempt.questions} == sent
    assert db.session.scalar(select(db.func.count(Attempt.id)).where(Attempt.user_id == learner.id)) == 1
