"""Spaced refreshers: due one and three months after a completion, invited with the reminders,
three questions from the topics got wrong (else at random), never counted, summarised by subtree."""
import random
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.content.checks import check_content
from app.content.services import load_bundle
from app.extensions import db
from app.models import (Attempt, AttemptQuestion, CourseCompletion, Question, QuestionVersion, Refresher,
                        Topic, question_topic, utcnow)
from app.refreshers import services
from support import ROOT, complete_fixture_course, csrf_token


def _age(completion, days):
    completion.completed_at = utcnow() - timedelta(days=days)
    db.session.commit()


def test_add_months_keeps_the_day_or_the_month_end():
    from datetime import date

    assert services.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert services.add_months(date(2026, 11, 15), 3) == date(2027, 2, 15)


def test_invited_at_one_and_three_months_through_the_reminders(app, runner, smtp_server, make_user,
                                                                fixture_course):
    learner = make_user(full_name="Nguyễn Thị Lan")
    completion = complete_fixture_course(learner, fixture_course)
    assert runner.invoke(args=["reminders", "send"]).exit_code == 0
    assert db.session.scalar(select(func.count(Refresher.id))) == 0  # completed today: nothing due
    _age(completion, 35)
    dry = runner.invoke(args=["reminders", "send", "--dry-run"])
    assert "Ôn nhanh 3 câu" in dry.output and smtp_server.messages == []
    result = runner.invoke(args=["reminders", "send"])
    assert result.exit_code == 0 and "Đã gửi 1 thư mời ôn tập" in result.output, result.output
    [message] = smtp_server.to(learner.email)
    refresher = db.session.scalar(select(Refresher))
    assert refresher.months == 1 and refresher.invited_at is not None
    assert f"/refreshers/{refresher.id}" in message.get_content()
    runner.invoke(args=["reminders", "send"])  # never twice
    assert len(smtp_server.to(learner.email)) == 1
    _age(completion, 95)
    runner.invoke(args=["reminders", "send"])
    assert sorted(r.months for r in db.session.scalars(select(Refresher))) == [1, 3]
    assert len(smtp_server.to(learner.email)) == 2  # the three-month one; the late one-month not again
    assert runner.invoke(args=["reminders", "send", "--no-refreshers"]).exit_code == 0


def test_the_refresher_is_three_questions_of_the_topics_got_wrong_and_never_counted(app, client, auth,
                                                                                  make_user):
    load_bundle(db.session, check_content(ROOT / "content", ROOT / "quizzes").bundle)
    db.session.commit()
    from app.models import Course

    course = db.session.scalar(select(Course))
    learner = make_user()
    # A graded attempt where the learner got one question of «che-tai» wrong.
    topic = db.session.scalar(select(Topic).where(Topic.slug == "che-tai"))
    version = db.session.scalar(
        select(QuestionVersion).join(Question, (Question.id == QuestionVersion.question_id)
                                     & (QuestionVersion.version == Question.latest_version))
        .join(question_topic, question_topic.c.question_id == Question.id)
        .where(question_topic.c.topic_id == topic.id, Question.status == "published").limit(1))
    attempt = Attempt(user_id=learner.id, course_id=course.id, quiz_id=None, number=1, status="submitted",
                      submitted_at=utcnow(), score=0, score_percent=0, passed=False, pass_percent=80)
    db.session.add(attempt)
    db.session.flush()
    db.session.add(AttemptQuestion(attempt_id=attempt.id, position=1, question_version_id=version.id,
                                   choice_order=[], answer=["x"], score=0))
    completion = CourseCompletion(user_id=learner.id, course_id=course.id, agency_id=learner.agency_id,
                                  completed_at=utcnow() - timedelta(days=40), commitment_text="cam kết",
                                  certificate_code="ONTAP0001")
    db.session.add(completion)
    db.session.commit()
    services.schedule_due(db.session, utcnow())
    db.session.commit()
    refresher = db.session.scalar(select(Refresher))
    completions = db.session.scalar(select(func.count(CourseCompletion.id)))

    auth.login(make_user())
    assert client.get(f"/refreshers/{refresher.id}").status_code == 404  # someone else's
    auth.logout()
    auth.login(learner)
    page = client.get(f"/refreshers/{refresher.id}").get_data(as_text=True)
    assert "không chấm điểm" in page
    token = csrf_token(client, f"/refreshers/{refresher.id}")
    response = client.post(f"/refreshers/{refresher.id}/start", data={"csrf_token": token})
    assert response.status_code == 302
    attempt_id = int(re.search(r"/attempts/(\d+)", response.headers["Location"]).group(1))
    drawn = db.session.scalars(select(AttemptQuestion).where(AttemptQuestion.attempt_id == attempt_id)).all()
    assert len(drawn) == 3
    # Every question drawn shares a topic with the question answered wrongly.
    missed = select(question_topic.c.topic_id).where(question_topic.c.question_id == version.question_id)
    weak = set(db.session.scalars(select(question_topic.c.question_id)
                                  .where(question_topic.c.topic_id.in_(missed))))
    assert len(weak) < db.session.scalar(select(func.count(Question.id))) / 2  # a real restriction
    assert all(db.session.get(QuestionVersion, item.question_version_id).question_id in weak for item in drawn)
    again = client.post(f"/refreshers/{refresher.id}/start", data={"csrf_token": token})
    assert again.headers["Location"].endswith(f"/attempts/{attempt_id}")  # resumed, not drawn anew
    assert db.session.get(Attempt, attempt_id).quiz_id is None  # a practice: never graded for completion
    assert db.session.scalar(select(func.count(CourseCompletion.id))) == completions


def _refresher_with_answers(learner, course, scores, when):
    completion = complete_fixture_course(learner, course, when=when - timedelta(days=40))
    refresher = Refresher(completion_id=completion.id, user_id=learner.id, course_id=course.id,
                          agency_id=completion.agency_id, months=1, due_on=when.date(), invited_at=when)
    db.session.add(refresher)
    if scores is not None:
        attempt = Attempt(user_id=learner.id, course_id=course.id, quiz_id=None, number=99,
                          status="submitted", submitted_at=when, score=sum(scores),
                          score_percent=100 * sum(scores) / len(scores), passed=True, pass_percent=100)
        db.session.add(attempt)
        db.session.flush()
        versions = db.session.scalars(select(QuestionVersion.id)).all()
        for position, score in enumerate(scores, 1):
            db.session.add(AttemptQuestion(attempt_id=attempt.id, position=position, choice_order=[],
                                           question_version_id=versions[position - 1], score=score))
        refresher.attempt_id = attempt.id
    db.session.commit()


@pytest.mark.parametrize("size", [1, 4])
def test_the_manager_sees_participation_and_share_right_of_the_subtree(app, client, auth, make_user,
                                                                      make_agency_tree, fixture_course,
                                                                      count_queries, size):
    root, a, b, *_ = make_agency_tree(depth=2, width=2)
    now = utcnow()
    for _ in range(size):
        _refresher_with_answers(make_user(agency=a), fixture_course, [1, 1, 0], now)
        _refresher_with_answers(make_user(agency=a), fixture_course, None, now)   # invited, not taken
        _refresher_with_answers(make_user(agency=b), fixture_course, [0, 0, 0], now)  # another subtree
    head = make_user(role="manager", agency=a)
    auth.login(head)
    a_id, b_id = a.id, b.id
    with count_queries() as counter:
        html = client.get(f"/manage/agencies/{a_id}/refreshers").get_data(as_text=True)
    assert f"<dd class=\"col-sm-6\">{2 * size}</dd>" in html          # offered in a's subtree
    assert "<dd class=\"col-sm-6\">50%</dd>" in html                  # taken: half
    assert "66,7%" in html                                              # right: 2 of 3
    assert f"({2 * size}/{3 * size} câu)" in html                       # right answers
    assert counter.count <= 12, counter.count
    assert client.get(f"/manage/agencies/{b_id}/refreshers").status_code == 404
    dashboard = client.get(f"/manage/agencies/{a_id}").get_data(as_text=True)
    assert f"/manage/agencies/{a_id}/refreshers" in dashboard
