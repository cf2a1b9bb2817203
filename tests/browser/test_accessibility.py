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
from pathlib import Path

import pytest
from sqlalchemy import select

from app.demo.cli import build_demo_progress
from app.extensions import db
from app.models import Agency, AttemptQuestion, CourseCompletion, utcnow
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
