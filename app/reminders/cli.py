"""`flask reminders send`: run from cron, e.g. every morning at 7:00."""
import smtplib

import click
from flask import current_app
from flask.cli import AppGroup

from ..auth.links import send_queued_invitations
from ..extensions import db
from ..privacy.cli import echo_report as echo_purge_report
from ..privacy.services import purge
from ..models import utcnow
from ..tracking.progress import refresh_pending
from ..refreshers.services import plan_invitations, schedule_due, send_invitations
from ..violations import services as violations
from .mail import SmtpMailer
from .services import Settings, plan_reminders, send_reminders

reminders_cli = AppGroup("reminders", help="Nhắc việc qua email cho học viên và người quản lý.")


@reminders_cli.command("send")
@click.option("--dry-run", is_flag=True, help="Chỉ liệt kê các thư sẽ gửi, không gửi và không ghi gì.")
@click.option("--learners/--no-learners", default=True, show_default=True,
              help="Nhắc học viên sắp đến hạn hoặc đã quá hạn.")
@click.option("--digests/--no-digests", default=True, show_default=True,
              help="Gửi bản tổng hợp cho người quản lý.")
@click.option("--refreshers/--no-refreshers", default=True, show_default=True,
              help="Mời ôn tập 3 câu một và ba tháng sau khi hoàn thành.")
def send_command(dry_run: bool, learners: bool, digests: bool, refreshers: bool):
    """Gửi thư nhắc việc hôm nay; mỗi thư chỉ gửi một lần trong một ngày."""
    now = utcnow()
    settings = Settings.from_config(current_app.config)
    refresh_pending(db.session)  # assignments started, due dates passed, windows opened since yesterday
    plan = plan_reminders(db.session, settings, now, learners=learners, digests=digests)
    if refreshers:
        schedule_due(db.session, now)
    invitations = plan_invitations(db.session, settings, now) if refreshers else []
    config = current_app.config
    late_reports = violations.late_cases(db.session, now, config["VIOLATION_ACTION_WORKING_DAYS"],
                                         config["VIOLATION_ESCALATE_WORKING_DAYS"]) if digests else []
    if dry_run:
        db.session.rollback()
        for reminder in [*plan.reminders, *invitations]:
            click.echo(f"{reminder.email:<40} {reminder.subject}")
        for digest in late_reports:
            click.echo(f"{digest.email:<40} báo cáo vi phạm chưa xử lý: {len(digest.handling) + len(digest.escalated)}")
        click.echo(f"Sẽ gửi {len(plan.reminders) + len(invitations)} thư; {plan.skipped} thư đã gửi hôm nay nên bỏ qua.")
        return
    db.session.commit()
    with click.progressbar(length=len(plan.reminders), label="Gửi thư nhắc việc") as bar:
        run = send_reminders(db.session, SmtpMailer(current_app.config), plan, now=now, progress=bar.update)
    click.echo(f"Đã gửi {run.learner_emails} thư nhắc học viên và {run.digests} bản tổng hợp cho người quản lý; "
               f"bỏ qua {run.skipped} thư đã gửi hôm nay; {run.failures} thư lỗi.")
    if invitations and not run.error:
        sent, failed = send_invitations(db.session, SmtpMailer(current_app.config), invitations, now)
        click.echo(f"Đã gửi {sent} thư mời ôn tập; {failed} thư lỗi.")
    if late_reports:
        try:
            sent, skipped = violations.send_digests(
                db.session, SmtpMailer(config), late_reports, base_url=settings.base_url, now=now,
                action_days=config["VIOLATION_ACTION_WORKING_DAYS"],
                escalate_days=config["VIOLATION_ESCALATE_WORKING_DAYS"])
        except (smtplib.SMTPException, OSError) as error:
            click.echo(f"LỖI  Không gửi được bản tổng hợp báo cáo vi phạm: {error}", err=True)
            raise SystemExit(1)
        click.echo(f"Đã gửi {sent} bản tổng hợp báo cáo vi phạm chưa xử lý; bỏ qua {skipped} đã gửi hôm nay.")
    invited = send_queued_invitations(db.session, SmtpMailer(current_app.config))
    if invited:
        click.echo(f"Đã gửi {invited} thư mời đặt mật khẩu còn chờ.")
    report = purge(db.session)  # retention, daily: one transaction of its own
    db.session.commit()
    echo_purge_report(report, dry_run=False)
    if run.error:
        click.echo(f"LỖI  {run.error}", err=True)
        raise SystemExit(1)
