"""Start and stop the real servers on loopback (gunicorn, redis-server) and talk to them over HTTP.

Shared by `make loadtest`, `make faulttest` and the scale-out test, so each starts the app exactly
as `make serve` does: gunicorn from gunicorn.conf.py serving `app:create_app('production')`.
"""
from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')
#: the address of an attempt itself (not of one of its questions or its review)
STARTED_RE = re.compile(r"/attempts/(\d+)$")
QUESTION_RE = re.compile(r'class="answer-form" action="/attempts/\d+/questions/(\d+)"(.*?)</form>', re.S)
CHOICE_RE = re.compile(r'type="(radio|checkbox)" name="answer" value="([^"]+)"')


def started_attempt(status: int, headers) -> int | None:
    """The attempt a start opened: a quiz's start answers with the attempt page itself (200, its
    address in Content-Location); a practice or a refresher redirects to it (302). None otherwise."""
    address = headers.get("Content-Location" if status == 200 else "Location") or ""
    match = STARTED_RE.search(address) if status in (200, 302) else None
    return int(match.group(1)) if match else None


def csrf_in(html: str) -> str | None:
    """The CSRF token of the first form on a page, as a browser would read it."""
    match = CSRF_RE.search(html)
    return (match.group(1) or match.group(2)) if match else None


def attempt_questions(html: str) -> list[tuple[int, str, list[str]]]:
    """(position, "radio" or "checkbox", choice keys) of each question on an attempt page."""
    questions = []
    for position, form in QUESTION_RE.findall(html):
        choices = CHOICE_RE.findall(form)
        if choices:
            questions.append((int(position), choices[0][0], [key for _, key in choices]))
    return questions


def some_answer(kind: str, keys: list[str], rng) -> list[str]:
    """What a hurried learner ticks: one choice, or two for a several-answer question."""
    chosen = [rng.choice(keys)]
    if kind == "checkbox" and rng.random() < 0.5:
        chosen = sorted({chosen[0], rng.choice(keys)})
    return chosen


class ServerError(RuntimeError):
    """A server did not start; the message carries the end of its log."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_until(ready, process: subprocess.Popen, log: Path, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"{what} exited with {process.returncode}:\n{_log_tail(log)}")
        if ready():
            return
        time.sleep(0.2)
    stop(process)
    raise ServerError(f"{what} not ready within {timeout:.0f} s:\n{_log_tail(log)}")


def stop(process: subprocess.Popen | None, timeout: float = 20) -> None:
    """SIGTERM (gunicorn finishes its requests), then SIGKILL if it lingers."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_redis(folder: Path, port: int | None = None) -> tuple[subprocess.Popen, int]:
    """redis-server on loopback, nothing written to disk; returns (process, port)."""
    port = port or free_port()
    log = folder / f"redis-{port}.log"
    process = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(folder), "--logfile", str(log)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def answers_ping() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    _wait_until(answers_ping, process, log, f"redis-server on port {port}", 20)
    return process, port


def app_environment(database_url: str, secret_key: str, **extra: str) -> dict[str, str]:
    """The environment of a production app server on loopback (no nginx: PROXY_COUNT from extra)."""
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": secret_key, "APP_CONFIG": "production",
           "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    env.update(extra)
    return env


def start_gunicorn(port: int, env: dict[str, str], log: Path, workers: int = 4,
                   timeout: float = 60) -> subprocess.Popen:
    """gunicorn as `make serve` runs it, on 127.0.0.1:port; waits until /healthz answers 200."""
    env = {**env, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": str(workers)}
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [GUNICORN, "-c", str(ROOT / "gunicorn.conf.py"), "app:create_app('production')"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)

    def healthy() -> bool:
        try:
            return Client(port, timeout=2).get("/healthz").status == 200
        except OSError:
            return False

    _wait_until(healthy, process, log, f"gunicorn on port {port}", timeout)
    return process


def gunicorn_workers(master_pid: int) -> list[int]:
    """The worker processes of a gunicorn master (its children)."""
    try:
        with open(f"/proc/{master_pid}/task/{master_pid}/children") as children:
            return [int(pid) for pid in children.read().split()]
    except OSError:
        return []


def temporary_folder(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


class Response:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")


class Client:
    """A browser-like client for one server on loopback: keeps cookies (Secure ones too: the app runs
    in production mode behind no TLS here), never follows redirects, reads CSRF tokens from forms."""

    def __init__(self, port: int, timeout: float = 30, forwarded_for: str | None = None):
        self.port, self.timeout, self.forwarded_for = port, timeout, forwarded_for
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, data: dict | list | None = None,
                headers: dict[str, str] | None = None) -> Response:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            headers = dict(headers or {})
            if self.cookies:
                headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
            if self.forwarded_for:
                headers["X-Forwarded-For"] = self.forwarded_for
            body = None
            if data is not None:
                body = urlencode(data, doseq=True)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            connection.request(method, path, body=body, headers=headers)
            raw = connection.getresponse()
            response = Response(raw.status, raw.headers, raw.read())
        finally:
            connection.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel["expires"] and "1970" in morsel["expires"] or morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return response

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, data: dict | list, headers: dict[str, str] | None = None) -> Response:
        return self.request("POST", path, data, headers)

    def csrf_token(self, path: str) -> str:
        response = self.get(path)
        token = csrf_in(response.text)
        if not token:
            raise AssertionError(f"no CSRF token on {path} (HTTP {response.status})")
        return token

    def login(self, username: str, password: str) -> Response:
        token = self.csrf_token("/auth/login")
        return self.post("/auth/login", {"username": username, "password": password, "csrf_token": token})
