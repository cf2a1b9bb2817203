"""`flask privacy purge`: remove or de-identify what is past its retention (run daily by `flask reminders send`)."""
import click
from flask.cli import AppGroup

from ..extensions import db
from .models import RETENTION_KINDS
from .services import purge

privacy_cli = AppGroup("privacy", help="Dữ liệu cá nhân: xóa hoặc ẩn danh dữ liệu quá thời gian lưu giữ.")


def echo_report(report, dry_run: bool) -> None:
    verb = "Sẽ xử lý" if dry_run else "Đã xử lý"
    for kind, (label, effect, _) in RETENTION_KINDS.items():
        click.echo(f"  {label} (trước {report.cutoffs[kind]:%d/%m/%Y}): {report.counts[kind]} bản ghi; {effect}")
    click.echo(f"{verb} {sum(report.counts.values())} bản ghi quá thời gian lưu giữ.")


@privacy_cli.command("purge")
@click.option("--dry-run", is_flag=True, help="Chỉ đếm những gì sẽ bị xóa hoặc ẩn danh, không thay đổi gì.")
def purge_command(dry_run: bool):
    """Xóa hoặc ẩn danh dữ liệu quá thời gian lưu giữ, trong một giao dịch duy nhất, rồi in báo cáo."""
    try:
        report = purge(db.session)
    except Exception:
        db.session.rollback()
        raise
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    echo_report(report, dry_run)
