"""`flask content …`: check, load and summarise the curriculum files."""
import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from ..extensions import db
from .checks import check_content
from .export import ExportRefused, export_checked
from .services import bank_stats, load_bundle

content_cli = AppGroup("content", help="Kiểm tra và nạp nội dung khóa học từ content/ và quizzes/.")


def _run_check(content_dir: str | None, quizzes_dir: str | None):
    content_dir = content_dir or current_app.config["CONTENT_DIR"]
    quizzes_dir = quizzes_dir or current_app.config["QUIZZES_DIR"]
    return check_content(content_dir, quizzes_dir)


def _print_errors(result) -> None:
    for error in result.errors:
        click.echo(f"LỖI  {error}", err=True)
    click.echo(f"{len(result.errors)} lỗi trong {result.files_read} tệp đã đọc.", err=True)


_dirs = [
    click.option("--content-dir", type=click.Path(file_okay=False), help="Thư mục content/ (mặc định theo cấu hình)."),
    click.option("--quizzes-dir", type=click.Path(file_okay=False), help="Thư mục quizzes/ (mặc định theo cấu hình)."),
]


def with_dirs(func):
    for option in reversed(_dirs):
        func = option(func)
    return func


@content_cli.command("check")
@with_dirs
def check_command(content_dir, quizzes_dir):
    """Kiểm tra mọi tệp nội dung; thoát với mã 1 nếu có lỗi."""
    result = _run_check(content_dir, quizzes_dir)
    if not result.ok:
        _print_errors(result)
        sys.exit(1)
    bundle = result.bundle
    click.echo(
        f"Nội dung hợp lệ: {len(bundle.sources)} nguồn, {len(bundle.lessons)} bài học, "
        f"{len(bundle.questions)} câu hỏi, {len(bundle.quizzes)} bài kiểm tra "
        f"({result.files_read} tệp)."
    )


@content_cli.command("load")
@with_dirs
def load_command(content_dir, quizzes_dir):
    """Kiểm tra rồi nạp toàn bộ nội dung trong một giao dịch: tất cả hoặc không gì cả."""
    result = _run_check(content_dir, quizzes_dir)
    if not result.ok:
        _print_errors(result)
        click.echo("Không nạp gì: cơ sở dữ liệu giữ nguyên.", err=True)
        sys.exit(1)
    try:
        report = load_bundle(db.session, result.bundle)
        db.session.commit()
    except Exception:
        db.session.rollback()
        click.echo("Nạp thất bại: cơ sở dữ liệu giữ nguyên.", err=True)
        raise
    for line in report.lines():
        click.echo(line)
    click.echo("Đã nạp nội dung." if report.changed else "Không có gì thay đổi.")


@content_cli.command("stats")
@with_dirs
@click.option("--json", "as_json", is_flag=True, help="In kết quả dạng JSON cho máy đọc.")
def stats_command(content_dir, quizzes_dir, as_json):
    """Thống kê độ phủ: số câu theo bài, chủ đề, loại, độ khó, vi phạm / không vi phạm."""
    result = _run_check(content_dir, quizzes_dir)
    stats = bank_stats(result.bundle)
    stats["errors"] = len(result.errors)
    if as_json:
        click.echo(json.dumps(stats, ensure_ascii=False, indent=2))
        return
    click.echo(f"Bài học ({len(stats['lessons'])}):")
    for lesson in stats["lessons"]:
        click.echo(f"  {lesson['order']:>2}. {lesson['title']} — {lesson['minutes']} phút, "
                   f"{lesson['citations']} trích dẫn ({lesson['quotes']} nguyên văn)")
    click.echo(f"Câu hỏi: {stats['questions']}")
    for title, key in (("Theo loại", "per_type"), ("Theo độ khó", "per_difficulty"),
                       ("Theo kết luận", "per_verdict")):
        click.echo(f"{title}: " + ", ".join(f"{k} {v}" for k, v in sorted(stats[key].items())))
    click.echo(f"Tỷ lệ tình huống không vi phạm: {stats['lawful_share']:.0%}")
    click.echo("Theo chủ đề: số câu (tối thiểu) · số tình huống vi phạm (tối thiểu)")
    below = {row["topic"] for row in stats["below_minimum"]}
    for slug, count in stats["per_topic"].items():
        topic = result.bundle.topics[slug]
        flag = "  << dưới mức tối thiểu" if slug in below else ""
        click.echo(f"  {slug:<28} {count:>4} ({topic['min_questions']}) · "
                   f"{stats['violations_per_topic'][slug]:>3} ({topic['min_violations']}){flag}")
    if stats["below_minimum"]:
        click.echo(f"{len(stats['below_minimum'])} chủ đề dưới mức tối thiểu.")
    if result.errors:
        click.echo(f"Lưu ý: nội dung còn {len(result.errors)} lỗi (chạy `flask content check`).")


@content_cli.command("export")
@click.option("--to", "target", type=click.Path(file_okay=False), default=None,
              help="Thư mục đích (tạo content/ và quizzes/ trong đó); mặc định ghi đè thư mục đang cấu hình.")
@click.option("--yes", is_flag=True, help="Không hỏi xác nhận khi ghi đè thư mục đang cấu hình.")
@click.option("--force", is_flag=True, help="Ghi đè cả khi tệp trên đĩa có nội dung chưa nạp vào cơ sở dữ liệu.")
def export_command(target, yes, force):
    """Ghi nội dung đã xuất bản ra tệp, đúng định dạng mà `flask content load` đọc (kiểm tra trước khi ghi)."""
    source_dirs = (Path(current_app.config["CONTENT_DIR"]), Path(current_app.config["QUIZZES_DIR"]))
    content_dir, quizzes_dir = source_dirs
    if target is not None:
        content_dir, quizzes_dir = Path(target) / "content", Path(target) / "quizzes"
    elif not yes:
        click.confirm(f"Ghi đè bài học và ngân hàng câu hỏi trong {content_dir} và {quizzes_dir}?", abort=True)
    try:
        report = export_checked(db.session, content_dir, quizzes_dir, source_dirs=source_dirs, force=force)
    except ExportRefused as refused:
        click.echo(str(refused), err=True)
        for line in refused.details:
            click.echo(f"  {line}", err=True)
        sys.exit(1)
    click.echo(f"Đã xuất {report.lessons} bài học và {report.questions} câu hỏi vào "
               f"{content_dir} và {quizzes_dir}.")
    for path in report.removed:
        click.echo(f"Đã xóa tệp không còn dùng: {path}")
