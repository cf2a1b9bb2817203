"""`flask tracking refresh-progress`: count the progress summaries the dashboards read (docs/deploy.md)."""
import time

import click
from flask.cli import AppGroup

from ..extensions import db
from . import progress

tracking_cli = AppGroup("tracking", help="Theo dõi tiến độ học tập của các cơ quan.")


@tracking_cli.command("refresh-progress")
@click.option("--all", "everything", is_flag=True,
              help="Đếm lại toàn bộ (sau khi nạp dữ liệu hàng loạt hoặc để sửa sai lệch).")
def refresh_progress_command(everything: bool):
    """Đếm số liệu tổng hợp theo cơ quan (và trạng thái từng người mà danh sách cán bộ đọc) cho các
    lượt giao khóa học đã bắt đầu mà chưa được đếm.

    Chạy khi triển khai (make serve) và hằng ngày (flask reminders send); một lượt giao khóa học
    có ngày bắt đầu trong tương lai được đếm khi đến ngày. Trong lúc chưa đếm, bảng điều khiển vẫn
    đúng nhưng tính từng người nên chậm hơn.
    """
    started = time.perf_counter()
    if everything:
        rows = progress.rebuild(db.session)
        db.session.commit()
        click.echo(f"Đã đếm lại toàn bộ: {rows:,} dòng tổng hợp trong {time.perf_counter() - started:.1f} giây.")
        return
    counted = progress.refresh_pending(db.session)
    db.session.commit()
    click.echo(f"Đã đếm {counted} lượt giao khóa học chưa được đếm, trong {time.perf_counter() - started:.1f} giây.")
