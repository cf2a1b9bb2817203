"""The assignments' coverage table (`tracking.coverage`): exact after every kind of change, read by the
recount, checked by `flask tracking check-coverage`, and right when two sessions change it at once."""
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from app.admin import imports
from app.agencies.services import create_agency, merge_agency, move_agency
from app.extensions import db
from app.models import Agency, Assignment, AssignmentCoverage, utcnow
from app.tracking import coverage, rules, services
from support import assert_coverage_exact, assert_summaries_follow, in_background_until_blocked


@pytest.fixture
def tree(make_agency_tree):
    root, a, b, a1, a2, b1, b2 = make_agency_tree(depth=3, width=2)
    return {"root": root, "a": a, "b": b, "a1": a1, "a2": a2, "b1": b1, "b2": b2}


def _assign(course, agency, *, starts_in_days=-10, due_in_days=30, session=None):
    session = session or db.session
    now = utcnow()
    return services.create_assignment(session, course=course, agency=agency,
                                      starts_at=now + timedelta(days=starts_in_days),
                                      due_at=now + timedelta(days=due_in_days))


def _rows() -> set[tuple[int, int]]:
    return set(db.session.execute(select(AssignmentCoverage.assignment_id, AssignmentCoverage.agency_id)).tuples())


def test_the_table_follows_every_kind_of_change(tree, make_user, make_agency, fixture_course):
    people = [make_user(agency=tree[name]) for name in ("a1", "a2", "b1", "b2")]
    ids = {name: agency.id for name, agency in tree.items()}

    def get(name):
        return db.session.get(Agency, ids[name])

    def check(expected):
        db.session.expire_all()
        assert _rows() == expected
        assert_coverage_exact()
        assert_summaries_follow(fixture_course, [get("root"), get("a"), get("b")])

    given = _assign(fixture_course, get("a")).id                          # a new assignment
    db.session.commit()
    check({(given, ids["a"]), (given, ids["a1"]), (given, ids["a2"])})
    later = _assign(fixture_course, get("b1"), starts_in_days=3).id       # starting later: stored all the same
    db.session.commit()
    check({(given, ids["a"]), (given, ids["a1"]), (given, ids["a2"]), (later, ids["b1"])})
    ids["a3"] = create_agency(db.session, code="A3", name="Xã Mới", kind="commune", parent=get("a")).id
    db.session.commit()                                                   # an agency created under it
    make_user(agency=get("a3"))
    check({(given, ids["a"]), (given, ids["a1"]), (given, ids["a2"]), (given, ids["a3"]), (later, ids["b1"])})
    move_agency(db.session, get("b"), get("a"))                          # a subtree moved under it
    db.session.commit()
    covered_b = {(given, ids[name]) for name in ("b", "b1", "b2")}
    check({(given, ids["a"]), (given, ids["a1"]), (given, ids["a2"]), (given, ids["a3"]), (later, ids["b1"])}
          | covered_b)
    move_agency(db.session, get("a1"), get("root"))                      # and one out of it
    db.session.commit()
    check({(given, ids["a"]), (given, ids["a2"]), (given, ids["a3"]), (later, ids["b1"])} | covered_b)
    assignment = db.session.get(Assignment, given)
    services.update_assignment(db.session, assignment, starts_at=assignment.starts_at,  # edited: same agencies
                               due_at=assignment.due_at + timedelta(days=5), validity_months=12, recertify_days=None)
    db.session.commit()
    check({(given, ids["a"]), (given, ids["a2"]), (given, ids["a3"]), (later, ids["b1"])} | covered_b)
    merge_agency(db.session, get("b1"), get("a1"))  # merged: its assignment moves to a1, it goes under a1
    db.session.commit()
    covered_b = {(given, ids["b"]), (given, ids["b2"])}
    check({(given, ids["a"]), (given, ids["a2"]), (given, ids["a3"]), (later, ids["a1"]), (later, ids["b1"])}
          | covered_b)
    data = ("Mã cán bộ,Họ và tên,Email,Mã cơ quan,Vai trò,Trạng thái\r\n"  # an import: people come and
            f"CB-MOI,Nguyễn Thị Mới,moi@example.org,{get('a3').code},,\r\n").encode()  # go, the tree stays
    plan = imports.plan_import(db.session, imports.read_rows(data, "ds.csv"), file_name="ds.csv",
                               file_hash=imports.file_hash(data))
    assert plan.errors == []
    imports.apply_import(db.session, plan)
    db.session.commit()
    check({(given, ids["a"]), (given, ids["a2"]), (given, ids["a3"]), (later, ids["a1"]), (later, ids["b1"])}
          | covered_b)
    services.cancel_assignment(db.session, db.session.get(Assignment, given))  # cancelled
    db.session.commit()
    check({(later, ids["a1"]), (later, ids["b1"])})
    empty = make_agency(parent=get("a1"))                                 # an agency deleted
    assert (later, empty.id) in _rows()
    db.session.delete(empty)
    db.session.commit()
    check({(later, ids["a1"]), (later, ids["b1"])})
    assert people  # they stayed where they were put; the summaries above counted them


def test_an_assignment_starting_later_covers_its_people_once_the_clock_says_so(tree, make_user, fixture_course):
    person = make_user(agency=tree["a1"])
    assignment = _assign(fixture_course, tree["a"], starts_in_days=2, due_in_days=20)
    db.session.commit()

    def assigned(now):
        people = rules.person_statuses(db.session, fixture_course, tree["root"], now)
        return set(db.session.scalars(select(people.c.user_id)))

    assert assigned(utcnow()) == set()
    assert assigned(assignment.starts_at) == {person.id}  # read from the table: no rewrite at the start


def test_the_recount_statement_does_not_grow_with_the_assignments(tree, fixture_course):
    """Before the table, every started assignment was one SELECT with its path as a literal."""
    def statement():
        people = rules.person_statuses(db.session, fixture_course, tree["root"], utcnow())
        return str(select(people).compile(db.engine))

    _assign(fixture_course, tree["a"])
    db.session.commit()
    one = statement()
    for name in ("b", "a1", "a2", "b1", "b2"):
        _assign(fixture_course, tree[name])
    db.session.commit()
    assert statement() == one


def test_a_recount_in_the_same_transaction_reads_its_changes(tree, make_user, fixture_course):
    person = make_user(agency=tree["b2"])
    _assign(fixture_course, tree["b"])  # not committed: the recount must see it all the same
    assert coverage.is_pending(db.session)
    people = rules.person_statuses(db.session, fixture_course, tree["root"], utcnow())
    assert set(db.session.scalars(select(people.c.user_id))) == {person.id}
    assert not coverage.is_pending(db.session)
    db.session.commit()
    assert_coverage_exact()


def test_the_check_command_finds_a_wrong_table_and_repairs_it(runner, tree, make_user, fixture_course):
    make_user(agency=tree["a1"])
    _assign(fixture_course, tree["a"])
    db.session.commit()
    result = runner.invoke(args=["tracking", "check-coverage"])
    assert result.exit_code == 0 and "khớp" in result.output
    db.session.execute(delete(AssignmentCoverage).where(AssignmentCoverage.agency_id == tree["a1"].id))
    db.session.commit()
    result = runner.invoke(args=["tracking", "check-coverage"])
    assert result.exit_code == 1 and "thiếu 1 dòng" in result.output
    result = runner.invoke(args=["tracking", "check-coverage", "--repair"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert_coverage_exact()
    assert_summaries_follow(fixture_course, [db.session.get(Agency, tree["root"].id)])
    assert "--repair" in runner.invoke(args=["tracking", "check-coverage", "--help"]).output


def test_rebuild_fills_the_table_for_data_written_in_bulk(tree, fixture_course):
    _assign(fixture_course, tree["root"])
    db.session.commit()
    db.session.execute(delete(AssignmentCoverage))  # as after a COPY that wrote no coverage
    assert coverage.rebuild(db.session) == 7
    assert_coverage_exact()


def _commit_in_turn(ahead, behind):
    """`ahead` writes its coverage rows (what its commit does first: it then holds the lock), then
    `behind` commits and must wait for it; `ahead` commits, then `behind` finishes."""
    errors = []
    coverage.apply(ahead)
    thread = in_background_until_blocked(behind.commit, errors)
    ahead.commit()
    thread.join()
    assert errors == []


@pytest.mark.postgres
@pytest.mark.parametrize("first", ["assignment", "agency"])
def test_an_assignment_and_a_new_agency_below_it_at_once(app, tree, fixture_course, first):
    """A district's assignment is given while a commune is created under it, in two sessions: the
    second to write waits for the first's commit and then sees its change, so the pair is not missed
    whichever goes first."""
    from sqlalchemy.orm import Session

    from app.models import Course

    course_id, a_id, a1_id = fixture_course.id, tree["a"].id, tree["a1"].id
    manager, admin = Session(db.engine), Session(db.engine)
    try:
        _assign(manager.get(Course, course_id), manager.get(Agency, a_id), session=manager)
        create_agency(admin, code="NEW", name="Xã Mới", kind="commune", parent=admin.get(Agency, a1_id))
        ahead, behind = (manager, admin) if first == "assignment" else (admin, manager)
        _commit_in_turn(ahead, behind)
    finally:
        for session in (manager, admin):
            session.close()
    new_id = db.session.scalar(select(Agency.id).where(Agency.code == "NEW"))
    assert db.session.scalar(select(func.count()).select_from(AssignmentCoverage)
                             .where(AssignmentCoverage.agency_id == new_id)) == 1
    assert_coverage_exact()


@pytest.mark.postgres
def test_a_subtree_moved_away_while_its_old_parent_is_given_an_assignment(app, tree, make_user, fixture_course):
    from sqlalchemy.orm import Session

    from app.models import Course

    make_user(agency=tree["b1"])
    course_id, b_id, b1_id, a_id = fixture_course.id, tree["b"].id, tree["b1"].id, tree["a"].id
    mover, manager = Session(db.engine), Session(db.engine)
    try:
        move_agency(mover, mover.get(Agency, b1_id), mover.get(Agency, a_id))
        _assign(manager.get(Course, course_id), manager.get(Agency, b_id), session=manager)
        _commit_in_turn(mover, manager)
    finally:
        for session in (mover, manager):
            session.close()
    assert_coverage_exact()
    assert_summaries_follow(db.session.get(Course, course_id), [db.session.get(Agency, tree["root"].id)])
