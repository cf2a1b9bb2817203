"""`flask jobs …`: the worker that runs queued jobs, the daily work for cron, and housekeeping."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from ..extensions import db
from ..models import Agency
from . import services

jobs_cli = AppGroup("jobs", help="Tác vụ nền: worker chạy hàng đợi, việc hằng ngày, dọn tệp kết quả.")


def make_worker(burst: bool = False):
    """An RQ worker on the jobs queue whose heartbeat and maintenance follow the JOBS_* settings."""
    from redis import Redis
    from rq import Queue, Worker

    config = current_app.config

    class JobWorker(Worker):
        # RQ counts a job abandoned when its worker has not vouched for it within the monitoring
        # interval plus 60 s; the grace is a setting here so a test need not wait a minute.
        def get_heartbeat_ttl(self, job):
            if job.timeout and job.timeout > 0:
                remaining = job.timeout - self.current_job_working_time
                return int(min(remaining, self.job_monitoring_interval)) + config["JOBS_HEARTBEAT_GRACE"]
            return self.job_monitoring_interval + config["JOBS_HEARTBEAT_GRACE"]

    connection = Redis.from_url(config["JOBS_REDIS_URL"])
    return JobWorker([Queue(services.QUEUE_NAME, connection=connection)], connection=connection,
                     job_monitoring_interval=config["JOBS_HEARTBEAT_SECONDS"],
                     maintenance_interval=config["JOBS_MAINTENANCE_SECONDS"],
                     # an idle worker waits on the queue for worker_ttl - 15 s before it looks after
                     # the registries again: no longer than the maintenance interval
                     worker_ttl=config["JOBS_MAINTENANCE_SECONDS"] + 15)


@jobs_cli.command("worker")
@click.option("--burst", is_flag=True, help="Chạy hết các tác vụ đang chờ rồi dừng.")
def worker_command(burst: bool):
    """Chạy worker: lấy tác vụ từ hàng đợi Redis (JOBS_REDIS_URL) và thực hiện."""
    # The forked work horse inherits this process's pool: its connections must not be shared.
    db.engine.dispose()
    make_worker().work(burst=burst, with_scheduler=False)


@jobs_cli.command("daily")
def daily_command():
    """Việc hằng ngày (chạy từ cron): đưa việc gửi thư nhắc vào hàng đợi và xóa tệp kết quả đã hết hạn."""
    purged = services.purge_expired(db.session)
    job = services.create_job(db.session, kind="reminders", user=None, agency=None, parameters={})
    db.session.commit()
    services.enqueue(job)
    click.echo(f"Đã đưa việc gửi thư nhắc vào hàng đợi (tác vụ số {job.id}); đã xóa {purged} tệp kết quả hết hạn.")


@jobs_cli.command("purge")
def purge_command():
    """Xóa các tệp kết quả đã quá thời gian lưu (JOBS_RESULT_DAYS)."""
    purged = services.purge_expired(db.session)
    db.session.commit()
    click.echo(f"Đã xóa {purged} tệp kết quả hết hạn.")


@jobs_cli.command("recount")
@click.argument("agency_code")
def recount_command(agency_code: str):
    """Đưa việc tính lại số liệu tổng hợp của một đơn vị và cấp dưới vào hàng đợi (sau khi chuyển một cây lớn)."""
    from sqlalchemy import select

    agency = db.session.scalar(select(Agency).where(Agency.code == agency_code))
    if agency is None:
        raise click.ClickException(f"Không có đơn vị mã {agency_code}.")
    job = services.create_job(db.session, kind="recount", user=None, agency=agency, parameters={"course_id": None})
    db.session.commit()
    services.enqueue(job)
    click.echo(f"Đã đưa việc tính lại của {agency.name} vào hàng đợi (tác vụ số {job.id}).")
