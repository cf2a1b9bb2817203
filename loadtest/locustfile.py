"""Simulated learners and managers for `make loadtest` (run by `python -m loadtest`, never by hand).

The plan written by loadtest/population.py names the accounts, lessons and quizzes. Every answer and
submission the server accepted is written to a JSON-lines file per process, so the database can be
checked afterwards against what the clients were told (loadtest/check.py).
Environment: LOADTEST_PLAN, LOADTEST_SENT (folder), LOADTEST_THINK, LOADTEST_PAUSE, LOADTEST_READ
("min-max" seconds: between answers, between tasks, reading a lesson), SECRET_KEY (exam learners get their session cookie minted with it: they signed in before
the exam opened), LOADTEST_MANAGERS (how many managers).
"""
from __future__ import annotations

import functools
import itertools
import json
import os
import random
import time
from http.cookiejar import Cookie, DefaultCookiePolicy
from pathlib import Path
from urllib.parse import urlencode

import gevent
from locust import argument_parser as locust_arguments
from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.exception import StopUser

from loadtest.servers import attempt_questions, csrf_in, some_answer, started_attempt


def _cache_default_arguments() -> None:
    """Build Locust's default options once per process instead of once per option per spawn message.

    A Locust worker (2.47) handling the master's "spawn" message rebuilds its whole argument parser
    for every option it received (`k not in argument_parser.default_args_dict()` inside a dict
    comprehension), and the master sends such a message at every step of the ramp. Profiled with
    py-spy during a 2,000-learner exam hour, that was half of Locust's CPU in the arrivals (about
    0.3 of this machine's 2 cores): load that the app under test never sees, taken from it. The
    defaults cannot change within a run, so one dict per process gives the same answer."""
    defaults = functools.cache(locust_arguments.default_args_dict)
    locust_arguments.default_args_dict = lambda: dict(defaults())


_cache_default_arguments()
PLAN = json.loads(Path(os.environ["LOADTEST_PLAN"]).read_text())
SENT_FOLDER = Path(os.environ["LOADTEST_SENT"])


def seconds_range(name: str, default: str) -> tuple[float, float]:
    low, high = (float(value) for value in os.environ.get(name, default).split("-"))
    return low, high


THINK = seconds_range("LOADTEST_THINK", "2-6")  # between two answers
PAUSE = seconds_range("LOADTEST_PAUSE", "5-15")  # between two things a learner or manager does
READ = seconds_range("LOADTEST_READ", "5-15")  # reading a lesson before marking it done
FETCH = {"X-Requested-With": "fetch"}
_sent_file = None
_accounts = {"learners": itertools.count(), "managers": itertools.count()}


def record(event: str, **fields) -> None:
    """One line per thing the server accepted, appended to this process's file."""
    global _sent_file
    if _sent_file is None:
        _sent_file = open(SENT_FOLDER / f"sent-{os.getpid()}.jsonl", "a", buffering=1)
    _sent_file.write(json.dumps({"event": event, **fields}) + "\n")


@events.test_stop.add_listener
def close_sent_file(**_):
    if _sent_file is not None:
        _sent_file.flush()


class LoopbackCookies(DefaultCookiePolicy):
    """Send the app's Secure cookies over plain HTTP: there is no TLS proxy on loopback."""

    def return_ok_secure(self, cookie, request):
        return True


def take_account(user, kind: str) -> tuple[str, int]:
    """A distinct account per simulated user, across the Locust worker processes."""
    runner = user.environment.runner
    index = getattr(runner, "worker_index", 0)
    processes = int(os.environ.get("LOADTEST_PROCESSES", "1"))
    accounts = PLAN[kind]
    number = index + processes * next(_accounts[kind])
    if number >= len(accounts):
        raise StopUser()  # more simulated users than accounts: never share one
    return tuple(accounts[number])


class Visitor(FastHttpUser):
    abstract = True
    host = "http://127.0.0.1"
    # Each simulated person behind their own address, as nginx reports it (PROXY_COUNT=1).
    network_timeout = 120.0
    connection_timeout = 120.0

    def on_start(self):
        self.client.cookiejar.set_policy(LoopbackCookies())
        self.address = f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
        self.token = None

    def get(self, path: str, name: str, **kwargs):
        return self.page("GET", path, name, **kwargs)

    def page(self, method: str, path: str, name: str, expect=(200,), data=None, headers=None):
        headers = {"X-Forwarded-For": self.address, **(headers or {})}
        if data is not None:  # repeated fields (several answers) as a browser sends them
            data = urlencode(data, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        with self.client.request(method, path, name=name, data=data, headers=headers,
                                 allow_redirects=False, catch_response=True) as response:
            if response.status_code not in expect:
                response.failure(f"HTTP {response.status_code}")
            elif response.text and method == "GET":
                self.token = csrf_in(response.text) or self.token
        return response

    def sign_in(self, kind: str) -> None:
        self.username, self.user_id = take_account(self, kind)
        self.get("/auth/login", "sign in: form")
        self.page("POST", "/auth/login", "sign in", expect=(302,),
                  data={"username": self.username, "password": PLAN["password"], "csrf_token": self.token})

    def take_quiz(self, slug: str, prefix: str, think: tuple[float, float]) -> None:
        """Start (or resume), answer every question after some thought, submit, read the review."""
        if self.get(f"/quizzes/{slug}", f"{prefix}: quiz page").status_code != 200:
            return  # counted once as a failure, not again as a start without a CSRF token
        # The start answers with the attempt page itself (Content-Location: its address).
        page = self.page("POST", f"/quizzes/{slug}/start", f"{prefix}: start attempt", expect=(200,),
                         data={"csrf_token": self.token})
        attempt_id = started_attempt(page.status_code, page.headers)
        if attempt_id is None:
            return
        record("start", attempt=attempt_id, user=self.username)
        for position, kind, choices in attempt_questions(page.text or ""):
            gevent.sleep(random.uniform(*think))
            keys = some_answer(kind, choices, random)
            saved = self.page("POST", f"/attempts/{attempt_id}/questions/{position}", f"{prefix}: save answer",
                              data={"answer": keys, "csrf_token": self.token}, headers=FETCH)
            if saved.status_code == 200:
                record("answer", attempt=attempt_id, position=int(position), answer=keys)
        gevent.sleep(random.uniform(*think))
        # The submission answers with the review itself (Content-Location: its address).
        submitted = self.page("POST", f"/attempts/{attempt_id}/submit", f"{prefix}: submit", expect=(200,),
                              data={"csrf_token": self.token})
        if submitted.status_code == 200:
            record("submit", attempt=attempt_id, user=self.username)


class Learner(Visitor):
    """A day of learning: sign in, read lessons, sometimes a lesson check."""

    wait_time = between(*PAUSE)

    def on_start(self):
        super().on_start()
        self.sign_in("learners")
        self.get("/", "learner: home")

    @task(6)
    def read_lesson(self):
        slug = random.choice(PLAN["lessons"])
        self.get(f"/lessons/{slug}", "learner: lesson")
        if random.random() < 0.5:
            gevent.sleep(random.uniform(*READ))
            self.page("POST", f"/lessons/{slug}/complete", "learner: complete lesson", expect=(302,),
                      data={"csrf_token": self.token})

    @task(2)
    def course(self):
        self.get(f"/courses/{PLAN['course']}", "learner: course")

    @task(2)
    def lesson_check(self):
        self.take_quiz(random.choice(PLAN["checks"]), "learner", THINK)


class Manager(Visitor):
    """A manager following the province: dashboards, lists, exports."""

    wait_time = between(*PAUSE)
    fixed_count = int(os.environ.get("LOADTEST_MANAGERS", "0"))

    def on_start(self):
        super().on_start()
        self.sign_in("managers")
        self.query = f"?course={PLAN['course']}"
        self.agency = f"/manage/agencies/{PLAN['root_agency']}"

    @task(5)
    def dashboard(self):
        self.get(self.agency + self.query, "manager: dashboard")

    @task(3)
    def people(self):
        self.get(f"{self.agency}/people{self.query}&status=in_progress", "manager: people")

    @task(1)
    def wrong_answers(self):
        self.get(f"{self.agency}/wrong{self.query}", "manager: wrong answers")

    @task(1)
    def export(self):
        kind = random.choice(["xlsx", "csv"])
        self.get(f"{self.agency}/export.{kind}{self.query}", f"manager: export {kind}")


class ExamLearner(Visitor):
    """The exam hour: already signed in, starts the final test on arrival, answers, submits, leaves."""

    wait_time = between(1, 2)

    def on_start(self):
        super().on_start()
        self.username, self.user_id = take_account(self, "learners")
        self.client.cookiejar.set_cookie(_session_cookie(self.user_id))

    @task
    def exam(self):
        self.take_quiz(PLAN["final"], "exam", THINK)
        raise StopUser()


class Floor(Visitor):
    """The floor: the cheapest request of the app (/healthz: one SELECT 1), with no think time."""

    @task
    def health(self):
        self.get("/healthz", "floor: /healthz")


_serializer = None


def _session_cookie(user_id: int) -> Cookie:
    """The session cookie Flask-Login would have set at sign-in, signed with the servers' SECRET_KEY."""
    global _serializer
    if _serializer is None:
        from flask import Flask
        from flask.sessions import SecureCookieSessionInterface

        app = Flask("loadtest")
        app.secret_key = os.environ["SECRET_KEY"]
        _serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    # The versioned token of app/auth/sessions.py: id, session version (1 for a new account), issued at, nonce.
    value = _serializer.dumps({"_user_id": f"{user_id}:1:{int(time.time())}:10ad", "_fresh": False})
    return Cookie(0, "session", value, None, False, "127.0.0.1", False, False, "/", True, True,
                  int(time.time()) + 86400, False, None, None, {})
