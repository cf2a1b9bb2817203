"""The agency tree: paths, subtree moves and merges that keep people, and set-based counts."""
import pytest
from sqlalchemy import select

from app.agencies.services import AgencyError, merge_agency, move_agency, subtree_staff_counts
from app.extensions import db
from app.models import Agency, AuditLog, ManagerScope, User


def _reload(*agencies):
    return [db.session.get(Agency, a.id) for a in agencies]


def test_paths_and_depths(make_agency_tree):
    root, *rest = make_agency_tree(depth=3, width=2)
    grandchild = rest[-1]
    assert root.path == f"/{root.id}/" and root.depth == 0
    assert grandchild.depth == 2
    assert grandchild.ancestor_ids()[0] == root.id and grandchild.ancestor_ids()[-1] == grandchild.id
    subtree = db.session.scalars(select(Agency).where(root.subtree_filter())).all()
    assert len(subtree) == 7


def test_subtree_filter_does_not_match_a_sibling_with_a_longer_id(make_agency):
    # "/1/" must not be a prefix of "/12/": the trailing slash in the path guarantees it.
    agencies = [make_agency() for _ in range(12)]
    first = agencies[0]
    matched = db.session.scalars(select(Agency.id).where(first.subtree_filter())).all()
    assert matched == [first.id]


def test_move_subtree_rewrites_every_path(make_agency_tree, make_agency):
    root, a, b, a1, a2, b1, b2 = make_agency_tree(depth=3, width=2)
    other = make_agency(kind="province")
    move_agency(db.session, a, other)
    db.session.commit()
    a, a1, other = _reload(a, a1, other)
    assert a.parent_id == other.id
    assert a.path == f"{other.path}{a.id}/" and a.depth == 1
    assert a1.path == f"{other.path}{a.id}/{a1.id}/" and a1.depth == 2
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "agency.moved"))


def test_move_into_own_subtree_is_refused(make_agency_tree):
    root, a, b, a1, *_ = make_agency_tree(depth=3, width=2)
    with pytest.raises(AgencyError):
        move_agency(db.session, a, a1)
    with pytest.raises(AgencyError):
        move_agency(db.session, a, a)


def test_merge_moves_people_children_and_scopes_and_keeps_the_source(make_agency_tree, make_user):
    root, a, b, a1, a2, b1, b2 = make_agency_tree(depth=3, width=2)
    staff = [make_user(agency=a) for _ in range(3)]
    manager_a = make_user(role="manager", agency=a)
    manager_both = make_user(role="manager", agency=root, manages=[a, b])
    merge_agency(db.session, a, b)
    db.session.commit()
    a, b, a1 = _reload(a, b, a1)
    assert not a.is_active and a.merged_into_id == b.id
    assert a1.parent_id == b.id and a1.path.startswith(b.path)
    assert {u.agency_id for u in db.session.scalars(select(User).where(User.id.in_([u.id for u in staff])))} == {b.id}
    scopes = db.session.scalars(select(ManagerScope.agency_id).where(ManagerScope.user_id == manager_a.id)).all()
    assert scopes == [b.id]
    both = db.session.scalars(select(ManagerScope.agency_id).where(ManagerScope.user_id == manager_both.id)).all()
    assert both == [b.id]


def test_merge_into_own_descendant_is_refused(make_agency_tree):
    root, a, b, a1, *_ = make_agency_tree(depth=3, width=2)
    with pytest.raises(AgencyError):
        merge_agency(db.session, a, a1)


def test_subtree_staff_counts(make_agency_tree, make_user):
    root, a, b, a1, a2, b1, b2 = make_agency_tree(depth=3, width=2)
    for agency in (a, a1, a1, b2):
        make_user(agency=agency)
    inactive = make_user(agency=a2)
    inactive.is_active = False
    db.session.commit()
    assert subtree_staff_counts(db.session, [root.id, a.id, b.id, b1.id]) == {
        root.id: 4, a.id: 3, b.id: 1, b1.id: 0}
