"""`python -m audit` (`make audit`): Lighthouse's mobile profile on the main pages of each role.

The app runs as `make serve` runs it (gunicorn, production settings) on a throwaway SQLite demo
database (`flask db upgrade`, `content load`, `demo`); the learner, the manager and the trainer sign
in through the real form, and Lighthouse (pinned in audit/package-lock.json) drives Debian's
Chromium with each one's session cookies (audit/flow.mjs): a first visit with an empty cache, then a
repeat visit that keeps the cache and the service worker. For every page it prints the four scores,
the Largest Contentful Paint, the bytes transferred on the first and the repeat visit, and the
ratio of the first visit to an almost empty page of the same app (the help page, signed out), and
writes audit/results.json. docs/benchmarks.md, "Front end", holds the figures and what they mean.

What the course page downloads in the background to save the assigned lessons for offline reading
is counted apart (`offline_saving_kb`), not in the page's own first visit.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import click

from loadtest.servers import Client, app_environment, free_port, start_gunicorn, stop

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"
LIGHTHOUSE = HERE / "node_modules" / "lighthouse"
FLOW = HERE / "flow.mjs"
CHROMIUM = "/usr/bin/chromium"
FLASK = str(Path(sys.executable).parent / "flask")
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
#: (name, account or None for signed out, path): the main pages of each role, and the empty page
PAGES = [
    ("empty", None, "/help"),
    ("learner_home", "hocvien", "/"),
    ("learner_course", "hocvien", "/courses/ung-xu-mxh"),
    ("learner_lesson", "hocvien", "/lessons/l01-vi-sao-quan-trong"),
    ("manager_dashboard", "quanly.tinh", "/manage/"),
    ("trainer_overview", "giangvien", "/author/"),
]
#: metric → (limit, True when higher is better) as issue 19 states the targets
TARGETS = {"performance": (95, True), "accessibility": (100, True), "lcp_ms": (1800, False),
           "transfer_kb": (100, False), "repeat_transfer_kb": (20, False)}


def echo(message: str = "") -> None:
    click.echo(message, err=True)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def prepare_database(env: dict[str, str]) -> None:
    """The demo database as `make run` builds it."""
    for command in (["db", "upgrade"], ["content", "load"], ["demo"]):
        subprocess.run([FLASK, *command], cwd=ROOT, env={**env, "FLASK_APP": "app"}, check=True,
                       stdout=subprocess.DEVNULL)


def session_cookies(port: int, username: str) -> list[dict[str, str]]:
    """The cookies of a session signed in through the form (the demo password)."""
    from app.demo.cli import DEMO_PASSWORD

    client = Client(port)
    response = client.login(username, DEMO_PASSWORD)
    if response.status != 302:
        raise click.ClickException(f"{username} could not sign in (HTTP {response.status})")
    return [{"name": name, "value": value} for name, value in client.cookies.items()]


def lighthouse(url: str, cookies: list[dict[str, str]], work: Path) -> dict:
    """A first and a repeat visit (audit/flow.mjs: Lighthouse's mobile profile, simulated slow 4G)."""
    output = work / f"lighthouse-{secrets.token_hex(4)}.json"
    run = subprocess.run(["node", str(FLOW), url, json.dumps(cookies), str(output)],
                         env={**os.environ, "CHROME_PATH": CHROMIUM}, capture_output=True, text=True, timeout=600)
    if run.returncode != 0 or not output.exists():
        raise click.ClickException(f"Lighthouse failed on {url}:\n{run.stderr[-2000:]}")
    return json.loads(output.read_text())


def _requests(report: dict) -> list[dict]:
    return report["audits"]["network-requests"]["details"]["items"]


def _is_offline_saving(item: dict) -> bool:
    """A lesson or source the course page saves for offline reading (site.js, in the background)."""
    path = urlsplit(item["url"]).path
    return item.get("resourceType") == "Fetch" and path.startswith(("/lessons/", "/sources/"))


def repeat_bytes(first: dict, repeat: dict) -> int:
    """What the repeat visit transfers. Lighthouse sees a page the service worker answered as 0 bytes
    and not the worker's own request to the network, which every page makes (network first): the
    document is counted at its size on the first visit, the rest as Lighthouse saw it."""
    sizes = {item["url"]: item.get("transferSize") or 0 for item in _requests(first)}
    total = 0
    for item in _requests(repeat):
        size = item.get("transferSize") or 0
        if item.get("resourceType") == "Document" and size == 0:
            size = sizes.get(item["url"], 0)
        total += size
    return total


def figures(reports: dict) -> dict:
    first, repeat = reports["first"], reports["repeat"]
    audits = first["audits"]
    result = {name.replace("-", "_"): round((first["categories"][name]["score"] or 0) * 100)
              for name in CATEGORIES}
    result["lcp_ms"] = round(audits["largest-contentful-paint"]["numericValue"])
    saving = sum(item.get("transferSize") or 0 for item in _requests(first) if _is_offline_saving(item))
    # The page itself; what the course page then saves for offline reading is counted apart.
    result["transfer_kb"] = round((audits["total-byte-weight"]["numericValue"] - saving) / 1024, 1)
    result["offline_saving_kb"] = round(saving / 1024, 1)
    result["repeat_transfer_kb"] = round(repeat_bytes(first, repeat) / 1024, 1)
    result["repeat_lcp_ms"] = round(repeat["audits"]["largest-contentful-paint"]["numericValue"])
    result["requests"] = len(_requests(first))
    # What the repeat visit fetched, to see why it weighs what it does.
    result["repeat_requests"] = [f"{urlsplit(item['url']).path} {item.get('resourceType')} "
                                 f"{item.get('transferSize') or 0} B" for item in _requests(repeat)]
    failed = {}
    for category in CATEGORIES:
        for ref in first["categories"][category]["auditRefs"]:
            found = audits[ref["id"]]
            if ref.get("weight") and found.get("score") is not None and found["score"] < 1:
                items = (found.get("details") or {}).get("items") or []
                failed[ref["id"]] = [str((item.get("node") or {}).get("selector") or item.get("url") or "")
                                     for item in items[:3]]
    if failed:
        result["failed_audits"] = failed
    return result


def table(pages: dict[str, dict]) -> str:
    empty = pages["empty"]["transfer_kb"] or 1
    lines = [f"{'page':<18} {'perf':>4} {'a11y':>4} {'b-p':>4} {'seo':>4} {'LCP ms':>7} {'KB':>7} "
             f"{'repeat KB':>9} {'× empty':>7}"]
    for name, row in pages.items():
        lines.append(f"{name:<18} {row['performance']:>4} {row['accessibility']:>4} {row['best_practices']:>4} "
                     f"{row['seo']:>4} {row['lcp_ms']:>7} {row['transfer_kb']:>7} {row['repeat_transfer_kb']:>9} "
                     f"{row['transfer_kb'] / empty:>7.2f}")
    return "\n".join(lines)


def misses(pages: dict[str, dict]) -> list[str]:
    found = []
    for name, row in pages.items():
        for metric, (limit, higher) in TARGETS.items():
            value = row[metric]
            if (value < limit) if higher else (value > limit):
                found.append(f"{name}: {metric} {value} (target {'≥' if higher else '≤'} {limit})")
    return found


@click.command()
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=RESULTS, show_default=True)
@click.option("--only", multiple=True, help="Audit only these pages (by name; the empty page is always audited).")
def main(output: Path, only: tuple[str, ...]):
    """Lighthouse (mobile) on the main learner, manager and trainer pages of a demo database."""
    if not LIGHTHOUSE.exists():
        raise click.ClickException(f"{LIGHTHOUSE} is missing: run `npm ci --prefix audit` (make audit does)")
    work = Path(tempfile.mkdtemp(prefix="audit-"))
    env = app_environment(f"sqlite:///{work}/audit.sqlite3", secrets.token_hex(32), PROXY_COUNT="0",
                          HSTS_MAX_AGE="0", VIOLATION_EVIDENCE_DIR=str(work / "evidence"))
    gunicorn = None
    try:
        echo("demo database…")
        prepare_database(env)
        port = free_port()
        gunicorn = start_gunicorn(port, env, work / "gunicorn.log", workers=2)
        cookies = {account: session_cookies(port, account) for _, account, _ in PAGES if account}
        pages = {}
        for name, account, path in PAGES:
            if only and name != "empty" and name not in only:
                continue
            echo(f"lighthouse {name} ({path})…")
            pages[name] = figures(lighthouse(f"http://127.0.0.1:{port}{path}", cookies.get(account, []), work))
    finally:
        stop(gunicorn)
        shutil.rmtree(work, ignore_errors=True)
    results = {"measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "load_average": load_average(), "pages": pages}
    output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    click.echo(table(pages))
    click.echo(f"load average {results['load_average']}; written to {output}")
    missed = misses(pages)
    for miss in missed:
        click.echo(f"MISSED {miss}")
    for name, row in pages.items():
        for audit_id, where in row.get("failed_audits", {}).items():
            click.echo(f"{name}: {audit_id} {' | '.join(where)}")
    if missed:
        sys.exit(1)


if __name__ == "__main__":
    main()
