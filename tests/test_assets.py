"""Static files, the page frame and the service's own pages: hashed names cached for a year,
gzip and brotli prepared once, the favicon and manifest, the header naming the owner, the footer's
help, privacy and accessibility pages, and a trimmed Bootstrap that matches its source."""
from __future__ import annotations

import gzip
import re
import shutil
import subprocess
from pathlib import Path

import brotli
import pytest

ROOT = Path(__file__).resolve().parent.parent
PURGECSS = ROOT / "tests" / "browser" / "node_modules" / ".bin" / "purgecss"


def _asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/assets/[^"]+)"', html)


def test_pages_link_static_files_by_content_hash_cached_immutably(client):
    html = client.get("/auth/login").get_data(as_text=True)
    urls = _asset_urls(html)
    assert any(re.fullmatch(r"/assets/css/app\.[0-9a-f]{10}\.css", url) for url in urls), urls
    assert any(re.fullmatch(r"/assets/css/bootstrap\.[0-9a-f]{10}\.css", url) for url in urls), urls
    assert "/static/" not in html and "bootstrap.min" not in html
    for url in urls:
        response = client.get(url, headers={"Accept-Encoding": "identity"})
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert "Content-Encoding" not in response.headers
    # an old hash (or no hash) is not served from the immutable path
    assert client.get("/assets/css/app.0000000000.css").status_code == 404
    assert client.get("/assets/css/app.css").status_code == 404


def test_static_files_come_compressed_with_brotli_or_gzip_as_the_browser_accepts(client):
    url = next(url for url in _asset_urls(client.get("/auth/login").get_data(as_text=True)) if "/app." in url)
    plain = client.get(url, headers={"Accept-Encoding": "identity"}).data
    assert b".site-header" in plain
    br = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert br.headers["Content-Encoding"] == "br" and br.headers["Vary"] == "Accept-Encoding"
    assert brotli.decompress(br.data) == plain and len(br.data) < len(plain) / 3
    gz = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert gz.headers["Content-Encoding"] == "gzip" and gzip.decompress(gz.data) == plain
    refused = client.get(url, headers={"Accept-Encoding": "br;q=0, gzip"})
    assert refused.headers["Content-Encoding"] == "gzip"
    etag = br.headers["ETag"]
    assert client.get(url, headers={"If-None-Match": etag, "Accept-Encoding": "br"}).status_code == 304


def test_first_load_of_the_sign_in_page_is_light(client):
    """What a phone downloads on its first visit: the page and its render-blocking CSS, compressed."""
    page = client.get("/auth/login", headers={"Accept-Encoding": "br"})
    assert page.headers["Content-Encoding"] == "br"  # the page too, as it is sent
    total = len(page.data)
    for url in _asset_urls(brotli.decompress(page.data).decode()):
        total += len(client.get(url, headers={"Accept-Encoding": "br"}).data)
    assert total < 40 * 1024, total


def test_favicon_and_manifest(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/x-icon" and icon.data[:4] == b"\x00\x00\x01\x00"
    manifest = client.get("/manifest.webmanifest")
    assert manifest.status_code == 200 and manifest.mimetype == "application/manifest+json"
    body = manifest.get_json(force=True)
    assert body["lang"] == "vi" and body["display"] == "standalone"
    for item in body["icons"]:
        assert client.get(item["src"]).status_code == 200


def test_header_names_the_service_and_its_owner_and_the_footer_links_help_privacy_accessibility(client, app):
    html = client.get("/auth/login").get_data(as_text=True)
    assert app.config["SERVICE_OWNER"] in html and app.config["SERVICE_NAME"] in html
    for url, heading in (("/help", "Trợ giúp và liên hệ"), ("/privacy/notice", "Thông báo xử lý dữ liệu cá nhân"),
                         ("/accessibility", "Tuyên bố về khả năng tiếp cận")):
        assert f'href="{url}"' in html
        page = client.get(url)
        assert page.status_code == 200 and f"<h1>{heading}</h1>" in page.get_data(as_text=True)
        assert app.config["SERVICE_CONTACT_EMAIL"] in page.get_data(as_text=True)
    # The notice the administrator edits (app/privacy) is the one: the old address leads there.
    assert client.get("/privacy").headers["Location"].endswith("/privacy/notice")


def test_a_form_with_errors_has_a_summary_linking_each_field_and_marks_the_fields(client, auth, make_user):
    from support import csrf_token

    auth.login(make_user())
    token = csrf_token(client, "/auth/password")
    html = client.post("/auth/password", data={"csrf_token": token}).get_data(as_text=True)
    assert "<title>Lỗi: " in html
    summary = re.search(r'<div class="error-summary".*?</div>', html, re.S).group(0)
    assert "Có lỗi cần sửa" in summary
    targets = re.findall(r'<a href="#([^"]+)">', summary)
    assert targets
    for target in targets:
        field = re.search(rf'<(?:input|select|textarea)[^>]*\bid="{re.escape(target)}"[^>]*>', html).group(0)
        assert 'aria-invalid="true"' in field and f'{target}-error' in field
        assert f'id="{target}-error"' in html


def test_trimmed_bootstrap_matches_what_purgecss_makes_of_the_pages(tmp_path):
    """app/static/css/bootstrap.css is rebuilt by scripts/build-css.sh after a template gains a class."""
    if not PURGECSS.exists():
        pytest.fail("PurgeCSS is missing: run `npm ci --prefix tests/browser` (make test does)")
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "app", copy / "app", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "scripts", copy / "scripts")
    (copy / "tests" / "browser").mkdir(parents=True)
    (copy / "tests" / "browser" / "node_modules").symlink_to(PURGECSS.parent.parent)
    (copy / ".venv").symlink_to(ROOT / ".venv")
    subprocess.run(["scripts/build-css.sh"], cwd=copy, check=True, capture_output=True)
    assert (copy / "app/static/css/bootstrap.css").read_text() == (ROOT / "app/static/css/bootstrap.css").read_text(), \
        "app/static/css/bootstrap.css is stale: run scripts/build-css.sh"


def test_pages_come_compressed_except_when_the_address_has_a_query(client, auth, make_user):
    auth.login(make_user())
    plain = client.get("/help")
    assert "Content-Encoding" not in plain.headers and "Accept-Encoding" in plain.headers["Vary"]
    page = client.get("/help", headers={"Accept-Encoding": "gzip, br"})
    assert page.headers["Content-Encoding"] == "br" and "Accept-Encoding" in page.headers["Vary"]
    assert "<h1>Trợ giúp và liên hệ</h1>" in brotli.decompress(page.get_data()).decode()
    page = client.get("/help", headers={"Accept-Encoding": "gzip"})
    assert page.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(page.get_data()).decode().rstrip().endswith("</html>")
    # A query may be echoed beside the CSRF token: never compressed (BREACH).
    echoed = client.get("/help?q=abc", headers={"Accept-Encoding": "gzip, br"})
    assert "Content-Encoding" not in echoed.headers
