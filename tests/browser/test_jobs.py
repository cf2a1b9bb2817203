"""A background job's page in Chromium: the bar moves as the job goes on, the download appears when it ends."""
import time
from datetime import timedelta

import pytest

from app.extensions import db
from app.jobs.services import create_job
from app.models import utcnow
from support import PASSWORD, no_sideways_scroll, sign_in

pytestmark = pytest.mark.browser


def test_the_job_page_follows_its_job_until_the_download(live_server, phone, make_agency, make_user):
    agency = make_agency(name="Sở Nội vụ")
    manager = make_user(role="manager", agency=agency)
    job = create_job(db.session, kind="people_export", user=manager, agency=agency,
                     parameters={"format": "xlsx", "name": "ket-qua.xlsx"}, total=40)
    job.status, job.progress_done = "running", 10
    db.session.commit()
    sign_in(phone, live_server, manager.username, PASSWORD)
    phone.goto(f"{live_server}/jobs/{job.id}")
    assert phone.get_by_role("heading", name="Xuất danh sách cán bộ (XLSX)").is_visible()
    assert phone.locator("progress").evaluate("bar => bar.value") == 25
    assert no_sideways_scroll(phone)

    job.progress_done = 30  # the worker goes on; the page's script polls and moves the bar
    db.session.commit()
    # (wait_for_function would evaluate a string, which the page's policy forbids: poll from here)
    deadline = time.monotonic() + 15
    while phone.locator("progress").evaluate("bar => bar.value") != 75 and time.monotonic() < deadline:
        phone.wait_for_timeout(200)
    assert phone.locator("progress").evaluate("bar => bar.value") == 75
    assert phone.get_by_role("status").inner_text() == "Đã xử lý 30 / 40 dòng (75%)."

    finished = utcnow()
    job.status, job.progress_done, job.finished_at = "finished", 40, finished
    job.result_path, job.result_name, job.result_size = f"{job.id}/result", "ket-qua.xlsx", 2_500_000
    job.expires_at = finished + timedelta(days=7)
    db.session.commit()
    link = phone.get_by_role("link", name="Tải về ket-qua.xlsx")
    link.wait_for(timeout=15000)  # the page reloaded itself once the job had ended
    assert phone.get_by_role("status").inner_text() == "Đã xong."
