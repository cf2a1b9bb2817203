"""`python -m bench`: a province-scale dataset on PostgreSQL and SQLite, page timings, bench/results.json."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.json"
DATABASES = ("postgresql", "sqlite")
def targets(scale: float) -> dict[str, tuple[float | None, str]]:
    """metric → (limit, how the target reads) as the issues state them; no limit for the floor.

    A province (scale 1): pages ≤ 150 ms, generation ≤ 5 min, the export ≤ 20 s in a request.
    Larger (issue 21, scale 10: 600,000 staff): pages ≤ 300 ms, generation ≤ 30 min, and the
    export and the province's PDF run as jobs, with only their peak memory bounded.
    """
    page = 150 if scale <= 1 else 300
    found = {
        "generate_s": (300, "≤ 5 min") if scale <= 1 else (1800, "≤ 30 min"),
        "floor_p95_ms": (None, ""),
        "dashboard_root_p95_ms": (page, f"≤ {page} ms (PostgreSQL)"),
        "dashboard_mid_p95_ms": (page, f"≤ {page} ms (PostgreSQL)"),
        "people_p95_ms": (page, f"≤ {page} ms (PostgreSQL)"),
        "wrong_answers_p95_ms": (page, f"≤ {page} ms (PostgreSQL)"),
        "person_p95_ms": (page, f"≤ {page} ms (PostgreSQL)"),
        "report_pdf_p95_ms": (1000, "≤ 1 s"),
        "report_pdf_mid_p95_ms": (1000, "≤ 1 s"),
        "certificate_pdf_p95_ms": (1000, "≤ 1 s"),
        "export_xlsx_s": (20, "≤ 20 s") if scale <= 1 else (None, "a job (rows/s below)"),
        "export_rows_per_s": (None, ""),
        "export_peak_mb": (300, "≤ 300 MB"),
        "report_pdf_job_s": (None, "a job"),
        "report_pdf_job_peak_mb": (300, "≤ 300 MB"),
    }
    return found


def echo(message: str = "") -> None:
    click.echo(message, err=True)


@contextmanager
def postgres_cluster(keep: bool):
    """A throwaway cluster from scripts/pg-cluster.sh, stopped whatever happens (like run-tests.sh's trap)."""
    started = subprocess.run([str(ROOT / "scripts" / "pg-cluster.sh"), "start"], capture_output=True,
                             text=True, check=False)
    if started.returncode != 0:
        raise click.ClickException(f"PostgreSQL could not start:\n{started.stderr}")
    settings = dict(item.split("=", 1) for line in started.stdout.splitlines()
                    for item in line.removeprefix("export ").split())
    try:
        yield settings["DATABASE_URL"]
    finally:
        if keep:
            echo(f"kept: DATABASE_URL={settings['DATABASE_URL']}; stop it with "
                 f"scripts/pg-cluster.sh stop {settings['PGTEST_DIR']}")
        else:
            subprocess.run([str(ROOT / "scripts" / "pg-cluster.sh"), "stop", settings["PGTEST_DIR"]],
                           check=False)


@contextmanager
def sqlite_file(keep: bool):
    """A SQLite file in a temporary folder, removed at the end."""
    folder = tempfile.mkdtemp(prefix="bench-sqlite-")
    try:
        yield f"sqlite:///{folder}/bench.sqlite3"
    finally:
        if keep:
            echo(f"kept: DATABASE_URL=sqlite:///{folder}/bench.sqlite3; remove it with rm -r {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def run_database(name: str, database_url: str, scale: float, requests: int, budget_s: float) -> dict:
    """Migrate, generate, time the pages and the export on one database."""
    from flask_migrate import upgrade

    from app.extensions import db

    from .generate import generate
    from .measure import make_app, measure_pages

    app = make_app(database_url)
    with app.app_context():
        upgrade()
        dataset = generate(scale, name)
    counts = ", ".join(f"{table} {count:,}" for table, count in dataset.counts.items())
    echo(f"{name}: generated in {dataset.generate_s} s: {counts}")
    echo(f"{name}: {dataset.root_staff:,} active staff in the province, {dataset.mid_staff:,} in the "
         f"mid-level agency; timing {requests} requests per page")
    results = {"generate_s": dataset.generate_s, "load_average_1m": round(os.getloadavg()[0], 2)}
    results.update(measure_pages(app, dataset, requests, budget_s, log=echo))
    with app.app_context():
        db.engine.dispose()  # SQLite: no connection of ours stays open while the export reads
    results.update(timed_export(database_url, dataset))
    results.update(timed_pdf_job(app, database_url, dataset))
    results["staff"] = dataset.root_staff
    results.update({f"rows_{table}": count for table, count in dataset.counts.items()})
    return results


def timed_export(database_url: str, dataset) -> dict:
    """The export's figures (n/a when it failed, with the reason printed)."""
    from .measure import measure_export

    export = measure_export(database_url, dataset)
    if export["status"] == 404:
        echo("  export         HTTP 404: the export route is missing; reported as n/a")
    elif export["status"] != 200:
        echo(f"  export         {export['status']}; reported as n/a")
    else:
        echo(f"  export         {export['export_xlsx_s']} s, peak RSS {export['export_peak_mb']} MB "
             f"(before: {export['export_baseline_mb']} MB), {export['export_rows']:,} sheet rows, "
             f"{export['export_bytes'] / 1e6:.1f} MB")
    figures = {key: export.get(key) for key in ("export_xlsx_s", "export_peak_mb", "export_baseline_mb", "export_rows")}
    if figures["export_rows"] and figures["export_xlsx_s"]:
        figures["export_rows_per_s"] = round(figures["export_rows"] / figures["export_xlsx_s"])
    return figures


def timed_pdf_job(app, database_url: str, dataset) -> dict:
    """The province's PDF report when it is too large for a request (JOBS_PDF_THRESHOLD): made by a
    job in a process of its own, like the export; nothing when the request itself was timed."""
    from .measure import measure_export

    if dataset.root_staff <= app.config["JOBS_PDF_THRESHOLD"]:
        return {}
    report = measure_export(database_url, dataset, kind="pdf")
    if report["status"] != 200:
        echo(f"  report job     {report['status']}; reported as n/a")
        return {"report_pdf_job_s": None, "report_pdf_job_peak_mb": None}
    echo(f"  report job     {report['export_xlsx_s']} s, peak RSS {report['export_peak_mb']} MB, "
         f"{report['export_bytes'] / 1e6:.1f} MB")
    return {"report_pdf_job_s": report["export_xlsx_s"], "report_pdf_job_peak_mb": report["export_peak_mb"]}


def run_kept(database_url: str, requests: int, budget_s: float) -> dict:
    """Time the pages and the export again on a database a run kept (`--keep`), after migrating it to
    the current code and counting its progress summaries afresh: a scale-30 dataset takes an hour
    to generate, a change to the pages a minute to time."""
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Agency, Course, User
    from app.tracking import progress

    from .generate import PASSWORD, Dataset, analyze_counts
    from .measure import make_app, measure_pages

    app = make_app(database_url)
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        rows = progress.rebuild(db.session)
        db.session.commit()
        recount_s = round(time.perf_counter() - started, 1)
        analyze_counts(db.session)
        echo(f"progress summaries counted afresh: {rows:,} rows in {recount_s} s")
        mid = db.session.get(Agency, 2)
        active = select(func.count()).select_from(User).join(Agency, Agency.id == User.agency_id).where(User.is_active)
        dataset = Dataset(root_id=1, mid_id=2, course_slug=db.session.scalar(select(Course.slug).order_by(Course.id)),
                          root_manager="cb000001", mid_manager="cb000002", password=PASSWORD,
                          root_staff=db.session.scalar(active),
                          mid_staff=db.session.scalar(active.where(mid.subtree_filter())))
        db.session.remove()
    results = {"progress_recount_s": recount_s, "load_average_1m": round(os.getloadavg()[0], 2),
               "staff": dataset.root_staff}
    results.update(measure_pages(app, dataset, requests, budget_s, log=echo))
    with app.app_context():
        db.engine.dispose()
    results.update(timed_export(database_url, dataset))
    results.update(timed_pdf_job(app, database_url, dataset))
    return results


def table(results: dict[str, dict], scale: float) -> str:
    """The headline metrics of each database side by side, with the targets; ! marks a miss."""
    names = [name for name in DATABASES if name in results]
    lines = [f"{'metric':<24}" + "".join(f"{name:>13}" for name in names) + "   target"]
    for metric, (limit, label) in targets(scale).items():
        if all(results[name].get(metric) is None for name in names) and metric not in (
                "generate_s", "export_xlsx_s", "export_peak_mb"):
            continue  # a metric of the other size (the root's PDF in a request, or as a job)
        cells = []
        for name in names:
            value = results[name].get(metric)
            missed = limit is not None and value is not None and value > limit and (
                "PostgreSQL" not in label or name == "postgresql")
            cells.append(f"{'n/a' if value is None else value:>12}{'!' if missed else ' '}")
        lines.append(f"{metric:<24}" + "".join(cells) + f"   {label}")
    lines.append("(! = target missed; p50s, export baselines and row counts are in bench/results.json)")
    return "\n".join(lines)


@click.command()
@click.option("--scale", type=float, default=1.0, show_default=True,
              help="Multiply the dataset (1: 60,000 staff, 1,500 agencies, ~1M progress rows, 250k attempts).")
@click.option("--only", type=click.Choice(DATABASES),
              help="Run on one database only (the results file then holds that one).")
@click.option("--requests", type=click.IntRange(5), default=30, show_default=True,
              help="Timed requests per page (after 3 warm-up requests).")
@click.option("--page-budget", "budget_s", type=click.FloatRange(1), default=30, show_default=True,
              help="Seconds: a page whose timed requests add up to this stops after 10 (bounds a run).")
@click.option("--keep", is_flag=True, help="Keep the databases afterwards (to explain queries).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=RESULTS,
              show_default=True, help="Where to write the results as JSON.")
@click.option("--kept", "kept_url", metavar="DATABASE_URL",
              help="Generate nothing: migrate the database a --keep run left, count its progress "
                   "summaries afresh and time the pages and the export again.")
def main(scale: float, only: str | None, requests: int, budget_s: float, keep: bool, output: Path,
         kept_url: str | None):
    """Generate a province-scale dataset on PostgreSQL and SQLite, then time the manager's pages.

    Prints a table and writes {"postgresql": {...}, "sqlite": {...}} to bench/results.json. The
    PostgreSQL cluster and the SQLite file are temporary and removed at the end.
    """
    if scale <= 0:
        raise click.BadParameter("must be positive", param_hint="--scale")
    os.chdir(ROOT)  # migrations, content/ and quizzes/ are found from the project root
    sys.path.insert(0, str(ROOT))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the cluster is stopped on kill too
    results: dict[str, dict] = {}
    if kept_url:
        name = "sqlite" if kept_url.startswith("sqlite") else "postgresql"
        echo(f"== {name}, kept database ==")
        results[name] = run_kept(kept_url, requests, budget_s)
        output.write_text(json.dumps(results, indent=2) + "\n")
        click.echo(table(results, scale=results[name]["staff"] / 60_000))
        click.echo(f"Written to {output}")
        return
    for name in DATABASES:
        if only and name != only:
            continue
        echo(f"== {name}, scale {scale:g} ==")
        with (postgres_cluster(keep) if name == "postgresql" else sqlite_file(keep)) as database_url:
            results[name] = run_database(name, database_url, scale, requests, budget_s)
    output.write_text(json.dumps(results, indent=2) + "\n")
    click.echo(table(results, scale))
    click.echo(f"Written to {output}")


if __name__ == "__main__":
    main(prog_name="python -m bench")
