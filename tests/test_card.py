"""The "Trước khi đăng" card: drawn by `flask card build`, served as static files, linked from the
last lesson and the certificate block of the course page."""
import io
import re

from PIL import Image
from pypdf import PdfReader

from support import ROOT

STATIC = ROOT / "app" / "static" / "card"


def test_the_shipped_card_files_are_a_one_page_pdf_and_a_phone_sized_png(client):
    pdf = (STATIC / "truoc-khi-dang.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") <= 1
    assert b"/Count 1" in pdf
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "Trước khi đăng" in text and "Mình có đang nói thay cơ quan không?" in text
    with Image.open(STATIC / "truoc-khi-dang.png") as image:
        assert image.size == (1080, 1920)
    for name, kind in (("truoc-khi-dang.pdf", "application/pdf"), ("truoc-khi-dang.png", "image/png")):
        response = client.get(f"/static/card/{name}")
        assert response.status_code == 200 and response.mimetype == kind


def test_card_build_draws_both_files(app, runner, tmp_path):
    result = runner.invoke(args=["card", "build", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "truoc-khi-dang.pdf").read_bytes().startswith(b"%PDF")
    with Image.open(io.BytesIO((tmp_path / "truoc-khi-dang.png").read_bytes())) as image:
        assert image.size == (1080, 1920)


def test_the_last_lesson_links_the_card():
    from app.learn.rendering import render_markdown

    body = (ROOT / "content" / "lessons" / "11-tong-ket-cam-ket.md").read_text(encoding="utf-8")
    html = str(render_markdown(body))
    assert 'href="/static/card/truoc-khi-dang.pdf"' in html
    assert 'href="/static/card/truoc-khi-dang.png"' in html


def test_the_certificate_block_links_the_card(client, auth, make_user, fixture_course):
    from test_learn import _complete_course

    auth.login(make_user(full_name="Nguyễn Thị Lan"))
    # The page links the card through its content-hashed, cached address (app/assets.py).
    pdf_link = re.compile(r'href="(/assets/card/truoc-khi-dang\.[0-9a-f]+\.pdf)"')
    page = client.get("/courses/khoa-mau").get_data(as_text=True)
    assert "truoc-khi-dang" not in page  # shown with the certificate only
    assert _complete_course(client).status_code == 302
    page = client.get("/courses/khoa-mau").get_data(as_text=True)
    certificate = page.index("Tải giấy chứng nhận (PDF)")
    link = pdf_link.search(page)
    assert link and link.start() > certificate
    assert client.get(link.group(1)).data[:5] == b"%PDF-"
    assert re.search(r'href="/assets/card/truoc-khi-dang\.[0-9a-f]+\.png"', page)
