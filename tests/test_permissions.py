"""Who may open what: every protected URL for every role, and managers confined to their subtree."""
import pytest

from app import permissions
from app.extensions import db

PUBLIC = ["/healthz"]
SIGNED_IN = ["/", "/auth/password", "/vi-pham/bao-cao", "/vi-pham/cua-toi"]
MANAGER = ["/manage/", "/manage/agencies/{own}", "/manage/agencies/{own}/people",
           "/manage/agencies/{own}/wrong", "/manage/agencies/{own}/assignments", "/manage/people/{person}",
           "/vi-pham/tong-hop", "/vi-pham/tong-hop/{own}", "/vi-pham/tong-hop/{own}/bao-cao.pdf",
           "/vi-pham/tong-hop/{own}/bao-cao.xlsx"]
#: the administration's main pages (tests/test_admin.py covers every admin URL and every POST)
ADMIN = ["/admin/", "/admin/agencies", "/admin/agencies/{own}", "/admin/users", "/admin/users/{person}",
         "/admin/import", "/admin/sources", "/admin/audit", "/vi-pham/quan-tri"]
#: the handling of violation reports: monitoring officers (none in this world) and administrators;
#: tests/test_violations.py checks officers and every case URL by subtree
VIOLATION_HANDLER = ["/vi-pham/xu-ly"]
ROLES = ["anonymous", "learner", "manager", "trainer", "admin"]
#: role → the URL groups it may open
ALLOWED = {
    "anonymous": {"public"},
    "learner": {"public", "signed_in"},
    "trainer": {"public", "signed_in"},
    "manager": {"public", "signed_in", "manager"},
    "admin": {"public", "signed_in", "manager", "admin", "violation_handler"},
}


@pytest.fixture
def world(make_agency_tree, make_user, fixture_course):
    root, a, b, a1, a2, b1, b2 = make_agency_tree(depth=3, width=2)
    users = {
        "learner": make_user(agency=a1),
        "manager": make_user(role="manager", agency=a, manages=[a]),
        "trainer": make_user(role="trainer", agency=a1),
        "admin": make_user(role="admin", agency=root),
    }
    return {"root": root, "a": a, "b": b, "a1": a1, "b1": b1, "users": users}


def _urls():
    for group, urls in (("public", PUBLIC), ("signed_in", SIGNED_IN), ("manager", MANAGER), ("admin", ADMIN),
                        ("violation_handler", VIOLATION_HANDLER)):
        for url in urls:
            yield group, url


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("group,url", list(_urls()))
def test_every_url_for_every_role(client, auth, world, role, group, url):
    if role != "anonymous":
        auth.login(world["users"][role])
    url = url.format(own=world["a1"].id, person=world["users"]["learner"].id)
    response = client.get(url)
    if group in ALLOWED[role]:
        assert client.get(url, follow_redirects=True).status_code == 200, (role, url)
    elif role == "anonymous":
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    else:
        assert response.status_code == 403, (role, url)


@pytest.mark.parametrize("role", ROLES)
def test_login_page_sends_signed_in_users_home(client, auth, world, role):
    if role != "anonymous":
        auth.login(world["users"][role])
        response = client.get("/auth/login")
        assert response.status_code == 302 and response.headers["Location"] == "/"
    else:
        assert client.get("/auth/login").status_code == 200


def test_manager_sees_own_subtree_only(client, auth, world, make_user):
    auth.login(world["users"]["manager"])
    for inside in ("a", "a1"):
        assert client.get(f"/manage/agencies/{world[inside].id}").status_code == 200
    outsider = make_user(agency=world["b1"])
    for outside in ("root", "b", "b1"):
        for suffix in ("", "/people", "/wrong", "/assignments"):
            response = client.get(f"/manage/agencies/{world[outside].id}{suffix}")
            assert response.status_code == 404, (outside, suffix)
    assert client.get(f"/manage/people/{outsider.id}").status_code == 404
    assert client.get("/manage/agencies/999999").status_code == 404


def test_manager_filters_cannot_reach_outside_the_subtree(client, auth, world, make_user):
    outsider = make_user(agency=world["b1"], full_name="Người Ngoài Phạm Vi")
    auth.login(world["users"]["manager"])
    html = client.get(f"/manage/agencies/{world['a'].id}/people?agency={world['b1'].id}&q=ngoai").get_data(as_text=True)
    assert outsider.full_name not in html


def test_manager_lands_on_their_dashboard(client, auth, world):
    auth.login(world["users"]["manager"])
    response = client.get("/manage/")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/manage/agencies/{world['a'].id}")


def test_breadcrumb_does_not_link_above_the_scope(client, auth, world):
    auth.login(world["users"]["manager"])
    html = client.get(f"/manage/agencies/{world['a'].id}").get_data(as_text=True)
    assert f"/manage/agencies/{world['root'].id}?" not in html
    html = client.get(f"/manage/agencies/{world['a1'].id}").get_data(as_text=True)
    assert f"/manage/agencies/{world['a'].id}?" in html


def test_admin_manages_everything(world):
    admin = world["users"]["admin"]
    assert all(permissions.can_manage_agency(admin, world[name]) for name in ("root", "a", "b1"))


def test_managed_agency_filter_matches_can_manage(world):
    from sqlalchemy import select

    from app.models import Agency

    for role in ("learner", "manager", "admin"):
        user = world["users"][role]
        ids = set(db.session.scalars(select(Agency.id).where(permissions.managed_agency_filter(user))))
        expected = {a.id for a in db.session.scalars(select(Agency)) if permissions.can_manage_agency(user, a)}
        assert ids == expected, role


def test_navigation_follows_the_role(client, auth, world):
    auth.login(world["users"]["learner"])
    assert "Theo dõi hoàn thành" not in client.get("/").get_data(as_text=True)
    auth.logout()
    auth.login(world["users"]["manager"])
    assert "Theo dõi hoàn thành" in client.get("/").get_data(as_text=True)
