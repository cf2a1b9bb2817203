"""The Content-Security-Policy blocks nothing the app itself needs: Chromium reports no violation."""
import re

import pytest

from app.demo.cli import DEMO_PASSWORD

pytestmark = pytest.mark.browser

#: collects securitypolicyviolation events; Playwright's init scripts are not subject to the page's CSP
LISTEN = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


def test_learner_pages_raise_no_csp_violation(live_server, phone, demo):
    page = phone
    console = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(LISTEN)
    violations = []

    def check(where):
        violations.extend(f"{where}: {v}" for v in page.evaluate("window.__cspViolations || []"))

    page.goto(f"{live_server}/auth/login")
    check("login")
    page.get_by_label("Tên đăng nhập hoặc email").fill("hocvien")
    page.get_by_label("Mật khẩu").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(f"{live_server}/")
    check("home")
    page.get_by_role("link", name=re.compile("Bắt đầu học")).click()
    page.get_by_role("heading", name="Ba vi phạm thường gặp").wait_for()
    check("lesson")
    page.goto(f"{live_server}/quizzes/final-mau")
    check("quiz")
    page.get_by_role("button", name="Bắt đầu làm bài").click()
    page.wait_for_url(re.compile(r"/attempts/\d+$"))
    page.locator("#countdown").wait_for()
    page.locator("form.answer-form input[name=answer]").first.check()  # attempt.js saves by fetch
    page.locator(".save-status").first.get_by_text("Đã lưu", exact=True).wait_for()
    check("attempt")
    page.locator(".account-menu summary").click()  # site.js closes it again on a click elsewhere
    page.get_by_role("button", name="Đăng xuất").wait_for()
    page.locator("h1").click()
    assert not page.get_by_role("button", name="Đăng xuất").is_visible()
    check("menu")

    assert violations == []
    assert [text for text in console if "Content Security Policy" in text] == []
