"""`flask demo`: a three-level tree, about 15 agencies, 60 staff in every role, printed accounts."""
from sqlalchemy import func, select

from app.demo.cli import DEMO_PASSWORD
from app.extensions import db
from app.models import Agency, User


def test_demo_builds_the_tree_and_prints_every_account(runner, count_queries):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    agencies = db.session.scalars(select(Agency)).all()
    assert len(agencies) >= 15
    assert max(a.depth for a in agencies) >= 2
    users = db.session.scalars(select(User)).all()
    assert len(users) == 60
    assert any(u.is_admin for u in users) and any(u.is_trainer for u in users)
    assert sum(1 for u in users if u.is_manager) >= 3
    for user in users:
        assert user.username in result.output
    assert DEMO_PASSWORD in result.output
    learner = db.session.scalar(select(User).where(User.username == "hocvien"))
    assert learner.check_password(DEMO_PASSWORD)


def test_demo_twice_is_harmless(runner):
    first = runner.invoke(args=["demo"])
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0
    assert "không tạo lại" in second.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 60
    assert first.output.split("Tài khoản mẫu")[1] == second.output.split("Tài khoản mẫu")[1]


def test_demo_progress_is_counted_for_the_dashboards(runner, fixture_course):
    """The demo goes through the services, so the dashboards read its summaries, and they agree."""
    from support import assert_summaries_follow

    from app.models import Assignment

    assert runner.invoke(args=["demo"]).exit_code == 0
    assert db.session.scalar(select(func.count()).select_from(Assignment)) > 0
    roots = db.session.scalars(select(Agency).where(Agency.parent_id.is_(None))).all()
    assert_summaries_follow(fixture_course, roots)
