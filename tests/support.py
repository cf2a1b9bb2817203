"""Constants and helpers shared by tests (conftest modules are not importable by name)."""
from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PASSWORD = "mat-khau-thu-nghiem"
DATABASE_URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRES = DATABASE_URL.startswith("postgresql")

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token(client, url: str) -> str:
    """The CSRF token of the form on `url`, as a browser would read it."""
    html = client.get(url).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, f"no CSRF token on {url}"
    return match.group(1) or match.group(2)


def no_sideways_scroll(page) -> bool:
    """True when a browser page fits its viewport's width (nothing scrolls sideways)."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
