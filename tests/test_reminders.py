"""`flask reminders send`: learners near or past their due date, digests with escalation, once a day,
through a real SMTP server on loopback."""
import re
import socket
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditLog, ReminderMessage, ReminderRun, utcnow
from app.reminders.mail import SmtpMailer
from app.reminders.services import Settings, plan_reminders, send_reminders
from app.tracking.services import create_assignment
from support import complete_fixture_course, csrf_token


@pytest.fixture
def world(make_agency_tree, make_user, fixture_course):
    """root ⊃ a ⊃ a1, a2 and root ⊃ b ⊃ b1, b2; heads of root, b and b1; five learners."""
    root, a, b, a1, a2, b1, b2 = make_agency_tree(depth=3, width=2)
    now = utcnow()

    def assign(agency, due_in_days):
        create_assignment(db.session, course=fixture_course, agency=agency, starts_at=now - timedelta(days=30),
                          due_at=now + timedelta(days=due_in_days))

    assign(root, 20)
    assign(a1, 2)    # due soon
    assign(a2, -3)   # overdue three days: not escalated yet
    assign(b, -10)   # overdue ten days: escalated to the next head up
    people = {
        "far": make_user(agency=root, full_name="Cao Văn Xa"),
        "soon": make_user(agency=a1, full_name="Lê Thị Sắp"),
        "recent": make_user(agency=a2, full_name="Phan Văn Mới"),
        "late": make_user(agency=b1, full_name="Trương Thị Trễ"),
        "done": make_user(agency=b2, full_name="Đỗ Văn Xong"),
        "head_root": make_user(role="manager", agency=root, full_name="Giám Đốc Tỉnh"),
        "head_b": make_user(role="manager", agency=b, full_name="Trưởng Sở B"),
        "head_b1": make_user(role="manager", agency=b1, full_name="Trưởng Phòng B1"),
    }
    complete_fixture_course(people["done"], fixture_course)
    for head in ("head_root", "head_b", "head_b1"):  # heads have learnt the course themselves
        complete_fixture_course(people[head], fixture_course)
    db.session.commit()
    return people


def _send(app, now=None):
    now = now or utcnow()
    settings = Settings.from_config(app.config)
    plan = plan_reminders(db.session, settings, now)
    return send_reminders(db.session, SmtpMailer(app.config), plan, now=now)


def _body(message) -> str:
    return message.get_content()


def test_learners_near_or_past_their_due_date_are_emailed(app, smtp_server, world):
    run = _send(app)
    assert run.error == "" and run.failures == 0
    learners = {message["To"] for message in smtp_server.messages if "Tổng hợp" not in message["Subject"]}
    assert learners == {world[name].email for name in ("soon", "recent", "late")}
    soon = smtp_server.to(world["soon"].email)[0]
    assert "Sắp đến hạn" in soon["Subject"] and "Lê Thị Sắp" in _body(soon)
    assert "https://hoc.example.vn/" in _body(soon)
    assert "Quá hạn" in smtp_server.to(world["late"].email)[0]["Subject"]
    assert run.learner_emails == 3


def test_digests_escalate_a_week_overdue_to_the_next_head_up(app, smtp_server, world):
    _send(app)
    digest_b1 = _body(smtp_server.to(world["head_b1"].email)[0])
    digest_b = _body(smtp_server.to(world["head_b"].email)[0])
    digest_root = _body(smtp_server.to(world["head_root"].email)[0])
    # The person's own head sees them as directly theirs.
    assert "Trương Thị Trễ" in digest_b1.split("trực tiếp quản lý")[1]
    # Ten days overdue: the next head up sees them too, in the escalation section.
    assert "Trương Thị Trễ" in digest_b.split("Quá hạn hơn 7 ngày")[1]
    # Two levels up is not "the next head"; three days overdue is not escalated at all.
    assert "Trương Thị Trễ" not in digest_root
    assert "Phan Văn Mới" in digest_root and "Quá hạn hơn 7 ngày" not in digest_root
    # Figures of the subtree, and a link to the dashboard.
    assert "Được giao: 2 · hoàn thành: 1 (50%)" in digest_b1
    assert "https://hoc.example.vn/manage/agencies/" in digest_root


def test_the_same_reminder_never_goes_twice_in_a_day(app, smtp_server, world):
    first = _send(app)
    sent = len(smtp_server.messages)
    assert sent == first.learner_emails + first.digests == 6
    second = _send(app)
    assert len(smtp_server.messages) == sent
    assert (second.learner_emails, second.digests, second.skipped) == (0, 0, 6)
    tomorrow = _send(app, utcnow() + timedelta(days=1))
    assert tomorrow.learner_emails + tomorrow.digests == 6 and len(smtp_server.messages) == 12


def test_an_unreachable_mail_server_is_recorded_and_retried(app, smtp_server, world):
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    working_port = app.config["MAIL_PORT"]
    app.config["MAIL_PORT"] = closed_port
    failed = _send(app)
    assert "Không gửi được" in failed.error and failed.failures == 6
    assert db.session.scalar(select(func.count()).select_from(ReminderMessage)) == 0
    app.config["MAIL_PORT"] = working_port
    retried = _send(app)
    assert retried.learner_emails + retried.digests == 6 and len(smtp_server.messages) == 6


def test_the_command_sends_and_a_dry_run_sends_nothing(app, runner, smtp_server, world):
    dry = runner.invoke(args=["reminders", "send", "--dry-run"])
    assert dry.exit_code == 0 and "Sẽ gửi 6 thư" in dry.output
    assert smtp_server.messages == [] and db.session.scalar(select(func.count()).select_from(ReminderRun)) == 0
    result = runner.invoke(args=["reminders", "send", "--no-digests"])
    assert result.exit_code == 0, result.output
    assert "Đã gửi 3 thư nhắc học viên và 0 bản tổng hợp" in result.output
    assert len(smtp_server.messages) == 3
    assert runner.invoke(args=["reminders", "send", "--help"]).exit_code == 0


def test_administrators_see_the_last_run(app, client, auth, make_user, smtp_server, world):
    _send(app)
    auth.login(world["head_root"])
    assert client.get("/reminders/").status_code == 403
    auth.logout()
    auth.login(make_user(role="admin"))
    html = client.get("/reminders/").get_data(as_text=True)
    assert "Lần chạy gần nhất" in html and "3 thư nhắc học viên, 3 bản tổng hợp" in html
    assert world["late"].email in html and "Trương Thị Trễ" in html


def test_the_page_previews_a_run_now_and_sends_nothing(app, client, auth, make_user, smtp_server, world):
    auth.login(make_user(role="admin"))
    html = client.get("/reminders/").get_data(as_text=True)
    assert "Sẽ gửi <strong>6</strong> thư: 3 thư nhắc học viên, 3 bản tổng hợp" in html
    assert world["soon"].email in html and "Lê Thị Sắp" in html and "Sắp đến hạn" in html
    assert "Chưa gửi lần nào" in html and "Gửi ngay" in html
    assert smtp_server.messages == []
    assert db.session.scalar(select(func.count()).select_from(ReminderRun)) == 0
    assert db.session.scalar(select(func.count()).select_from(ReminderMessage)) == 0


def test_send_now_sends_once_is_listed_and_a_second_click_is_refused(app, client, auth, make_user, smtp_server,
                                                                      world):
    admin = make_user(role="admin", full_name="Quản Trị Viên")
    auth.login(admin)
    token = csrf_token(client, "/reminders/")
    assert client.post("/reminders/send", data={}).status_code in (302, 400)  # no CSRF: nothing runs
    assert smtp_server.messages == []
    response = client.post("/reminders/send", data={"csrf_token": token})
    assert response.status_code == 302
    assert len(smtp_server.messages) == 6
    run = db.session.scalars(select(ReminderRun)).one()
    assert (run.learner_emails, run.digests, run.failures, run.triggered_by_id) == (3, 3, 0, admin.id)
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "reminders.sent_now")).one()
    assert entry.actor_id == admin.id and entry.object_id == str(run.id)
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Đã gửi 3 thư nhắc học viên và 3 bản tổng hợp" in html
    assert "Quản Trị Viên" in html and "Lịch sử các lần gửi" in html
    assert "Sẽ gửi <strong>0</strong> thư" in html and "6 thư đã gửi hôm nay nên bỏ qua" in html
    # The log in words, not internal names (those stay in the filters' option values).
    audit = re.sub(r"<[^>]+>", " ", client.get("/admin/audit").get_data(as_text=True))
    assert "Gửi ngay thư nhắc việc" in audit and "Lần gửi thư nhắc việc" in audit
    assert "reminders.sent_now" not in audit and "reminder_run" not in audit

    again = client.post("/reminders/send", data={"csrf_token": token})
    assert again.status_code == 429 and "hãy chờ đến" in again.get_data(as_text=True)
    assert len(smtp_server.messages) == 6
    assert db.session.scalar(select(func.count()).select_from(ReminderRun)) == 1


def test_the_daily_command_shows_as_automatic_in_the_history(app, client, auth, make_user, smtp_server, world):
    _send(app)
    app.config["REMINDERS_SEND_NOW_MINUTES"] = 0  # the interval has passed
    auth.login(make_user(role="admin"))
    html = client.get("/reminders/").get_data(as_text=True)
    assert "Tự động hằng ngày" in html
    response = client.post("/reminders/send", data={"csrf_token": csrf_token(client, "/reminders/")})
    assert response.status_code == 302 and len(smtp_server.messages) == 6  # nothing twice in a day


@pytest.mark.parametrize("role", ["learner", "manager", "trainer"])
def test_only_administrators_send_now(app, client, auth, make_user, smtp_server, world, role):
    auth.login(make_user(role=role))
    assert client.get("/reminders/").status_code == 403
    token = csrf_token(client, "/")
    assert client.post("/reminders/send", data={"csrf_token": token}).status_code == 403
    assert smtp_server.messages == []

# -- a manager's reminder from the people list -------------------------------------------------------

def _nudge(client, url: str, **form):
    """Confirm on `url` (the page a manager reads first), then send."""
    token = csrf_token(client, url)
    return client.post(url, data={"csrf_token": token, **form}, follow_redirects=True)


def test_a_manager_reminds_one_person_after_confirming(app, client, auth, make_user, smtp_server, world,
                                                       fixture_course):
    auth.login(world["head_root"])
    url = f"/manage/people/{world['far'].id}/remind?course={fixture_course.slug}"
    page = client.get(url).get_data(as_text=True)
    assert "Cao Văn Xa" in page and "Gửi thư nhắc cho 1 người" in page
    assert smtp_server.messages == []  # the confirmation sends nothing
    html = _nudge(client, url).get_data(as_text=True)
    assert "Đã gửi thư nhắc cho 1 người." in html
    assert [message["To"] for message in smtp_server.messages] == [world["far"].email]
    message = smtp_server.messages[0]
    assert "Sắp đến hạn" in message["Subject"] and "Cao Văn Xa" in _body(message)
    run = db.session.scalar(select(ReminderRun))
    assert run.learner_emails == 1 and run.digests == 0
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "reminders.nudged"))
    assert entry.actor_id == world["head_root"].id and entry.object_id == str(run.id)
    assert entry.after["user_ids"] == [world["far"].id] and "Cao Văn Xa" in entry.summary
    assert run.triggered_by_id == world["head_root"].id
    auth.logout()
    auth.login(make_user(role="admin"))
    audit = client.get("/admin/audit").get_data(as_text=True)
    assert "Quản lý nhắc học qua thư" in audit and world["head_root"].full_name in audit
    history = client.get("/reminders/").get_data(as_text=True)
    assert world["head_root"].full_name in history  # the run, with who started it
    # A manager's reminder of one person does not hold back the administrator's «Gửi ngay».
    response = client.post("/reminders/send", data={"csrf_token": csrf_token(client, "/reminders/")})
    assert response.status_code == 302 and len(smtp_server.messages) == 7


def test_the_filtered_list_is_reminded_whole_and_nobody_twice_in_a_day(app, client, auth, smtp_server, world,
                                                                     fixture_course):
    auth.login(world["head_root"])
    root_id = world["far"].agency_id
    listed = client.get(f"/manage/agencies/{root_id}/people?course={fixture_course.slug}").get_data(as_text=True)
    assert f"/manage/people/{world['far'].id}/remind" in listed and "Nhắc tất cả người trong danh sách đã lọc" in listed
    assert f"/manage/people/{world['done'].id}/remind" not in listed  # nobody reminds who has completed
    overdue = f"/manage/agencies/{root_id}/remind?course={fixture_course.slug}&status=overdue"
    page = client.get(overdue).get_data(as_text=True)
    assert "Phan Văn Mới" in page and "Trương Thị Trễ" in page and "Lê Thị Sắp" not in page
    _nudge(client, overdue)
    assert {message["To"] for message in smtp_server.messages} == {world["recent"].email, world["late"].email}
    everyone = f"/manage/agencies/{root_id}/remind?course={fixture_course.slug}"
    page = client.get(everyone).get_data(as_text=True)
    assert "Gửi thư nhắc cho 2 người" in page and "2 người đã được nhắc" in page and "24 giờ" in page
    html = _nudge(client, everyone).get_data(as_text=True)
    assert "Đã gửi thư nhắc cho 2 người." in html and "không nhắc lại" in html
    assert sorted(message["To"] for message in smtp_server.messages) == sorted(
        world[name].email for name in ("recent", "late", "far", "soon"))  # never the one who completed
    # The nightly run sends no learner the same email again that day.
    assert all(reminder.kind == "digest" for reminder in plan_reminders(
        db.session, Settings.from_config(app.config), utcnow()).reminders)


def test_the_24_hour_rule(app, client, auth, smtp_server, world, fixture_course):
    auth.login(world["head_root"])
    url = f"/manage/people/{world['late'].id}/remind?course={fixture_course.slug}"
    _nudge(client, url)
    message = db.session.scalar(select(ReminderMessage))
    message.sent_at, message.sent_on = utcnow() - timedelta(hours=23), (utcnow() - timedelta(days=1)).date()
    db.session.commit()
    assert "Không có ai cần nhắc" in client.get(url).get_data(as_text=True)
    message = db.session.scalar(select(ReminderMessage))
    message.sent_at = utcnow() - timedelta(hours=25)
    db.session.commit()
    assert "Đã gửi thư nhắc cho 1 người." in _nudge(client, url).get_data(as_text=True)
    assert len(smtp_server.to(world["late"].email)) == 2


def test_only_people_of_the_managers_subtree(app, client, auth, smtp_server, world, fixture_course):
    auth.login(world["head_b1"])
    assert client.get(f"/manage/people/{world['soon'].id}/remind?course={fixture_course.slug}").status_code == 404
    token = csrf_token(client, f"/manage/people/{world['late'].id}/remind?course={fixture_course.slug}")
    assert client.post(f"/manage/people/{world['soon'].id}/remind?course={fixture_course.slug}",
                       data={"csrf_token": token}).status_code == 404
    assert client.post(f"/manage/agencies/{world['far'].agency_id}/remind?course={fixture_course.slug}",
                       data={"csrf_token": token}).status_code == 404
    auth.logout()
    auth.login(world["soon"])  # a learner
    assert client.get(f"/manage/people/{world['late'].id}/remind?course={fixture_course.slug}").status_code == 403
    assert smtp_server.messages == [] and db.session.scalar(select(func.count()).select_from(ReminderRun)) == 0


def test_sending_needs_the_csrf_token(app, client, auth, smtp_server, world, fixture_course):
    auth.login(world["head_root"])
    response = client.post(f"/manage/agencies/{world['far'].agency_id}/remind?course={fixture_course.slug}")
    assert response.status_code == 400
    assert smtp_server.messages == []


def test_a_manager_may_send_only_so_many_reminders_an_hour(app, client, auth, smtp_server, world, fixture_course):
    app.config["NUDGE_RATE_LIMIT"] = "2 per hour"
    auth.login(world["head_root"])
    url = f"/manage/people/{world['far'].id}/remind?course={fixture_course.slug}"
    for _ in range(2):
        assert _nudge(client, url).status_code == 200
    response = _nudge(client, url)
    assert response.status_code == 429
    assert "nhiều lượt nhắc học liên tiếp" in response.get_data(as_text=True)
    assert client.get(url).status_code == 200  # reading the confirmation is not limited
    assert len(smtp_server.messages) == 1  # the second was within 24 hours


def test_a_selection_past_the_limit_is_cut_by_name_and_said_so(app, client, auth, smtp_server, world, fixture_course,
                                                               monkeypatch):
    from app.reminders import services as reminders

    monkeypatch.setattr(reminders, "NUDGE_LIMIT", 2)
    auth.login(world["head_root"])
    url = f"/manage/agencies/{world['far'].agency_id}/remind?course={fixture_course.slug}"
    page = client.get(url).get_data(as_text=True)
    assert "Danh sách quá 2 người" in page and "Gửi thư nhắc cho 2 người" in page
    html = _nudge(client, url).get_data(as_text=True)
    assert "Danh sách quá 2 người nên chỉ nhắc 2 người đầu tiên theo tên" in html
    assert {message["To"] for message in smtp_server.messages} == {world["far"].email, world["soon"].email}
    _nudge(client, url)  # again: the next ones by name, the first two being within 24 hours
    assert len(smtp_server.messages) == 4


def test_reminders_read_the_stored_standings_and_plan_what_the_rule_plans(app, world, fixture_course):
    from app.models import ProgressCycle
    from app.tracking import progress

    now = utcnow()
    settings = Settings.from_config(app.config)
    assert progress.people_stored(db.session, fixture_course, now)
    stored = plan_reminders(db.session, settings, now)
    assert {reminder.kind for reminder in stored.reminders} == {"learner", "digest"}
    db.session.execute(ProgressCycle.__table__.delete())  # as before a started assignment is counted
    db.session.commit()
    assert not progress.people_stored(db.session, fixture_course, now)
    assert plan_reminders(db.session, settings, now).reminders == stored.reminders
