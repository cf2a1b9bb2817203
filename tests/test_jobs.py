"""Background jobs: a big export runs as a job its asker follows and downloads; failures say why and
retry; a real worker on a real Redis runs it, and a worker killed mid-job is replaced without a
second result.

The in-process tests run in JOBS_MODE=inline (what `make run` uses). The worker tests need one
database both processes see, so they run in the PostgreSQL phase of `make test` (REQUIRE_REDIS makes
a missing redis-server fail instead of skipping).
"""
from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.agencies.services import move_agency
from app.extensions import db
from app.jobs import services as jobs
from app.jobs.models import Job
from app.models import utcnow
from app.tracking import services as tracking
from loadtest.servers import gunicorn_workers as children_of  # a process's children
from support import DATABASE_URL, csrf_token, several_browsers

ROOT = Path(__file__).resolve().parent.parent
PEOPLE = 12  # in the exported subtree, besides its manager


@pytest.fixture
def exported(app, auth, make_agency_tree, make_user, fixture_course, tmp_path):
    """A subtree above the (lowered) threshold, its course assigned, and its manager signed in."""
    root, a, b, a1, *_ = make_agency_tree(depth=3, width=2)
    now = utcnow()
    tracking.create_assignment(db.session, course=fixture_course, agency=root, starts_at=now - timedelta(days=3),
                               due_at=now + timedelta(days=30))
    db.session.commit()
    manager = make_user(role="manager", agency=a, full_name="Hồ Văn Quản")
    for number in range(PEOPLE):
        make_user(agency=a1, full_name=f"Cán bộ {number:02d}")
    make_user(agency=b, full_name="Người Ngoài Phạm Vi")
    app.config.update(JOBS_EXPORT_THRESHOLD=5, JOBS_PDF_THRESHOLD=5, JOBS_RESULT_DIR=str(tmp_path / "results"))
    auth.login(manager)
    return {"root": root, "agency": a, "unit": a1, "other": b, "manager": manager, "course": fixture_course}


def _names(xlsx: bytes) -> list[str]:
    rows = list(load_workbook(io.BytesIO(xlsx)).active.iter_rows(values_only=True))
    return [row[2] for row in rows[1:]]


EXPECTED = sorted(["Hồ Văn Quản", *(f"Cán bộ {number:02d}" for number in range(PEOPLE))])


# -- in process (make run) ------------------------------------------------------------------------

def test_a_big_export_becomes_a_job_its_asker_follows_and_downloads(client, exported):
    response = client.get(f"/manage/agencies/{exported['agency'].id}/export.xlsx")
    assert response.status_code == 302 and "/jobs/" in response.location
    job = db.session.scalar(select(Job))
    assert (job.kind, job.status, job.user_id, job.attempts) == ("people_export", "finished", exported["manager"].id, 1)
    assert job.progress_done == job.progress_total == PEOPLE + 1
    assert job.expires_at - job.finished_at == timedelta(days=7)

    page = client.get(response.location).get_data(as_text=True)
    assert "Đã xong" in page and 'http-equiv="refresh"' not in page and f"/jobs/{job.id}/download" in page
    assert '<progress id="job-bar" class="job-progress__bar" max="100" value="100.0">' in page
    listing = client.get("/jobs/").get_data(as_text=True)
    assert "Tác vụ của tôi" in listing and "Xuất danh sách cán bộ (XLSX)" in listing
    assert 'href="/jobs/">Tác vụ của tôi</a>' in page  # in the account menu of every page

    download = client.get(f"/jobs/{job.id}/download")
    assert download.status_code == 200 and download.mimetype.endswith("spreadsheetml.sheet")
    assert download.headers["Content-Disposition"].startswith("attachment; filename=ket-qua-")
    assert sorted(_names(download.data)) == EXPECTED
    status = client.get(f"/jobs/{job.id}/status.json").get_json()
    assert status["finished"] and status["percent"] == 100.0 and status["text"] == "Đã xong."


def test_the_list_reads_a_fixed_number_of_queries(client, exported, count_queries):
    agency_id, unit_id = exported["agency"].id, exported["unit"].id
    for _ in range(3):
        client.get(f"/manage/agencies/{agency_id}/export.csv")
    with count_queries() as three:
        client.get("/jobs/")
    client.get(f"/manage/agencies/{unit_id}/export.csv")
    with count_queries() as four:
        client.get("/jobs/")
    assert four.count == three.count


def test_small_exports_stay_in_the_request(client, exported, app):
    app.config["JOBS_EXPORT_THRESHOLD"] = 1000
    response = client.get(f"/manage/agencies/{exported['agency'].id}/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert db.session.scalar(select(Job)) is None


def test_a_big_report_is_a_job_too(client, exported):
    response = client.get(f"/manage/agencies/{exported['agency'].id}/export.pdf")
    assert response.status_code == 302
    job = db.session.scalar(select(Job))
    download = client.get(f"/jobs/{job.id}/download")
    assert job.kind == "report_pdf" and download.mimetype == "application/pdf" and download.data.startswith(b"%PDF")


def test_a_running_job_refreshes_itself_with_and_without_javascript(client, exported):
    job = jobs.create_job(db.session, kind="people_export", user=exported["manager"], agency=exported["agency"],
                          parameters={"course_id": exported["course"].id, "format": "csv", "name": "x.csv"}, total=40)
    job.status, job.progress_done = "running", 10
    db.session.commit()
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in page and "/js/jobs." in page
    assert 'value="25.0"' in page and "Đã xử lý 10 / 40 dòng (25%)." in page
    assert client.get(f"/jobs/{job.id}/status.json").get_json() == {
        "status": "running", "label": "Đang chạy", "done": 10, "total": 40, "percent": 25.0,
        "text": "Đã xử lý 10 / 40 dòng (25%).", "finished": False}


def test_another_manager_neither_sees_nor_downloads(app, client, exported, make_user):
    client.get(f"/manage/agencies/{exported['agency'].id}/export.xlsx")
    job = db.session.scalar(select(Job))
    several_browsers(app)
    other = app.test_client()
    colleague = make_user(role="manager", agency=exported["agency"])  # same subtree, not the asker
    other.post("/auth/login", data={"username": colleague.username, "password": "mat-khau-thu-nghiem",
                                    "csrf_token": csrf_token(other, "/auth/login")})
    for url in (f"/jobs/{job.id}", f"/jobs/{job.id}/status.json", f"/jobs/{job.id}/download"):
        assert other.get(url).status_code == 404, url
    assert f"/jobs/{job.id}" not in other.get("/jobs/").get_data(as_text=True)
    assert other.post(f"/jobs/{job.id}/retry", data={"csrf_token": csrf_token(other, "/jobs/")}).status_code == 404
    anonymous = app.test_client()
    assert anonymous.get(f"/jobs/{job.id}/download").status_code == 302  # to the sign-in page


def test_the_result_goes_with_the_scope(client, exported):
    unit = exported["unit"]
    client.get(f"/manage/agencies/{unit.id}/export.xlsx")
    job = db.session.scalar(select(Job))
    assert job.agency_id == unit.id and client.get(f"/jobs/{job.id}/download").status_code == 200
    move_agency(db.session, unit, exported["other"])  # now under b, which the asker does not manage
    db.session.commit()
    assert client.get(f"/jobs/{job.id}/download").status_code == 404
    assert "không còn thuộc phạm vi" in client.get(f"/jobs/{job.id}").get_data(as_text=True)


def test_expired_results_are_deleted(client, exported, runner):
    client.get(f"/manage/agencies/{exported['agency'].id}/export.xlsx")
    job = db.session.scalar(select(Job))
    path = jobs.result_file(job)
    job.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert client.get(f"/jobs/{job.id}/download").status_code == 404
    result = runner.invoke(args=["jobs", "purge"])
    assert result.exit_code == 0 and "Đã xóa 1 tệp" in result.output
    assert not path.exists() and db.session.get(Job, job.id).result_path is None


def test_a_failed_job_says_why_and_a_retry_finishes_it_once(client, exported):
    agency = exported["agency"]
    job = jobs.create_job(db.session, kind="people_export", user=exported["manager"], agency=agency,
                          parameters={"course_id": exported["course"].id, "format": "xlsx", "name": "kq.xlsx"})
    agency.is_active = False  # closed between the request and the run
    db.session.commit()
    jobs.enqueue(job)
    db.session.refresh(job)
    assert job.status == "failed" and job.error_message == "Đơn vị của tác vụ này không còn hoạt động."
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "Tác vụ không thành công." in page and "Đơn vị của tác vụ này không còn hoạt động." in page
    assert "Chạy lại" in page

    agency.is_active = True
    db.session.commit()
    assert client.post(f"/jobs/{job.id}/retry").status_code == 400  # no CSRF token
    response = client.post(f"/jobs/{job.id}/retry", data={"csrf_token": csrf_token(client, f"/jobs/{job.id}")})
    assert response.status_code == 302
    db.session.refresh(job)
    assert (job.status, job.attempts, job.error_message) == ("finished", 2, "")
    assert os.listdir(jobs.result_root() / str(job.id)) == ["result"]
    assert sorted(_names(client.get(f"/jobs/{job.id}/download").data)) == EXPECTED
    # a second click on the old form does not run it again
    client.post(f"/jobs/{job.id}/retry", data={"csrf_token": csrf_token(client, f"/jobs/{job.id}/")})
    db.session.refresh(job)
    assert job.attempts == 2


def test_a_stale_queue_entry_does_nothing(exported):
    job = jobs.create_job(db.session, kind="people_export", user=exported["manager"], agency=exported["agency"],
                          parameters={"course_id": exported["course"].id, "format": "csv", "name": "kq.csv"})
    db.session.commit()
    jobs.run_job(job.id)
    jobs.run_job(job.id)  # e.g. RQ ran it again after the worker died right after it finished
    db.session.refresh(job)
    assert job.status == "finished" and job.attempts == 1


def test_daily_command_runs_the_reminders_as_a_job(runner, app, smtp_server):
    from app.models import ReminderRun

    result = runner.invoke(args=["jobs", "daily"])
    assert result.exit_code == 0, result.output
    job = db.session.scalar(select(Job))
    assert job.kind == "reminders" and job.user_id is None and job.status == "finished", job.error_message
    assert db.session.scalar(select(ReminderRun)).finished_at is not None
    assert runner.invoke(args=["jobs", "--help"]).exit_code == 0


# -- a real worker on a real Redis -----------------------------------------------------------------

@pytest.fixture
def queue_and_workers(app, tmp_path):
    """Redis on loopback, the app queueing on it, and `start()` for a `flask jobs worker` process."""
    from loadtest.servers import start_redis, stop, temporary_folder

    if shutil.which("redis-server") is None:
        message = "redis-server is not installed (scripts/ensure-system-deps.sh installs it)"
        if os.environ.get("REQUIRE_REDIS"):
            pytest.fail(message)
        pytest.skip(message)
    folder = temporary_folder("jobs-")
    redis, port = start_redis(folder)
    results = tmp_path / "results"
    app.config.update(JOBS_MODE="rq", JOBS_REDIS_URL=f"redis://127.0.0.1:{port}/0", JOBS_RESULT_DIR=str(results))
    env = {**os.environ, "APP_CONFIG": "production", "DATABASE_URL": DATABASE_URL, "SECRET_KEY": "x" * 32,
           "FLASK_APP": "app", "PYTHONPATH": str(ROOT), "JOBS_MODE": "rq", "JOBS_REDIS_URL": app.config["JOBS_REDIS_URL"],
           "JOBS_RESULT_DIR": str(results), "JOBS_PROGRESS_SECONDS": "0.2", "JOBS_HEARTBEAT_SECONDS": "1",
           "JOBS_HEARTBEAT_GRACE": "2", "JOBS_MAINTENANCE_SECONDS": "1", "LOG_LEVEL": "WARNING"}
    workers = []

    def start(**extra):
        log = open(tmp_path / f"worker-{len(workers)}.log", "ab")
        process = subprocess.Popen([str(Path(sys.executable).parent / "flask"), "jobs", "worker"], cwd=ROOT,
                                   env={**env, **extra}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        workers.append(process)
        return process

    try:
        yield start
    finally:
        for process in workers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        stop(redis)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.session.expire_all()
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"not within {seconds} s: {what}")


@pytest.mark.postgres
def test_a_worker_runs_an_export_end_to_end(client, exported, queue_and_workers):
    queue_and_workers()
    response = client.get(f"/manage/agencies/{exported['agency'].id}/export.xlsx")
    job_id = int(response.location.rstrip("/").rsplit("/", 1)[-1])
    job = _wait_for(lambda: (j := db.session.get(Job, job_id)).is_done and j, 60, "the job finishes")
    assert job.status == "finished", job.error_message
    assert job.peak_memory_kb > 0 and job.attempts == 1
    assert sorted(_names(client.get(f"/jobs/{job_id}/download").data)) == EXPECTED


@pytest.mark.postgres
def test_a_worker_killed_mid_job_is_replaced_and_the_job_finishes_once(client, exported, queue_and_workers):
    slow = {"JOBS_TEST_ROW_DELAY": "0.25"}  # 13 rows: about 3 s a run
    first = queue_and_workers(**slow)
    response = client.get(f"/manage/agencies/{exported['agency'].id}/export.xlsx")
    job_id = int(response.location.rstrip("/").rsplit("/", 1)[-1])
    _wait_for(lambda: db.session.get(Job, job_id).progress_done >= 3, 60, "the job is under way")
    status = client.get(f"/jobs/{job_id}/status.json").get_json()
    assert status["status"] == "running" and 0 < status["percent"] < 100

    # The worker and its work horse (RQ forks one per job, in a process group of its own), as when
    # the machine or the container dies.
    horses = children_of(first.pid)
    assert len(horses) == 1
    os.killpg(first.pid, signal.SIGKILL)
    os.kill(horses[0], signal.SIGKILL)
    first.wait()
    assert db.session.get(Job, job_id).status == "running"
    queue_and_workers(**slow)
    job = _wait_for(lambda: (j := db.session.get(Job, job_id)).is_done and j, 90, "the retried job finishes")
    assert (job.status, job.attempts) == ("finished", 2), job.error_message
    assert os.listdir(jobs.result_root() / str(job_id)) == ["result"]  # no leftover of the killed run
    assert sorted(_names(client.get(f"/jobs/{job_id}/download").data)) == EXPECTED
    time.sleep(2)  # nothing runs it a third time
    db.session.expire_all()
    assert db.session.get(Job, job_id).attempts == 2


@pytest.mark.postgres
def test_a_job_past_its_time_is_stopped_and_says_so(client, exported, queue_and_workers, app):
    app.config["JOBS_TIMEOUT"] = 1  # the queued job carries its timeout; the worker words the message
    queue_and_workers(JOBS_TEST_ROW_DELAY="0.25", JOBS_TIMEOUT="1")
    response = client.get(f"/manage/agencies/{exported['agency'].id}/export.xlsx")
    job_id = int(response.location.rstrip("/").rsplit("/", 1)[-1])
    job = _wait_for(lambda: (j := db.session.get(Job, job_id)).is_done and j, 60, "the job is stopped")
    assert job.status == "failed" and job.result_path is None
    assert job.error_message.startswith("Tác vụ chạy quá thời gian cho phép (1 giây) nên đã dừng.")
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert job.error_message in page and "Chạy lại" in page


@pytest.mark.postgres
def test_a_work_horse_outliving_its_worker_finishes_the_job_alone(client, exported, queue_and_workers):
    """Only the worker killed: its horse goes on; RQ queues the job again, and that run waits for the
    horse (the job's advisory lock), then finds it finished."""
    first = queue_and_workers(JOBS_TEST_ROW_DELAY="0.25")
    response = client.get(f"/manage/agencies/{exported['agency'].id}/export.xlsx")
    job_id = int(response.location.rstrip("/").rsplit("/", 1)[-1])
    _wait_for(lambda: db.session.get(Job, job_id).progress_done >= 2, 60, "the job is under way")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    queue_and_workers()
    job = _wait_for(lambda: (j := db.session.get(Job, job_id)).is_done and j, 90, "the job finishes")
    time.sleep(4)  # the abandoned entry is found and run again meanwhile: it must do nothing
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    assert (job.status, job.attempts) == ("finished", 1), job.error_message
    assert sorted(_names(client.get(f"/jobs/{job_id}/download").data)) == EXPECTED


def test_a_recount_job_rebuilds_a_subtrees_summaries(runner, exported):
    from sqlalchemy import delete

    from app.models import AgencyProgress

    agency, course = exported["agency"], exported["course"]
    before = tracking.agency_report(db.session, course, agency).total.staff
    db.session.execute(delete(AgencyProgress))  # as if a bulk move had left them uncounted
    db.session.commit()
    result = runner.invoke(args=["jobs", "recount", agency.code])
    assert result.exit_code == 0, result.output
    job = db.session.scalar(select(Job).where(Job.kind == "recount"))
    assert job.status == "finished" and job.user_id is None, job.error_message
    assert db.session.scalar(select(AgencyProgress).where(AgencyProgress.agency_id == exported["unit"].id)).not_started == PEOPLE
    assert tracking.agency_report(db.session, course, agency).total.staff == before == PEOPLE + 1
    assert runner.invoke(args=["jobs", "recount", "KHONG-CO"]).exit_code != 0


def test_make_run_needs_no_redis_and_make_serve_queues():
    """Unless JOBS_MODE says otherwise, the development config (make run) runs jobs in process and
    production queues them on RQ."""
    import config

    if "JOBS_MODE" in os.environ:
        pytest.skip("JOBS_MODE is set in this environment")
    assert config.DevelopmentConfig.JOBS_MODE == "inline" and config.ProductionConfig.JOBS_MODE == "rq"


# -- recounts of a large subtree ---------------------------------------------------------------------

def _push_due_date(exported, days: int):
    """Move the due date of the root's assignment to `days` days ago (through the service, in a
    request of the manager, as the assignment page does): its whole subtree is recounted."""
    from flask import current_app
    from flask_login import login_user

    from app.models import Assignment

    with current_app.test_request_context():
        login_user(exported["manager"])
        assignment = db.session.scalar(select(Assignment))
        tracking.update_assignment(db.session, assignment, starts_at=assignment.starts_at,
                                   due_at=utcnow() - timedelta(days=days), validity_months=None,
                                   recertify_days=None, actor=exported["manager"])
        db.session.commit()


def test_a_large_recount_becomes_a_job_and_readers_use_the_rule_until_it_finishes(app, client, exported):
    """With a queue (here unreachable: the job stays queued), a recount above the threshold is left to
    a job; meanwhile the pages say so and read the rule, never the rows counted before the change."""
    from app.tracking import exports, progress
    from support import assert_summaries_follow

    app.config.update(JOBS_MODE="rq", JOBS_REDIS_URL="redis://127.0.0.1:9/0", RECOUNT_JOB_THRESHOLD=5)
    agency, course = exported["agency"], exported["course"]
    assert tracking.agency_report(db.session, course, agency).total.overdue == 0
    _push_due_date(exported, 1)
    job = db.session.scalar(select(Job).where(Job.kind == "recount"))
    assert (job.status, job.agency_id, job.parameters, job.user_id) == \
        ("queued", exported["root"].id, {"course_id": course.id}, exported["manager"].id)
    assert progress.pending_recounts(db.session, course, agency) == [job]
    assert progress.status_counts(db.session, course, agency, utcnow()) is None  # the rows are stale
    assert tracking.agency_report(db.session, course, agency).total.overdue == PEOPLE + 1  # by the rule
    rows = list(exports.person_rows(db.session, course, agency, utcnow()))
    assert {row[5] for row in rows} == {"Quá hạn"} and len(rows) == PEOPLE + 1
    for url in (f"/manage/agencies/{agency.id}", f"/manage/agencies/{agency.id}/people"):
        page = client.get(url).get_data(as_text=True)
        assert "Số liệu đang được cập nhật…" in page and f"/jobs/{job.id}" in page, url
        assert "đang chờ đến lượt." in page, url
        assert "Quá hạn" in page
    _push_due_date(exported, 2)  # a second change while the first job still waits: not a second job
    assert db.session.scalar(select(func.count()).select_from(Job)) == 1

    jobs.run_job(job.id)  # what the worker does
    db.session.refresh(job)
    assert job.status == "finished", job.error_message
    assert progress.pending_recounts(db.session, course, agency) == []
    assert "Số liệu đang được cập nhật" not in client.get(f"/manage/agencies/{agency.id}").get_data(as_text=True)
    assert_summaries_follow(course, [exported["root"], agency])
    jobs.retry_job(db.session, job)  # not failed: nothing to retry; run again anyway, as a stale entry
    job.status = "queued"
    db.session.commit()
    jobs.run_job(job.id)  # a second run counts the same again
    assert_summaries_follow(course, [exported["root"], agency])


def test_small_recounts_and_make_run_stay_in_the_request(app, exported):
    from app.tracking import progress
    from support import assert_summaries_follow

    app.config.update(RECOUNT_JOB_THRESHOLD=5)  # JOBS_MODE stays inline (make run)
    _push_due_date(exported, 1)
    app.config.update(JOBS_MODE="rq", JOBS_REDIS_URL="redis://127.0.0.1:9/0", RECOUNT_JOB_THRESHOLD=1000)
    _push_due_date(exported, 2)  # under the threshold
    assert db.session.scalar(select(Job)) is None
    assert progress.pending_recounts(db.session, exported["course"], exported["agency"]) == []
    assert_summaries_follow(exported["course"], [exported["root"]])


def test_a_failed_recount_job_keeps_readers_on_the_rule_until_a_later_one_finishes(app, exported):
    from app.tracking import progress

    app.config.update(JOBS_MODE="rq", JOBS_REDIS_URL="redis://127.0.0.1:9/0", RECOUNT_JOB_THRESHOLD=5)
    _push_due_date(exported, 1)
    job = db.session.scalar(select(Job))
    job.status = "failed"  # as a worker records a failure
    db.session.commit()
    course, agency = exported["course"], exported["agency"]
    assert progress.pending_recounts(db.session, course, agency) == [job]
    other = jobs.create_job(db.session, kind="recount", user=None, agency=exported["root"],
                            parameters={"course_id": None})  # e.g. `flask jobs recount`
    db.session.commit()
    jobs.run_job(other.id)
    assert progress.pending_recounts(db.session, course, agency) == []
    assert progress.status_counts(db.session, course, agency, utcnow()) is not None


def test_moving_a_large_subtree_queues_its_recount(app, exported, make_agency):
    from app.tracking import progress
    from support import assert_summaries_follow

    app.config.update(JOBS_MODE="rq", JOBS_REDIS_URL="redis://127.0.0.1:9/0", RECOUNT_JOB_THRESHOLD=5)
    unit, course = exported["unit"], exported["course"]
    elsewhere = make_agency(name="Tỉnh khác")  # no assignment there: the unit's people are released
    move_agency(db.session, unit, elsewhere)
    db.session.commit()
    job = db.session.scalar(select(Job).where(Job.kind == "recount"))
    assert (job.status, job.agency_id, job.parameters) == ("queued", unit.id, {"course_id": None})
    assert progress.pending_recounts(db.session, course, elsewhere) == [job]
    assert tracking.agency_report(db.session, course, elsewhere).total.staff == 0  # by the rule
    jobs.run_job(job.id)
    assert progress.pending_recounts(db.session, course, elsewhere) == []
    assert_summaries_follow(course, [exported["root"], elsewhere])


@pytest.mark.postgres
def test_a_worker_runs_the_recount_of_a_large_assignment_change(app, client, exported, queue_and_workers):
    from app.tracking import progress
    from support import assert_summaries_follow

    app.config.update(RECOUNT_JOB_THRESHOLD=5)
    queue_and_workers()
    _push_due_date(exported, 1)
    job_id = db.session.scalar(select(Job.id).where(Job.kind == "recount"))
    job = _wait_for(lambda: (j := db.session.get(Job, job_id)).is_done and j, 60, "the recount finishes")
    assert (job.status, job.attempts) == ("finished", 1), job.error_message
    assert progress.pending_recounts(db.session, exported["course"], exported["agency"]) == []
    assert_summaries_follow(exported["course"], [exported["root"], exported["agency"]])
