"""Certification: completions valid for a period, assignments that never erase one, one rule for
overlapping assignments everywhere, recertification over time, managers correcting assignments."""
from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.learn import services as learn
from app.models import Agency, Assignment, AuditLog, CourseCompletion, Lesson, User, utcnow
from app.reminders.services import _late_people
from app.tracking import exports, progress, rules, services
from support import assert_summaries_follow, at_once, complete_fixture_course, csrf_token, live_counts


@pytest.fixture
def tree(make_agency_tree):
    root, a, b, a1, a2, b1, b2 = make_agency_tree(depth=3, width=2)
    return {"root": root, "a": a, "b": b, "a1": a1, "a2": a2, "b1": b1, "b2": b2}


def _assign(course, agency, *, starts=-10, due=30, validity=None, recertify=None, actor=None):
    now = utcnow()
    assignment = services.create_assignment(
        db.session, course=course, agency=agency, starts_at=now + timedelta(days=starts),
        due_at=now + timedelta(days=due), validity_months=validity, recertify_days=recertify, actor=actor)
    db.session.commit()
    return assignment


def _visit(user, when=None):
    learn.record_lesson_visit(db.session, user, db.session.scalar(select(Lesson)), now=when)
    db.session.commit()


def _statuses(course, root, now=None):
    now = now or utcnow()
    people = services.person_statuses(db.session, course, root, now)
    return {row.user_id: row.status for row in db.session.execute(select(people.c.user_id, people.c.status))}


# -- 1. the regression: a manager's tighter assignment erases nobody's completion ----------------

def test_a_communes_tighter_assignment_leaves_every_valid_completion_valid(client, auth, tree, make_user,
                                                                           fixture_course):
    """The three steps of the issue, through the pages: the province's assignment, people who
    completed weeks ago, the commune head giving the course again with a due date in a week."""
    _assign(fixture_course, tree["root"], starts=-40, due=21, validity=12, recertify=60)
    commune = tree["a1"]
    head = make_user(role="manager", agency=commune, full_name="Trưởng Xã")
    done = [make_user(agency=commune, full_name=f"Đã Xong {n}") for n in range(2)]
    busy = [make_user(agency=commune, full_name=f"Đang Học {n}") for n in range(3)]
    for person in done:
        complete_fixture_course(person, fixture_course, when=utcnow() - timedelta(days=21))
    for person in busy:
        _visit(person)
    before = services.agency_report(db.session, fixture_course, commune).total
    assert (before.completed, before.in_progress) == (2, 3)
    weeks_before = sum(count for _, count in services.weekly_completions(db.session, fixture_course, commune))

    auth.login(head)
    url = f"/manage/agencies/{commune.id}/assignments"
    today = utcnow().astimezone(learn_tz()).date()
    terms = {"course_id": fixture_course.id, "starts_on": today.isoformat(),
             "due_on": (today + timedelta(days=7)).isoformat(), "csrf_token": csrf_token(client, url)}
    page = client.post(url, data={**terms, "preview": "Xem trước ảnh hưởng"}).get_data(as_text=True)
    # The preview says it before anything is saved: the two who completed stay compliant, nobody
    # becomes due or overdue.
    assert "<strong>2</strong> người vẫn đạt yêu cầu" in page
    assert "<strong>0</strong> người phải học" in page and "<strong>0</strong> người quá hạn ngay" in page
    assert db.session.scalar(select(Assignment).where(Assignment.agency_id == commune.id)) is None
    previewed = "|".join([str(fixture_course.id), terms["starts_on"], terms["due_on"], "None", "None"])
    assert client.post(url, data={**terms, "previewed": previewed, "submit": "Giao khóa học"}).status_code == 302
    assert db.session.scalar(select(Assignment).where(Assignment.agency_id == commune.id)) is not None

    after = services.agency_report(db.session, fixture_course, commune).total
    assert (after.completed, after.in_progress, after.staff) == (2, 3, before.staff)
    assert sum(count for _, count in services.weekly_completions(db.session, fixture_course, commune)) == weeks_before == 2
    for person in done:
        state = learn.course_state(db.session, person, fixture_course)
        assert state.status == "completed" and state.completion is not None and state.progress_percent == 100
    auth.logout()
    auth.login(done[0])
    home = client.get("/").get_data(as_text=True)
    assert "Hoàn thành" in home and "còn hiệu lực đến" in home and "Chưa bắt đầu" not in home
    assert_summaries_follow(fixture_course, [tree["root"], commune])


def learn_tz():
    from app.formatting import VIETNAM

    return VIETNAM


def test_a_new_assignment_asks_for_renewal_only_when_a_completion_expires_before_its_due_date(
        tree, make_user, fixture_course):
    _assign(fixture_course, tree["root"], starts=-400, due=-300, validity=12)
    short = make_user(agency=tree["a1"])
    complete_fixture_course(short, fixture_course, when=utcnow() - timedelta(days=330))  # expires in ~35 days
    fresh = make_user(agency=tree["a1"])
    complete_fixture_course(fresh, fixture_course, when=utcnow() - timedelta(days=10))
    assert _statuses(fixture_course, tree["root"]) == {short.id: "completed", fresh.id: "completed"}
    preview = services.preview_change(db.session, fixture_course, tree["a"], new=rules.Terms(
        tree["a"].path, utcnow() - timedelta(hours=1), utcnow() + timedelta(days=60), 12, None))
    assert (preview.stay_compliant, preview.become_due, preview.become_overdue) == (1, 1, 0)
    assert [name for name, _ in preview.names["become_due"]] == [short.full_name]
    _assign(fixture_course, tree["a"], starts=-1, due=60, validity=12)
    assert _statuses(fixture_course, tree["root"]) == {short.id: "not_started", fresh.id: "completed"}
    short_state = learn.course_state(db.session, short, fixture_course)
    a_due = db.session.scalar(select(Assignment.due_at).where(Assignment.agency_id == tree["a"].id))
    assert short_state.renewing is not None and short_state.due_at == a_due  # renew by a's due date
    assert short_state.renewing.expires_at > utcnow()  # still valid: not invalidated, only to be renewed
    assert db.session.get(CourseCompletion, short_state.renewing.id).archived_at is None  # never rewritten


# -- 2. one rule for overlapping assignments, everywhere ------------------------------------------

def test_overlapping_edited_and_cancelled_assignments_agree_everywhere(tree, make_agency, make_user,
                                                                         fixture_course):
    """For every person of a generated tree: the learner's page, the people list, the dashboard,
    the summaries, the exports and the reminders say the same status and due date."""
    rng = random.Random(15)
    agencies = list(tree.values())
    for parent in (tree["a1"], tree["b2"]):
        agencies.append(make_agency(parent=parent))
    now = utcnow()
    given = [
        _assign(fixture_course, tree["root"], starts=-200, due=20, validity=12, recertify=30),
        _assign(fixture_course, tree["a"], starts=-20, due=10),
        _assign(fixture_course, tree["a1"], starts=-20, due=-1),
        _assign(fixture_course, tree["b"], starts=-20, due=2, validity=6),
        _assign(fixture_course, tree["b1"], starts=-5, due=40, validity=24, recertify=90),
        _assign(fixture_course, tree["a2"], starts=5, due=50),  # starts later: not yet counted
        _assign(fixture_course, tree["b2"], starts=-30, due=-1),
    ]
    services.update_assignment(db.session, given[1], starts_at=given[1].starts_at, due_at=now + timedelta(days=3),
                               validity_months=12, recertify_days=None)  # edited: tighter
    services.cancel_assignment(db.session, given[6])                     # cancelled
    db.session.commit()
    people = []
    for number in range(36):
        person = make_user(agency=rng.choice(agencies), full_name=f"Cán Bộ {number:02d}")
        people.append(person)
        roll = rng.random()
        if roll < 0.45:
            complete_fixture_course(person, fixture_course, when=now - timedelta(days=rng.choice([1, 40, 150, 340, 380])))
        elif roll < 0.7:
            _visit(person, when=now - timedelta(days=rng.randint(0, 30)))
    db.session.commit()
    root = tree["root"]
    sql = {row.user_id: row for row in db.session.execute(select(services.person_statuses(
        db.session, fixture_course, root, now)))}
    learner = {person.id: learn.course_state(db.session, person, fixture_course, now) for person in people}
    assigned = {user_id for user_id, state in learner.items() if state.assigned}
    assert set(sql) == assigned and len(assigned) > 20
    for user_id in assigned:
        assert (sql[user_id].status, sql[user_id].due_at) == (learner[user_id].status, learner[user_id].due_at), user_id
    statuses = Counter(row.status for row in sql.values())
    assert all(statuses[status] for status in rules.STATUSES), statuses  # the tree covers every case

    # The dashboard, from the summaries (and person by person: the same)
    assert_summaries_follow(fixture_course, [root, tree["a"], tree["b"], tree["b1"]], now=now)
    total = services.agency_report(db.session, fixture_course, root, now).total
    assert {status: getattr(total, status) for status in rules.STATUSES} == {s: statuses[s] for s in rules.STATUSES}
    # The people list
    page = db.session.execute(services.people_page(db.session, fixture_course, root, now, limit=100, offset=0)).all()
    assert {row[0].id: (row.status, row.due_at) for row in page} == \
        {user_id: (row.status, row.due_at) for user_id, row in sql.items()}
    # The exports
    label_of = {label: status for status, label in services.STATUS_LABELS.items()}
    by_name = {row[2]: label_of[row[5]] for row in exports.person_rows(db.session, fixture_course, root, now)}
    names = {person.id: person.full_name for person in people}
    assert by_name == {names[user_id]: row.status for user_id, row in sql.items()}
    # The reminders: everyone not done whose due date is near or past, by that due date
    late = {person.user_id: (person.status, person.due_at) for person in _late_people(db.session, fixture_course, now, 3)}
    assert late == {user_id: (row.status, row.due_at) for user_id, row in sql.items()
                    if row.status != "completed" and row.due_at <= now + timedelta(days=3)}
    assert late  # some are reminded


# -- 3. recertification over simulated time ------------------------------------------------------

def test_recertification_over_time_keeps_history_and_the_summaries_right(tree, make_user, fixture_course,
                                                                          monkeypatch):
    start = utcnow()
    _assign(fixture_course, tree["root"], starts=-1, due=30, validity=12, recertify=60)
    person = make_user(agency=tree["a1"])
    other = make_user(agency=tree["b1"])
    roots = [tree["root"], tree["a"], tree["b"]]

    def at(moment):
        monkeypatch.setattr(progress, "utcnow", lambda: moment)
        progress.refresh_pending(db.session)  # the daily job, run on that day
        db.session.commit()
        assert_summaries_follow(fixture_course, roots, now=moment)
        return learn.course_state(db.session, person, fixture_course, moment)

    first = complete_fixture_course(person, fixture_course, when=start + timedelta(days=3))
    assert first.expires_at == rules.add_months(first.completed_at, 12)
    state = at(start + timedelta(days=10))
    assert state.status == "completed" and state.recertify_at == first.expires_at - timedelta(days=60)
    state = at(first.expires_at - timedelta(days=59))  # the window is open: due again, by the expiry
    assert state.status == "not_started" and state.due_at == first.expires_at and state.completion is None
    assert state.renewing.id == first.id and state.lessons_done == 0
    _visit(person, when=first.expires_at - timedelta(days=50))
    state = at(first.expires_at - timedelta(days=49))
    assert state.status == "in_progress"
    state = at(first.expires_at + timedelta(days=1))  # expired
    assert state.status == "overdue"
    assert learn.certificate_standing(first, first.expires_at + timedelta(days=1)) == "expired"
    renewed = complete_fixture_course(person, fixture_course, when=first.expires_at + timedelta(days=2))
    state = at(first.expires_at + timedelta(days=3))
    assert state.status == "completed" and state.completion.id == renewed.id
    history = db.session.scalars(select(CourseCompletion).where(CourseCompletion.user_id == person.id)
                                 .order_by(CourseCompletion.completed_at)).all()
    assert [c.id for c in history] == [first.id, renewed.id]
    assert history[0].archived_at is not None and history[0].agency_id == tree["a1"].id  # kept, dates intact
    assert history[0].completed_at == first.completed_at and history[0].expires_at == first.expires_at
    assert learn.certificate_standing(history[0]) == "superseded"
    assert _statuses(fixture_course, tree["root"], first.expires_at + timedelta(days=3))[other.id] == "overdue"


# -- 4. managers correct assignments ---------------------------------------------------------------

def test_edit_and_cancel_show_their_effect_first_and_are_audited(client, auth, tree, make_user, fixture_course):
    manager = make_user(role="manager", agency=tree["a"], full_name="Quản Lý A")
    assignment = _assign(fixture_course, tree["a"], starts=-10, due=30, actor=manager)
    late = make_user(agency=tree["a1"], full_name="Người Sẽ Trễ")
    auth.login(manager)
    url = f"/manage/assignments/{assignment.id}/edit"
    form = client.get(url).get_data(as_text=True)
    assert "Sửa lượt giao" in form
    today = utcnow().astimezone(learn_tz()).date()
    terms = {"starts_on": (today - timedelta(days=10)).isoformat(), "due_on": (today - timedelta(days=1)).isoformat(),
             "validity_months": "12", "csrf_token": csrf_token(client, url)}
    page = client.post(url, data={**terms, "submit": "Lưu"}).get_data(as_text=True)  # not previewed: preview
    # the manager is staff of the agency too
    assert "<strong>2</strong> người quá hạn ngay" in page and "Người Sẽ Trễ" in page and "Quản Lý A" in page
    db.session.refresh(assignment)
    assert assignment.validity_months is None  # nothing saved yet
    previewed = "|".join(["None", terms["starts_on"], terms["due_on"], "12", "None"])
    assert client.post(url, data={**terms, "previewed": previewed, "submit": "Lưu"}).status_code == 302
    db.session.refresh(assignment)
    assert assignment.validity_months == 12 and learn.course_state(db.session, late, fixture_course).status == "overdue"
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "assignment.updated"))
    assert entry.actor_id == manager.id and entry.before["validity_months"] is None and entry.after["validity_months"] == 12

    cancel = f"/manage/assignments/{assignment.id}/cancel"
    page = client.get(cancel).get_data(as_text=True)
    assert "<strong>2</strong> người không còn được giao" in page
    assert client.post(cancel, data={"csrf_token": csrf_token(client, cancel)}).status_code == 302
    db.session.refresh(assignment)
    assert not assignment.is_active and assignment.cancelled_by_id == manager.id
    assert _statuses(fixture_course, tree["root"]) == {}
    view = client.get(f"/manage/assignments/{assignment.id}").get_data(as_text=True)
    assert "Đã hủy" in view and "Hủy lượt giao khóa" in view and "Quản Lý A" in view
    assert [e.action for e in db.session.scalars(select(AuditLog).where(AuditLog.object_type == "assignment")
                                                 .order_by(AuditLog.id))] == \
        ["assignment.created", "assignment.updated", "assignment.cancelled"]
    assert client.get(url).status_code == 404  # a cancelled assignment is not edited


@pytest.mark.parametrize("who, view, change", [("province", 200, 200), ("commune", 200, 404), ("outsider", 404, 404)])
def test_who_may_see_and_change_an_assignment(client, auth, tree, make_user, fixture_course, who, view, change):
    assignment = _assign(fixture_course, tree["a"])
    agency = {"province": tree["root"], "commune": tree["a1"], "outsider": tree["b"]}[who]
    auth.login(make_user(role="manager", agency=agency))
    assert client.get(f"/manage/assignments/{assignment.id}").status_code == view
    for action in ("edit", "cancel"):
        assert client.get(f"/manage/assignments/{assignment.id}/{action}").status_code == change
    token = csrf_token(client, "/")
    response = client.post(f"/manage/assignments/{assignment.id}/cancel", data={"csrf_token": token})
    assert response.status_code == (302 if change == 200 else 404)


# -- 5. one completion, certificates that say what they are, the chart ------------------------------

def _ready_to_commit(user, course):
    from app.models import Quiz

    for lesson in db.session.scalars(select(Lesson)):
        learn.complete_lesson(db.session, user, lesson)
    final = db.session.scalar(select(Quiz).where(Quiz.counts_for_completion))
    attempt = learn.start_attempt(db.session, user, final)
    for item in attempt.questions:
        learn.save_answer(db.session, attempt, item.position, item.version.correct_keys)
    learn.submit_attempt(db.session, attempt)
    db.session.commit()


def test_a_learner_missing_only_the_commitment_is_told_so(client, auth, tree, make_user, fixture_course):
    _assign(fixture_course, tree["root"])
    person = make_user(agency=tree["a1"], full_name="Chỉ Còn Cam Kết")
    _ready_to_commit(person, fixture_course)
    manager = make_user(role="manager", agency=tree["root"])
    auth.login(person)
    assert "Chỉ còn thiếu cam kết" in client.get("/").get_data(as_text=True)
    auth.logout()
    auth.login(manager)
    page = client.get(f"/manage/people/{person.id}").get_data(as_text=True)
    assert "chỉ còn thiếu cam kết" in page


def test_the_commitment_twice_makes_one_completion(client, auth, tree, make_user, fixture_course):
    _assign(fixture_course, tree["root"])
    person = make_user(agency=tree["a1"])
    _ready_to_commit(person, fixture_course)
    auth.login(person)
    url = f"/courses/{fixture_course.slug}/commit"
    token = csrf_token(client, url)
    for _ in range(2):
        client.post(url, data={"csrf_token": token, "agree": "y"})
    assert db.session.scalar(select(CourseCompletion.id).where(CourseCompletion.user_id == person.id)) is not None
    assert len(db.session.scalars(select(CourseCompletion).where(CourseCompletion.user_id == person.id)).all()) == 1


@pytest.mark.postgres
def test_eight_simultaneous_commitments_make_one_completion(app, tree, make_user, fixture_course):
    from app.models import Course

    _assign(fixture_course, tree["root"])
    person = make_user(agency=tree["a1"])
    _ready_to_commit(person, fixture_course)
    person_id, course_id = person.id, fixture_course.id

    def commit():
        user, course = db.session.get(User, person_id), db.session.get(Course, course_id)
        return learn.record_commitment(db.session, user, course, ip="127.0.0.1", user_agent="t").id

    made = at_once(app, commit, 8)
    rows = db.session.scalars(select(CourseCompletion).where(CourseCompletion.user_id == person_id)).all()
    assert len(rows) == 1 and set(made) == {rows[0].id}
    assert_summaries_follow(fixture_course, [tree["root"]])


@pytest.mark.postgres
def test_a_second_current_completion_is_refused_by_the_database(app, tree, make_user, fixture_course):
    from sqlalchemy.exc import IntegrityError

    person = make_user(agency=tree["a1"])
    first = complete_fixture_course(person, fixture_course)
    db.session.add(CourseCompletion(user_id=person.id, course_id=fixture_course.id, agency_id=tree["a1"].id,
                                    commitment_text="x", certificate_code="DUPLICATE1",
                                    completed_at=first.completed_at + timedelta(seconds=1)))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_a_superseded_or_expired_certificate_does_not_verify_as_valid(client, tree, make_user, fixture_course):
    _assign(fixture_course, tree["root"], starts=-500, due=-400, validity=12, recertify=30)
    person = make_user(agency=tree["a1"])
    old = complete_fixture_course(person, fixture_course, when=utcnow() - timedelta(days=420))
    page = client.get(f"/verify/{old.certificate_code}").get_data(as_text=True)
    assert "hết hiệu lực" in page and "Giấy chứng nhận hợp lệ" not in page
    new = complete_fixture_course(person, fixture_course)
    page = client.get(f"/verify/{old.certificate_code}").get_data(as_text=True)
    assert "đã được thay" in page and "Giấy chứng nhận hợp lệ" not in page
    page = client.get(f"/verify/{new.certificate_code}").get_data(as_text=True)
    assert "Giấy chứng nhận hợp lệ" in page and "còn hiệu lực đến" in page


def test_the_weekly_chart_counts_current_completions_only(tree, make_user, fixture_course):
    _assign(fixture_course, tree["root"], starts=-60, due=-50, validity=1, recertify=10)
    person = make_user(agency=tree["a1"])
    complete_fixture_course(person, fixture_course, when=utcnow() - timedelta(days=40))
    complete_fixture_course(person, fixture_course, when=utcnow() - timedelta(days=2))  # renewed
    weeks = services.weekly_completions(db.session, fixture_course, tree["root"])
    assert sum(count for _, count in weeks) == 1


def test_the_people_summaries_agree_with_a_recount_after_each_assignment_change(tree, make_user, fixture_course):
    people = [make_user(agency=tree[name]) for name in ("a1", "a2", "b1", "b2")]
    complete_fixture_course(people[0], fixture_course, when=utcnow() - timedelta(days=100))
    _visit(people[2])
    given = _assign(fixture_course, tree["root"], validity=3, recertify=20)
    assert_summaries_follow(fixture_course, [tree["root"], tree["a"]])
    services.update_assignment(db.session, given, starts_at=given.starts_at, due_at=given.due_at - timedelta(days=25),
                               validity_months=6, recertify_days=None)
    db.session.commit()
    assert_summaries_follow(fixture_course, [tree["root"], tree["a"]])
    services.cancel_assignment(db.session, given)
    db.session.commit()
    assert live_counts(fixture_course, tree["root"], utcnow()) == Counter()
    assert progress.status_counts(db.session, fixture_course, tree["root"], utcnow()) == []


# -- 6. the learner always knows what is due ---------------------------------------------------------

def test_every_page_shows_a_running_timed_attempt_for_one_cheap_statement(client, auth, tree, make_user,
                                                                          fixture_course, count_queries):
    from app.models import Quiz

    person = make_user(agency=tree["a1"])
    person_id, slug = person.id, fixture_course.slug
    auth.login(person)
    with count_queries() as before:
        client.get("/")
    final = db.session.scalar(select(Quiz).where(Quiz.counts_for_completion))
    attempt = learn.start_attempt(db.session, db.session.get(User, person_id), final)
    db.session.commit()
    attempt_id = attempt.id
    with count_queries() as during:
        home = client.get("/").get_data(as_text=True)
    assert during.count == before.count  # the same one statement, with or without an attempt
    assert "attempt-banner" in home and f"/attempts/{attempt_id}" in home and "còn khoảng 10 phút" in home
    assert "attempt-banner" in client.get(f"/courses/{slug}").get_data(as_text=True)
    assert "attempt-banner" not in client.get(f"/attempts/{attempt_id}").get_data(as_text=True)
    auth.logout()
    with count_queries() as anonymous:
        page = client.get("/auth/login").get_data(as_text=True)
    assert "attempt-banner" not in page and anonymous.count == 0  # a visitor costs nothing


def test_the_home_page_shows_due_dates_validity_and_open_practice(client, auth, tree, make_user, fixture_course):
    _assign(fixture_course, tree["root"], starts=-10, due=12, validity=12, recertify=60)
    person = make_user(agency=tree["a1"])
    practice = learn.start_practice(db.session, db.session.get(User, person.id), fixture_course)
    db.session.commit()
    again = learn.start_practice(db.session, db.session.get(User, person.id), fixture_course)
    assert again.id == practice.id  # resumed, not piled up
    auth.login(person)
    home = client.get("/").get_data(as_text=True)
    assert "còn 11 ngày" in home or "còn 12 ngày" in home
    assert f"/attempts/{practice.id}" in home and "Bài luyện tập đang làm" in home
    done = make_user(agency=tree["a2"])
    completion = complete_fixture_course(done, fixture_course)
    auth.logout()
    auth.login(done)
    home = client.get("/").get_data(as_text=True)
    expires = completion.expires_at.astimezone(learn_tz()).strftime("%d/%m/%Y")
    opens = (completion.expires_at - timedelta(days=60)).astimezone(learn_tz()).strftime("%d/%m/%Y")
    assert f"còn hiệu lực đến {expires}" in home and f"mở đợt học lại từ {opens}" in home


@pytest.mark.parametrize("page", ["assignments", "assignment", "edit", "cancel"])
def test_assignment_pages_use_a_fixed_number_of_queries(client, auth, make_agency, make_user, fixture_course,
                                                        count_queries, page):
    root = make_agency(kind="province")
    given = _assign(fixture_course, root, validity=12, recertify=30)
    root_id, given_id, course_id = root.id, given.id, fixture_course.id
    auth.login(make_user(role="manager", agency=root))
    url = {"assignments": f"/manage/agencies/{root_id}/assignments", "assignment": f"/manage/assignments/{given_id}",
           "edit": f"/manage/assignments/{given_id}/edit", "cancel": f"/manage/assignments/{given_id}/cancel"}[page]

    def grow(children, per_child):
        for _ in range(children):
            child = make_agency(parent=db.session.get(Agency, root_id))
            for number in range(per_child):
                person = make_user(agency=child)
                if number % 2:
                    _visit(person)
            _assign(db.session.get(type(fixture_course), course_id), child)

    grow(2, 2)
    with count_queries() as small:
        assert client.get(url).status_code == 200
    grow(6, 4)
    with count_queries() as large:
        assert client.get(url).status_code == 200
    assert large.count == small.count, (small.count, large.count)
