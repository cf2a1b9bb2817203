"""CPU per request of an arrival at the final test, in process, on a throwaway PostgreSQL.

    .venv/bin/python -m bench.arrival --learners 60

Builds the exam hour's population (loadtest/population.py: a province of 10 departments, the
course assigned to all, everyone not started) and, for each of `--learners` fresh learners, their
FIRST arrival of the cycle through the Flask test client: the quiz page, the start, the attempt page
(when the start redirects to it), every answer saved, the submission, its review (when the submission
redirects to it) and `/healthz`. Each request's CPU is this process's (time.process_time: the app, not
PostgreSQL), and p50/p95 are printed per request as one JSON line (docs/benchmarks.md, "CPU per arrival, before → after").
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
#: the first few learners fill the per-process caches (question cards, choice keys), as the first
#: minutes of an exam hour do in each gunicorn worker: not timed
WARMUP = 5


#: when set (--profile), the requests named in PROFILED run under this cProfile.Profile
PROFILE = None
PROFILED: set[str] = {"start"}


def _timed(samples: dict[str, list[float]], name: str, call):
    profiled = PROFILE is not None and name in PROFILED and samples
    if profiled:
        PROFILE.enable()
    began = time.process_time()
    response = call()
    if profiled:
        PROFILE.disable()
    samples.setdefault(name, []).append((time.process_time() - began) * 1000)
    return response


def _arrive(client, plan: dict, username: str, samples: dict[str, list[float]]) -> None:
    """One learner's first arrival at the final test, each request checked, then timed into `samples`."""
    from bench.measure import sign_in
    from loadtest.servers import attempt_questions, csrf_in, some_answer, started_attempt

    sign_in(client, username, plan["password"])  # before the exam opens: not timed
    slug = plan["final"]
    page = _timed(samples, "quiz page", lambda: client.get(f"/quizzes/{slug}"))
    assert page.status_code == 200, page.status_code
    token = csrf_in(page.get_data(as_text=True))
    started = _timed(samples, "start", lambda: client.post(f"/quizzes/{slug}/start", data={"csrf_token": token}))
    attempt_id = started_attempt(started.status_code, started.headers)
    assert attempt_id is not None, (started.status_code, dict(started.headers))
    if started.status_code == 302:  # a redirect to the attempt page (the app before 7 December)
        attempt = _timed(samples, "attempt page", lambda: client.get(f"/attempts/{attempt_id}"))
    else:  # the start answered with the attempt page itself
        attempt = started
    assert attempt.status_code == 200, attempt.status_code
    for position, kind, choices in attempt_questions(attempt.get_data(as_text=True)):  # every answer, as the exam
        saved = _timed(samples, "save", lambda: client.post(
            f"/attempts/{attempt_id}/questions/{position}", headers={"X-Requested-With": "fetch"},
            data={"answer": some_answer(kind, choices, __import__("random")), "csrf_token": token}))
        assert saved.status_code == 200, saved.status_code
    submitted = _timed(samples, "submit", lambda: client.post(f"/attempts/{attempt_id}/submit",
                                                              data={"csrf_token": token}))
    if submitted.status_code == 302:  # a redirect to the review (the app before 7 December, evening)
        reviewed = _timed(samples, "review", lambda: client.get(f"/attempts/{attempt_id}/review"))
    else:  # the submission answered with the review itself
        reviewed = submitted
    assert reviewed.status_code == 200, reviewed.status_code
    assert _timed(samples, "/healthz", lambda: client.get("/healthz")).status_code == 200


@click.command()
@click.option("--learners", type=click.IntRange(50), default=60, show_default=True,
              help="Fresh learners timed (each one's first arrival of the cycle).")
@click.option("--population", type=click.IntRange(100), default=3000, show_default=True,
              help="Learners in the province (10 departments: a tenth each, as the exam hour).")
@click.option("--profile", "profile_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also profile the timed requests (cProfile) and write the statistics here (pstats).")
@click.option("--profile-request", "profiled", multiple=True, default=("start",), show_default=True,
              type=click.Choice(["quiz page", "start", "attempt page", "save", "submit", "review", "/healthz"]),
              help="Which requests --profile covers (repeat for several).")
def main(learners: int, population: int, profile_path: Path | None, profiled: tuple[str, ...]) -> None:
    """Print CPU ms per request (p50, p95) of a learner's first arrival at the final test."""
    global PROFILE
    PROFILED.clear()
    PROFILED.update(profiled)
    if profile_path is not None:
        import cProfile

        PROFILE = cProfile.Profile(time.process_time)
    from bench.__main__ import postgres_cluster
    from bench.measure import percentile
    from loadtest.servers import app_environment

    with postgres_cluster(keep=False) as database_url:
        work = Path(os.environ.get("TMPDIR", "/tmp")) / f"arrival-{os.getpid()}"
        work.mkdir(parents=True, exist_ok=True)
        env = app_environment(database_url, secrets.token_hex(32), FLASK_APP="app")
        for step in (["flask", "db", "upgrade"], ["flask", "content", "load"]):
            subprocess.run([str(Path(sys.executable).parent / step[0]), *step[1:]], cwd=ROOT, env=env,
                           check=True, stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, "-m", "loadtest.population", "--learners", str(population),
                        "--plan", str(work / "plan.json")], cwd=ROOT, env=env, check=True)
        plan = json.loads((work / "plan.json").read_text())
        os.environ.update({key: env[key] for key in ("DATABASE_URL", "SECRET_KEY", "APP_CONFIG", "LOG_LEVEL")})
        from app import create_app
        from app.extensions import db

        app = create_app("production", {"RATELIMIT_ENABLED": False})
        samples: dict[str, list[float]] = {}
        # Learners of every department in turn, so that each first step falls in an agency of
        # `population / 10` people, as when the exam opens.
        for index, (username, _) in enumerate(plan["learners"][:learners + WARMUP]):
            with app.test_client() as client:
                # As a browser behind the TLS proxy: Flask-WTF then also checks the Referer.
                client.environ_base.update({"wsgi.url_scheme": "https", "HTTP_REFERER": "https://localhost/"})
                _arrive(client, plan, username, {} if index < WARMUP else samples)
        with app.app_context():
            db.engine.dispose()
    if PROFILE is not None:
        PROFILE.dump_stats(profile_path)
    figures = {name: {"p50": round(percentile(values, 0.5), 1), "p95": round(percentile(values, 0.95), 1),
                      "n": len(values)} for name, values in samples.items()}
    figures["load_average"] = [round(value, 2) for value in os.getloadavg()]
    click.echo(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
