"""Each person's own data: the privacy notice, "Dữ liệu của tôi" (page, JSON, PDF), corrections,
the access trace, retention and `flask privacy purge`."""
import io
import json
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AttemptQuestion, CourseCompletion, ReminderMessage, ReminderRun, User, utcnow
from app.privacy.models import AccessLog, CorrectionRequest
from support import complete_fixture_course, csrf_token


# -- the notice ------------------------------------------------------------------------------------

def test_the_notice_is_shown_at_first_sign_in_until_read_and_linked_from_every_page(client, auth, make_user):
    user = make_user()
    assert "/privacy/notice" in client.get("/auth/login").get_data(as_text=True)  # the footer, signed out too
    auth.login(user)
    page = client.get("/").get_data(as_text=True)
    assert "privacy-banner" in page and "Tôi đã đọc" in page
    notice = client.get("/privacy/notice").get_data(as_text=True)
    assert "91/2025/QH15" in notice and "01/01/2026" in notice
    token = csrf_token(client, "/")
    assert client.post("/privacy/notice/read", data={"csrf_token": token}).status_code == 302
    assert db.session.get(User, user.id).privacy_notice_seen_at is not None
    page = client.get("/").get_data(as_text=True)
    assert "privacy-banner" not in page and "/privacy/notice" in page


def test_the_administrator_edits_the_notice_sanitised_and_may_ask_everyone_again(client, auth, make_user):
    learner, admin = make_user(), make_user(role="admin")
    learner.privacy_notice_seen_at = admin.privacy_notice_seen_at = utcnow()
    db.session.commit()
    auth.login(admin)
    token = csrf_token(client, "/privacy/admin")
    body = "## Thông báo của Sở Mẫu\n\nDữ liệu lưu 3 năm.<script>alert(1)</script>"
    assert client.post("/privacy/admin/notice", data={"body": body, "ask_again": "y",
                                                      "csrf_token": token}).status_code == 302
    shown = client.get("/privacy/notice").get_data(as_text=True)
    assert "Thông báo của Sở Mẫu" in shown and "<script>alert" not in shown
    assert db.session.scalar(select(func.count(User.id)).where(User.privacy_notice_seen_at.is_(None))) == 2
    empty = client.post("/privacy/admin/notice", data={"body": "", "csrf_token": token})
    assert empty.status_code == 400 and "Có lỗi cần sửa" in empty.get_data(as_text=True)


@pytest.mark.parametrize("url", ["/privacy/admin", "/privacy/admin/corrections", "/privacy/admin/access"])
def test_the_administrators_pages_are_for_administrators(client, auth, make_user, url):
    auth.login(make_user(role="manager"))
    assert client.get(url).status_code == 403
    token = csrf_token(client, "/privacy/my-data")
    for action in ("/privacy/admin/notice", "/privacy/admin/retention"):
        assert client.post(action, data={"csrf_token": token, "body": "x"}).status_code == 403


# -- my data and the access trace -------------------------------------------------------------------

def test_a_learner_downloads_their_data_and_sees_their_manager_looked(client, auth, make_agency, make_user,
                                                                      fixture_course):
    from pypdf import PdfReader

    agency = make_agency(name="Xã Hòa Mẫu")
    learner = make_user(agency=agency, full_name="Đỗ Thị Hoa")
    manager = make_user(role="manager", agency=agency, full_name="Lý Văn Quản")
    stranger = make_user(full_name="Người Ngoài")
    complete_fixture_course(learner, fixture_course)
    auth.login(manager)
    assert client.get(f"/manage/people/{learner.id}").status_code == 200
    assert client.get(f"/manage/agencies/{agency.id}/export.csv").status_code == 200
    auth.logout()
    auth.login(learner)
    page = client.get("/privacy/my-data")
    html = page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    assert "Lý Văn Quản" in html and "Xem hồ sơ học tập" in html.replace("xem hồ sơ", "Xem hồ sơ")
    assert "Người Ngoài" not in html
    data = json.loads(client.get("/privacy/my-data.json").data)
    assert data["account"]["full_name"] == "Đỗ Thị Hoa"
    assert {a["action"] for a in data["accesses"]} == {"Xem hồ sơ học tập", "Xuất danh sách"}
    assert all("Lý Văn Quản" in a["by"] for a in data["accesses"])
    completion, = data["completions"]
    assert completion["commitment_ip"] == "127.0.0.1" and completion["commitment_user_agent"] == "test"
    assert data["attempts"] and all(item["answer"] for item in data["attempts"][0]["answers"])
    assert data["lessons"] and all(lesson["completed_at"] for lesson in data["lessons"])
    assert "correct_keys" not in json.dumps(data) and "explanation" not in json.dumps(data)
    pdf = client.get("/privacy/my-data.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.headers["Cache-Control"] == "no-store"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "Đỗ Thị Hoa" in text and "Lý Văn Quản" in text and "Trình duyệt" in text
    # someone elsewhere is not told about this export, nor about the manager's view
    auth.logout()
    auth.login(stranger)
    assert json.loads(client.get("/privacy/my-data.json").data)["accesses"] == []


def test_a_learner_looking_at_their_own_record_leaves_no_trace(client, auth, make_user, fixture_course):
    manager = make_user(role="manager")
    auth.login(manager)
    client.get(f"/manage/people/{manager.id}")
    assert db.session.scalar(select(func.count(AccessLog.id))) == 0


def test_the_administrator_filters_the_trace(client, auth, make_agency, make_user, fixture_course):
    agency = make_agency()
    one, two = make_user(agency=agency), make_user(agency=agency)
    manager, admin = make_user(role="manager", agency=agency), make_user(role="admin")
    auth.login(manager)
    client.get(f"/manage/people/{one.id}")
    client.get(f"/manage/people/{two.id}")
    auth.logout()
    auth.login(admin)
    html = client.get(f"/privacy/admin/access?subject={two.username}").get_data(as_text=True)
    assert two.username in html and f"({one.username})" not in html
    html = client.get(f"/privacy/admin/access?viewer={admin.username}").get_data(as_text=True)
    assert "Không có bản ghi nào" in html


def test_my_data_and_the_trace_take_a_fixed_number_of_queries(client, auth, make_agency, make_user,
                                                              fixture_course, count_queries):
    agency = make_agency()
    agency_id = agency.id
    learner, manager, admin = make_user(agency=agency), make_user(role="manager", agency=agency), make_user(role="admin")
    learner_id, learner, manager, admin = learner.id, learner.username, manager.username, admin.username

    def grow(times):
        auth.login(manager)
        for _ in range(times):
            client.get(f"/manage/people/{learner_id}")
            client.get(f"/manage/agencies/{agency_id}/export.csv")
        client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/")})

    counts = []
    for times in (1, 6):
        grow(times)
        for who, url in ((learner, "/privacy/my-data"), (learner, "/privacy/my-data.json"),
                         (admin, "/privacy/admin/access")):
            auth.login(who)
            with count_queries() as counter:
                assert client.get(url).status_code == 200
            counts.append(counter.count)
            client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/")})
    assert counts[:3] == counts[3:], counts


# -- corrections -----------------------------------------------------------------------------------

def test_a_correction_request_reaches_the_administrators_with_a_status(client, auth, make_user):
    learner, admin = make_user(full_name="Vũ Văn Sai"), make_user(role="admin")
    auth.login(learner)
    token = csrf_token(client, "/privacy/my-data")
    empty = client.post("/privacy/corrections", data={"body": "", "csrf_token": token})
    assert empty.status_code == 400 and "Vui lòng ghi rõ" in empty.get_data(as_text=True)
    assert client.post("/privacy/corrections", data={"body": "Họ tên đúng là Vũ Văn Sáu",
                                                     "csrf_token": token}).status_code == 302
    auth.logout()
    auth.login(admin)
    html = client.get("/privacy/admin/corrections").get_data(as_text=True)
    assert "Vũ Văn Sáu" in html and "Đang chờ xử lý" in html
    request_id = db.session.scalar(select(CorrectionRequest.id))
    token = csrf_token(client, "/privacy/admin/corrections")
    client.post(f"/privacy/admin/corrections/{request_id}", data={"status": "done", "response": "Đã sửa họ tên.",
                                                                  "csrf_token": token})
    correction = db.session.get(CorrectionRequest, request_id)
    assert correction.status == "done" and correction.handled_by_id == admin.id
    auth.logout()
    auth.login(learner)
    html = client.get("/privacy/my-data").get_data(as_text=True)
    assert "Đã sửa" in html and "Đã sửa họ tên." in html


# -- retention and purge ---------------------------------------------------------------------------

def _old_data(learner, course):
    long_ago = utcnow() - timedelta(days=5 * 366)
    completion = complete_fixture_course(learner, course, when=long_ago)
    run = ReminderRun(started_at=long_ago)
    db.session.add(run)
    db.session.flush()
    db.session.add(ReminderMessage(run_id=run.id, kind="learner", user_id=learner.id, course_id=course.id,
                                   sent_on=date(2021, 1, 4), sent_at=long_ago, email=learner.email, subject="Nhắc"))
    db.session.commit()
    return completion


def test_purge_dry_run_changes_nothing_then_purge_de_identifies_in_one_go(runner, make_user, fixture_course):
    learner = make_user()
    completion = _old_data(learner, fixture_course)
    recent = make_user()
    complete_fixture_course(recent, fixture_course)
    answered = select(func.count(AttemptQuestion.id)).where(AttemptQuestion.answer.is_not(None))
    before = db.session.scalar(answered)
    result = runner.invoke(args=["privacy", "purge", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Sẽ xử lý" in result.output
    assert db.session.scalar(answered) == before
    result = runner.invoke(args=["privacy", "purge"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    kept = db.session.get(CourseCompletion, completion.id)
    assert kept is not None and kept.certificate_code == completion.certificate_code  # the official record
    assert kept.commitment_ip == "" and kept.commitment_user_agent == ""
    assert db.session.scalar(select(func.count(ReminderMessage.id))) == 0
    # the old learner's answers are gone, the recent learner's stay
    assert 0 < db.session.scalar(answered) < before
    recent_completion = db.session.scalar(select(CourseCompletion).where(CourseCompletion.user_id == recent.id))
    assert recent_completion.commitment_ip == "127.0.0.1"
    again = runner.invoke(args=["privacy", "purge"])
    assert "Đã xử lý 0 bản ghi" in again.output


def test_retention_settings_are_validated_and_used(client, auth, runner, make_user, fixture_course):
    admin = make_user(role="admin")
    recent = make_user()
    complete_fixture_course(recent, fixture_course, when=utcnow() - timedelta(days=100))
    auth.login(admin)
    token = csrf_token(client, "/privacy/admin")
    months = {"answers": 36, "commitment_network": 1, "reminders": 24, "access_log": 24, "account_links": 12,
              "corrections": 36}
    bad = client.post("/privacy/admin/retention", data={**months, "answers": 0, "csrf_token": token})
    assert bad.status_code == 400 and "từ 1 đến 1.200" in bad.get_data(as_text=True)
    assert client.post("/privacy/admin/retention", data={**months, "csrf_token": token}).status_code == 302
    runner.invoke(args=["privacy", "purge"])
    db.session.expire_all()
    assert db.session.scalar(select(CourseCompletion.commitment_ip).where(CourseCompletion.user_id == recent.id)) == ""
