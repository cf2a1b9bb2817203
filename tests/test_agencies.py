"""The agency tree: paths, subtree moves and merges that keep people, and set-based counts."""
import pytest
from sqlalchemy import select

from app.agencies.services import AgencyError, merge_agency, move_agency, plan_merge, subtree_staff_counts
from app.extensions import db
from app.models import Agency, AuditLog, ManagerScope, User
from app.permissions import can_manage_agency


def _reload(*agencies):
    return [db.session.get(Agency, a.id) for a in agencies]


def _scopes(user):
    return sorted(db.session.scalars(select(ManagerScope.agency_id).where(ManagerScope.user_id == user.id)))


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


def test_merge_moves_people_and_children_and_keeps_the_source(make_agency_tree, make_user):
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
    # Without the administrator's choice no scope moves to the target: manager_a's goes (it used to
    # become a scope over all of b, which is the widening issue 16 §8 reports); manager_both keeps b.
    assert _scopes(manager_a) == []
    assert _scopes(manager_both) == [b.id]


def test_merging_a_commune_into_a_higher_agency_does_not_widen_its_manager(make_agency_tree, make_user):
    root, a, b, a1, a2, b1, b2 = make_agency_tree(depth=3, width=2)
    commune_manager = make_user(role="manager", agency=a1, manages=[a1])
    merge_agency(db.session, a1, a)
    db.session.commit()
    # Managing a would mean managing a2 too, which this manager never did: the scope is removed.
    assert _scopes(commune_manager) == []
    user = db.session.get(User, commune_manager.id)
    assert not can_manage_agency(user, db.session.get(Agency, a2.id))
    assert not can_manage_agency(user, db.session.get(Agency, a.id))
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "user.scope_revoked"))
    assert entry.object_id == str(commune_manager.id) and entry.before == {"manages": a1.code}
    assert entry.after == {"manages": None, "reason": "agency.merged"}
    merged = db.session.scalar(select(AuditLog).where(AuditLog.action == "agency.merged"))
    assert merged.after["scopes_removed"] == [commune_manager.username] and merged.after["scopes_widened"] == []


def test_a_manager_gets_the_target_s_scope_only_when_the_administrator_chooses(make_agency_tree, make_user):
    root, a, b, a1, a2, b1, b2 = make_agency_tree(depth=3, width=2)
    chosen = make_user(role="manager", agency=a1, manages=[a1])
    not_chosen = make_user(role="manager", agency=a1, manages=[a1])
    admin = make_user(role="admin", agency=root)
    plan = plan_merge(db.session, a1, a)
    assert {(c.user.id, c.would_widen) for c in plan.scope_changes} == {(chosen.id, True), (not_chosen.id, True)}
    merge_agency(db.session, a1, a, actor=admin, widen_user_ids=[chosen.id])
    db.session.commit()
    assert _scopes(chosen) == [a.id] and _scopes(not_chosen) == []
    assert can_manage_agency(db.session.get(User, chosen.id), db.session.get(Agency, a2.id))
    granted = db.session.scalar(select(AuditLog).where(AuditLog.action == "user.scope_granted",
                                                       AuditLog.object_id == str(chosen.id)))
    assert granted.actor_id == admin.id and granted.before == {"manages": a1.code}
    assert granted.after == {"manages": a.code, "reason": "agency.merged"}
    merged = db.session.scalar(select(AuditLog).where(AuditLog.action == "agency.merged"))
    assert merged.after["scopes_widened"] == [chosen.username]
    assert merged.after["scopes_removed"] == [not_chosen.username]


def test_widening_is_refused_for_someone_who_does_not_manage_the_merged_agency(make_agency_tree, make_user):
    root, a, b, a1, a2, b1, b2 = make_agency_tree(depth=3, width=2)
    other = make_user(role="manager", agency=a2, manages=[a2])
    already = make_user(role="manager", agency=a, manages=[a1, root])
    with pytest.raises(AgencyError):
        merge_agency(db.session, a1, a, widen_user_ids=[other.id])
    with pytest.raises(AgencyError):  # covered already: nothing to widen
        merge_agency(db.session, a1, a, widen_user_ids=[already.id])
    db.session.rollback()
    assert db.session.get(Agency, a1.id).is_active and _scopes(other) == [a2.id]


def test_a_manager_already_above_the_target_keeps_the_same_rights(make_agency_tree, make_user):
    root, a, b, a1, a2, b1, b2 = make_agency_tree(depth=3, width=2)
    manager = make_user(role="manager", agency=a, manages=[a1, root])
    [change] = plan_merge(db.session, a1, a).scope_changes
    assert not change.would_widen and change.covered_by.id == root.id
    merge_agency(db.session, a1, a)
    db.session.commit()
    assert _scopes(manager) == [root.id]  # the redundant scope over a1 goes; a1 is still under root


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
