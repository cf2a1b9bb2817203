"""`flask card build`: draw the "Trước khi đăng" card into the static files the pages link to."""
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from .services import CARD_FILES, card_pdf, card_png

card_cli = AppGroup("card", help="Thẻ «Trước khi đăng» (PDF và ảnh cho điện thoại).")


@card_cli.command("build")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Thư mục ghi tệp (mặc định: app/static/card).")
def build_command(out_dir: str | None) -> None:
    """Vẽ lại thẻ «Trước khi đăng» thành tệp PDF (A5) và PNG (1080×1920)."""
    target = Path(out_dir or Path(current_app.static_folder) / "card")
    target.mkdir(parents=True, exist_ok=True)
    for name, draw in zip(CARD_FILES, (card_pdf, card_png)):
        (target / name).write_bytes(draw())
        click.echo(f"Đã ghi {target / name}")
