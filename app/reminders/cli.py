"""`flask reminders send`: run from cron, e.g. every morning at 7:00."""
import click
from flask import current_app
from flask.cli import AppGroup

from ..extensions import db
from ..models import utcnow
from ..tracking.progress import refresh_pending
from .mail import SmtpMailer
from .services import Settings, plan_reminders, send_reminders

reminders_cli = AppGroup("reminders", help="Nhắc việc qua email cho học viên và người quản lý.")


@reminders_cli.command("send")
@click.option("--dry-run", is_flag=True, help="Chỉ liệt kê các thư sẽ gửi, không gửi và không ghi gì.")
@click.option("--learners/--no-learners", default=True, show_default=True,
              help="Nhắc học viên sắp đến hạn hoặc đã quá hạn.")
@click.option("--digests/--no-digests", default=True, show_default=True,
              help="Gửi bản tổng hợp cho người quản lý.")
def send_command(dry_run: bool, learners: bool, digests: bool):
    """Gửi thư nhắc việc hôm nay; mỗi thư chỉ gửi một lần trong một ngày."""
    now = utcnow()
    settings = Settings.from_config(current_app.config)
    refresh_pending(db.session)  # assignments started, due dates passed, windows opened since yesterday
    plan = plan_reminders(db.session, settings, now, learners=learners, digests=digests)
    if dry_run:
        db.session.rollback()
        for reminder in plan.reminders:
            click.echo(f"{reminder.email:<40} {reminder.subject}")
        click.echo(f"Sẽ gửi {len(plan.reminders)} thư; {plan.skipped} thư đã gửi hôm nay nên bỏ qua.")
        return
    db.session.commit()
    with click.progressbar(length=len(plan.reminders), label="Gửi thư nhắc việc") as bar:
        run = send_reminders(db.session, SmtpMailer(current_app.config), plan, now=now, progress=bar.update)
    click.echo(f"Đã gửi {run.learner_emails} thư nhắc học viên và {run.digests} bản tổng hợp cho người quản lý; "
               f"bỏ qua {run.skipped} thư đã gửi hôm nay; {run.failures} thư lỗi.")
    if run.error:
        click.echo(f"LỖI  {run.error}", err=True)
        raise SystemExit(1)
