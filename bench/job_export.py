"""The whole province's XLSX export as a background job, run by a real `flask jobs worker`.

    .venv/bin/python -m bench.job_export --scale 0.1
    .venv/bin/python -m bench.job_export --kept postgresql://…   # a database `python -m bench --keep` left

Generates a dataset on a throwaway PostgreSQL (bench/generate.py), or takes a kept one, queues the
export of the root on a throwaway Redis and runs one worker in burst mode. While the worker
exports, this process keeps serving the province's manager (the dashboard and the people list,
timed back to back through the Flask test client) and reads the job's progress as its page would.
Prints the rows, rows per second, the peak memory of the process that ran the job (ru_maxrss of
RQ's work horse, recorded on the job), the progress seen, the pages' timings during the export, the
load average, and the rows per second of the same export run directly in this process right
after, for comparison (docs/benchmarks.md, "Background jobs").
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "bench-jobs-secret-key-not-for-production-0000000000"


@click.command()
@click.option("--scale", default=0.1, show_default=True, help="Dataset size (1 = a province, 60,000 staff).")
@click.option("--kept", "kept_url", metavar="DATABASE_URL",
              help="Generate nothing: use the PostgreSQL database a `python -m bench --keep` run left.")
@click.option("--direct/--no-direct", default=True, show_default=True,
              help="Also run the same export in this process, without a job, for comparison.")
def main(scale: float, kept_url: str | None, direct: bool):
    """Export the root's people as a job on a real worker, serving pages meanwhile; print JSON figures."""
    from loadtest.servers import start_redis, stop

    from .__main__ import postgres_cluster

    os.chdir(ROOT)
    folder = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    redis, port = start_redis(folder)
    try:
        if kept_url:
            figures = run(kept_url, None, port, folder, direct)
        else:
            with postgres_cluster(keep=False) as database_url:
                figures = run(database_url, scale, port, folder, direct)
    finally:
        stop(redis)
        shutil.rmtree(folder, ignore_errors=True)
    click.echo(json.dumps(figures))


def run(database_url: str, scale: float | None, port: int, folder: Path, direct: bool) -> dict:
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from app import create_app
    from app.extensions import db
    from app.jobs import work
    from app.jobs.models import Job
    from app.models import Agency, Course, User

    from .generate import PASSWORD, generate
    from .measure import percentile, sign_in

    settings = {"SQLALCHEMY_DATABASE_URI": database_url, "JOBS_MODE": "rq", "RATELIMIT_ENABLED": False,
                "JOBS_REDIS_URL": f"redis://127.0.0.1:{port}/0", "JOBS_RESULT_DIR": str(folder / "results")}
    os.environ.setdefault("SECRET_KEY", SECRET_KEY)
    app = create_app("development", settings)
    with app.app_context():
        upgrade()
        if scale is not None:
            generate(scale, "postgresql")
        agency = db.session.get(Agency, 1)
        course = db.session.scalar(select(Course).order_by(Course.id).limit(1))
        manager = db.session.scalar(select(User).where(User.username == "cb000001"))
        staff = db.session.scalar(select(func.count()).select_from(User).where(User.is_active))
        job = work.submit_export(db.session, manager, agency, course, "xlsx", {}, "bench")
        job_id, slug = job.id, course.slug
        db.session.remove()
    client = app.test_client()
    sign_in(client, "cb000001", PASSWORD)
    pages = [f"/manage/agencies/1?course={slug}", f"/manage/agencies/1/people?course={slug}&status=in_progress",
             f"/jobs/{job_id}"]
    for url in pages:  # warm-up: imports, templates, the first statements
        client.get(url)
    env = {**os.environ, "FLASK_APP": "app", "APP_CONFIG": "development", "DATABASE_URL": database_url,
           "JOBS_MODE": "rq", "JOBS_REDIS_URL": settings["JOBS_REDIS_URL"],
           "JOBS_RESULT_DIR": settings["JOBS_RESULT_DIR"], "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    worker = subprocess.Popen([str(Path(sys.executable).parent / "flask"), "jobs", "worker", "--burst"], cwd=ROOT,
                              env=env, stdout=subprocess.DEVNULL)
    timings: dict[str, list[float]] = {url: [] for url in pages}
    progress_seen: list[tuple[float, int, int]] = []
    while worker.poll() is None:
        for url in pages:
            began = time.perf_counter()
            response = client.get(url)
            elapsed = (time.perf_counter() - began) * 1000
            if response.status_code != 200:
                raise click.ClickException(f"GET {url} during the export: HTTP {response.status_code}")
            timings[url].append(elapsed)
        with app.app_context():
            done, total = db.session.execute(select(Job.progress_done, Job.progress_total)
                                             .where(Job.id == job_id)).one()
            db.session.remove()
        if not progress_seen or progress_seen[-1][1:] != (done, total):
            progress_seen.append((round(time.perf_counter() - started, 1), done, total))
            click.echo(f"  {progress_seen[-1][0]:>7.1f} s: {done:,} of {total:,} rows", err=True)
        time.sleep(0.5)
    wall = time.perf_counter() - started
    if worker.returncode != 0:
        raise click.ClickException(f"the worker exited with {worker.returncode}")
    with app.app_context():
        job = db.session.get(Job, job_id)
        seconds = (job.finished_at - job.started_at).total_seconds()
        figures = {"scale": scale if scale is not None else round(staff / 60_000, 2), "status": job.status,
                   "staff": staff, "rows": job.progress_done, "job_s": round(seconds, 2),
                   "worker_wall_s": round(wall, 2),
                   "rows_per_s": round(job.progress_done / seconds) if seconds else None,
                   "peak_memory_mb": round(job.peak_memory_kb / 1024, 1),
                   "result_mb": round((job.result_size or 0) / 1e6, 1),
                   "progress_updates_seen": len(progress_seen),
                   "load_average": [round(value, 2) for value in os.getloadavg()]}
        for url, label in zip(pages, ("dashboard_root", "people", "job_page")):
            if timings[url]:
                figures[f"{label}_during_export_p50_ms"] = round(percentile(timings[url], 0.5), 1)
                figures[f"{label}_during_export_p95_ms"] = round(percentile(timings[url], 0.95), 1)
                figures[f"{label}_during_export_n"] = len(timings[url])
        if direct:
            # The same export in this process, without a job, at the same moment: the baseline
            # the job's rows per second compare with on a shared machine.
            from app.models import utcnow
            from app.tracking import exports

            agency = db.session.get(Agency, 1)
            course = db.session.scalar(select(Course).where(Course.slug == slug))
            began = time.perf_counter()
            exports.xlsx_file(exports.person_rows(db.session, course, agency, utcnow()), title="bench").close()
            elapsed = time.perf_counter() - began
            figures["direct_rows_per_s"] = round(job.progress_done / elapsed) if elapsed else None
        db.session.rollback()
        db.engine.dispose()
    return figures


if __name__ == "__main__":
    main()
