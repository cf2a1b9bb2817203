"""The whole province's XLSX export as a background job, run by a real `flask jobs worker`.

    .venv/bin/python -m bench.job_export --scale 0.1

Generates a dataset on a throwaway PostgreSQL (bench/generate.py), queues the export of the root
on a throwaway Redis, runs one worker in burst mode, and prints the rows, rows per second, the
peak memory of the process that ran the job (ru_maxrss of RQ's work horse, recorded on the job)
the load average, and the rows per second of the same export run directly in this process right
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
def main(scale: float):
    from flask_migrate import upgrade
    from sqlalchemy import select

    from app import create_app
    from app.extensions import db
    from app.jobs import work
    from app.jobs.models import Job
    from app.models import Agency, Course, User
    from loadtest.servers import start_redis, stop

    from .__main__ import postgres_cluster
    from .generate import generate

    folder = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    redis, port = start_redis(folder)
    try:
        with postgres_cluster(keep=False) as database_url:
            settings = {"SQLALCHEMY_DATABASE_URI": database_url, "JOBS_MODE": "rq", "RATELIMIT_ENABLED": False,
                        "JOBS_REDIS_URL": f"redis://127.0.0.1:{port}/0", "JOBS_RESULT_DIR": str(folder / "results")}
            os.environ.setdefault("SECRET_KEY", SECRET_KEY)
            app = create_app("development", settings)
            with app.app_context():
                upgrade()
                dataset = generate(scale, "postgresql")
                agency = db.session.get(Agency, dataset.root_id)
                course = db.session.scalar(select(Course).where(Course.slug == dataset.course_slug))
                manager = db.session.scalar(select(User).where(User.username == dataset.root_manager))
                job = work.submit_export(db.session, manager, agency, course, "xlsx", {}, "bench")
                job_id = job.id
            env = {**os.environ, "FLASK_APP": "app", "APP_CONFIG": "development", "DATABASE_URL": database_url,
                   "JOBS_MODE": "rq", "JOBS_REDIS_URL": settings["JOBS_REDIS_URL"],
                   "JOBS_RESULT_DIR": settings["JOBS_RESULT_DIR"], "PYTHONPATH": str(ROOT)}
            started = time.perf_counter()
            subprocess.run([str(Path(sys.executable).parent / "flask"), "jobs", "worker", "--burst"], cwd=ROOT,
                           env=env, check=True, stdout=subprocess.DEVNULL)
            wall = time.perf_counter() - started
            with app.app_context():
                job = db.session.get(Job, job_id)
                seconds = (job.finished_at - job.started_at).total_seconds()
                figures = {"scale": scale, "status": job.status, "staff": dataset.root_staff,
                           "rows": job.progress_done, "job_s": round(seconds, 2), "worker_wall_s": round(wall, 2),
                           "rows_per_s": round(job.progress_done / seconds) if seconds else None,
                           "peak_memory_mb": round(job.peak_memory_kb / 1024, 1),
                           "result_mb": round((job.result_size or 0) / 1e6, 1),
                           "load_average": [round(value, 2) for value in os.getloadavg()]}
                # The same export in this process, without a job, at the same moment: the baseline
                # the job's rows per second compare with on a shared machine.
                from app.models import utcnow
                from app.tracking import exports

                agency = db.session.get(Agency, dataset.root_id)
                course = db.session.scalar(select(Course).where(Course.slug == dataset.course_slug))
                began = time.perf_counter()
                exports.xlsx_file(exports.person_rows(db.session, course, agency, utcnow()), title="bench").close()
                direct = time.perf_counter() - began
                figures["direct_rows_per_s"] = round(job.progress_done / direct) if direct else None
                db.session.rollback()
                db.engine.dispose()
    finally:
        stop(redis)
        shutil.rmtree(folder, ignore_errors=True)
    click.echo(json.dumps(figures))


if __name__ == "__main__":
    main()
