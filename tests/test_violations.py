"""Violation reports: filing with evidence kept byte for byte, bad uploads refused with nothing stored,
duplicates joined, routing and scope of monitoring officers, statuses, forwarding through a real SMTP
server, digests, the heads' dashboard and its exports."""
from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import func, select

from app.extensions import db
from app.violations import services
from app.violations.evidence import EvidenceError, Limits, check_uploads
from app.violations.models import (
    MonitoringOfficer,
    ViolationCase,
    ViolationContact,
    ViolationEvent,
    ViolationEvidence,
    ViolationReport,
)
from support import ROOT, csrf_token


# -- helpers ----------------------------------------------------------------------------------------

def png_bytes(size=(64, 48), colour=(200, 30, 30), noise=False) -> bytes:
    if noise:
        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    else:
        image = Image.new("RGB", size, colour)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def jpeg_bytes(size=(80, 60), colour=(10, 120, 200), exif_text: str | None = None) -> bytes:
    image = Image.new("RGB", size, colour)
    out = io.BytesIO()
    if exif_text:
        exif = Image.Exif()
        exif[0x010E] = exif_text  # ImageDescription
        image.save(out, format="JPEG", exif=exif.tobytes())
    else:
        image.save(out, format="JPEG")
    return out.getvalue()


def pdf_bytes() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(0, 10, "saved page")
    return bytes(pdf.output())


def stored_files(directory) -> list[Path]:
    return [path for path in Path(directory).rglob("*") if path.is_file()]


def nothing_stored(directory) -> bool:
    counts = [db.session.scalar(select(func.count()).select_from(model))
              for model in (ViolationCase, ViolationReport, ViolationEvidence, ViolationEvent)]
    return counts == [0, 0, 0, 0] and stored_files(directory) == []


def form_data(client, **overrides):
    data = {
        "csrf_token": csrf_token(client, "/vi-pham/bao-cao"),
        "url": "https://www.facebook.com/trang.gia.mao/posts/12345?fbclid=abc",
        "platform": "facebook",
        "seen_at": (datetime.now(timezone(timedelta(hours=7))) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "kind": "gia-mao-trang",
        "description": "Trang giả mạo UBND xã đăng thông báo thu tiền (tình huống giả định).",
    }
    data.update(overrides)
    return data


def post_report(client, images=(), pdf=None, **overrides):
    data = form_data(client, **overrides)
    data["images"] = [(io.BytesIO(content), name) for name, content in images]
    if pdf is not None:
        data["pdf"] = (io.BytesIO(pdf[1]), pdf[0])
    return client.post("/vi-pham/bao-cao", data=data, content_type="multipart/form-data")


@pytest.fixture
def evidence_dir(app, tmp_path):
    directory = tmp_path / "evidence"
    app.config["VIOLATION_EVIDENCE_DIR"] = str(directory)
    return directory


@pytest.fixture
def world(app, make_agency, make_user, evidence_dir):
    """A province with two communes (A, B), each with a unit; an officer per commune; heads."""
    province = make_agency(name="Tỉnh Thử Nghiệm", kind="province")
    a = make_agency(name="Xã A", kind="commune", parent=province)
    b = make_agency(name="Xã B", kind="commune", parent=province)
    a1 = make_agency(name="Đơn vị A1", parent=a)
    b1 = make_agency(name="Đơn vị B1", parent=b)
    people = {
        "reporter": make_user(agency=a1, full_name="Lò Văn Báo"),
        "other_learner": make_user(agency=b1),
        "officer_a": make_user(agency=a, full_name="Cán Bộ Xã A"),
        "officer_b": make_user(agency=b, full_name="Cán Bộ Xã B"),
        "officer_province": make_user(agency=province),
        "head_a": make_user(role="manager", agency=a, manages=[a]),
        "head_b": make_user(role="manager", agency=b, manages=[b]),
        "head_province": make_user(role="manager", agency=province, manages=[province]),
        "admin": make_user(role="admin", agency=province),
        "trainer": make_user(role="trainer", agency=province),
    }
    for who, agency in (("officer_a", a), ("officer_b", b), ("officer_province", province)):
        db.session.add(MonitoringOfficer(user=people[who], agency=agency))
    db.session.add(ViolationContact(agency=province, kind="inspectorate", name="Thanh tra Sở (giả định)",
                                    email="thanhtra@so.example.vn"))
    db.session.commit()
    return {"province": province, "a": a, "b": b, "a1": a1, "b1": b1, **people}


def file_one(world, evidence_dir, *, url="https://www.facebook.com/trang.gia.mao/posts/1", images=None,
             reporter=None, when=None) -> ViolationReport:
    """A report through the services (for the tests that are not about the form)."""
    from app.violations.evidence import EvidenceStore

    limits = Limits(4_000_000, 9_000_000, 10, 40_000_000)
    checked = check_uploads(images if images is not None else [("a.png", png_bytes())], [], limits)
    written = []
    filing = services.Filing(url, "facebook", "sai-su-that", when or datetime.now(timezone.utc), "Mô tả giả định.")
    reporter = db.session.merge(reporter or world["reporter"])  # the test may have emptied the session
    report = services.file_report(db.session, reporter, filing, checked,
                                  EvidenceStore(evidence_dir), written, now=when)
    db.session.commit()
    return report


# -- the kinds come from the letters ---------------------------------------------------------------

def test_the_kinds_are_the_letters_own_words():
    import yaml

    sources = {item["id"]: item for item in yaml.safe_load(
        (ROOT / "content" / "sources" / "sources.yaml").read_text(encoding="utf-8"))["sources"]}

    def letter(slug):
        return (ROOT / "content" / "sources" / sources[slug]["file"]).read_text(encoding="utf-8")

    yen_bai, tuyen_quang = letter("stttt-yen-bai-2021"), letter("cat-tuyen-quang-2021")
    assert len(services.TWELVE_KINDS) == 12 and len(services.COMMON_VIOLATIONS) == 3
    for _, _, quote in services.TWELVE_KINDS:
        assert f"- {quote}" in yen_bai, quote
    for number, (_, _, quote) in enumerate(services.COMMON_VIOLATIONS, start=1):
        assert f"⁽{'¹²³'[number - 1]}⁾ {quote}" in tuyen_quang, quote
    lesson = (ROOT / "content" / "lessons" / "03-thong-tin-vi-pham.md").read_text(encoding="utf-8")
    for number, (_, label, _) in enumerate(services.TWELVE_KINDS, start=1):
        assert f"**{number}. {label}**" in lesson, label


# -- filing ------------------------------------------------------------------------------------------

def test_a_report_keeps_the_evidence_byte_for_byte_with_a_receipt(client, auth, world, evidence_dir):
    first = jpeg_bytes(exif_text="Ghi chu trong anh goc")
    second = png_bytes()
    attached = pdf_bytes()
    auth.login(world["reporter"])
    before = datetime.now(timezone.utc)
    response = post_report(client, images=[("chup1.jpg", first), ("chup2.png", second)], pdf=("trang.pdf", attached))
    assert response.status_code == 302, response.get_data(as_text=True)
    report = db.session.scalar(select(ViolationReport))
    assert response.headers["Location"] == f"/vi-pham/bao-cao/{report.code}"
    assert [e.content_type for e in report.evidence] == ["image/jpeg", "image/png", "application/pdf"]
    for evidence, sent in zip(report.evidence, (first, second, attached)):
        stored = (evidence_dir / evidence.storage_key).read_bytes()
        assert stored == sent and evidence.sha256 == hashlib.sha256(sent).hexdigest() == hashlib.sha256(stored).hexdigest()
        assert evidence.size == len(sent) and evidence.received_at >= before - timedelta(seconds=1)
    # The preview is a separate re-encoding without the original's metadata; the original keeps it.
    preview = (evidence_dir / report.evidence[0].preview_key).read_bytes()
    assert b"Ghi chu trong anh goc" in first and b"Ghi chu trong anh goc" not in preview
    assert Image.open(io.BytesIO(preview)).getexif() == {}
    assert report.evidence[2].preview_key is None

    page = client.get(response.headers["Location"]).get_data(as_text=True)
    for evidence in report.evidence:
        assert evidence.sha256 in page
    download = client.get(f"/vi-pham/chung-cu/{report.evidence[0].id}")
    assert download.status_code == 200 and download.data == first
    pdf = client.get(f"/vi-pham/bao-cao/{report.code}/bien-nhan.pdf")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert report.code in text and report.case.code in text
    for evidence in report.evidence:
        assert evidence.sha256 in text.replace("\n", "")


def test_the_same_url_in_the_province_joins_the_existing_case(client, auth, world, evidence_dir):
    first = file_one(world, evidence_dir, url="https://www.facebook.com/trang.gia.mao/posts/77/?utm_source=zalo")
    auth.login(world["other_learner"])  # another commune, same province
    response = post_report(client, images=[("x.png", png_bytes())], url="http://m.facebook.com/trang.gia.mao/posts/77#top")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert first.case.code in page and "đã được báo cáo trước đó" in page
    assert db.session.scalar(select(func.count()).select_from(ViolationCase)) == 1
    second = db.session.scalar(select(ViolationReport).where(ViolationReport.id != first.id))
    assert second.case_id == first.case_id and second.joined_existing


def test_normalised_urls():
    same = ["https://www.facebook.com/a/posts/1", "http://facebook.com/a/posts/1/", "https://m.facebook.com/a/posts/1?fbclid=x",
            "https://FACEBOOK.com/a/posts/1#comment"]
    assert len({services.normalise_url(url) for url in same}) == 1
    assert services.normalise_url("https://youtube.com/watch?v=abc") != services.normalise_url("https://youtube.com/watch?v=abd")
    assert services.normalise_url("https://youtube.com/watch?v=a&t=1") == services.normalise_url("https://youtube.com/watch?t=1&v=a")


@pytest.mark.parametrize("name,content,message", [
    ("anh.jpg", b"<html><script>alert(1)</script></html>", "không phải ảnh"),
    ("tai-lieu.png", None, "không phải ảnh"),  # a real PDF renamed .png, sent as an image
    ("trong.png", b"", "rỗng"),
    ("lon.png", None, "vượt mức"),
    ("bom.png", None, "quá lớn"),
    ("bom-lon.png", None, "quá lớn"),
    ("cut.jpg", None, "bị hỏng"),
    ("cut.png", None, "bị hỏng"),
])
def test_bad_uploads_are_refused_by_name_and_store_nothing(app, client, auth, world, evidence_dir, name, content, message):
    app.config["VIOLATION_MAX_FILE_BYTES"] = 200_000
    if name == "tai-lieu.png":
        content = pdf_bytes()
    elif name == "lon.png":
        content = png_bytes((300, 300), noise=True)
        assert len(content) > 200_000
    elif name == "bom.png":  # 48 megapixels of one colour: a few kilobytes that would decode to 48 MB
        image, out = Image.new("1", (8000, 6000)), io.BytesIO()
        image.save(out, format="PNG")
        content = out.getvalue()
    elif name == "bom-lon.png":  # beyond Pillow's own limit too (DecompressionBombError on open)
        image, out = Image.new("1", (20000, 20000)), io.BytesIO()
        image.save(out, format="PNG")
        content = out.getvalue()
    elif name == "cut.jpg":
        whole = jpeg_bytes((400, 300))
        content = whole[: len(whole) // 2]
    elif name == "cut.png":
        whole = png_bytes((200, 200), noise=True)
        content = whole[: len(whole) - 5000]
    auth.login(world["reporter"])
    response = post_report(client, images=[("tot.png", png_bytes()), (name, content)])
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Có lỗi cần sửa" in page and f"«{name}»" in page and message in page, page[:3000]
    assert nothing_stored(evidence_dir)


def test_a_pdf_field_takes_only_a_pdf_and_the_report_total_is_limited(app, client, auth, world, evidence_dir):
    auth.login(world["reporter"])
    response = post_report(client, images=[("a.png", png_bytes())], pdf=("gia.pdf", png_bytes()))
    assert response.status_code == 400 and "«gia.pdf» không phải tệp PDF" in response.get_data(as_text=True)
    truncated = pdf_bytes()[:-200]
    response = post_report(client, pdf=("cut.pdf", truncated))
    assert response.status_code == 400 and "«cut.pdf»" in response.get_data(as_text=True)
    app.config["VIOLATION_MAX_REPORT_BYTES"] = 150_000
    big = png_bytes((200, 200), noise=True)
    response = post_report(client, images=[("1.png", big), ("2.png", big)])
    assert response.status_code == 400 and "cho một báo cáo" in response.get_data(as_text=True)
    assert nothing_stored(evidence_dir)


def test_a_failed_commit_removes_the_files_it_wrote(app, world, evidence_dir):
    from app.models import Agency
    from app.violations.evidence import EvidenceStore

    store = EvidenceStore(evidence_dir)
    checked = check_uploads([("a.png", png_bytes())], [], Limits(4_000_000, 9_000_000, 10, 40_000_000))
    written = []
    filing = services.Filing("https://zalo.me/g/abc", "zalo", "me-tin", datetime.now(timezone.utc), "Mô tả.")
    services.file_report(db.session, world["reporter"], filing, checked, store, written)
    assert len(stored_files(evidence_dir)) == 2  # original and preview, written inside the transaction
    # Something else in the same transaction breaks a constraint of the database: the commit fails.
    db.session.add(Agency(code="X-BROKEN", name="Hỏng", kind="galaxy", path="/x/"))
    with pytest.raises(Exception, match="CHECK|check"):
        services.commit_or_remove(db.session, store, written)
    assert nothing_stored(evidence_dir)


def test_form_errors_are_summarised_and_named(client, auth, world, evidence_dir):
    auth.login(world["reporter"])
    response = post_report(client, url="facebook.com/abc", platform="", kind="khong-co", description="",
                           seen_at="2099-01-01T10:00")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "<title>Lỗi:" in page and "Có lỗi cần sửa" in page
    for text in ("Đường link phải bắt đầu", "Hãy chọn nền tảng", "Lựa chọn không hợp lệ", "Hãy mô tả",
                 "không thể ở tương lai"):
        assert text in page, text
    assert 'aria-invalid="true"' in page and 'href="#url"' in page
    assert nothing_stored(evidence_dir)


def test_the_form_offers_the_camera_roll_and_every_kind(client, auth, world):
    auth.login(world["reporter"])
    page = client.get("/vi-pham/bao-cao").get_data(as_text=True)
    assert re.search(r'<input[^>]*accept="image/\*"[^>]*multiple|<input[^>]*multiple[^>]*accept="image/\*"', page)
    assert 'enctype="multipart/form-data"' in page
    for key, label in services.KIND_LABELS.items():
        assert f'value="{key}"' in page and label in page


# -- routing, scope, statuses --------------------------------------------------------------------------

def test_a_report_goes_to_the_nearest_officer_up_the_tree(world, evidence_dir):
    report = file_one(world, evidence_dir)
    assert report.case.officer_agency_id == world["a"].id  # a1 has no officer; its commune has
    db.session.execute(MonitoringOfficer.__table__.delete().where(MonitoringOfficer.agency_id == world["a"].id))
    db.session.commit()
    other = file_one(world, evidence_dir, url="https://tiktok.com/@x/video/1")
    assert other.case.officer_agency_id == world["province"].id


def _case_urls(report):
    case_id, evidence_id = report.case_id, report.evidence[0].id
    return {
        "get": [f"/vi-pham/xu-ly/{case_id}", f"/vi-pham/xu-ly/{case_id}/goi-chung-cu.zip",
                f"/vi-pham/chung-cu/{evidence_id}", f"/vi-pham/chung-cu/{evidence_id}/xem-truoc",
                f"/vi-pham/bao-cao/{report.code}", f"/vi-pham/bao-cao/{report.code}/bien-nhan.pdf"],
        "post": [f"/vi-pham/xu-ly/{case_id}/trang-thai", f"/vi-pham/xu-ly/{case_id}/chuyen"],
    }


@pytest.mark.parametrize("who", ["officer_b", "other_learner", "head_a", "head_b", "trainer"])
def test_nobody_outside_the_subtree_sees_changes_or_downloads_a_case(client, auth, world, evidence_dir, who, smtp_server):
    report = file_one(world, evidence_dir)
    urls = _case_urls(report)
    auth.login(world[who])
    token = csrf_token(client, "/vi-pham/bao-cao")
    for url in urls["get"]:
        assert client.get(url).status_code in (403, 404), (who, url)
    for url in urls["post"]:
        response = client.post(url, data={"csrf_token": token, "status": "resolved", "note": "x", "contact": 1})
        assert response.status_code in (403, 404), (who, url)
    db.session.expire_all()
    assert db.session.get(ViolationCase, report.case_id).status == "new"
    assert smtp_server.messages == []
    if who == "officer_b":  # an officer sees nothing of another commune in the queue either
        assert report.case.code not in client.get("/vi-pham/xu-ly").get_data(as_text=True)


@pytest.mark.parametrize("who", ["officer_a", "officer_province", "admin"])
def test_handlers_of_the_subtree_see_the_case_and_the_reporter(client, auth, world, evidence_dir, who):
    report = file_one(world, evidence_dir)
    auth.login(world[who])
    for url in _case_urls(report)["get"]:
        assert client.get(url).status_code == 200, (who, url)
    page = client.get(f"/vi-pham/xu-ly/{report.case_id}").get_data(as_text=True)
    assert "Lò Văn Báo" in page and report.case.code in client.get("/vi-pham/xu-ly").get_data(as_text=True)


def test_the_reporter_sees_their_report_but_not_the_handling(client, auth, world, evidence_dir):
    report = file_one(world, evidence_dir)
    auth.login(world["reporter"])
    assert client.get(f"/vi-pham/bao-cao/{report.code}").status_code == 200
    assert client.get(f"/vi-pham/xu-ly/{report.case_id}").status_code == 403
    assert report.code in client.get("/vi-pham/cua-toi").get_data(as_text=True)


def test_status_changes_need_a_note_and_the_reporter_sees_only_their_notes(client, auth, world, evidence_dir):
    report = file_one(world, evidence_dir)
    auth.login(world["officer_a"])
    url = f"/vi-pham/xu-ly/{report.case_id}/trang-thai"
    token = csrf_token(client, f"/vi-pham/xu-ly/{report.case_id}")
    client.post(url, data={"csrf_token": token, "status": "verifying", "note": ""})
    db.session.expire_all()
    assert db.session.get(ViolationCase, report.case_id).status == "new"
    client.post(url, data={"csrf_token": token, "status": "verifying", "note": "Ghi chú nội bộ bí mật",
                           "reporter_note": "Đang xác minh, cảm ơn anh."})
    client.post(url, data={"csrf_token": token, "status": "new", "note": "quay lại"})  # not allowed
    client.post(url, data={"csrf_token": token, "status": "resolved", "note": "Đã gỡ bài",
                           "reporter_note": "Bài đã được gỡ."})
    db.session.expire_all()
    case = db.session.get(ViolationCase, report.case_id)
    assert case.status == "resolved" and case.closed_at is not None and case.first_action_at is not None
    events = [e for e in case.events if e.kind == "status"]
    assert [(e.from_status, e.to_status, e.actor_id) for e in events] == [
        ("new", "verifying", world["officer_a"].id), ("verifying", "resolved", world["officer_a"].id)]
    auth.logout()
    auth.login(world["reporter"])
    page = client.get(f"/vi-pham/bao-cao/{report.code}").get_data(as_text=True)
    assert "Đang xác minh, cảm ơn anh." in page and "Bài đã được gỡ." in page and "Đã xử lý" in page
    assert "Ghi chú nội bộ bí mật" not in page


# -- forwarding -------------------------------------------------------------------------------------------

def test_forwarding_mails_the_package_and_the_manifest_matches(client, auth, world, evidence_dir, smtp_server):
    shots = [("man-hinh-1.jpg", jpeg_bytes()), ("man-hinh-2.png", png_bytes())]
    report = file_one(world, evidence_dir, images=shots)
    report.withhold_name = True
    db.session.commit()
    auth.login(world["officer_a"])
    token = csrf_token(client, f"/vi-pham/xu-ly/{report.case_id}")
    contact = db.session.scalar(select(ViolationContact))
    response = client.post(f"/vi-pham/xu-ly/{report.case_id}/chuyen",
                           data={"csrf_token": token, "contact": contact.id, "note": "Đề nghị xác minh."})
    assert response.status_code == 302
    [message] = smtp_server.to("thanhtra@so.example.vn")
    assert report.case.code in message["Subject"]
    [attachment] = [part for part in message.iter_attachments()]
    assert attachment.get_filename() == f"{report.case.code}.zip"
    package = attachment.get_content()
    archive = zipfile.ZipFile(io.BytesIO(package))
    sums = dict(reversed(line.split("  ", 1)) for line in archive.read("SHA256SUMS").decode().splitlines())
    assert len(sums) == 2
    for (name, sent), path in zip(shots, sorted(sums)):
        assert archive.read(path) == sent
        assert sums[path] == hashlib.sha256(archive.read(path)).hexdigest() == hashlib.sha256(sent).hexdigest()
    summary = "".join(p.extract_text() for p in PdfReader(io.BytesIO(archive.read("tom-tat.pdf"))).pages)
    assert "Lò Văn Báo" not in summary and "không chuyển danh tính" in summary
    db.session.expire_all()
    case = db.session.get(ViolationCase, report.case_id)
    [event] = [e for e in case.events if e.kind == "forwarded"]
    assert event.package_sha256 == hashlib.sha256(package).hexdigest() and event.names_withheld
    assert "thanhtra@so.example.vn" in event.forwarded_to and case.status == "referred"


def test_forwarding_names_the_reporter_unless_withheld(world, evidence_dir, smtp_server, app):
    from app.reminders.mail import SmtpMailer
    from app.violations.evidence import EvidenceStore

    report = file_one(world, evidence_dir)
    contact = db.session.scalar(select(ViolationContact))
    for withhold in (False, True):
        services.forward_case(db.session, report.case, world["officer_a"], contact, withhold_names=withhold, note="",
                              mailer=SmtpMailer(app.config), store=EvidenceStore(evidence_dir), base_url="")
        db.session.commit()
    first, second = smtp_server.messages
    texts = []
    for message in (first, second):
        archive = zipfile.ZipFile(io.BytesIO(next(message.iter_attachments()).get_content()))
        texts.append("".join(p.extract_text() for p in PdfReader(io.BytesIO(archive.read("tom-tat.pdf"))).pages))
    assert "Lò Văn Báo" in texts[0] and "Lò Văn Báo" not in texts[1]


# -- time limits ---------------------------------------------------------------------------------------------

def test_working_days():
    monday = datetime(2026, 12, 7, 3, tzinfo=timezone.utc)
    assert services.working_days_between(monday, monday + timedelta(days=1)) == 1
    assert services.working_days_between(monday + timedelta(days=4), monday + timedelta(days=7)) == 1  # Fri → Mon
    assert services.working_days_between(monday, monday + timedelta(days=14)) == 10


def test_late_cases_reach_the_officer_then_the_head(world, evidence_dir):
    monday = datetime(2026, 11, 2, 3, tzinfo=timezone.utc)
    report = file_one(world, evidence_dir, when=monday)
    digests = {d.user_id: d for d in services.late_cases(db.session, monday + timedelta(days=2), 2, 5)}
    assert set(digests) == {world["officer_a"].id}
    digests = {d.user_id: d for d in services.late_cases(db.session, monday + timedelta(days=7), 2, 5)}
    assert set(digests) == {world["officer_a"].id, world["head_a"].id}
    assert digests[world["head_a"].id].escalated[0].code == report.case.code
    services.change_status(db.session, report.case, world["officer_a"], "verifying", "Đang xem.", "")
    db.session.commit()
    assert services.late_cases(db.session, monday + timedelta(days=7), 2, 5) == []


def test_the_reminders_command_sends_the_violation_digests_once_a_day(app, runner, world, evidence_dir, smtp_server):
    file_one(world, evidence_dir, when=datetime.now(timezone.utc) - timedelta(days=15))
    result = runner.invoke(args=["reminders", "send"])
    assert result.exit_code == 0, result.output
    [message] = smtp_server.to(world["officer_a"].email)
    assert "báo cáo vi phạm" in message["Subject"]
    assert smtp_server.to(world["head_a"].email)
    sent = len(smtp_server.messages)
    runner.invoke(args=["reminders", "send"])
    assert len(smtp_server.messages) == sent


# -- dashboard and exports -----------------------------------------------------------------------------------

def _many(world, evidence_dir, count):
    for number in range(count):
        report = file_one(world, evidence_dir, url=f"https://zalo.me/bai/{number}-{os.urandom(3).hex()}",
                          reporter=world["reporter" if number % 2 else "other_learner"])
        if number % 3 == 0:
            services.change_status(db.session, report.case, db.session.merge(world["admin"]), "resolved", "Xong.", "")
    db.session.commit()


@pytest.mark.parametrize("path", ["", "/bao-cao.pdf", "/bao-cao.xlsx"])
def test_the_dashboard_and_exports_read_in_constant_statements(client, auth, world, evidence_dir, count_queries, path):
    auth.login(world["head_province"])
    url = f"/vi-pham/tong-hop/{world['province'].id}{path}"
    counts = []
    for size in (3, 12):
        _many(world, evidence_dir, size)
        with count_queries() as counter:
            assert client.get(url).status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


def test_the_dashboard_counts_the_subtree_only(client, auth, world, evidence_dir):
    file_one(world, evidence_dir)  # filed in commune A
    file_one(world, evidence_dir, url="https://youtube.com/watch?v=zz", reporter=world["other_learner"])
    report = services.dashboard(db.session, world["a"])
    assert report.total == 1 and dict(report.by_status)["new"] == 1 and report.by_platform == [("facebook", 1)]
    assert services.dashboard(db.session, world["province"]).total == 2
    auth.login(world["head_b"])
    assert client.get(f"/vi-pham/tong-hop/{world['a'].id}").status_code == 404
    assert client.get(f"/vi-pham/tong-hop/{world['a'].id}/bao-cao.pdf").status_code == 404


def test_the_upward_report_pdf_and_xlsx(client, auth, world, evidence_dir):
    from openpyxl import load_workbook

    report = file_one(world, evidence_dir)
    services.change_status(db.session, report.case, world["officer_a"], "resolved", "Đã gỡ.", "")
    db.session.commit()
    auth.login(world["head_province"])
    pdf = client.get(f"/vi-pham/tong-hop/{world['province'].id}/bao-cao.pdf")
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages).split())
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text and "phát hiện, xử lý thông tin vi phạm" in text
    assert "tiếp nhận 1 vụ việc" in text and "1 vụ việc đã xử lý" in text
    xlsx = client.get(f"/vi-pham/tong-hop/{world['province'].id}/bao-cao.xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.data))["Vụ việc"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][1] == report.case.code and rows[1][5] == "Đã xử lý" and len(rows) == 2


# -- administration -------------------------------------------------------------------------------------------

def test_the_administrator_sets_officers_and_contacts(client, auth, world):
    auth.login(world["admin"])
    token = csrf_token(client, "/vi-pham/quan-tri")
    response = client.post("/vi-pham/quan-tri", data={"officer-csrf_token": token, "officer-agency_id": world["b1"].id,
                                                      "officer-username": world["other_learner"].username,
                                                      "officer-submit": "1"})
    assert response.status_code == 302
    assert db.session.scalar(select(MonitoringOfficer).where(MonitoringOfficer.agency_id == world["b1"].id))
    response = client.post("/vi-pham/quan-tri", data={"officer-csrf_token": token, "officer-agency_id": world["b1"].id,
                                                      "officer-username": "khong-co-ai", "officer-submit": "1"})
    assert response.status_code == 400 and "Không có tài khoản «khong-co-ai»" in response.get_data(as_text=True)
    response = client.post("/vi-pham/quan-tri", data={"contact-csrf_token": token, "contact-agency_id": world["province"].id,
                                                      "contact-kind": "police", "contact-name": "Công an tỉnh (giả định)",
                                                      "contact-email": "pa05@congan.example.vn", "contact-submit": "1"})
    assert response.status_code == 302
    assert db.session.scalar(select(ViolationContact).where(ViolationContact.kind == "police")).email == "pa05@congan.example.vn"


def test_evidence_checks_directly():
    limits = Limits(1000, 2000, 2, 1000)
    with pytest.raises(EvidenceError, match="tối đa 2 tệp"):
        check_uploads([("a", b"1"), ("b", b"2"), ("c", b"3")], [], limits)
    with pytest.raises(EvidenceError, match="quá lớn"):
        check_uploads([("big.png", png_bytes((40, 30)))], [], limits)  # 1,200 pixels > 1,000


# -- property test: whatever is typed into the form ---------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

typed = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300) | st.sampled_from(
    ["", "https://", "https://facebook.com", "javascript:alert(1)", "https://x.vn/" + "a" * 2100, "ắằẳẵặ" * 500,
     "\x00", "https://zalo.me/g/abc?utm_source=x"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(url=typed, platform=typed | st.sampled_from([key for key, _ in services.PLATFORMS]),
       kind=typed | st.sampled_from(list(services.KIND_LABELS)), description=typed,
       seen_at=typed | st.sampled_from(["2026-12-01T08:30", "2026-13-01T08:30", "1900-01-01T00:00"]))
def test_any_input_to_the_form_is_stored_as_typed_or_refused_with_nothing_stored(
        client, auth, world, evidence_dir, url, platform, kind, description, seen_at):
    if not world.get("signed_in"):  # the fixtures live through every example: sign in once (rate limits)
        auth.login(world["reporter"])
        world["signed_in"] = True
    before = db.session.scalar(select(func.count()).select_from(ViolationReport))
    response = post_report(client, images=[("a.png", png_bytes())], url=url, platform=platform, kind=kind,
                           description=description, seen_at=seen_at)
    after = db.session.scalar(select(func.count()).select_from(ViolationReport))
    if response.status_code == 302:
        report = db.session.scalar(select(ViolationReport).order_by(ViolationReport.id.desc()))
        assert after == before + 1
        assert (report.url, report.platform, report.kind, report.description) == (
            url.strip(), platform, kind, description.strip())
        assert services.is_web_url(url) and platform in services.PLATFORM_LABELS and kind in services.KIND_LABELS
    else:
        assert response.status_code == 400
        # A NUL character is refused for the whole app before any form is read (app/security.py).
        nul = any("\x00" in value for value in (url, platform, kind, description, seen_at))
        assert nul or "Có lỗi cần sửa" in response.get_data(as_text=True)
        assert after == before


# -- back into training ----------------------------------------------------------------------------------------

def test_the_anonymiser_replaces_names_handles_phones_links_and_places():
    from app.violations.scenarios import Anonymiser

    anonymise = Anonymiser()
    text = anonymise("Tài khoản @hoa.ban.tin của chị Lò Thị Hoa (0912 345 678, hoa@mail.example.vn) ở xã Nà Khương "
                     "đăng https://facebook.com/hoa/posts/9 nói ông Triệu Văn Sềnh nhận tiền.", ["Lò Thị Hoa"])
    for real in ("@hoa.ban.tin", "Lò Thị Hoa", "0912 345 678", "hoa@mail.example.vn", "Nà Khương",
                 "facebook.com", "Triệu Văn Sềnh"):
        assert real not in text, (real, text)
    for label in ("⟦TÀI KHOẢN 1⟧", "⟦TÊN 1⟧", "⟦SỐ ĐIỆN THOẠI 1⟧", "⟦EMAIL 1⟧", "⟦ĐỊA DANH 1⟧", "⟦ĐƯỜNG LINK 1⟧", "⟦TÊN 2⟧"):
        assert label in text, (label, text)


def test_a_trainer_turns_a_closed_case_into_a_draft_that_cannot_be_published_as_is(client, auth, world, evidence_dir):
    from app.authoring.services import check_question
    from app.models import ContentDraft

    report = file_one(world, evidence_dir)
    report.description = "Trang @ubnd.gia.mao của Hà Văn Khởi gọi 0987 654 321 ở thôn Khuổi Hẩu thu tiền."
    db.session.commit()
    auth.login(world["trainer"])
    token = csrf_token(client, "/vi-pham/tinh-huong")
    assert client.post(f"/vi-pham/tinh-huong/{report.case_id}", data={"csrf_token": token}).status_code == 404  # open
    services.change_status(db.session, db.session.get(ViolationCase, report.case_id), db.session.merge(world["officer_a"]),
                           "resolved", "Đã gỡ.", "")
    db.session.commit()
    assert report.case.code in client.get("/vi-pham/tinh-huong").get_data(as_text=True)
    response = client.post(f"/vi-pham/tinh-huong/{report.case_id}", data={"csrf_token": token})
    assert response.status_code == 302 and "/author/questions/q-vp-" in response.headers["Location"]
    draft = db.session.scalar(select(ContentDraft))
    text = draft.data["scenario"]["text"]
    for real in ("@ubnd.gia.mao", "Hà Văn Khởi", "0987 654 321", "Khuổi Hẩu", "Lò Văn Báo"):
        assert real not in str(draft.data), real
    assert "⟦" in text

    _, errors = check_question(db.session, draft.data, draft.slug)
    assert any("còn chỗ cần điền" in str(error) for error in errors)
    # Filled in, but with a real detail put back and a phone number: still refused.
    entry = dict(draft.data)
    entry["scenario"] = dict(entry["scenario"], author="Hà Văn Khởi",
                             text="Trang giả mạo xã Hòa Bình (giả định) gọi 0911 222 333 để thu tiền.")
    _, errors = check_question(db.session, entry, draft.slug)
    messages = " ".join(str(error) for error in errors)
    assert "chi tiết thật «Hà Văn Khởi»" in messages and "số điện thoại" in messages
    # All invented: none of these refusals remain.
    entry["scenario"] = dict(entry["scenario"], author="Trang Thông Báo Xã Hòa Bình (giả định)",
                             text="Trang giả mạo xã Hòa Bình (giả định) kêu gọi nộp tiền làm hồ sơ.")
    entry.update(prompt="Bài đăng này thuộc loại nào?", explanation="Giả mạo trang của cơ quan.",
                 choices=[{"key": "a", "text": "Giả mạo trang", "correct": True}, {"key": "b", "text": "Không vi phạm"}],
                 citations=[dict(entry["citations"][0], location="mục 1, ý thứ chín")])
    _, errors = check_question(db.session, entry, draft.slug)
    messages = " ".join(str(error) for error in errors)
    assert "⟦" not in messages and "chi tiết thật" not in messages and "số điện thoại" not in messages, messages


@pytest.mark.parametrize("who,url", [("officer_province", "/vi-pham/xu-ly"), ("reporter", "/vi-pham/cua-toi"),
                                     ("trainer", "/vi-pham/tinh-huong")])
def test_the_lists_read_in_constant_statements(client, auth, world, evidence_dir, count_queries, who, url):
    auth.login(world[who])
    counts = []
    for size in (2, 8):
        for number in range(size):
            report = file_one(world, evidence_dir, url=f"https://tiktok.com/@x/video/{size}-{number}")
            if number % 2:
                services.change_status(db.session, report.case, db.session.merge(world["admin"]), "resolved", "Xong.", "")
        db.session.commit()
        with count_queries() as counter:
            assert client.get(url).status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], counts
