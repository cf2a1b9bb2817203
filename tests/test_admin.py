"""Administration: who may open what, the agency tree, accounts and roles, sources, the audit log."""
import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, update

from app.audit import AuditLogIsAppendOnly, record
from app.extensions import db
from app.models import (Agency, Assignment, AuditLog, CourseCompletion, ManagerScope, Source, User,
                        utcnow)
from app.tracking import services as tracking
from support import PASSWORD, complete_fixture_course, csrf_token, uncovered_endpoints

ROLES = ["anonymous", "learner", "manager", "trainer", "admin"]
#: every page of the administration, opened with GET
PAGES = ["/admin/", "/admin/agencies", "/admin/agencies?q=so&merged=y", "/admin/agencies/new",
         "/admin/agencies/{agency}", "/admin/agencies/{agency}/edit", "/admin/agencies/{agency}/move",
         "/admin/agencies/{agency}/merge", "/admin/agencies/{agency}/merge?target={other}",
         "/admin/users", "/admin/users?q=nguoi&role=manager&status=all&agency={agency}", "/admin/users/new",
         "/admin/users/{person}", "/admin/sources", "/admin/sources/{source}", "/admin/import",
         "/admin/import/template.xlsx", "/admin/import/template.csv", "/admin/audit",
         "/admin/audit?action=user.created&object_type=user&date_from=2020-01-01&date_to=2099-12-31",
         "/admin/audit.csv"]
#: every change, made with POST
ACTIONS = ["/admin/agencies/new", "/admin/agencies/{agency}/edit", "/admin/agencies/{agency}/move",
           "/admin/agencies/{agency}/merge?target={other}", "/admin/users/new", "/admin/users/{person}",
           "/admin/users/{person}/roles", "/admin/users/{person}/scopes",
           "/admin/users/{person}/scopes/{scope}/revoke", "/admin/users/{person}/deactivate",
           "/admin/users/{person}/reactivate", "/admin/users/{person}/password", "/admin/sources/{source}",
           "/admin/import", "/admin/import/apply", "/admin/users/{person}/invite",
           "/admin/agencies/{agency}/password-sheet"]


@pytest.fixture
def tree(make_agency_tree):
    root, a, b, a1, a2, b1, b2 = make_agency_tree(depth=3, width=2)
    return {"root": root, "a": a, "b": b, "a1": a1, "a2": a2, "b1": b1, "b2": b2}


@pytest.fixture
def world(tree, make_user, fixture_course):
    users = {
        "learner": make_user(agency=tree["a1"]),
        "manager": make_user(role="manager", agency=tree["a"], manages=[tree["a"]]),
        "trainer": make_user(role="trainer", agency=tree["a1"]),
        "admin": make_user(role="admin", agency=tree["root"]),
    }
    return {**tree, "users": users, "course": fixture_course}


def _fill(url, world):
    manager = world["users"]["manager"]
    return url.format(agency=world["a"].id, other=world["b"].id, person=manager.id,
                      scope=manager.manager_scopes[0].id, source=db.session.scalar(select(Source.id)))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("url", PAGES)
def test_every_page_for_every_role(client, auth, world, role, url):
    if role != "anonymous":
        auth.login(world["users"][role])
    response = client.get(_fill(url, world))
    if role == "admin":
        assert response.status_code == 200, url
    elif role == "anonymous":
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    else:
        assert response.status_code == 403, (role, url)


@pytest.mark.parametrize("role", ["anonymous", "learner", "manager", "trainer"])
@pytest.mark.parametrize("url", ACTIONS)
def test_no_change_without_the_admin_role(client, auth, world, role, url):
    if role != "anonymous":
        auth.login(world["users"][role])
    token = csrf_token(client, "/auth/password" if role != "anonymous" else "/auth/login")
    before = db.session.scalar(select(func.count(AuditLog.id)))
    response = client.post(_fill(url, world), data={"csrf_token": token, "name": "X", "code": "X",
                                                    "target": world["b"].id, "confirm": "y", "is_admin": "y"})
    if role == "anonymous":
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    else:
        assert response.status_code == 403, (role, url)
    assert db.session.scalar(select(func.count(AuditLog.id))) == before


def test_the_matrix_covers_every_admin_url(app):
    assert not uncovered_endpoints(app, "/admin", PAGES, ACTIONS, agency=1, other=2, person=1, scope=1, source=1)


def test_navigation_shows_administration_to_admins_only(client, auth, world):
    auth.login(world["users"]["manager"])
    assert ">Quản trị</a>" not in client.get("/").get_data(as_text=True)
    auth.logout()
    auth.login(world["users"]["admin"])
    assert ">Quản trị</a>" in client.get("/").get_data(as_text=True)


# -- the agency tree ------------------------------------------------------------------------------

@pytest.fixture
def admin(client, auth, world):
    auth.login(world["users"]["admin"])
    return world["users"]["admin"]


def _post(client, url, **data):
    return client.post(url, data={"csrf_token": csrf_token(client, "/admin/agencies/new"), **data})


def test_create_and_rename_an_agency(client, admin, world):
    response = _post(client, "/admin/agencies/new", code="T-MOI", name="Phòng  Mới", kind="unit",
                     parent_id=world["a"].id)
    agency = db.session.scalar(select(Agency).where(Agency.code == "T-MOI"))
    assert response.status_code == 302 and agency.parent_id == world["a"].id and agency.name == "Phòng Mới"
    assert agency.path == f"{world['a'].path}{agency.id}/"
    taken = _post(client, "/admin/agencies/new", code="T-MOI", name="Khác", kind="unit", parent_id=0)
    assert "Mã cơ quan «T-MOI» đã được dùng." in taken.get_data(as_text=True)
    response = _post(client, f"/admin/agencies/{agency.id}/edit", code="T-MOI2", name="Phòng Đổi Tên")
    assert response.status_code == 302
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "agency.renamed"))
    assert entry.actor_id == admin.id
    assert entry.before == {"code": "T-MOI", "name": "Phòng Mới"}
    assert entry.after == {"code": "T-MOI2", "name": "Phòng Đổi Tên"}
    clash = _post(client, f"/admin/agencies/{agency.id}/edit", code=world["b"].code, name="X")
    assert f"Mã cơ quan «{world['b'].code}» đã được dùng." in clash.get_data(as_text=True)


def test_an_agency_sets_the_number_symbol_and_signer_of_its_report(client, admin, world):
    agency = world["a"]
    response = _post(client, f"/admin/agencies/{agency.id}/edit", code=agency.code, name=agency.name,
                     document_symbol=" UBND ", signer_title="Chủ tịch", signer_name="Trần  Văn Ký")
    assert response.status_code == 302
    db.session.refresh(agency)
    assert (agency.document_symbol, agency.signer_title, agency.signer_name) == ("UBND", "Chủ tịch", "Trần Văn Ký")
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "agency.renamed")).all()[-1]
    assert entry.after == {"document_symbol": "UBND", "signer_title": "Chủ tịch", "signer_name": "Trần Văn Ký"}
    too_long = _post(client, f"/admin/agencies/{agency.id}/edit", code=agency.code, name=agency.name,
                     document_symbol="X" * 41)
    assert "Ký hiệu văn bản tối đa 40 ký tự." in too_long.get_data(as_text=True)


def _assign(course, agency):
    now = utcnow()
    assignment = tracking.create_assignment(db.session, course=course, agency=agency,
                                            starts_at=now - timedelta(days=10), due_at=now + timedelta(days=30))
    db.session.commit()
    return assignment


def _weekly(course, agency) -> int:
    return sum(count for _, count in tracking.weekly_completions(db.session, course, agency))


def test_move_keeps_history_and_refuses_a_cycle(client, admin, world, make_user):
    course = world["course"]
    _assign(course, world["root"])
    person = make_user(agency=world["a1"])
    completion = complete_fixture_course(person, course)
    response = _post(client, f"/admin/agencies/{world['a'].id}/move", parent_id=world["a1"].id)
    assert "Lựa chọn không hợp lệ." in response.get_data(as_text=True)  # its own subtree is not offered
    assert db.session.get(Agency, world["a"].id).parent_id == world["root"].id
    response = _post(client, f"/admin/agencies/{world['a'].id}/move", parent_id=world["b"].id)
    assert response.status_code == 302
    a, a1 = db.session.get(Agency, world["a"].id), db.session.get(Agency, world["a1"].id)
    assert a.parent_id == world["b"].id and a1.path.startswith(db.session.get(Agency, world["b"].id).path)
    assert db.session.get(CourseCompletion, completion.id).agency_id == world["a1"].id
    b = db.session.get(Agency, world["b"].id)
    assert _weekly(course, b) == 1 and tracking.agency_report(db.session, course, b).total.completed == 1
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "agency.moved"))
    assert entry.before == {"parent": world["root"].code} and entry.after == {"parent": world["b"].code}


def test_merge_loses_no_completion(client, admin, world, make_user):
    course = world["course"]
    root, a, b = world["root"], world["a"], world["b"]
    assignment = _assign(course, a)
    _assign(course, root)
    people = [make_user(agency=agency) for agency in (a, a, world["a1"], b, world["b1"])]
    for person in people[:4]:
        complete_fixture_course(person, course)
    manager = world["users"]["manager"]  # manages a
    report_before = tracking.agency_report(db.session, course, root).total
    completions_before = db.session.scalar(select(func.count(CourseCompletion.id)))
    weekly_before = _weekly(course, root)

    preview = client.get(f"/admin/agencies/{a.id}/merge", query_string={"target": b.id}).get_data(as_text=True)
    assert "<strong>3</strong> người" in preview  # the two placed directly in a, and its manager
    assert "<strong>1</strong> khóa học đã giao" in preview and "<strong>2</strong> lượt hoàn thành" in preview
    unconfirmed = _post(client, f"/admin/agencies/{a.id}/merge?target={b.id}", target=b.id)
    assert "Vui lòng đánh dấu xác nhận." in unconfirmed.get_data(as_text=True)
    assert db.session.get(Agency, a.id).is_active
    response = _post(client, f"/admin/agencies/{a.id}/merge?target={b.id}", target=b.id, confirm="y")
    assert response.status_code == 302

    a, b = db.session.get(Agency, a.id), db.session.get(Agency, b.id)
    assert not a.is_active and a.merged_into_id == b.id and a.parent_id == b.id
    assert {db.session.get(User, p.id).agency_id for p in people[:2]} == {b.id}
    assert db.session.get(Agency, world["a1"].id).parent_id == b.id
    assert db.session.get(Assignment, assignment.id).agency_id == b.id
    # Merged without a choice, a's manager loses that scope rather than silently managing all of b.
    assert [s.agency_id for s in db.session.scalars(select(ManagerScope).where(ManagerScope.user_id == manager.id))] == []
    assert db.session.scalar(select(func.count(CourseCompletion.id))) == completions_before == 4
    root = db.session.get(Agency, root.id)
    report_after = tracking.agency_report(db.session, course, root).total
    assert (report_after.staff, report_after.completed) == (report_before.staff, report_before.completed)
    assert _weekly(course, root) == weekly_before == 4
    assert tracking.agency_report(db.session, course, b).total.completed == 4 and _weekly(course, b) == 4
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "agency.merged"))
    assert entry.after["merged_into"] == b.code and entry.after["completions_kept"] == 2
    # A merged agency can be neither merged again nor chosen as a new home.
    assert client.get(f"/admin/agencies/{a.id}/merge").status_code == 404
    refused = _post(client, f"/admin/agencies/{world['b2'].id}/move", parent_id=a.id)
    assert "Lựa chọn không hợp lệ." in refused.get_data(as_text=True)


def test_merge_preview_lists_each_manager_and_the_administrator_decides(client, admin, world, make_user):
    a, b, a1 = world["a"], world["b"], world["a1"]
    manager = world["users"]["manager"]  # manages a
    second = make_user(role="manager", agency=a, manages=[a], full_name="Trần Thị Mai")
    above = make_user(role="manager", agency=world["root"], manages=[a, world["root"]], full_name="Lê Văn An")
    url = f"/admin/agencies/{a.id}/merge?target={b.id}"
    preview = client.get(url).get_data(as_text=True)
    table = preview[preview.index('id="merge-managers"'):]
    for person in (manager, second, above):
        assert person.full_name in table and person.username in table
    assert f'<input checked class="form-check-input" id="scope_{manager.id}-0" name="scope_{manager.id}" ' \
           'type="radio" value="remove">' in table  # removing is the default
    assert f'name="scope_{second.id}"' in table and f'name="scope_{above.id}"' not in table
    assert "quyền không thay đổi" in table  # the one who already manages b's parent

    refused = _post(client, url, target=b.id, confirm="y", **{f"scope_{manager.id}": "everything"})
    html = refused.get_data(as_text=True)
    assert "Có lỗi cần sửa" in html and "<title>Lỗi:" in html and "Lựa chọn không hợp lệ." in html
    assert db.session.get(Agency, a.id).is_active

    response = _post(client, url, target=b.id, confirm="y", **{f"scope_{manager.id}": "widen"})
    assert response.status_code == 302
    scopes = {user.id: sorted(db.session.scalars(select(ManagerScope.agency_id).where(ManagerScope.user_id == user.id)))
              for user in (manager, second, above)}
    assert scopes == {manager.id: [b.id], second.id: [], above.id: [world["root"].id]}
    granted = db.session.scalar(select(AuditLog).where(AuditLog.action == "user.scope_granted",
                                                       AuditLog.object_id == str(manager.id)))
    assert granted.actor_id == admin.id and granted.after["manages"] == b.code
    revoked = {entry.object_id for entry in db.session.scalars(
        select(AuditLog).where(AuditLog.action == "user.scope_revoked"))}
    assert revoked == {str(second.id), str(above.id)}
    assert db.session.get(Agency, a1.id).parent_id == b.id


def test_merge_into_own_subtree_is_refused(client, admin, world):
    html = client.get(f"/admin/agencies/{world['a'].id}/merge",
                      query_string={"target": world["a1"].id}).get_data(as_text=True)
    assert "Không thể hợp nhất một cơ quan vào chính nó" in html
    _post(client, f"/admin/agencies/{world['a'].id}/merge?target={world['a1'].id}", target=world["a1"].id,
          confirm="y")
    assert db.session.get(Agency, world["a"].id).is_active


def test_agency_list_search_ignores_diacritics(client, admin, make_agency, world):
    make_agency(name="Sở Y tế", code="T-YT", parent=world["root"])
    html = client.get("/admin/agencies", query_string={"q": "so y te"}).get_data(as_text=True)
    assert "Sở Y tế" in html and world["b1"].name not in html
    assert "Sở Y tế" in client.get("/admin/agencies", query_string={"q": "t-yt"}).get_data(as_text=True)


def test_agency_tree_tells_screen_readers_each_agencys_level(client, admin, world):
    html = client.get("/admin/agencies").get_data(as_text=True)
    depth = world["b1"].depth
    assert re.search(rf'<span class="visually-hidden">Cấp {depth + 1}: </span><a href="/admin/agencies/{world["b1"].id}"', html)
    # Seen, not only heard: each level is indented under its parent (a class per depth, capped).
    assert re.search(rf'<td class="agency-node agency-depth-{min(depth, 6)}"><span class="visually-hidden">Cấp {depth + 1}: '
                     rf'</span><a href="/admin/agencies/{world["b1"].id}"', html)
    assert re.search(rf'<td class="agency-node agency-depth-0"><span class="visually-hidden">Cấp 1: </span>'
                     rf'<a href="/admin/agencies/{world["root"].id}"', html)


# -- accounts -------------------------------------------------------------------------------------

def _user_post(client, url, **data):
    return client.post(url, data={"csrf_token": csrf_token(client, "/admin/users/new"), **data})


def test_create_a_user_with_a_password_shown_once(client, auth, admin, world):
    response = _user_post(client, "/admin/users/new", full_name="Đinh Thị Mới", username="dinh.moi",
                          email="Dinh.Moi@example.org", employee_code="CB100", agency_id=world["a1"].id)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    password = html.split('temporary-password">')[1].split("<")[0]
    user = db.session.scalar(select(User).where(User.username == "dinh.moi"))
    assert user.email == "dinh.moi@example.org" and user.search_name == "dinh thi moi" and user.check_password(password)
    assert password not in client.get(f"/admin/users/{user.id}").get_data(as_text=True)
    auth.logout()
    assert auth.login("dinh.moi", password).status_code == 302


@pytest.mark.parametrize("field,value,message", [
    ("username", "{username}", "Tên đăng nhập «{username}» đã được dùng."),
    ("email", "{email}", "Email «{email}» đã được dùng."),
    ("employee_code", "CB-TRUNG", "Mã cán bộ «CB-TRUNG» đã được dùng."),
    ("email", "khong-phai-email", "Email không hợp lệ."),
])
def test_duplicates_are_refused_with_vietnamese_field_errors(client, admin, world, make_user, field, value, message):
    other = make_user(employee_code="CB-TRUNG")
    data = {"full_name": "Người Mới", "username": "nguoi.moi", "email": "moi@example.org", "employee_code": "",
            "agency_id": world["a1"].id}
    data[field] = value.format(username=other.username, email=other.email)
    before = db.session.scalar(select(func.count(User.id)))
    html = _user_post(client, "/admin/users/new", **data).get_data(as_text=True)
    assert message.format(username=other.username, email=other.email) in html
    assert db.session.scalar(select(func.count(User.id))) == before
    # Editing someone else into the same clash is refused too.
    person = world["users"]["learner"]
    edit = {"full_name": person.full_name, "username": person.username, "email": person.email,
            "employee_code": "", "agency_id": person.agency_id, field: data[field]}
    html = _user_post(client, f"/admin/users/{person.id}", **edit).get_data(as_text=True)
    assert message.format(username=other.username, email=other.email) in html


def test_edit_a_user_writes_before_and_after(client, admin, world):
    person = world["users"]["learner"]
    response = _user_post(client, f"/admin/users/{person.id}", full_name="Tên  Mới Hẳn", username=person.username,
                          email=person.email, employee_code="CB-1", agency_id=world["b1"].id)
    assert response.status_code == 302
    person = db.session.get(User, person.id)
    assert (person.full_name, person.search_name, person.agency_id) == ("Tên Mới Hẳn", "ten moi han", world["b1"].id)
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "user.updated"))
    assert entry.after == {"full_name": "Tên Mới Hẳn", "employee_code": "CB-1", "agency": world["b1"].code}
    assert entry.before["agency"] == world["a1"].code and entry.before["employee_code"] is None


def test_deactivate_reactivate_and_never_oneself(client, auth, admin, world):
    person = world["users"]["learner"]
    assert _user_post(client, f"/admin/users/{person.id}/deactivate").status_code == 302
    assert not db.session.get(User, person.id).is_active
    assert db.session.get(User, person.id) is not None  # kept, with its history
    _user_post(client, f"/admin/users/{person.id}/reactivate")
    assert db.session.get(User, person.id).is_active
    response = _user_post(client, f"/admin/users/{admin.id}/deactivate")
    assert response.status_code == 302 and db.session.get(User, admin.id).is_active
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Bạn không thể tự vô hiệu hóa tài khoản của mình." in html
    actions = db.session.scalars(select(AuditLog.action).where(AuditLog.object_type == "user",
                                                               AuditLog.object_id == str(person.id))
                                 .order_by(AuditLog.id)).all()
    assert actions[-2:] == ["user.deactivated", "user.reactivated"]


def test_roles_and_scopes(client, admin, world):
    person = world["users"]["learner"]
    _user_post(client, f"/admin/users/{person.id}/roles", is_trainer="y", is_admin="y")
    person = db.session.get(User, person.id)
    assert person.is_trainer and person.is_admin
    _user_post(client, f"/admin/users/{person.id}/roles", is_trainer="y")
    assert not db.session.get(User, person.id).is_admin
    html = _user_post(client, f"/admin/users/{admin.id}/roles").get_data(as_text=True)
    assert "Bạn không thể tự bỏ quyền quản trị của mình." in html and db.session.get(User, admin.id).is_admin

    assert _user_post(client, f"/admin/users/{person.id}/scopes", agency_id=world["b"].id).status_code == 302
    again = _user_post(client, f"/admin/users/{person.id}/scopes", agency_id=world["b"].id).get_data(as_text=True)
    assert "đã quản lý" in again
    scope = db.session.scalar(select(ManagerScope).where(ManagerScope.user_id == person.id))
    assert scope.agency_id == world["b"].id
    _user_post(client, f"/admin/users/{person.id}/scopes/{scope.id}/revoke")
    assert db.session.scalar(select(ManagerScope).where(ManagerScope.user_id == person.id)) is None
    other_scope = world["users"]["manager"].manager_scopes[0]
    assert _user_post(client, f"/admin/users/{person.id}/scopes/{other_scope.id}/revoke").status_code == 404
    actions = db.session.scalars(select(AuditLog.action).where(AuditLog.object_id == str(person.id),
                                                               AuditLog.action.like("user.%"))).all()
    assert {"user.roles_changed", "user.scope_granted", "user.scope_revoked"} <= set(actions)


def test_reset_password_generated_or_chosen(client, auth, admin, world):
    person = world["users"]["learner"]
    html = _user_post(client, f"/admin/users/{person.id}/password").get_data(as_text=True)
    password = html.split('temporary-password">')[1].split("<")[0]
    assert len(password) == 12 and db.session.get(User, person.id).check_password(password)
    mismatch = _user_post(client, f"/admin/users/{person.id}/password", password="mot-mat-khau", confirm="khac")
    assert "Hai lần nhập mật khẩu không khớp." in mismatch.get_data(as_text=True)
    common = _user_post(client, f"/admin/users/{person.id}/password", password="matkhau@2026", confirm="matkhau@2026")
    assert common.status_code == 200 and not db.session.get(User, person.id).check_password("matkhau@2026")
    _user_post(client, f"/admin/users/{person.id}/password", password="Sen-hong-tren-nui-47", confirm="Sen-hong-tren-nui-47")
    assert db.session.get(User, person.id).check_password("Sen-hong-tren-nui-47")
    assert db.session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "user.password_reset")) == 2


def test_users_list_search_and_filters(client, admin, world, make_user):
    target = make_user(agency=world["b1"], full_name="Nguyễn Văn Ánh")
    gone = make_user(agency=world["b1"], full_name="Nguyễn Văn Đã Nghỉ")
    gone.is_active = False
    db.session.commit()
    html = client.get("/admin/users", query_string={"q": "nguyen van anh"}).get_data(as_text=True)
    assert target.full_name in html and world["users"]["learner"].full_name not in html
    html = client.get("/admin/users", query_string={"agency": world["b"].id}).get_data(as_text=True)
    assert target.full_name in html and gone.full_name not in html and world["users"]["learner"].full_name not in html
    html = client.get("/admin/users", query_string={"status": "inactive"}).get_data(as_text=True)
    assert gone.full_name in html and target.full_name not in html
    html = client.get("/admin/users", query_string={"role": "manager"}).get_data(as_text=True)
    assert world["users"]["manager"].full_name in html and target.full_name not in html
    html = client.get("/admin/users", query_string={"role": "learner"}).get_data(as_text=True)
    assert target.full_name in html and world["users"]["trainer"].full_name not in html


# -- sources and injection ------------------------------------------------------------------------

SCRIPT = '<script>alert("x")</script>'


def test_source_contact_is_saved_escaped_and_kept_by_content_load(client, admin, world, fixture_content):
    from types import SimpleNamespace

    from app.content.checks import check_content
    from app.content.services import load_bundle
    from app.learn.rendering import render_lesson

    source = db.session.scalar(select(Source).where(Source.province.is_not(None))) or db.session.scalar(select(Source))
    url = f"/admin/sources/{source.id}"
    html = client.get(url).get_data(as_text=True)
    assert "nạp lại nội dung" in html and "chỉ đọc" in html and "flask" not in html  # no command told
    response = client.post(url, data={"csrf_token": csrf_token(client, url),
                                      "current_contact": f"Sở KH&CN, 0123 456 789 {SCRIPT}"})
    assert response.status_code == 302
    source = db.session.get(Source, source.id)
    assert source.current_contact.endswith(SCRIPT)
    for page in (url, "/admin/sources", f"/sources/{source.slug}"):
        response = client.get(page)
        assert response.status_code == 200 and SCRIPT not in response.get_data(as_text=True), page
    assert "&lt;script&gt;" in client.get(url).get_data(as_text=True)
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "source.contact_changed"))
    assert entry.before == {"current_contact": None} and entry.after["current_contact"].endswith(SCRIPT)
    # In a lesson the contact goes through Markdown, which is sanitised: no script, no javascript: link.
    body, _ = render_lesson(SimpleNamespace(body_md=f"[[current-contact:{source.slug}]]", citations=[]), None,
                            {source.slug: source.current_contact + " [bấm](javascript:alert(1))"})
    assert "Sở KH&amp;CN" in body and "<script" not in body and 'href="javascript' not in body
    load_bundle(db.session, check_content(*fixture_content).bundle)  # the files are loaded again
    db.session.commit()
    assert db.session.get(Source, source.id).current_contact.endswith(SCRIPT)


def test_names_with_markup_are_escaped(client, admin, world, make_user, make_agency):
    make_agency(name=f"Cơ quan {SCRIPT}", parent=world["root"])
    person = make_user(agency=world["a1"], full_name=f"Người {SCRIPT}")
    for page in ("/admin/agencies", "/admin/users", f"/admin/users/{person.id}", "/admin/audit", "/admin/"):
        html = client.get(page).get_data(as_text=True)
        assert SCRIPT not in html and "&lt;script&gt;" in html, page


# -- the audit log --------------------------------------------------------------------------------

def test_audit_log_speaks_vietnamese_not_internal_names(client, admin, world):
    _post(client, "/admin/agencies/new", code="T-VN", name="Phòng Tiếng Việt", kind="unit", parent_id=world["a"].id)
    agency = db.session.scalar(select(Agency).where(Agency.code == "T-VN"))
    _post(client, f"/admin/agencies/{agency.id}/edit", code="T-VN", name="Phòng Đổi Tên")
    record(db.session, admin, "lesson.draft_dropped", ("lesson", 1), after={"is_active": False})  # an action with no label yet
    db.session.commit()
    table = client.get("/admin/audit").get_data(as_text=True).split("<tbody>")[1]
    assert "Đổi tên cơ quan" in table and "Tên: Phòng Tiếng Việt" in table and "Tên: Phòng Đổi Tên" in table
    assert "Thao tác khác của hệ thống" in table and "Đang hoạt động: không" in table
    for internal in ("agency.renamed", "lesson.draft_dropped", "name=", "is_active"):
        assert internal not in table


def test_audit_log_filters(client, admin, world):
    _post(client, "/admin/agencies/new", code="T-LOG", name="Phòng Nhật Ký", kind="unit", parent_id=world["a"].id)
    html = client.get("/admin/audit", query_string={"action": "agency.created", "actor": admin.username}).get_data(as_text=True)
    assert "T-LOG: Phòng Nhật Ký" in html and "Tạo tài khoản" not in html.split("<tbody>")[1]
    html = client.get("/admin/audit", query_string={"actor": "-", "object_type": "user"}).get_data(as_text=True)
    assert "Dòng lệnh" in html and "T-LOG" not in html
    html = client.get("/admin/audit", query_string={"date_from": "2000-01-01", "date_to": "2000-01-02"}).get_data(as_text=True)
    assert "Không có dòng nào khớp bộ lọc." in html
    html = client.get("/admin/audit", query_string={"date_from": "2000-01-02", "date_to": "2000-01-01"}).get_data(as_text=True)
    assert "«Đến ngày» phải sau «Từ ngày»." in html


def test_audit_export_is_csv_with_a_bom_and_no_formulas(client, admin, world):
    record(db.session, admin, "user.updated", world["users"]["learner"], before={"full_name": "A"},
           after={"full_name": "=HYPERLINK(\"http://x\")"}, summary="=1+1 và tiếng Việt")
    db.session.commit()
    response = client.get("/admin/audit.csv", query_string={"action": "user.updated"})
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][0] == "Thời điểm (giờ Việt Nam)" and len(rows) == 2
    assert rows[1][7] == "'=1+1 và tiếng Việt" and rows[1][2] == admin.username
    assert '"full_name": "=HYPERLINK' in rows[1][9]


def test_the_audit_log_is_append_only(world):
    entry = record(db.session, None, "user.updated", world["users"]["learner"], summary="gốc")
    db.session.commit()
    entry.summary = "sửa"
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(AuditLog, entry.id))
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    for statement in (update(AuditLog).values(summary="sửa"), delete(AuditLog),
                      update(AuditLog.__table__).values(summary="sửa")):
        with pytest.raises(AuditLogIsAppendOnly):
            db.session.execute(statement)
        db.session.rollback()
    assert db.session.get(AuditLog, entry.id).summary == "gốc"


# -- queries do not grow with the data ------------------------------------------------------------

@pytest.mark.parametrize("page", ["/admin/users", "/admin/users?q=nguoi&role=learner",
                                  "/admin/agencies", "/admin/agencies?q=co quan", "/admin/audit",
                                  "/admin/audit.csv", "/admin/agencies/{root}", "/admin/"])
def test_lists_use_a_fixed_number_of_queries(client, auth, make_agency, make_user, count_queries, page):
    root = make_agency(kind="province")
    root_id = root.id
    auth.login(make_user(role="admin", agency=root))
    url = page.format(root=root_id)

    def grow(children, per_child):
        for _ in range(children):
            child = make_agency(parent=db.session.get(Agency, root_id))
            for number in range(per_child):
                make_user(agency=child, role="manager" if number == 0 else "learner",
                          **({"employee_code": f"E{child.id}-{number}"}))

    grow(2, 2)
    with count_queries() as small:
        assert client.get(url).status_code == 200
    grow(6, 5)
    with count_queries() as large:
        assert client.get(url).status_code == 200
    assert large.count == small.count, (small.count, large.count)


def test_imported_account_without_password_cannot_sign_in(client, auth, world, make_user):
    from app.auth.services import has_usable_password, unusable_password_hash

    person = world["users"]["learner"]
    person.password_hash = unusable_password_hash()
    db.session.commit()
    assert not has_usable_password(person)
    response = auth.login(person, PASSWORD)
    assert response.status_code == 200 and "không đúng" in response.get_data(as_text=True)


@pytest.mark.parametrize("target", ["²", "99999999999999999999", "-1", "abc"])
def test_merge_preview_with_a_target_that_is_no_id_is_a_plain_page(client, admin, world, target):
    response = client.get(f"/admin/agencies/{world['a'].id}/merge", query_string={"target": target})
    assert response.status_code == 200 and 'id="merge-managers"' not in response.get_data(as_text=True)
