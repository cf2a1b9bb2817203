"""`flask directory check`: test a deployment's directory sign-in settings against the real servers."""
import sys

import click
from flask.cli import AppGroup

from ..extensions import db
from . import services

directory_cli = AppGroup("directory", help="Đăng nhập qua hệ thống thư mục của tỉnh (OpenID Connect, LDAP).")


@directory_cli.command("check")
@click.option("--username", help="Thử đăng nhập LDAP bằng tên này (hỏi mật khẩu); không tạo hay sửa tài khoản.")
def check_command(username):
    """Kiểm tra cấu hình: đọc cấu hình của cổng OpenID, đăng nhập tài khoản dịch vụ LDAP, đối chiếu mã cơ quan."""
    results = services.check_configuration(db.session)
    for ok, line in results:
        click.echo(f"{'✓' if ok else '✗'} {line}")
    failed = not all(ok for ok, _ in results)
    if username:
        password = click.prompt("Mật khẩu thư mục", hide_input=True)
        try:
            person = services.ldap_authenticate(username, password)
        except services.DirectoryUnavailable as error:
            person, failed = None, True
            click.echo(f"✗ LDAP không trả lời: {error}")
        if person is None:
            failed = True
            click.echo(f"✗ LDAP không xác nhận «{username}» với mật khẩu này.")
        else:
            account = services.find_account(db.session, person)
            click.echo(f"✓ LDAP: {person.full_name} · email {person.email} · mã cán bộ {person.employee_code} · "
                       f"cơ quan «{person.agency_value}» · "
                       + (f"tài khoản trong ứng dụng: {account.username}" if account else "chưa có tài khoản"))
    sys.exit(1 if failed else 0)
