"""`flask demo`: an invented province with agencies, staff in every role, and their accounts.

Running it again changes nothing and prints the same accounts.
"""
import random
from datetime import timedelta

import click
from sqlalchemy import select

from ..agencies.services import create_agency
from ..auth.services import create_user
from ..content.text import strip_diacritics
from ..extensions import db
from ..models import Agency, User, utcnow

DEMO_PASSWORD = "hoc-mxh-2026"
ROOT_CODE = "HA"

#: (code, name, kind, parent code) — an invented province after the 2025 two-tier reform
TREE = [
    ("HA", "Tỉnh Hòa An (dữ liệu mẫu)", "province", None),
    ("HA-VP", "Văn phòng UBND tỉnh Hòa An", "department", "HA"),
    ("HA-KHCN", "Sở Khoa học và Công nghệ", "department", "HA"),
    ("HA-KHCN-TT", "Thanh tra Sở Khoa học và Công nghệ", "unit", "HA-KHCN"),
    ("HA-KHCN-CDS", "Phòng Chuyển đổi số", "unit", "HA-KHCN"),
    ("HA-YT", "Sở Y tế", "department", "HA"),
    ("HA-YT-BV", "Bệnh viện Đa khoa tỉnh Hòa An", "unit", "HA-YT"),
    ("HA-YT-KSBT", "Trung tâm Kiểm soát bệnh tật", "unit", "HA-YT"),
    ("HA-GD", "Sở Giáo dục và Đào tạo", "department", "HA"),
    ("HA-GD-THPT", "Trường THPT Tân Phong", "unit", "HA-GD"),
    ("HA-TP", "UBND xã Tân Phong", "commune", "HA"),
    ("HA-TP-VP", "Văn phòng HĐND và UBND xã Tân Phong", "unit", "HA-TP"),
    ("HA-TP-VH", "Phòng Văn hóa - Xã hội xã Tân Phong", "unit", "HA-TP"),
    ("HA-DH", "UBND phường Đông Hải", "commune", "HA"),
    ("HA-DH-VP", "Văn phòng HĐND và UBND phường Đông Hải", "unit", "HA-DH"),
    ("HA-DH-KT", "Phòng Kinh tế phường Đông Hải", "unit", "HA-DH"),
]

#: (username, full name, agency code, role, manages) — the accounts a tester signs in with
NAMED = [
    ("quantri", "Hoàng Minh Quân", "HA-KHCN-CDS", "admin", None),
    ("giangvien", "Phạm Thu Giang", "HA-KHCN", "trainer", None),
    ("quanly.tinh", "Trịnh Văn Hòa", "HA-VP", "manager", "HA"),
    ("quanly.soyte", "Lương Thị Mai", "HA-YT", "manager", "HA-YT"),
    ("quanly.xa", "Đoàn Văn Phong", "HA-TP", "manager", "HA-TP"),
    ("hocvien", "Nguyễn Thị Lan", "HA-TP-VP", "learner", None),
    ("theodoi.xa", "Vi Thị Thoa", "HA-TP-VH", "learner", None),
    ("theodoi.tinh", "Lại Đức Tín", "HA-VP", "learner", None),
]
#: monitoring officers of violation reports: (username, agency code whose subtree they watch)
OFFICERS = [("theodoi.xa", "HA-TP"), ("theodoi.tinh", "HA")]
#: where the province forwards cases (invented addresses)
CONTACTS = [("inspectorate", "Thanh tra Sở Khoa học và Công nghệ tỉnh Hòa An (dữ liệu mẫu)", "thanhtra.khcn@demo.hocmxh.vn"),
            ("police", "Phòng An ninh mạng, Công an tỉnh Hòa An (dữ liệu mẫu)", "anm.congan@demo.hocmxh.vn")]

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý"]
MIDDLE_F = ["Thị", "Thu", "Ngọc", "Minh", "Thanh", "Hồng"]
MIDDLE_M = ["Văn", "Đức", "Minh", "Quốc", "Hữu", "Thanh"]
GIVEN_F = ["Anh", "Hạnh", "Hương", "Linh", "Mai", "Ngân", "Oanh", "Phương", "Thảo", "Trang", "Yến", "Hà"]
GIVEN_M = ["An", "Bình", "Cường", "Dũng", "Hải", "Hiếu", "Khánh", "Long", "Nam", "Sơn", "Tuấn", "Việt"]
STAFF_COUNT = 60


def _username(full_name: str, taken: set[str]) -> str:
    parts = strip_diacritics(full_name).split()
    base = f"{parts[-1]}.{''.join(p[0] for p in parts[:-1])}"
    name, number = base, 1
    while name in taken:
        number += 1
        name = f"{base}{number}"
    taken.add(name)
    return name


def _random_name(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"{rng.choice(FAMILY)} {rng.choice(MIDDLE_F)} {rng.choice(GIVEN_F)}"
    return f"{rng.choice(FAMILY)} {rng.choice(MIDDLE_M)} {rng.choice(GIVEN_M)}"


def build_demo(session) -> None:
    """Create the demo tree and accounts (the caller commits)."""
    agencies: dict[str, Agency] = {}
    for code, name, kind, parent in TREE:
        agencies[code] = create_agency(session, code=code, name=name, kind=kind,
                                       parent=agencies.get(parent))
    taken = {username for username, *_ in NAMED}
    for index, (username, full_name, code, role, manages) in enumerate(NAMED, 1):
        create_user(session, username=username, email=f"{username}@demo.hocmxh.vn",
                    full_name=full_name, agency=agencies[code], password=DEMO_PASSWORD,
                    employee_code=f"QL{index:03d}", is_admin=role == "admin",
                    is_trainer=role == "trainer",
                    manages=[agencies[manages]] if manages else None)
    _demo_monitoring(session, agencies)
    rng = random.Random(2026)
    workplaces = [code for code, _, kind, _ in TREE if kind in ("unit", "department", "commune")]
    for number in range(1, STAFF_COUNT - len(NAMED) + 1):
        full_name = _random_name(rng)
        username = _username(full_name, taken)
        create_user(session, username=username, email=f"{username}@demo.hocmxh.vn",
                    full_name=full_name, agency=agencies[rng.choice(workplaces)],
                    password=DEMO_PASSWORD, employee_code=f"CB{number:04d}")


def _demo_monitoring(session, agencies: dict[str, Agency]) -> None:
    """Monitoring officers for the commune and the province, and the province's contacts."""
    from ..violations.models import MonitoringOfficer, ViolationContact

    for username, code in OFFICERS:
        user = session.scalar(select(User).where(User.username == username))
        session.add(MonitoringOfficer(user=user, agency=agencies[code]))
    for kind, name, email in CONTACTS:
        session.add(ViolationContact(agency=agencies[ROOT_CODE], kind=kind, name=name, email=email))
    session.flush()


def _screenshot(lines: list[str], seed: int) -> bytes:
    """A made-up phone screenshot of an invented post (a PNG drawn here; no real person or page)."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (360, 420), (240, 242, 245))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 360, 48), fill=(24, 119, 242) if seed % 2 else (0, 104, 255))
    draw.text((12, 16), "Bài đăng (dữ liệu mẫu)", fill=(255, 255, 255))
    draw.rectangle((12, 64, 348, 400), fill=(255, 255, 255))
    for index, line in enumerate(lines):
        draw.text((24, 80 + index * 22), line, fill=(20, 20, 20))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


#: (reporter, url, platform, kind, hours ago, description, screenshot lines, status then)
DEMO_REPORTS = [
    ("hocvien", "https://www.facebook.com/congan.xa.tanphong.nopphat/posts/1001", "facebook", "gia-mao-trang", 30,
     "Trang giả mạo Công an xã Tân Phong (tình huống giả định) yêu cầu nộp phạt qua đường link lạ.",
     ["Cong An Xa Tan Phong - Tiep Nhan Nop Phat", "Nop phat online giam 50%!!!", "Han chot 17h hom nay"], "new"),
    ("theodoi.tinh", "https://zalo.me/g/nhom-cho-dong-hai/bai/2002", "zalo", "sai-su-that", 200,
     "Tin đồn sai sự thật về việc phong tỏa chợ phường Đông Hải (tình huống giả định).",
     ["Nhom Zalo Cho Dong Hai", "Mai phong toa cho, bao nhau mua tich tru", "(tin chua kiem chung)"], "verifying"),
]


def build_demo_violations(session, store, written: list[str]) -> int:
    """Two demo reports with screenshots, one already being verified; returns how many."""
    from ..violations import services as violations
    from ..violations.evidence import Limits, check_uploads

    limits = Limits(4 * 1024 * 1024, 9 * 1024 * 1024, 10, 40_000_000)
    now = utcnow()
    officer = session.scalar(select(User).where(User.username == "theodoi.tinh"))
    for number, (username, url, platform, kind, hours, text, lines, status) in enumerate(DEMO_REPORTS):
        reporter = session.scalar(select(User).where(User.username == username))
        files = check_uploads([(f"anh-chup-{number + 1}.png", _screenshot(lines, number))], [], limits)
        filing = violations.Filing(url, platform, kind, now - timedelta(hours=hours + 1), text)
        report = violations.file_report(session, reporter, filing, files, store, written,
                                        now=now - timedelta(hours=hours))
        if status != "new":
            violations.change_status(session, report.case, officer, status, "Đã liên hệ quản trị nhóm để xác minh.",
                                     "Cán bộ theo dõi đang xác minh thông tin anh/chị báo cáo.",
                                     now=now - timedelta(hours=hours - 20))
    return len(DEMO_REPORTS)


def build_demo_progress(session, rng: random.Random) -> int:
    """Give about half the demo staff some progress: lessons read, tests taken, a few completions.

    Returns how many learners got progress (0 when no course is loaded yet).
    """
    from ..learn import services
    from ..models import Course, Quiz

    course = session.scalar(select(Course).where(Course.status == "published").order_by(Course.id))
    if course is None:
        return 0
    lessons = services.published_lessons(session, course)
    final = session.scalar(select(Quiz).where(Quiz.course_id == course.id, Quiz.counts_for_completion))
    root = session.scalar(select(Agency).where(Agency.code == ROOT_CODE))
    _assign_demo_course(session, course, root)
    learners = session.scalars(select(User).join(Agency).where(
        root.subtree_filter(), User.username.not_in([name for name, *_ in NAMED]))
        .order_by(User.id)).all()
    started = learners[: len(learners) // 2]
    start_day = utcnow() - timedelta(days=40)
    for index, user in enumerate(started):
        when = start_day + timedelta(days=index % 35, hours=index % 9)
        read = len(lessons) if index % 3 != 2 or len(lessons) < 2 else rng.randint(1, len(lessons) - 1)
        for lesson in lessons[:read]:
            services.complete_lesson(session, user, lesson, now=when)
        if read < len(lessons) or final is None:
            continue
        attempt = services.start_attempt(session, user, final, now=when, rng=rng)
        right = index % 4 != 3  # one in four fails its first attempt
        for item in attempt.questions:
            keys = item.version.correct_keys if right or rng.random() < 0.5 else item.choice_order[-1:]
            services.save_answer(session, attempt, item.position, keys, now=when)
        services.submit_attempt(session, attempt, now=when + timedelta(minutes=12))
        if attempt.passed and index % 2 == 0:
            services.record_commitment(session, user, course, ip="127.0.0.1",
                                       user_agent="Dữ liệu mẫu", now=when + timedelta(minutes=15))
    return len(started)


def _assign_demo_course(session, course, root: Agency) -> None:
    """The province gives three more weeks, a certification valid 12 months renewed from 60 days
    before it expires; the health department's own one-off deadline is already past."""
    from ..tracking.services import create_assignment

    now = utcnow()
    create_assignment(session, course=course, agency=root, starts_at=now - timedelta(days=45),
                      due_at=now + timedelta(days=21), validity_months=12, recertify_days=60)
    health = session.scalar(select(Agency).where(Agency.code == "HA-YT"))
    create_assignment(session, course=course, agency=health, starts_at=now - timedelta(days=45),
                      due_at=now - timedelta(days=5))


def demo_accounts(session) -> list[tuple[str, str, str, str]]:
    """(role, agency, username, password) of every demo account, named ones first."""
    root = session.scalar(select(Agency).where(Agency.code == ROOT_CODE))
    users = session.scalars(
        select(User).join(Agency).where(root.subtree_filter()).order_by(User.id)).all()
    return [(", ".join(user.role_labels), user.agency.name, user.username, DEMO_PASSWORD)
            for user in users]


@click.command("demo")
def demo_command():
    """Tạo dữ liệu mẫu (một tỉnh hư cấu, 16 cơ quan, 60 cán bộ) và in các tài khoản."""
    if db.session.scalar(select(Agency.id).where(Agency.code == ROOT_CODE)) is None:
        from flask import current_app

        from ..violations.evidence import EvidenceStore
        from ..violations.services import commit_or_remove

        build_demo(db.session)
        with_progress = build_demo_progress(db.session, random.Random(874))
        store, written = EvidenceStore(current_app.config["VIOLATION_EVIDENCE_DIR"]), []
        reports = build_demo_violations(db.session, store, written)
        commit_or_remove(db.session, store, written)
        click.echo(f"Đã tạo dữ liệu mẫu ({with_progress} người đã có tiến độ học, {reports} báo cáo vi phạm).")
    else:
        click.echo("Dữ liệu mẫu đã có; không tạo lại.")
    accounts = demo_accounts(db.session)
    click.echo(f"\nTài khoản mẫu ({len(accounts)}), mật khẩu chung: {DEMO_PASSWORD}")
    click.echo(f"{'Vai trò':<28} {'Tên đăng nhập':<16} {'Mật khẩu':<14} Cơ quan")
    for role, agency, username, password in accounts:
        click.echo(f"{role:<28} {username:<16} {password:<14} {agency}")
