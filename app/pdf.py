"""What every PDF of the app shares: static Noto Sans fonts (regular, bold, italic, bold italic).

The fonts are Debian's fonts-noto-core static instances (scripts/ensure-system-deps.sh installs
them): a static bold costs nothing to load, where a bold instance of the variable font took
seconds to build on every request. Their paths are checked once per process; fpdf2 reads each
file lazily, only the tables a document needs.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

from flask import current_app
from fpdf import FPDF

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


def add_fonts(pdf: FPDF, folder: str | None = None) -> None:
    """Register the four styles of FAMILY on a document."""
    for style, path in font_paths(folder or current_app.config["PDF_FONT_DIR"]).items():
        pdf.add_font(FAMILY, style, path)


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
