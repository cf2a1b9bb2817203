"""`python -m loadtest fault`: kill gunicorn workers and restart PostgreSQL while learners take quizzes.

Learners (threads, each with its own cookies and address) start lesson checks, save answers and
submit in a loop, retrying what failed as a person would (a reload, a second click). Meanwhile
gunicorn workers are killed with SIGKILL, some while an answer or a submission is in flight, and
PostgreSQL is restarted. Afterwards the database is compared with what the clients were told
(loadtest/check.py) and the app must serve again without having been restarted.
"""
from __future__ import annotations

import http.client
import json
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from glob import glob
from pathlib import Path

from sqlalchemy import create_engine, text

from .servers import Client, attempt_questions, csrf_in, gunicorn_workers, some_answer, started_attempt

RETRY_FOR_S = 60  # a learner keeps retrying one request this long before giving up (a failure)


#: accounts each learner thread signs in with in turn: one person may start only
#: FEEDBACK_ATTEMPTS_PER_HOUR lesson checks an hour, and a thread takes more than that in a minute
ACCOUNTS_PER_LEARNER = 8


class Learner(threading.Thread):
    """One learner taking lesson checks until told to stop; every 2xx is written to the sent log.

    A thread is a desk rather than one person: when its person has started the lesson checks the app
    allows in an hour, the next person of its accounts signs in and carries on."""

    def __init__(self, port: int, accounts: list[tuple[str, int]], plan: dict, log, stop: threading.Event,
                 tally: Counter, number: int):
        super().__init__(daemon=True)
        self.client = Client(port, timeout=30, forwarded_for=f"10.9.{number // 250}.{number % 250 + 1}")
        self.accounts = list(accounts)
        self.username = self.accounts.pop(0)[0]
        self.plan, self.log, self.stop_event, self.tally = plan, log, stop, tally
        self.rng = random.Random(number)
        self.failure: str | None = None

    def send(self, method: str, path: str, expect: tuple[int, ...], data=None, headers=None, *, label: str):
        """The request, again and again until the server gives the expected answer (or time runs out)."""
        deadline = time.monotonic() + RETRY_FOR_S
        while True:
            kind = "ok"
            try:
                response = self.client.request(method, path, data, headers)
                if response.status in expect:
                    self.tally[f"{label}: ok"] += 1
                    return response
                kind = f"HTTP {response.status}"
            except (OSError, http.client.HTTPException) as error:  # the worker died mid-request, or refused
                kind = type(error).__name__
            self.tally[f"{label}: {kind}"] += 1
            if time.monotonic() > deadline:
                raise RuntimeError(f"{method} {path}: still {kind} after {RETRY_FOR_S} s")
            time.sleep(0.5)

    def sign_in(self) -> None:
        # Retried like every request: a desk signs its next person in while workers are being killed.
        token = csrf_in(self.send("GET", "/auth/login", (200,), label="sign-in form").text)
        self.send("POST", "/auth/login", (302,), {"username": self.username, "password": self.plan["password"],
                                                  "csrf_token": token}, label="sign in")

    def run(self):
        from app.learn.services import FEEDBACK_ATTEMPTS_PER_HOUR

        try:
            self.sign_in()
            taken = 0
            while not self.stop_event.is_set():
                if taken == FEEDBACK_ATTEMPTS_PER_HOUR:
                    if not self.accounts:
                        return  # every person of this desk has had their hour's checks
                    self.client.cookies.clear()
                    self.username, taken = self.accounts.pop(0)[0], 0
                    self.sign_in()
                self.take_quiz(self.rng.choice(self.plan["checks"]))
                taken += 1
        except Exception as error:  # reported, and fails the test
            self.failure = f"{self.username}: {error}"

    def take_quiz(self, slug: str, interrupt=None) -> None:
        """Start, answer every question, submit. `interrupt(attempt_id, position, path, form, headers)`
        runs before an answer (position ≥ 1) or the submission (position 0) is sent for good."""
        token = csrf_in(self.send("GET", f"/quizzes/{slug}", (200,), label="quiz page").text)
        page = self.send("POST", f"/quizzes/{slug}/start", (200,), {"csrf_token": token}, label="start")
        attempt_id = started_attempt(page.status, page.headers)
        self.log("start", attempt=attempt_id, user=self.username)
        for position, kind, choices in attempt_questions(page.text):
            keys = some_answer(kind, choices, self.rng)
            path, form, headers = (f"/attempts/{attempt_id}/questions/{position}",
                                   {"answer": keys, "csrf_token": token}, {"X-Requested-With": "fetch"})
            if interrupt:
                interrupt(attempt_id, position, path, form, headers)
            self.send("POST", path, (200,), form, headers, label="save answer")
            self.log("answer", attempt=attempt_id, position=position, answer=keys)
            time.sleep(self.rng.uniform(0.05, 0.3))
        path, form = f"/attempts/{attempt_id}/submit", {"csrf_token": token}
        if interrupt:
            interrupt(attempt_id, 0, path, form, None)
        self.send("POST", path, (200,), form, label="submit")  # answered with the review itself
        self.log("submit", attempt=attempt_id, user=self.username)


def sent_log(folder: Path):
    """log(event, **fields): one JSON line per thing the server accepted, as the locustfile writes."""
    lock = threading.Lock()
    output = open(folder / "sent-fault.jsonl", "a", buffering=1)

    def log(event: str, **fields) -> None:
        with lock:
            output.write(json.dumps({"event": event, **fields}) + "\n")

    return log


def restart_postgres(database_url: str) -> float:
    """pg_ctl restart -m fast (open transactions are cut); returns the seconds it took."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        data_directory = connection.execute(text("SHOW data_directory")).scalar()
    engine.dispose()
    pg_ctl = sorted(glob("/usr/lib/postgresql/*/bin/pg_ctl"))[-1]
    command = [pg_ctl, "-D", data_directory, "-m", "fast", "-w", "-t", "60", "restart"]
    if os.getuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    started = time.monotonic()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started


def kill_workers(master_pid: int, kills: int, interval: float, log: list[str]) -> None:
    """SIGKILL one busy-looking worker every `interval` seconds; gunicorn's master replaces it."""
    for _ in range(kills):
        time.sleep(interval)
        workers = gunicorn_workers(master_pid)
        if workers:
            victim = random.choice(workers)
            os.kill(victim, signal.SIGKILL)
            log.append(f"SIGKILL worker {victim}")


def cut_mid_request(learner: Learner, database_url: str, master_pid: int, lock: str, params: dict,
                    method: str, path: str, data: dict, headers: dict | None = None) -> str:
    """Make a request wait inside a worker's transaction (another connection holds the row it
    updates), SIGKILL every worker while it waits, then let go. Returns what the client saw."""
    engine = create_engine(database_url)
    seen: list[str] = []

    def request() -> None:
        try:
            seen.append(f"HTTP {learner.client.request(method, path, data, headers).status}")
        except (OSError, http.client.HTTPException) as error:
            seen.append(type(error).__name__)

    with engine.connect() as holder:
        holder.execute(text(lock), params)  # FOR UPDATE: held until the rollback below
        thread = threading.Thread(target=request, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        with engine.connect() as watcher:
            while time.monotonic() < deadline and not watcher.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")).scalar():
                time.sleep(0.05)
        for worker in gunicorn_workers(master_pid):
            os.kill(worker, signal.SIGKILL)
        holder.rollback()
    thread.join(timeout=40)
    engine.dispose()
    return seen[0] if seen else "no answer"


def cut_answer_and_submission(learner: Learner, database_url: str, master_pid: int, events: list[str]) -> None:
    """One lesson check whose second answer and whose submission are each cut by killing the workers
    mid-transaction, then retried as a person would; the rest answered normally."""
    locks = {2: "SELECT id FROM attempt_question WHERE attempt_id = :a AND position = 2 FOR UPDATE",
             0: "SELECT id FROM attempt WHERE id = :a FOR UPDATE"}

    def interrupt(attempt_id: int, position: int, path: str, form: dict, headers: dict | None) -> None:
        if position in locks:
            seen = cut_mid_request(learner, database_url, master_pid, locks[position], {"a": attempt_id},
                                   "POST", path, form, headers)
            what = f"answer {position}" if position else "submission"
            events.append(f"{what} of attempt {attempt_id} cut mid-transaction: the client saw {seen}")

    learner.take_quiz(learner.plan["checks"][0], interrupt)
