"""`flask users …`: create accounts and reset passwords from the command line."""
import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from ..extensions import db
from ..models import Agency
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
def set_password_command(login, password):
    """Đặt lại mật khẩu cho tài khoản LOGIN (tên đăng nhập hoặc email)."""
    user = find_user_by_login(db.session, login)
    if user is None:
        click.echo(f"Không có tài khoản «{login}».", err=True)
        sys.exit(1)
    reset_password(db.session, user, password)
    db.session.commit()
    click.echo(f"Đã đặt lại mật khẩu cho «{user.username}».")
