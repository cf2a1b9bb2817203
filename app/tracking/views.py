"""The manager's pages: subtree dashboard, people, one person, what staff get wrong, assignments."""
from datetime import datetime, time, timedelta, timezone

import io

from flask import (Blueprint, Response, abort, flash, redirect, render_template, request, send_file,
                   stream_with_context, url_for)
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..formatting import VIETNAM
from ..learn import services as learn
from ..pagination import paginate_rows
from ..models import Agency, Assignment, Attempt, Course, CourseCompletion, Lesson, LessonProgress
from ..permissions import (can_manage_agency, get_agency_or_404, get_user_or_404, managed_root_agencies,
                           require_role)
from . import exports, services
from .charts import weekly_bars_svg
from .forms import AssignmentForm, PeopleFilterForm

bp = Blueprint("tracking", __name__, url_prefix="/manage", template_folder="templates")
PER_PAGE = 25


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
    """The subtree's figures, its child agencies with completion bars, completions per week."""
    agency = get_agency_or_404(agency_id, need="manage")
    course = _chosen_course()
    report = services.agency_report(db.session, course, agency)
    weeks = services.weekly_completions(db.session, course, agency)
    return render_template("tracking/dashboard.html", report=report, course=course, courses=_courses(),
                           chart=weekly_bars_svg(weeks), labels=services.STATUS_LABELS,
                           parent_visible=agency.parent is not None
                           and can_manage_agency(current_user, agency.parent))


def _people_filters(agency: Agency) -> tuple[PeopleFilterForm, dict]:
    """The people filter form (its agency choices limited to the subtree) and the filters it gives."""
    form = PeopleFilterForm(request.args)
    subtree = db.session.scalars(select(Agency).where(agency.subtree_filter(), Agency.is_active)
                                 .order_by(Agency.path)).all()
    form.agency.choices = [(0, "Toàn bộ đơn vị")] + [(a.id, "· " * (a.depth - agency.depth) + a.name)
                                                     for a in subtree]
    within = next((a for a in subtree if a.id == form.agency.data), None)
    return form, {"status": form.status.data or None, "within": within, "search": form.q.data}


@bp.route("/agencies/<int:agency_id>/people")
@require_role("manager")
def people(agency_id: int):
    """People of the subtree, filtered by status, agency and name (diacritics ignored)."""
    agency = get_agency_or_404(agency_id, need="manage")
    course = _chosen_course()
    form, filters = _people_filters(agency)
    now = learn.utcnow()
    page = paginate_rows(db.session, lambda limit, offset: services.people_page(
        db.session, course, agency, now, limit=limit, offset=offset, **filters),
        request.args.get("page", 1, type=int), PER_PAGE, total_column="total")
    return render_template("tracking/people.html", agency=agency, course=course, form=form, page=page,
                           labels=services.STATUS_LABELS, courses=_courses())


@bp.route("/agencies/<int:agency_id>/export.<any(xlsx, csv, pdf):kind>")
@require_role("manager")
def export(agency_id: int, kind: str):
    """The subtree's people as XLSX or CSV (the people filters apply), or the PDF report for upward."""
    agency = get_agency_or_404(agency_id, need="manage")
    course = _chosen_course()
    now = learn.utcnow()
    stem = f"ket-qua-{agency.code}-{now.astimezone(VIETNAM):%Y%m%d}"
    if kind == "pdf":
        report = services.agency_report(db.session, course, agency, now)
        overdue = list(exports.person_rows(db.session, course, agency, now, status="overdue",
                                           limit=exports.PDF_OVERDUE_LIMIT))
        root = db.session.get(Agency, agency.ancestor_ids()[0])
        body = exports.report_pdf(report, overdue, root=root, now=now)
        return send_file(io.BytesIO(body), mimetype="application/pdf", as_attachment=True,
                         download_name=f"bao-cao-{stem}.pdf")
    _, filters = _people_filters(agency)
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
    lessons = learn.published_lessons(db.session, course)
    progress = {p.lesson_id: p for p in db.session.scalars(select(LessonProgress).join(Lesson).where(
        LessonProgress.user_id == user.id, Lesson.course_id == course.id))}
    attempts = db.session.scalars(select(Attempt).where(Attempt.user_id == user.id, Attempt.course_id == course.id)
                                  .options(selectinload(Attempt.quiz)).order_by(Attempt.started_at)).all()
    completions = db.session.scalars(select(CourseCompletion).where(
        CourseCompletion.user_id == user.id, CourseCompletion.course_id == course.id)
        .order_by(CourseCompletion.completed_at.desc())).all()
    return render_template("tracking/person.html", person=user, course=course, lessons=lessons,
                           progress=progress, attempts=attempts, completions=completions, courses=_courses())


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
                           **dict(zip(("questions", "topics"), services.wrong_answers(db.session, course, agency))))


def _start_of_day(day) -> datetime:
    return datetime.combine(day, time.min, tzinfo=VIETNAM).astimezone(timezone.utc)


@bp.route("/agencies/<int:agency_id>/assignments", methods=["GET", "POST"])
@require_role("manager")
def assignments(agency_id: int):
    """Courses assigned to this subtree, and assigning a new one."""
    agency = get_agency_or_404(agency_id, need="manage")
    form = AssignmentForm()
    form.course_id.choices = [(c.id, c.title) for c in _courses()]
    if form.validate_on_submit():
        course = db.session.get(Course, form.course_id.data)
        try:
            services.create_assignment(
                db.session, course=course, agency=agency, starts_at=_start_of_day(form.starts_on.data),
                due_at=_start_of_day(form.due_on.data + timedelta(days=1)) - timedelta(seconds=1),  # end of the due day
                recurrence_months=form.recurrence_months.data, actor=current_user)
        except services.TrackingError as error:
            form.due_on.errors.append(str(error))
        else:
            db.session.commit()
            flash(f"Đã giao khóa «{course.title}» cho {agency.name}.", "success")
            return redirect(url_for("tracking.assignments", agency_id=agency.id))
    visible = db.session.scalars(
        select(Assignment).join(Agency, Agency.id == Assignment.agency_id)
        .where(Assignment.is_active)
        .where((Agency.path.startswith(agency.path, autoescape=True))
               | (Assignment.agency_id.in_(agency.ancestor_ids())))
        .options(selectinload(Assignment.course), selectinload(Assignment.agency))
        .order_by(Assignment.cycle_due_at)).all()
    return render_template("tracking/assignments.html", agency=agency, form=form, assignments=visible)
