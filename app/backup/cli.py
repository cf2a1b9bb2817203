"""`flask backup create|restore|counts`: the documented way to back up and restore (docs/deploy.md)."""
from datetime import datetime
from pathlib import Path

import click
from flask.cli import AppGroup

from ..extensions import db
from .services import BackupError, dump, restore, row_counts

backup_cli = AppGroup("backup", help="Sao lưu và khôi phục cơ sở dữ liệu.")


def _url() -> str:
    return db.engine.url.render_as_string(hide_password=False)


@backup_cli.command("create")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def create_command(file: Path | None):
    """Sao lưu cơ sở dữ liệu đang dùng vào FILE (mặc định: backups/hocmxh-NGÀY-GIỜ.dump)."""
    file = file or Path("backups") / f"hocmxh-{datetime.now():%Y%m%d-%H%M%S}.dump"
    try:
        dump(_url(), file)
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    total = sum(row_counts(_url()).values())
    click.echo(f"Đã sao lưu {total} dòng dữ liệu vào {file} ({file.stat().st_size:,} byte).")


@backup_cli.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--to", "target_url", help="Cơ sở dữ liệu đích (mặc định: cơ sở dữ liệu đang dùng).")
@click.option("--yes", is_flag=True, help="Không hỏi lại trước khi ghi đè.")
def restore_command(file: Path, target_url: str | None, yes: bool):
    """Khôi phục tệp sao lưu FILE; dữ liệu hiện có ở đích bị thay thế."""
    target_url = target_url or _url()
    if not yes:
        click.confirm(f"Dữ liệu hiện có ở {target_url.split('@')[-1]} sẽ bị thay thế. Tiếp tục?", abort=True)
    db.session.remove()
    db.engine.dispose()
    try:
        restore(file, target_url)
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Đã khôi phục {sum(row_counts(target_url).values())} dòng dữ liệu từ {file}.")


@backup_cli.command("counts")
@click.option("--url", "database_url", help="Cơ sở dữ liệu cần đếm (mặc định: đang dùng).")
def counts_command(database_url: str | None):
    """Số dòng trong từng bảng, để so sánh trước và sau khi khôi phục."""
    for name, count in row_counts(database_url or _url()).items():
        click.echo(f"{name:<24} {count}")
