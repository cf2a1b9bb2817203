"""What every PDF of the app shares: static Noto Sans fonts (regular, bold, italic, bold italic).

The fonts are Debian's fonts-noto-core static instances (scripts/ensure-system-deps.sh installs
them): a static bold costs nothing to build, where a bold instance of the variable font took
seconds on every request. They are loaded once per process: each font's file (without the
layout tables no document uses), widths and character map are read for the first document, and every later document gets a copy of that
font object with its own lazily opened font file (fpdf2 subsets the file in place when it writes a
document, so that part cannot be shared) and its own subset.
"""
from __future__ import annotations

import copy
import io
from functools import cache
from pathlib import Path

from flask import current_app
from fontTools import ttLib
from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont

FAMILY = "Noto"
FONT_FILES = {"": "NotoSans-Regular.ttf", "B": "NotoSans-Bold.ttf", "I": "NotoSans-Italic.ttf",
              "BI": "NotoSans-BoldItalic.ttf"}


class PdfFontsMissing(RuntimeError):
    pass


@cache
def font_paths(folder: str) -> dict[str, str]:
    """Style → font file, checked once per process; a missing file fails loudly, naming the package."""
    paths = {style: Path(folder) / name for style, name in FONT_FILES.items()}
    missing = [str(path) for path in paths.values() if not path.is_file()]
    if missing:
        raise PdfFontsMissing(f"PDF fonts missing: {', '.join(missing)} (install Debian's fonts-noto-core, "
                              "or set PDF_FONT_DIR to a folder holding these static Noto Sans files)")
    return {style: str(path) for style, path in paths.items()}


#: tables fpdf2 drops from every subset it embeds (fpdf/output.py): removed once from the font this
#: process keeps, so that no document decompiles them again (Noto's layout tables took about 0.5 s
#: of each report's 1 s at the province's scale). Glyph order and widths are untouched.
UNUSED_TABLES = ("GDEF", "GPOS", "GSUB", "MATH", "hdmx", "meta", "FFTM", "sbix", "CBDT", "CBLC", "EBDT", "EBLC",
                 "EBSC", "SVG ", "CPAL", "COLR")


@cache
def _loaded(path: str, style: str) -> tuple[TTFFont, bytes]:
    """A font as fpdf2 loads it (widths, character map, glyph ids), and the file's bytes without the
    tables no document uses: once."""
    holder = FPDF()
    holder.add_font(FAMILY, style, path)
    font = ttLib.TTFont(path, recalcTimestamp=False)
    for tag in UNUSED_TABLES:
        if tag in font:
            del font[tag]
    stripped = io.BytesIO()
    font.save(stripped)
    return holder.fonts[f"{FAMILY.lower()}{style}"], stripped.getvalue()


def add_fonts(pdf: FPDF, folder: str | None = None) -> None:
    """Register the four styles of FAMILY on a document, from the fonts this process has loaded."""
    for style, path in font_paths(folder or current_app.config["PDF_FONT_DIR"]).items():
        loaded, data = _loaded(path, style)
        font = copy.copy(loaded)  # widths, character map and glyph ids are read, never written
        font.i = len(pdf.fonts) + 1
        font.ttfont = ttLib.TTFont(io.BytesIO(data), recalcTimestamp=False, lazy=True)
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        font._hbfont = None
        font.subset = SubsetMap(font)
        pdf.fonts[font.fontkey] = font


def document_date(place: str, moment) -> str:
    """"Hòa An, ngày 05 tháng 02 năm 2026": days under 10 and months 1 and 2 take a leading zero.

    Nghị định 30/2020, Phụ lục I: the zero keeps anyone from turning "1" into "11" or "12".
    """
    from .formatting import VIETNAM

    local = moment.astimezone(VIETNAM)
    month = f"{local.month:02d}" if local.month < 3 else str(local.month)
    return f"{place}, ngày {local.day:02d} tháng {month} năm {local.year}"


def place_name(root) -> str:
    """The place in the date line: the province or ministry at the top of the tree, without its kind."""
    name = root.name.split(" (")[0]  # "Tỉnh Hòa An (dữ liệu mẫu)" → "Tỉnh Hòa An"
    for prefix in ("UBND ", "Ủy ban nhân dân ", "Tỉnh ", "tỉnh ", "Thành phố ", "thành phố "):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name
