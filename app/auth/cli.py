"""`flask users …`: create accounts, reset passwords and import staff files from the command line."""
import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from ..extensions import db
from ..models import Agency
from .passwords import validate_password
from .services import AccountError, create_user, find_user_by_login, reset_password

users_cli = AppGroup("users", help="Quản lý tài khoản người dùng.")


def _agency(code: str) -> Agency:
    agency = db.session.scalar(select(Agency).where(Agency.code == code))
    if agency is None:
        click.echo(f"Không có cơ quan mã «{code}».", err=True)
        sys.exit(1)
    return agency


@users_cli.command("create")
@click.option("--username", required=True, help="Tên đăng nhập.")
@click.option("--email", required=True, help="Địa chỉ email.")
@click.option("--name", "full_name", required=True, help="Họ và tên.")
@click.option("--agency", "agency_code", required=True, help="Mã cơ quan.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, help="Mật khẩu.")
@click.option("--trainer", is_flag=True, help="Cấp quyền giảng viên.")
@click.option("--admin", is_flag=True, help="Cấp quyền quản trị.")
@click.option("--manages", multiple=True, metavar="CODE", help="Mã cơ quan được quản lý (lặp lại được).")
def create_command(username, email, full_name, agency_code, password, trainer, admin, manages):
    """Tạo một tài khoản."""
    try:
        validate_password(password, username=username, email=email, full_name=full_name)
        user = create_user(db.session, username=username, email=email, full_name=full_name,
                           agency=_agency(agency_code), password=password, is_trainer=trainer,
                           is_admin=admin, manages=[_agency(code) for code in manages])
    except AccountError as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(f"Đã tạo tài khoản «{user.username}» ({', '.join(user.role_labels)}).")


@users_cli.command("set-password")
@click.argument("login")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, help="Mật khẩu mới.")
@click.option("--temporary", is_flag=True,
              help="Mật khẩu tạm: người dùng phải đổi ngay khi đăng nhập lần sau.")
def set_password_command(login, password, temporary):
    """Đặt lại mật khẩu cho tài khoản LOGIN (tên đăng nhập hoặc email); mọi phiên đăng nhập của người đó kết thúc."""
    user = find_user_by_login(db.session, login)
    if user is None:
        click.echo(f"Không có tài khoản «{login}».", err=True)
        sys.exit(1)
    try:
        validate_password(password, user)
    except AccountError as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    reset_password(db.session, user, password, temporary=temporary)
    db.session.commit()
    click.echo(f"Đã đặt lại mật khẩu cho «{user.username}».")


@users_cli.command("invite")
@click.option("--agency", "agency_code", help="Chỉ cán bộ của cơ quan này và cấp dưới.")
@click.option("--dry-run", is_flag=True, help="Chỉ đếm, không gửi và không ghi gì.")
def invite_command(agency_code, dry_run):
    """Gửi thư mời đặt mật khẩu cho mọi tài khoản đang hoạt động chưa có mật khẩu (và các thư mời còn chờ)."""
    from flask import current_app

    from ..models import User
    from ..reminders.mail import SmtpMailer
    from . import links

    query = select(User)
    if agency_code:
        query = query.join(User.agency).where(_agency(agency_code).subtree_filter())
    people = links.invitable_users(db.session, query)
    if dry_run:
        click.echo(f"Sẽ gửi thư mời cho {len(people)} người chưa có mật khẩu.")
        db.session.rollback()
        return
    links.queue_invitations(db.session, people)
    db.session.commit()
    waiting = len(links.queued_invitations(db.session))
    with click.progressbar(length=waiting, label="Gửi thư mời") as bar:
        sent = links.send_queued_invitations(db.session, SmtpMailer(current_app.config), progress=bar.update)
    click.echo(f"Đã gửi {sent} thư mời đặt mật khẩu.")


@users_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Chỉ kiểm tra và xem trước, không ghi gì.")
@click.option("--yes", is_flag=True, help="Không hỏi lại trước khi vô hiệu hóa tài khoản.")
def import_command(file, dry_run, yes):
    """Nhập danh sách cán bộ từ tệp FILE (.xlsx hoặc .csv): xem trước, rồi áp dụng tất cả hoặc không gì cả."""
    from pathlib import Path

    from ..admin import imports

    data = Path(file).read_bytes()
    try:
        rows = imports.read_rows(data, Path(file).name)
    except imports.ImportFileError as error:
        click.echo(f"Lỗi: {error}", err=True)
        sys.exit(1)
    with click.progressbar(length=len(rows), label="Kiểm tra từng dòng") as bar:
        plan = imports.plan_import(db.session, rows, file_name=Path(file).name,
                                   file_hash=imports.file_hash(data), on_progress=bar.update)
    _echo_plan(plan)
    if plan.errors:
        click.echo(f"Tệp có {len(plan.errors)} lỗi; không thay đổi gì.", err=True)
        sys.exit(1)
    if dry_run or not plan.has_changes:
        click.echo("Chạy thử: không ghi gì." if dry_run else "Không có gì thay đổi.")
        return
    deactivated = plan.counts["deactivated"]
    if deactivated and not yes:
        click.confirm(f"Vô hiệu hóa {deactivated} tài khoản. Tiếp tục?", abort=True)
    imports.apply_import(db.session, plan)
    db.session.commit()
    click.echo("Đã áp dụng. Tài khoản mới chưa có mật khẩu: đặt bằng `flask users set-password LOGIN` "
               "hoặc trên trang Quản trị.")


def _echo_plan(plan) -> None:
    """The same summary as the preview page, in Vietnamese."""
    from ..admin.imports import KIND_LABELS, KINDS

    counts = plan.counts
    click.echo(f"{plan.file_name}: {plan.rows_read} dòng dữ liệu.")
    for kind in KINDS:
        click.echo(f"  {KIND_LABELS[kind]}: {counts[kind]}")
    click.echo(f"  Lỗi: {len(plan.errors)}")
    for change in plan.changes:
        if change.kind == "unchanged":
            continue
        details = [f"{change.agency_from} → {change.agency_code}"] if change.agency_from else []
        details += [f"{label}: {old or '—'} → {new}" for label, (old, new) in change.fields.items()]
        if change.kind == "created":
            details.append(f"tên đăng nhập {change.username}, {change.agency_code}")
        click.echo(f"  dòng {change.row} [{KIND_LABELS[change.kind].lower()}] {change.employee_code} "
                   f"{change.full_name}" + (f": {'; '.join(details)}" if details else ""))
    for error in plan.errors:
        click.echo(f"  {error}", err=True)
