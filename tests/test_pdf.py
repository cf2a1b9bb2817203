"""The PDFs' fonts: static Noto Sans in four styles, loaded once per process and shared safely by
every document (each gets its own subset of the font file)."""
from __future__ import annotations

import io

import pytest
from fpdf import FPDF, XPos, YPos
from pypdf import PdfReader

from app import pdf as pdf_fonts


def _document(text: str) -> str:
    document = FPDF()
    pdf_fonts.add_fonts(document)
    document.add_page()
    for style in ("", "B", "I", "BI"):
        document.set_font(pdf_fonts.FAMILY, style, 12)
        document.multi_cell(0, 6, f"{text} {style}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return PdfReader(io.BytesIO(bytes(document.output()))).pages[0].extract_text()


def test_documents_made_one_after_another_share_the_loaded_fonts(app):
    with app.app_context():
        first = _document("Cộng hòa xã hội chủ nghĩa Việt Nam")
        loads = pdf_fonts._loaded.cache_info().misses
        second = _document("Độc lập - Tự do - Hạnh phúc: ỹữự ẩẫậ")  # glyphs the first never used
        assert pdf_fonts._loaded.cache_info().misses == loads  # nothing loaded again
    for style in ("", "B", "I", "BI"):
        assert f"Cộng hòa xã hội chủ nghĩa Việt Nam {style}".strip() in first
        assert f"Độc lập - Tự do - Hạnh phúc: ỹữự ẩẫậ {style}".strip() in second


def test_missing_fonts_fail_loudly_naming_the_package(tmp_path):
    with pytest.raises(pdf_fonts.PdfFontsMissing, match="fonts-noto-core"):
        pdf_fonts.font_paths(str(tmp_path))


def test_the_fonts_kept_for_documents_lack_the_layout_tables_no_document_uses(app):
    """fpdf2 drops GSUB, GPOS and the like from every subset it embeds; the process drops them once
    from the font it keeps, instead of each document decompiling them (half a second a report)."""
    from fontTools import ttLib

    for style, path in pdf_fonts.font_paths(app.config["PDF_FONT_DIR"]).items():
        loaded, data = pdf_fonts._loaded(path, style)
        kept = ttLib.TTFont(io.BytesIO(data))
        assert not set(pdf_fonts.UNUSED_TABLES) & set(kept.keys())
        assert kept.getGlyphOrder() == ttLib.TTFont(path).getGlyphOrder()  # the glyph ids fpdf2 read still hold
