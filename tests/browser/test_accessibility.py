"""Accessibility on a phone: axe-core finds no serious or critical violation on the main learner,
manager, administrator and trainer (authoring) pages; none scrolls sideways at 200% text size nor
at a 180×390 viewport (a 360-px phone zoomed to 200 %), where no text is cut off either; the Nu HTML
checker (vnu.jar) finds no error in any page visited; and a quiz can be completed with the keyboard
alone.
"""
import json
import random
import re
import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from app.demo.cli import build_demo_progress
from app.extensions import db
from app.models import Agency, Attempt, AttemptQuestion, CourseCompletion, utcnow
from app.reminders.services import Settings, plan_reminders, send_reminders

from support import no_sideways_scroll, opaque_keys, sign_in

pytestmark = pytest.mark.browser

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]

#: the serious and critical violations, as {id, help, targets}
RUN_AXE = """async (tags) => {
  const results = await axe.run(document, {runOnly: tags});
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                  targets: v.nodes.map((n) => n.target.join(" "))}));
}"""

#: elements wider than the viewport, to say what overflows when the page scrolls sideways
WIDE_ELEMENTS = """() => Array.from(document.querySelectorAll("body *"))
  .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1
                  && !el.closest(".table-responsive, .visually-hidden, .visually-hidden-focusable"))
  .slice(0, 5)
  .map((el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
               + (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\\s+/).join(".") : ""))"""


#: text boxes that clip what they hold (overflow hidden or clip, content wider than the box)
CUT_TEXT = """() => Array.from(document.querySelectorAll("body *"))
  .filter((el) => {
    // A closed <select> shows its choice in one line by nature; opened, every option is read whole.
    if (el.closest(".visually-hidden, .skip-link, select") || !el.textContent.trim()) return false;
    const style = getComputedStyle(el);
    const clips = ["hidden", "clip"].includes(style.overflowX) || style.textOverflow === "ellipsis";
    return clips && el.scrollWidth > el.clientWidth + 1;
  })
  .slice(0, 5).map((el) => el.tagName.toLowerCase() + (el.className ? "." + String(el.className).trim().split(/\\s+/).join(".") : ""))"""

VNU_JAR = Path(__file__).resolve().parent / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"


def html_errors(pages: dict[str, str]) -> list[str]:
    """The Nu HTML checker's errors for each page's HTML as the server sent it, in one Java run."""
    if not VNU_JAR.exists():
        pytest.fail(f"{VNU_JAR} is missing: run `npm ci --prefix tests/browser` (make test does)")
    with tempfile.TemporaryDirectory() as folder:
        names = {}
        for number, (where, html) in enumerate(pages.items()):
            path = Path(folder) / f"page{number}.html"
            path.write_text(html, encoding="utf-8")
            names[path.name] = where
        run = subprocess.run(["java", "-jar", str(VNU_JAR), "--errors-only", "--format", "json", *map(str, Path(folder).glob("*.html"))],
                             capture_output=True, text=True, timeout=300)
    messages = json.loads(run.stderr or run.stdout or '{"messages": []}')["messages"]
    found = []
    for message in messages:
        where = names.get(message.get("url", "").rsplit("/", 1)[-1], message.get("url", ""))
        found.append(f"{where}: HTML error line {message.get('lastLine')}: {message.get('message')} "
                     f"[{(message.get('extract') or '').strip()[:80]}]")
    return found


class Audit:
    """Collects every page's problems so that one run lists them all."""

    def __init__(self, page):
        self.page = page
        self.problems = []
        self.sources = {}

    def check(self, where):
        page = self.page
        page.wait_for_load_state("load")
        # On the phone, then on a desktop width where the navigation bar is expanded.
        for width in (360, 1280):
            page.set_viewport_size({"width": width, "height": 740})
            for violation in page.evaluate(RUN_AXE, AXE_TAGS):
                self.problems.append(f"{where} at {width}px: [{violation['impact']}] {violation['id']} — "
                                     f"{violation['help']}: " + ", ".join(violation["targets"][:5]))
        page.set_viewport_size({"width": 360, "height": 740})
        page.evaluate("document.documentElement.style.fontSize = '200%'")
        if not no_sideways_scroll(page):
            self.problems.append(f"{where}: scrolls sideways at 200% text: {page.evaluate(WIDE_ELEMENTS)}")
        page.evaluate("document.documentElement.style.fontSize = ''")
        # A 360-px phone at 200 % zoom lays the page out in 180 CSS pixels.
        page.set_viewport_size({"width": 180, "height": 390})
        if not no_sideways_scroll(page):
            self.problems.append(f"{where}: scrolls sideways at 180×390: {page.evaluate(WIDE_ELEMENTS)}")
        cut = page.evaluate(CUT_TEXT)
        if cut:
            self.problems.append(f"{where}: text cut off at 180×390: {cut}")
        page.set_viewport_size({"width": 360, "height": 740})
        if page.url not in self.sources.values() and where not in self.sources:
            response = page.request.get(page.url)
            if response.ok and "text/html" in response.headers.get("content-type", ""):
                self.sources[where] = response.text()

    def visit(self, base_url, pages, before_check=None):
        """Open each (path, where) and audit it; `before_check(page)` runs first (e.g. a click)."""
        for path, where in pages:
            self.page.goto(f"{base_url}{path}")
            if before_check is not None:
                before_check(self.page)
            self.check(where)

    def assert_clean(self):
        problems = self.problems + html_errors(self.sources)
        assert not problems, "\n".join(problems)


def _items(attempt_id):
    db.session.expire_all()
    return db.session.scalars(select(AttemptQuestion).where(AttemptQuestion.attempt_id == attempt_id)
                              .order_by(AttemptQuestion.position)).all()


def test_learner_pages_are_accessible(live_server, axe_phone, demo):
    page, audit = axe_phone, Audit(axe_phone)
    page.goto(f"{live_server}/auth/login")
    audit.check("sign-in")
    sign_in(page, live_server, "hocvien")
    audit.check("learner home")
    page.get_by_role("link", name=re.compile("Bắt đầu học")).click()
    page.get_by_role("heading", name="Ba vi phạm thường gặp").wait_for()
    audit.check("lesson")
    page.get_by_role("button", name="Tôi đã đọc hết bài này").click()
    page.wait_for_load_state("load")
    page.goto(f"{live_server}/courses/khoa-mau")
    audit.check("course")

    page.goto(f"{live_server}/quizzes/final-mau")
    audit.check("quiz intro")
    page.get_by_role("button", name="Bắt đầu làm bài").click()
    page.wait_for_url(re.compile(r"/attempts/\d+$"))
    attempt_id = int(page.url.rsplit("/", 1)[1])
    items = _items(attempt_id)
    for item in items:
        for key in opaque_keys(attempt_id, item.position, item.version.correct_keys):
            page.locator(f"#c{item.position}-{key}").check()
        page.locator(f"#cau-{item.position} .save-status").get_by_text("Đã lưu", exact=True).wait_for()
    audit.check("attempt")
    page.get_by_role("button", name="Nộp bài").click()
    page.wait_for_url(re.compile(r"/review$"))
    audit.check("review")

    page.goto(f"{live_server}/courses/khoa-mau/commit")
    audit.check("commitment")
    page.get_by_label(re.compile("Tôi đã học và cam kết")).check()
    page.get_by_role("button", name="Xác nhận cam kết").click()
    page.get_by_text("Chúc mừng! Anh/chị đã hoàn thành khóa học.").wait_for()
    code = db.session.scalar(select(CourseCompletion.certificate_code))
    page.goto(f"{live_server}/verify/{code}")
    audit.check("certificate verification")
    audit.visit(live_server, [(f"/certificates/{code}/commitment", "commitment to print"),
                              ("/sources/cat-tuyen-quang-2021", "source viewer"),
                              ("/help", "help"), ("/privacy", "privacy notice"),
                              ("/accessibility", "accessibility statement")])
    audit.assert_clean()


def test_manager_pages_are_accessible(live_server, axe_phone, demo):
    build_demo_progress(db.session, random.Random(874))
    db.session.commit()
    province = db.session.scalar(select(Agency).where(Agency.code == "HA"))
    page, audit = axe_phone, Audit(axe_phone)
    sign_in(page, live_server, "quanly.tinh")
    page.goto(f"{live_server}/manage/")
    audit.check("manager dashboard")
    page.goto(f"{live_server}/manage/agencies/{province.id}/people")
    audit.check("people")
    page.locator("table tbody tr td a").first.click()
    page.wait_for_url(re.compile(r"/manage/people/\d+"))
    audit.check("person")
    page.goto(f"{live_server}/manage/agencies/{province.id}/wrong")
    audit.check("wrong answers")
    page.goto(f"{live_server}/manage/agencies/{province.id}/assignments")
    audit.check("assignments")
    audit.assert_clean()


class _DiscardingMailer:
    """Accepts every message and sends nothing: enough for the reminders page to list a run."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def send(self, to, subject, body):
        pass


def test_admin_pages_are_accessible(app, live_server, axe_phone, demo):
    build_demo_progress(db.session, random.Random(874))
    db.session.commit()
    now = utcnow()
    plan = plan_reminders(db.session, Settings.from_config(app.config), now)
    db.session.commit()
    send_reminders(db.session, _DiscardingMailer(), plan, now=now)
    page, audit = axe_phone, Audit(axe_phone)
    sign_in(page, live_server, "quantri")
    audit.visit(live_server, (("/admin/", "admin overview"), ("/admin/users", "users"),
                              ("/admin/import", "import"), ("/reminders/", "reminders")))
    assert page.locator("table tbody tr").count() > 0  # the run's messages are listed
    audit.assert_clean()


def test_trainer_pages_are_accessible(live_server, axe_phone, demo):
    page, audit = axe_phone, Audit(axe_phone)
    sign_in(page, live_server, "giangvien")
    audit.visit(live_server, (("/author/", "authoring overview"), ("/author/questions", "question list"),
                              ("/author/lessons", "lesson list"), ("/author/questions/q-benh-nhan/history", "history")))
    audit.visit(live_server, (("/author/questions/q-benh-nhan-2", "question editor"),
                              ("/author/lessons/l01-mau", "lesson editor")),
                before_check=lambda page: page.get_by_role("button", name="Xem trước").click())
    audit.assert_clean()


def _tab_to(page, test, *, limit=80, backwards=False):
    """Presses Tab until the focused element passes `test` (a JS function of the element)."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        if page.evaluate(f"({test})(document.activeElement)"):
            return
    raise AssertionError(f"Tab never reached an element passing {test}")


def test_a_quiz_can_be_completed_with_the_keyboard_alone(live_server, phone, demo):
    page = phone
    sign_in(page, live_server, "hocvien")
    page.goto(f"{live_server}/quizzes/final-mau")
    _tab_to(page, "(el) => el.tagName === 'BUTTON' && el.textContent.trim() === 'Bắt đầu làm bài'")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/attempts/\d+$"))
    items = _items(int(page.url.rsplit("/", 1)[1]))

    for item in items:
        correct = set(item.version.correct_keys)
        _tab_to(page, f"(el) => el.name === 'answer' && el.id.startsWith('c{item.position}-')")
        if page.evaluate("document.activeElement.type") == "radio":
            # Arrows move the choice within a radio group; Space chooses the first one.
            index = item.choice_order.index(next(iter(correct)))
            if index == 0:
                page.keyboard.press("Space")
            for _ in range(index):
                page.keyboard.press("ArrowDown")
        else:
            for number, key in enumerate(item.choice_order):
                if number:
                    page.keyboard.press("Tab")
                assert page.evaluate("document.activeElement.id") == \
                    f"c{item.position}-{opaque_keys(item.attempt_id, item.position, [key])[0]}"
                if key in correct:
                    page.keyboard.press("Space")
        page.locator(f"#cau-{item.position} .save-status").get_by_text("Đã lưu", exact=True).wait_for()

    assert page.locator("#answered-count").inner_text() == str(len(items))
    _tab_to(page, "(el) => el.tagName === 'BUTTON' && el.textContent.trim() === 'Nộp bài'")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/review$"))
    assert page.get_by_text("100% — Đạt").is_visible()


# -- every page of every role ----------------------------------------------------------------------

#: GET endpoints that are not pages a person reads, and why each is left out of the audit
NOT_PAGES = {
    "static": "files", "bootstrap.static": "files", "main.healthz": "JSON for load balancers",
    "main.manifest": "the web app manifest (JSON)", "main.service_worker": "the service worker (a script)",
    "learn.offline_reading": "JSON for the service worker", "main.privacy": "a redirect to privacy.notice",
    "directory.oidc_callback": "the directory's redirect back", "learn.certificate": "a PDF",
    "admin.audit_export": "a CSV", "admin.import_template": "a spreadsheet", "tracking.export": "a download",
    "privacy.my_data_download": "a download", "violations.receipt_pdf": "a PDF",
    "violations.evidence_original": "an uploaded file", "violations.evidence_preview": "an image",
    "violations.dashboard_pdf": "a PDF", "violations.dashboard_xlsx": "a spreadsheet",
    "violations.package": "a ZIP", "jobs.status": "JSON for the job page's script", "jobs.download": "a download",
    "violations.dashboard_index": "a redirect to the dashboard of the first subtree the head manages",
}

#: account (None: signed out) → the pages it reads; {names} are demo objects (see _demo_objects)
EVERY_PAGE = {
    None: ["/auth/login", "/account/forgot", "/account/forgot/sent", "{invitation}", "{reset}", "/verify",
           "/verify/{certificate}", "/help", "/accessibility", "/privacy/notice", "/offline"],
    "hocvien": ["/", "/courses/khoa-mau", "/lessons/l01-mau",
                "/sources/cat-tuyen-quang-2021", "/quizzes/final-mau", "/attempts/{attempt}",
                "/attempts/{review}/review", "/certificates/{certificate}/commitment", "/refreshers/{refresher}",
                "/auth/password", "/privacy/my-data", "/vi-pham/bao-cao", "/vi-pham/cua-toi",
                "/vi-pham/bao-cao/{receipt}"],
    # Who manages one subtree is sent from here to its dashboard; who manages several chooses.
    "quanly.hai": ["/manage/"],
    "quanly.tinh": ["/manage/agencies/{province}", "/manage/agencies/{province}/assignments",
                    "/manage/agencies/{province}/people", "/manage/agencies/{province}/refreshers",
                    "/manage/agencies/{province}/wrong", "/manage/assignments/{assignment}",
                    "/manage/assignments/{assignment}/edit", "/manage/assignments/{assignment}/cancel",
                    "/manage/people/{person}", "/manage/agencies/{province}/remind",
                    "/manage/people/{person}/remind", "/vi-pham/tong-hop/{province}", "/jobs/", "/jobs/{job}"],
    "giangvien": ["/author/", "/author/sources/cat-tuyen-quang-2021", "/author/lessons", "/author/questions",
                  "/author/lessons/l01-mau", "/author/questions/q-benh-nhan", "/author/lessons/l01-mau/history", "/author/lessons/new",
                  "/author/questions/new", "/vi-pham/tinh-huong"],
    "quantri": ["/admin/", "/admin/agencies", "/admin/agencies/new", "/admin/agencies/{commune}",
                "/admin/agencies/{commune}/edit", "/admin/agencies/{commune}/merge",
                "/admin/agencies/{commune}/move", "/admin/audit", "/admin/import", "/admin/sources",
                "/admin/sources/{source}", "/admin/users", "/admin/users/new", "/admin/users/{person}",
                "/privacy/admin", "/privacy/admin/access", "/privacy/admin/corrections", "/reminders/",
                "/vi-pham/quan-tri"],
    "theodoi.tinh": ["/vi-pham/xu-ly", "/vi-pham/xu-ly/{case}"],
    # A learner who passed the final test and has yet to commit (the page is a redirect otherwise).
    "theodoi.xa": ["/courses/khoa-mau/commit"],
}


def test_every_page_of_the_app_is_in_the_whole_site_audit(app):
    """A new page cannot be forgotten: every GET endpoint is audited below or said not to be a page."""
    adapter = app.url_map.bind("localhost")
    placeholder = {name: "1" for name in ("invitation", "reset", "certificate", "attempt", "review",
                                           "refresher", "receipt", "province", "assignment", "person",
                                           "commune", "source", "case", "job")}
    tokens = {"invitation": "/account/invitation/x", "reset": "/account/reset/x", "certificate": "X1"}
    covered = set()
    for paths in EVERY_PAGE.values():
        for path in paths:
            url = path.format(**{**placeholder, **tokens}) if not path.startswith("{") else tokens[path[1:-1]]
            covered.add(adapter.match(url, method="GET")[0])
    pages = {rule.endpoint for rule in app.url_map.iter_rules() if "GET" in rule.methods}
    assert not (pages - covered - NOT_PAGES.keys()), "pages missing from EVERY_PAGE (or NOT_PAGES)"
    assert not (NOT_PAGES.keys() - pages), "NOT_PAGES names endpoints that no longer exist"


def _demo_objects(app) -> dict[str, str]:
    """The demo with progress, reports and one of everything a page shows, as EVERY_PAGE's names."""
    from app.auth.links import issue_link, link_url
    from app.demo.cli import DEMO_PASSWORD, build_demo_violations
    from app.jobs.work import submit_export
    from app.learn import services as learn
    from app.models import Assignment, Course, Quiz, Refresher, Source, User
    from app.auth.services import create_user
    from app.violations.evidence import EvidenceStore
    from app.violations.models import ViolationCase, ViolationReport
    from app.violations.services import commit_or_remove
    from support import complete_fixture_course

    build_demo_progress(db.session, random.Random(874))
    store, written = EvidenceStore(app.config["VIOLATION_EVIDENCE_DIR"]), []
    build_demo_violations(db.session, store, written)
    commit_or_remove(db.session, store, written)
    users = {user.username: user for user in db.session.scalars(select(User).where(User.username.in_(
        ["hocvien", "theodoi.xa", "quanly.xa"])))}
    learner = users["hocvien"]
    course = db.session.scalar(select(Course).where(Course.slug == "khoa-mau"))
    for row in db.session.scalars(select(CourseCompletion).where(CourseCompletion.user_id.in_(
            [learner.id, users["theodoi.xa"].id]))):
        db.session.delete(row)
    db.session.flush()
    completion = complete_fixture_course(learner, course, when=utcnow() - timedelta(days=40))
    final = learn.start_attempt(db.session, users["theodoi.xa"], db.session.scalar(
        select(Quiz).where(Quiz.slug == "final-mau")))
    for item in final.questions:
        learn.save_answer(db.session, final, item.position, item.version.correct_keys)
    learn.submit_attempt(db.session, final)
    review = db.session.scalar(select(Attempt.id).where(Attempt.user_id == learner.id, Attempt.status != "in_progress")
                               .order_by(Attempt.id.desc()))
    practice = learn.start_practice(db.session, learner, course)
    refresher = Refresher(completion_id=completion.id, user_id=learner.id, course_id=course.id,
                          agency_id=learner.agency_id, months=1, due_on=utcnow().date())
    db.session.add(refresher)
    create_user(db.session, username="quanly.hai", email="quanly.hai@demo.hocmxh.vn", full_name="Đặng Thu Hải",
                agency=learner.agency, password=DEMO_PASSWORD, manages=db.session.scalars(
                    select(Agency).where(Agency.code.in_(["HA-YT", "HA-TP"]))).all())
    province = db.session.scalar(select(Agency).where(Agency.code == "HA"))
    job = submit_export(db.session, db.session.scalar(select(User).where(User.username == "quanly.tinh")), province,
                        course, "csv", {}, "ket-qua-demo")  # inline in the tests: finished, with its file
    invitation = issue_link(db.session, users["theodoi.xa"], "invitation")
    reset = issue_link(db.session, users["quanly.xa"], "reset")
    db.session.commit()
    return {
        "invitation": urlsplit(link_url(invitation)).path, "reset": urlsplit(link_url(reset)).path,
        "certificate": completion.certificate_code, "attempt": str(practice.id), "review": str(review),
        "refresher": str(refresher.id),
        "receipt": db.session.scalar(select(ViolationReport.code).where(ViolationReport.reporter_id == learner.id)),
        "province": str(db.session.scalar(select(Agency.id).where(Agency.code == "HA"))),
        "commune": str(db.session.scalar(select(Agency.id).where(Agency.code == "HA-TP"))),
        "assignment": str(db.session.scalar(select(Assignment.id).order_by(Assignment.id))),
        "person": str(learner.id),
        "source": str(db.session.scalar(select(Source.id).where(Source.slug == "cat-tuyen-quang-2021"))),
        "case": str(db.session.scalar(select(ViolationCase.id).order_by(ViolationCase.id))),
        "job": str(job.id),
    }


@pytest.mark.parametrize("account", list(EVERY_PAGE), ids=lambda account: account or "signed-out")
def test_every_page_of_every_role_is_accessible(app, live_server, axe_phone, demo, account):
    """axe at 360 and 1280 px, no sideways scroll at 200 % text nor at 180×390, no text cut off, and
    valid HTML, on every page the role reads (EVERY_PAGE)."""
    objects = _demo_objects(app)
    page, audit = axe_phone, Audit(axe_phone)
    if account:
        sign_in(page, live_server, account)
    wrong = []
    for path in EVERY_PAGE[account]:
        path = objects[path[1:-1]] if path.startswith("{") else path.format(**objects)
        response = page.goto(f"{live_server}{path}")
        if response.status != 200 or urlsplit(page.url).path != path.split("?")[0]:
            wrong.append(f"{path}: HTTP {response.status}, ended on {page.url}")
            continue
        audit.check(path)
    assert not wrong, "\n".join(wrong)
    audit.assert_clean()
