"""Timing the manager's pages in process with the Flask test client, and the XLSX export in a subprocess.

Every timed response must be a 200 that contains the text the page is expected to show, so an
error page is never timed. The export runs in a process of its own so that its peak RSS is the
export's, not the generator's: `python -m bench.measure export '<json>'` prints one JSON line.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from urllib.parse import urlencode

from flask.testing import FlaskClient

from app import create_app

WARMUP = 3
#: after this many timed requests, a page whose timings already add up to the budget stops early
MIN_REQUESTS = 10
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')
SECRET_KEY = "bench-secret-key-not-for-production"


def make_app(database_url: str):
    """The app as it runs in development (no TESTING, no DEBUG) on the given database."""
    os.environ.setdefault("SECRET_KEY", SECRET_KEY)  # otherwise the config writes instance/secret_key
    # The per-user limits on PDFs and exports (3 a minute) would answer 429 from the fourth timed
    # request: the bench measures what a request costs, not the limits.
    return create_app("development", {"SQLALCHEMY_DATABASE_URI": database_url, "RATELIMIT_ENABLED": False})


def sign_in(client: FlaskClient, username: str, password: str) -> None:
    html = client.get("/auth/login").get_data(as_text=True)
    match = CSRF_RE.search(html)
    if not match:
        raise RuntimeError("no CSRF token on /auth/login")
    response = client.post("/auth/login", data={"username": username, "password": password,
                                                "csrf_token": match.group(1) or match.group(2)})
    if response.status_code != 302 or "/auth/login" in response.headers.get("Location", ""):
        raise RuntimeError(f"could not sign in as {username} (HTTP {response.status_code})")


def percentile(values: list[float], share: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * share
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def time_page(client: FlaskClient, url: str, expected: list[str], requests: int,
              budget_s: float) -> list[float]:
    """Milliseconds of `requests` GETs after a warm-up; each response is checked, none is an error page.

    A slow page stops after MIN_REQUESTS once its timings add up to `budget_s`, so a run stays bounded.
    """
    timings: list[float] = []
    for index in range(WARMUP + requests):
        if len(timings) >= MIN_REQUESTS and sum(timings) >= budget_s * 1000:
            break
        started = time.perf_counter()
        response = client.get(url)
        body = response.get_data(as_text=response.mimetype != "application/pdf")
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"GET {url}: HTTP {response.status_code}")
        if not all(text in body for text in expected):
            missing = [text for text in expected if text not in body]
            raise RuntimeError(f"GET {url}: HTTP {response.status_code}, missing {missing}")
        if index >= WARMUP:
            timings.append(elapsed)
    return timings


def pages(dataset, person: tuple[int, str], pdf_job_above: int) -> list[tuple[str, str, str, list[str]]]:
    """(metric, who signs in, url, expected texts) of every timed page.

    `person`: the id and name of a learner whose page the province's manager opens. A province
    larger than `pdf_job_above` staff gets its PDF report from a job (app/jobs), which
    `measure_export` times; the mid-level agency's report is then the one timed in a request.
    """
    course = urlencode({"course": dataset.course_slug})
    root, mid = dataset.root_id, dataset.mid_id
    pdf = ("report_pdf", "root", root) if dataset.root_staff <= pdf_job_above else ("report_pdf_mid", "mid", mid)
    return [
        # The cheapest authenticated GET: loads the user and their scopes, renders a form.
        ("floor", "root", "/auth/password", ["Đổi mật khẩu"]),
        ("dashboard_root", "root", f"/manage/agencies/{root}?{course}",
         ["Cán bộ được giao", f"<div class=\"fs-4 fw-semibold\">{dataset.root_staff}</div>"]),
        ("dashboard_mid", "mid", f"/manage/agencies/{mid}?{course}",
         ["Cán bộ được giao", f"<div class=\"fs-4 fw-semibold\">{dataset.mid_staff}</div>"]),
        ("people", "root", f"/manage/agencies/{root}/people?{course}&status=in_progress",
         [" người · ", "Đang học"]),
        ("wrong_answers", "root", f"/manage/agencies/{root}/wrong?{course}",
         ["Nhân viên hay sai ở đâu", "% sai ("]),
        ("person", "root", f"/manage/people/{person[0]}?{course}", [person[1], "Bài học"]),
        # The PDF report (every child agency in its table, the overdue listed).
        (pdf[0], pdf[1], f"/manage/agencies/{pdf[2]}/export.pdf?{course}", [b"%PDF-", b"%%EOF"]),
    ]


def certificate_holder(app):
    """A learner who completed a course: their id, username, name and the URL of their certificate."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import CourseCompletion, User

    with app.app_context():
        user_id, username, full_name, code = db.session.execute(
            select(User.id, User.username, User.full_name, CourseCompletion.certificate_code)
            .join(User, User.id == CourseCompletion.user_id)
            .where(CourseCompletion.archived_at.is_(None), User.is_active)
            .order_by(CourseCompletion.id).limit(1)).one()
        db.session.remove()
    return user_id, username, full_name, f"/certificates/{code}.pdf"


def measure_pages(app, dataset, requests: int, budget_s: float, log=print) -> dict[str, float]:
    """p50 and p95 of every page in milliseconds, and how many requests were timed."""
    clients = {}
    for who, username in (("root", dataset.root_manager), ("mid", dataset.mid_manager)):
        clients[who] = app.test_client()
        sign_in(clients[who], username, dataset.password)
    learner_id, learner, full_name, certificate_url = certificate_holder(app)
    clients["learner"] = app.test_client()
    sign_in(clients["learner"], learner, dataset.password)
    results = {}
    for metric, who, url, expected in [*pages(dataset, (learner_id, full_name), app.config["JOBS_PDF_THRESHOLD"]),
                                       ("certificate_pdf", "learner", certificate_url, [b"%PDF-", b"%%EOF"])]:
        timings = time_page(clients[who], url, expected, requests, budget_s)
        results[f"{metric}_p50_ms"] = round(percentile(timings, 0.5), 1)
        results[f"{metric}_p95_ms"] = round(percentile(timings, 0.95), 1)
        results[f"{metric}_n"] = len(timings)
        log(f"  {metric:<14} p50 {results[f'{metric}_p50_ms']:>9.1f} ms   "
            f"p95 {results[f'{metric}_p95_ms']:>9.1f} ms   n={len(timings):<3} {url}")
    return results


# -- the export, in a process of its own ---------------------------------------------------------------

def measure_export(database_url: str, dataset, kind: str = "xlsx") -> dict:
    """Seconds and peak RSS of the XLSX export (or, `kind` "pdf", the PDF report) of the whole
    province, or None values when it is missing."""
    course = urlencode({"course": dataset.course_slug})
    probe = {"database_url": database_url, "username": dataset.root_manager, "password": dataset.password,
             "url": f"/manage/agencies/{dataset.root_id}/export.{kind}?{course}"}
    finished = subprocess.run([sys.executable, "-m", "bench.measure", "export", json.dumps(probe)],
                              capture_output=True, text=True, timeout=1800)
    reason = (finished.stderr.strip().splitlines() or ["no output"])[-1]  # e.g. the app's logged error
    if finished.returncode != 0:  # reported as n/a with the reason; the other figures still count
        return {"status": f"probe failed: {reason}", "export_xlsx_s": None, "export_peak_mb": None}
    result = json.loads(finished.stdout.strip().splitlines()[-1])
    if result["status"] not in (200, 404):
        result["status"] = f"HTTP {result['status']} ({reason})"
    return result


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak_rss() -> bool:
    """Make VmHWM start again from the current RSS (Linux ≥ 4.0), so it is the export's peak."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def _sheet_rows(path: str) -> int:
    """Rows over every sheet (a country-sized export spans several), headers included."""
    rows = 0
    with zipfile.ZipFile(path) as book:
        for sheet in (name for name in book.namelist() if name.startswith("xl/worksheets/sheet")):
            tail = b""
            with book.open(sheet) as xml:
                while chunk := xml.read(1 << 20):
                    data = tail + chunk
                    rows += data.count(b"<row") - tail.count(b"<row")
                    tail = data[-4:]
    return rows


def export_probe(probe: dict) -> dict:
    app = make_app(probe["database_url"])
    # The root's export runs as a job (in this process, JOBS_MODE=inline): its file goes to a scratch folder.
    app.config["JOBS_RESULT_DIR"] = tempfile.mkdtemp(prefix="bench-job-results-")
    client = app.test_client()
    sign_in(client, probe["username"], probe["password"])
    client.get("/auth/password")  # the first request pays for imports and template compilation
    baseline_mb = _status_kib("VmRSS") / 1024
    exact_peak = _reset_peak_rss()
    size = 0
    with tempfile.NamedTemporaryFile(suffix=".xlsx") as body:
        started = time.perf_counter()
        response = client.get(probe["url"], buffered=False)
        if response.status_code == 302 and "/jobs/" in response.headers.get("Location", ""):
            # A subtree this big is exported by a job (app/jobs); in the development config it runs
            # in this process before the redirect, so its result is ready: download it.
            response.close()
            response = client.get(response.headers["Location"].rstrip("/") + "/download", buffered=False)
        if response.status_code != 200:
            response.close()
            return {"status": response.status_code, "export_xlsx_s": None, "export_peak_mb": None}
        for chunk in response.iter_encoded():
            size += len(chunk)
            body.write(chunk)
        response.close()
        seconds = time.perf_counter() - started
        peak_mb = _status_kib("VmHWM") / 1024
        body.flush()
        rows = _sheet_rows(body.name) if probe["url"].split("?")[0].endswith(".xlsx") else None
    shutil.rmtree(app.config["JOBS_RESULT_DIR"], ignore_errors=True)
    return {"status": 200, "export_xlsx_s": round(seconds, 2), "export_peak_mb": round(peak_mb, 1),
            "export_baseline_mb": round(baseline_mb, 1), "export_rows": rows,
            "export_bytes": size, "content_type": response.headers.get("Content-Type", ""),
            "peak_is_exact": exact_peak}


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "export":
        sys.exit("usage: python -m bench.measure export '<json>'")
    print(json.dumps(export_probe(json.loads(sys.argv[2]))))
