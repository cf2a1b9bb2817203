"""The manager's pages: subtree dashboard, people, one person, what staff get wrong, assignments."""
from datetime import datetime, time, timedelta, timezone

import io

from flask import (Blueprint, Response, abort, current_app, flash, redirect, render_template, request, send_file,
                   stream_with_context, url_for)
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..extensions import db, export_limit, nudge_limit, pdf_limit_when_pdf
from ..formatting import VIETNAM
from ..jobs import work as background
from ..auth.forms import EmptyForm
from ..pagination import page_arg, paginate_rows, paginated
from ..models import Agency, Attempt, Course, CourseCompletion, Lesson, LessonProgress, utcnow
from ..permissions import (can_change_assignment, can_manage_agency, can_see_job, get_agency_or_404, get_assignment_or_404,
                           get_person_to_remind_or_404, get_user_or_404, managed_root_agencies, require_role)
from ..reminders import services as reminders
from ..reminders.mail import SmtpMailer
from ..privacy.services import trace_list_exported, trace_person_viewed
from . import exports, rules, services
from .learner import course_state
from .progress import pending_recounts
from .charts import weekly_bars_svg
from .forms import AssignmentForm, AssignmentTermsForm, PeopleFilterForm

bp = Blueprint("tracking", __name__, url_prefix="/manage", template_folder="templates")
PER_PAGE = 25
#: the names a reminder's confirmation lists; the rest are counted
NAMES_SHOWN = 30


def _courses() -> list[Course]:
    return list(db.session.scalars(select(Course).where(Course.status == "published").order_by(Course.title)))


def _chosen_course() -> Course:
    courses = _courses()
    if not courses:
        abort(404)
    slug = request.args.get("course")
    return next((c for c in courses if c.slug == slug), courses[0])


@bp.route("/")
@require_role("manager")
def index():
    """Straight to the dashboard of the (first) subtree the user manages."""
    roots = managed_root_agencies(current_user)
    if len(roots) == 1:
        return redirect(url_for("tracking.dashboard", agency_id=roots[0].id))
    return render_template("tracking/index.html", roots=roots)


@bp.route("/agencies/<int:agency_id>")
@require_role("manager")
def dashboard(agency_id: int):
    """The subtree's figures, a page of its child agencies (searched by name) with completion bars,
    completions per week."""
    agency = get_agency_or_404(agency_id, need="manage")
    course = _chosen_course()
    search = (request.args.get("q") or "").strip()[:100]
    report = services.agency_report(db.session, course, agency, page=page_arg(), search=search)
    weeks = services.weekly_completions(db.session, course, agency)
    return render_template("tracking/dashboard.html", report=report, course=course, courses=_courses(),
                           chart=weekly_bars_svg(weeks), labels=services.STATUS_LABELS, search=search,
                           **_recounting(course, agency),
                           parent_visible=agency.parent is not None
                           and can_manage_agency(current_user, agency.parent))


def _people_filters(agency: Agency) -> tuple[PeopleFilterForm, dict, list[Agency]]:
    """The people filter form, the filters it gives, and the agencies of the subtree matching the
    typed agency name or code (one is chosen when only one matches; otherwise they are offered)."""
    form = PeopleFilterForm(request.args)
    form.validate()  # a malformed value is left out of the filters, never an error page
    within, matches = None, []
    if form.agency.data and not form.agency.errors:
        within = db.session.scalar(select(Agency).where(Agency.id == form.agency.data, agency.subtree_filter()))
    elif form.unit.data:
        matches = services.agency_matches(db.session, agency, form.unit.data)
        if len(matches) == 1:
            within, matches = matches[0], []
    if within is not None:
        form.unit.data = within.name
    return form, {"status": form.status.data or None, "within": within, "search": form.q.data}, matches


@bp.route("/agencies/<int:agency_id>/people")
@require_role("manager")
def people(agency_id: int):
    """People of the subtree, filtered by status, agency and name (diacritics ignored), sorted by
    name, due date, progress, best score or last activity."""
    agency = get_agency_or_404(agency_id, need="manage")
    course = _chosen_course()
    form, filters, matches = _people_filters(agency)
    sort = form.sort.data if form.sort.data in services.PEOPLE_SORTS else "name"
    descending = form.order.data == "desc"
    now = utcnow()
    total = services.people_count(db.session, course, agency, now, **filters)
    page = paginated(lambda number: paginate_rows(db.session, lambda limit, offset: services.people_page(
        db.session, course, agency, now, limit=limit, offset=offset, sort=sort, descending=descending,
        counted=total is not None, **filters), number, PER_PAGE, total_column="total", total=total))
    lessons = services.lessons_total(db.session, course)
    return render_template("tracking/people.html", agency=agency, course=course, form=form, page=page,
                           matches=matches, within=filters["within"], sort=sort, descending=descending,
                           lessons_total=lessons, labels=services.STATUS_LABELS, sort_labels=services.PEOPLE_SORT_LABELS,
                           courses=_courses(), **_recounting(course, agency))


def _recounting(course: Course, agency: Agency) -> dict:
    """The recount jobs the page's figures wait for (its notice), and those the viewer may follow."""
    jobs = pending_recounts(db.session, course, agency)
    return {"recounting": jobs, "own_recounts": [job for job in jobs if can_see_job(current_user, job)]}


@bp.route("/agencies/<int:agency_id>/remind", methods=["GET", "POST"])
@require_role("manager")
@nudge_limit
def remind_people(agency_id: int):
    """Email a reminder to everyone of the filtered people list who has not completed the course
    (not only the page shown), after a confirmation of how many and whom."""
    agency = get_agency_or_404(agency_id, need="manage")
    course = _chosen_course()
    filters = _people_filters(agency)[1]
    back = url_for("tracking.people", agency_id=agency.id, **request.args)
    scope = f"danh sách đã lọc của {filters['within'].name if filters['within'] else agency.name}"
    return _remind(course, services.people_to_remind(db.session, course, agency, utcnow(), **filters), scope, back,
                   agency=agency)


@bp.route("/people/<int:user_id>/remind", methods=["GET", "POST"])
@require_role("manager")
@nudge_limit
def remind_person(user_id: int):
    """Email one person a reminder of the course, after a confirmation."""
    person = get_person_to_remind_or_404(user_id)
    course = _chosen_course()
    back = request.args.get("next", "") if request.args.get("next", "").startswith("/manage/") else \
        url_for("tracking.person", user_id=person.id, course=course.slug)
    candidates = services.people_to_remind(db.session, course, person.agency, utcnow(), person=person)
    return _remind(course, candidates, person.full_name, back, person=person)


def _remind(course: Course, candidates, scope: str, back: str, **context):
    """The confirmation of a reminder (GET), or sending it (POST) through the reminders service."""
    now = utcnow()
    nudge = reminders.plan_nudge(db.session, course, candidates, now)
    form = EmptyForm()
    if form.validate_on_submit():
        run = reminders.send_nudge(db.session, SmtpMailer(current_app.config), course, nudge,
                                   reminders.Settings.from_config(current_app.config), actor=current_user,
                                   scope=scope, now=now)
        flash(_reminded_message(run, nudge), "warning" if run.error else "success")
        return redirect(back)
    return render_template("tracking/remind.html", course=course, nudge=nudge, form=form, back=back,
                           interval_hours=int(reminders.NUDGE_INTERVAL.total_seconds() // 3600),
                           limit=reminders.NUDGE_LIMIT, names_shown=NAMES_SHOWN, **context)


def _reminded_message(run, nudge) -> str:
    parts = [f"Đã gửi thư nhắc cho {run.learner_emails} người."]
    if run.skipped:
        parts.append(f"{run.skipped} người đã được nhắc về khóa học này trong 24 giờ qua nên không nhắc lại.")
    if nudge.cut:
        parts.append(f"Danh sách quá {reminders.NUDGE_LIMIT:,} người nên chỉ nhắc {reminders.NUDGE_LIMIT:,} người "
                     "đầu tiên theo tên; nhắc lần nữa để đến những người còn lại.".replace(",", "."))
    if run.error:
        parts.append(f"Có {run.failures} thư chưa gửi được; vui lòng thử lại sau.")
    return " ".join(parts)


@bp.route("/agencies/<int:agency_id>/export.<any(xlsx, csv, pdf):kind>")
@require_role("manager")
@export_limit
@pdf_limit_when_pdf
def export(agency_id: int, kind: str):
    """The subtree's people as XLSX or CSV (the people filters apply), or the PDF report for upward."""
    agency = get_agency_or_404(agency_id, need="manage")
    course = _chosen_course()
    now = utcnow()
    stem = f"ket-qua-{agency.code}-{now.astimezone(VIETNAM):%Y%m%d}"
    trace_list_exported(db.session, current_user, agency, detail=f"{kind.upper()}, {course.title}"
                        + (f", {request.query_string.decode()[:300]}" if request.query_string else ""))
    db.session.commit()
    filters = _people_filters(agency)[1] if kind != "pdf" else {}
    if background.runs_as_job(db.session, agency, kind):  # a big subtree: a job, not this request
        job = background.submit_export(db.session, current_user, agency, course, kind, filters, stem)
        return redirect(url_for("jobs.show", job_id=job.id))
    if kind == "pdf":
        body = exports.subtree_report_pdf(db.session, course, agency, now)
        return send_file(io.BytesIO(body), mimetype="application/pdf", as_attachment=True,
                         download_name=f"bao-cao-{stem}.pdf")
    rows = exports.person_rows(db.session, course, agency, now, **filters)
    if kind == "csv":
        return Response(stream_with_context(exports.csv_chunks(rows)), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{stem}.csv"'})
    workbook = exports.xlsx_file(rows, title=f"{agency.name} — {course.title}")
    return send_file(workbook, as_attachment=True, download_name=f"{stem}.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.route("/people/<int:user_id>")
@require_role("manager")
def person(user_id: int):
    """One person: lessons, attempts, scores, certificate."""
    user = get_user_or_404(user_id)
    course = _chosen_course()
    state = course_state(db.session, user, course)
    progress = {p.lesson_id: p for p in db.session.scalars(select(LessonProgress).join(Lesson).where(
        LessonProgress.user_id == user.id, Lesson.course_id == course.id))}
    attempts = db.session.scalars(select(Attempt).where(Attempt.user_id == user.id, Attempt.course_id == course.id)
                                  .options(selectinload(Attempt.quiz)).order_by(Attempt.started_at)).all()
    completions = db.session.scalars(select(CourseCompletion).where(
        CourseCompletion.user_id == user.id, CourseCompletion.course_id == course.id)
        .order_by(CourseCompletion.completed_at.desc())).all()
    trace_person_viewed(db.session, current_user, user, detail=f"{course.title}: {request.path}")
    db.session.commit()
    return render_template("tracking/person.html", person=user, course=course, lessons=state.lessons,
                           progress=progress, attempts=attempts, completions=completions, courses=_courses(),
                           state=state, labels=services.STATUS_LABELS)


@bp.route("/agencies/<int:agency_id>/wrong")
@require_role("manager")
def wrong(agency_id: int):
    """Nhân viên hay sai ở đâu: per question and per topic, worst first."""
    agency = get_agency_or_404(agency_id, need="manage")
    course = _chosen_course()
    # Managers take the same final test: its explanations wait until they have completed the course.
    show_explanations = db.session.scalar(select(CourseCompletion.id).where(
        CourseCompletion.user_id == current_user.id, CourseCompletion.course_id == course.id).limit(1)) is not None
    return render_template("tracking/wrong.html", agency=agency, course=course, courses=_courses(),
                           show_explanations=show_explanations,
                           wrong=services.wrong_answers(db.session, course, agency,
                                                        min_answers=current_app.config["WRONG_ANSWERS_MIN_ANSWERS"]))


def _start_of_day(day) -> datetime:
    return datetime.combine(day, time.min, tzinfo=VIETNAM).astimezone(timezone.utc)


def _terms_from(form, path: str, assignment_id: int | None = None) -> rules.Terms:
    """The terms entered in an assignment form: the due day counts to its last second."""
    return rules.Terms(path, _start_of_day(form.starts_on.data),
                       _start_of_day(form.due_on.data + timedelta(days=1)) - timedelta(seconds=1),
                       form.validity_months.data, form.recertify_days.data, assignment_id)


def _preview_or_none(form, course: Course, agency: Agency, replacing: int | None = None):
    """The preview of the entered terms, and the form ready to confirm them; None while invalid."""
    new = _terms_from(form, agency.path, replacing)
    form.previewed.data = form.terms_key()
    return services.preview_change(db.session, course, agency, replacing=replacing, new=new)


@bp.route("/agencies/<int:agency_id>/assignments", methods=["GET", "POST"])
@require_role("manager")
def assignments(agency_id: int):
    """Courses assigned to this subtree, and assigning a new one: its effect is shown before saving."""
    agency = get_agency_or_404(agency_id, need="manage")
    form = AssignmentForm()
    form.course_id.choices = [(c.id, c.title) for c in _courses()]
    preview = None
    if form.validate_on_submit():
        course = db.session.get(Course, form.course_id.data)
        if form.confirmed:
            terms = _terms_from(form, agency.path)
            services.create_assignment(
                db.session, course=course, agency=agency, starts_at=terms.starts_at, due_at=terms.due_at,
                validity_months=terms.validity_months, recertify_days=terms.recertify_days, actor=current_user)
            db.session.commit()
            flash(f"Đã giao khóa «{course.title}» cho {agency.name}.", "success")
            return redirect(url_for("tracking.assignments", agency_id=agency.id))
        preview = _preview_or_none(form, course, agency)
    elif request.method == "GET" and _courses():
        form.validity_months.data = _courses()[0].validity_months
    return render_template("tracking/assignments.html", agency=agency, form=form, preview=preview,
                           assignments=services.visible_assignments(db.session, agency), now=utcnow())


@bp.route("/assignments/<int:assignment_id>")
@require_role("manager")
def assignment(assignment_id: int):
    """One assignment: its terms, the figures of its subtree, and its history."""
    item = get_assignment_or_404(assignment_id)
    report = services.agency_report(db.session, item.course, item.agency)
    history = services.assignment_history(db.session, item)
    return render_template("tracking/assignment.html", assignment=item, report=report, history=history,
                           labels=services.STATUS_LABELS, can_change=can_change_assignment(current_user, item))


@bp.route("/assignments/<int:assignment_id>/edit", methods=["GET", "POST"])
@require_role("manager")
def edit_assignment(assignment_id: int):
    """Change the dates, validity or recertification; the effect is shown before saving."""
    item = get_assignment_or_404(assignment_id, need="change")
    form = AssignmentTermsForm()
    preview = None
    if request.method == "GET":
        form.starts_on.data = item.starts_at.astimezone(VIETNAM).date()
        form.due_on.data = item.due_at.astimezone(VIETNAM).date()
        form.validity_months.data, form.recertify_days.data = item.validity_months, item.recertify_days
    elif form.validate_on_submit():
        if form.confirmed:
            terms = _terms_from(form, item.agency.path, item.id)
            try:
                services.update_assignment(db.session, item, starts_at=terms.starts_at, due_at=terms.due_at,
                                           validity_months=terms.validity_months,
                                           recertify_days=terms.recertify_days, actor=current_user)
            except services.TrackingError as error:
                form.due_on.errors.append(str(error))
            else:
                db.session.commit()
                flash("Đã lưu thay đổi của lượt giao khóa học.", "success")
                return redirect(url_for("tracking.assignment", assignment_id=item.id))
        else:
            preview = _preview_or_none(form, item.course, item.agency, item.id)
    return render_template("tracking/assignment_edit.html", assignment=item, form=form, preview=preview)


@bp.route("/assignments/<int:assignment_id>/cancel", methods=["GET", "POST"])
@require_role("manager")
def cancel_assignment(assignment_id: int):
    """Cancel an assignment, after seeing who it releases; it is kept with its history."""
    item = get_assignment_or_404(assignment_id, need="change")
    form = EmptyForm()
    if form.validate_on_submit():
        try:
            services.cancel_assignment(db.session, item, actor=current_user)
        except services.TrackingError as error:
            flash(str(error), "warning")
        else:
            db.session.commit()
            flash("Đã hủy lượt giao khóa học. Lịch sử và kết quả học vẫn được giữ.", "success")
        return redirect(url_for("tracking.assignment", assignment_id=item.id))
    preview = services.preview_change(db.session, item.course, item.agency, replacing=item.id)
    return render_template("tracking/assignment_cancel.html", assignment=item, form=form, preview=preview)


@bp.app_template_global()
def now_utc() -> datetime:
    return utcnow()


@bp.app_template_global()
def history_terms(described: dict) -> str:
    """An audit record's before/after of an assignment, in words."""
    def day(value):
        return datetime.fromisoformat(value).astimezone(VIETNAM).strftime("%d/%m/%Y") if value else ""

    parts = [f"từ {day(described.get('starts_at'))}, hạn {day(described.get('due_at'))}",
             f"hiệu lực {described['validity_months']} tháng" if described.get("validity_months") else "không hết hạn",
             f"học lại trước {described['recertify_days']} ngày" if described.get("recertify_days") else "học một lần"]
    if described.get("is_active") is False:
        parts.append("đã hủy")
    return "; ".join(parts)
