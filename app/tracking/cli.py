"""`flask tracking refresh-progress`: count the progress summaries the dashboards read (docs/deploy.md);
`flask tracking check-coverage`: verify the assignments' coverage table the recounts read."""
import time

import click
from flask.cli import AppGroup

from ..extensions import db
from . import coverage, progress

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


@tracking_cli.command("check-coverage")
@click.option("--repair", is_flag=True, help="Khi có sai lệch: ghi lại bảng và đếm lại toàn bộ số liệu tổng hợp.")
def check_coverage_command(repair: bool):
    """Kiểm tra bảng phạm vi giao khóa học (cơ quan nào chịu lượt giao nào) so với cây cơ quan.

    Bảng này được cập nhật mỗi khi giao, sửa, hủy lượt giao hoặc tạo, chuyển cơ quan; lệnh so nó với
    một lần tính lại từ đầu. Có sai lệch thì thoát với mã 1; với --repair thì ghi lại bảng và đếm lại
    toàn bộ số liệu tổng hợp (như refresh-progress --all).
    """
    missing, extra = coverage.check(db.session)
    if not missing and not extra:
        db.session.commit()
        click.echo("Bảng phạm vi giao khóa học khớp với cây cơ quan.")
        return
    click.echo(f"Sai lệch: thiếu {len(missing):,} dòng, thừa {len(extra):,} dòng.", err=True)
    for assignment_id, agency_id, course_id in sorted(missing)[:10]:
        click.echo(f"  thiếu: lượt giao {assignment_id}, cơ quan {agency_id}, khóa học {course_id}", err=True)
    for assignment_id, agency_id, course_id in sorted(extra)[:10]:
        click.echo(f"  thừa: lượt giao {assignment_id}, cơ quan {agency_id}, khóa học {course_id}", err=True)
    if not repair:
        db.session.rollback()
        raise SystemExit(1)
    rows = progress.rebuild(db.session)  # the coverage first, then every summary counted with it
    db.session.commit()
    click.echo(f"Đã ghi lại bảng và đếm lại toàn bộ: {rows:,} dòng tổng hợp.")
