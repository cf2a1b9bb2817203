"""A live server in a thread and a real Chromium driven by Playwright.

If Chromium cannot start, the tests fail: they are never skipped.
"""
import threading
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from app.content.checks import check_content
from app.content.services import load_bundle
from app.demo.cli import build_demo
from app.extensions import db

CHROMIUM = "/usr/bin/chromium"
#: installed by `npm ci --prefix tests/browser` (scripts/run-tests.sh does it); never served by the app
AXE_JS = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make test does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def phone(browser):
    """A page the size of a 360-px-wide phone."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2,
                                  is_mobile=True, has_touch=True, locale="vi-VN")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def axe_phone(browser):
    """A phone page with axe-core loaded in every document, for accessibility audits.

    The app's Content-Security-Policy (script-src 'self') blocks the inline <script> that
    page.add_script_tag writes; init scripts are not subject to the page's policy, so axe is
    injected that way, in this audit context only: the policy the app sends is unchanged.
    """
    if not AXE_JS.exists():
        pytest.fail(f"{AXE_JS} is missing: run `npm ci --prefix tests/browser` (make test does)")
    context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2,
                                  is_mobile=True, has_touch=True, locale="vi-VN")
    context.add_init_script(path=str(AXE_JS))
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def demo(app, fixture_content):
    """The fixture curriculum and the demo agency tree with its accounts (no progress)."""
    result = check_content(*fixture_content)
    assert result.ok
    load_bundle(db.session, result.bundle)
    build_demo(db.session)
    db.session.commit()
