"""Time the preview of a staff import: a 20,000-row file against a populated database.

    .venv/bin/python bench/import_bench.py                 # CSV and XLSX, SQLite in a temp file
    .venv/bin/python bench/import_bench.py --format xlsx --apply
    .venv/bin/python bench/import_bench.py --database postgresql+psycopg://…/empty_db

The database gets an agency tree (1 province, 20 departments, 10 units each) and `--existing`
accounts; the file matches those by employee code (a tenth renamed, a tenth moved, a
hundredth leaving) and adds new people up to `--rows`. The figure to meet: preview ≤ 10 s.
"""
from __future__ import annotations

import io
import random
import sys
import tempfile
import time
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_SECONDS = 10.0


def _populate(session, existing: int, rng: random.Random) -> list[str]:
    """The tree and the existing accounts (bulk inserted); returns the agency codes people work in."""
    from sqlalchemy import insert

    from app.agencies.services import create_agency
    from app.auth.services import unusable_password_hash
    from app.models import User

    root = create_agency(session, code="BENCH", name="Tỉnh Đo Thử", kind="province")
    workplaces = []
    for d in range(20):
        department = create_agency(session, code=f"BENCH-{d:02d}", name=f"Sở số {d}", kind="department", parent=root)
        workplaces.append(department)
        for u in range(10):
            workplaces.append(create_agency(session, code=f"BENCH-{d:02d}-{u:02d}", name=f"Phòng {d}.{u}",
                                            kind="unit", parent=department))
    session.execute(insert(User), [
        {"username": f"cb{n:06d}", "email": f"cb{n:06d}@bench.gov.vn", "full_name": f"Cán Bộ Số {n}",
         "search_name": f"can bo so {n}", "employee_code": f"CB{n:06d}",
         "agency_id": rng.choice(workplaces).id, "password_hash": unusable_password_hash(),
         "is_active": True, "is_trainer": False, "is_admin": False} for n in range(existing)])
    session.commit()
    return [agency.code for agency in workplaces]


def _file_rows(rows: int, existing: int, codes: list[str], rng: random.Random) -> list[list[str]]:
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Agency, User

    placed = dict(db.session.execute(select(User.employee_code, Agency.code).join(Agency)).all())
    table = []
    for n in range(rows):
        code = f"CB{n:06d}"
        agency = placed.get(code) or rng.choice(codes)
        name, status, role = f"Cán Bộ Số {n}", "", "học viên"
        if n < existing:
            if n % 10 == 1:
                name = f"Cán Bộ Số {n} Đã Đổi"
            if n % 10 == 2:
                agency = rng.choice(codes)
            if n % 100 == 3:
                status = "nghỉ việc"
        if n % 250 == 7:
            role = "quản lý"
        table.append([code, name, f"cb{n:06d}@bench.gov.vn", agency, role, status])
    return table


def _as_csv(table: list[list[str]]) -> bytes:
    import csv

    from app.admin.imports import COLUMNS

    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS.values())
    writer.writerows(table)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _as_xlsx(table: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    from app.admin.imports import COLUMNS

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Cán bộ")
    sheet.append(list(COLUMNS.values()))
    for row in table:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@click.command()
@click.option("--rows", default=20_000, show_default=True, help="Rows in the generated file.")
@click.option("--existing", default=10_000, show_default=True, help="Accounts already in the database.")
@click.option("--format", "formats", type=click.Choice(["csv", "xlsx", "both"]), default="both", show_default=True)
@click.option("--apply", "also_apply", is_flag=True, help="Also time applying the file (then rolled back).")
@click.option("--keep", type=click.Path(dir_okay=False), help="Also write the generated CSV here.")
@click.option("--database", help="An EMPTY database URL to use instead of a temporary SQLite file.")
def main(rows: int, existing: int, formats: str, also_apply: bool, keep: str | None, database: str | None) -> None:
    """Generate a staff file and time its preview (read + check + plan)."""
    from app import create_app
    from app.admin import imports
    from app.extensions import db

    from sqlalchemy import inspect

    folder = tempfile.TemporaryDirectory()
    url = database or f"sqlite:///{folder.name}/bench.sqlite3"
    app = create_app("testing", overrides={"SQLALCHEMY_DATABASE_URI": url})
    rng = random.Random(874)
    with app.app_context():
        if inspect(db.engine).get_table_names():
            raise click.UsageError("the database is not empty: give an empty throwaway database")
        db.create_all()
        started = time.perf_counter()
        codes = _populate(db.session, existing, rng)
        table = _file_rows(rows, existing, codes, rng)
        click.echo(f"database: {url.split('://')[0]}, {existing} accounts, {len(codes) + 1} agencies "
                   f"(set up in {time.perf_counter() - started:.1f} s)")
        if keep:
            Path(keep).write_bytes(_as_csv(table))
        worst = 0.0
        for kind in (("csv", "xlsx") if formats == "both" else (formats,)):
            data = _as_csv(table) if kind == "csv" else _as_xlsx(table)
            db.session.expunge_all()
            started = time.perf_counter()
            parsed = imports.read_rows(data, f"bench.{kind}")
            read_s = time.perf_counter() - started
            plan = imports.plan_import(db.session, parsed, file_name=f"bench.{kind}",
                                       file_hash=imports.file_hash(data))
            total_s = time.perf_counter() - started
            worst = max(worst, total_s)
            click.echo(f"{kind}: {len(data) / 1e6:.1f} MB, {plan.rows_read} rows, preview {total_s:.2f} s "
                       f"(reading {read_s:.2f} s) — {plan.counts}, errors {len(plan.errors)}")
            if also_apply and plan.ok:
                started = time.perf_counter()
                imports.apply_import(db.session, plan)
                db.session.flush()
                click.echo(f"{kind}: apply {time.perf_counter() - started:.2f} s (rolled back)")
                db.session.rollback()
        click.echo(f"preview_seconds={worst:.2f} target≤{TARGET_SECONDS:.0f} "
                   f"{'OK' if worst <= TARGET_SECONDS else 'TOO SLOW'}")
        db.session.remove()
        db.drop_all()
    folder.cleanup()
    sys.exit(0 if worst <= TARGET_SECONDS else 1)


if __name__ == "__main__":
    main()
