"""The learner's pages: courses, lessons, sources, attempts, review, commitment and certificate."""
import math
from types import SimpleNamespace
from urllib.parse import urlsplit

from flask import (Blueprint, Response, abort, current_app, flash, jsonify, redirect, render_template,
                   request, url_for)
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..auth.forms import EmptyForm
from ..extensions import db, limiter, pdf_limit
from ..models import (Attempt, AttemptQuestion, Citation, Course, Lesson, QuestionVersion, Quiz, Source,
                      utcnow)
from ..pagination import id_arg
from ..permissions import (get_own_attempt_or_404, get_own_attempt_question_or_404,
                           get_own_completion_or_404)
from . import services
from .certificates import certificate_pdf
from .forms import CommitmentForm, VerifyForm
from .rendering import question_parts, render_lesson_cached, render_letter, review_parts

bp = Blueprint("learn", __name__, template_folder="templates")


@bp.app_context_processor
def running_attempt_banner() -> dict:
    """`running_attempt()` for the banner of every page (templates/_attempt_banner.html): the
    learner's running timed attempt, read only when a page asks, never for a visitor."""
    def running_attempt():
        if not current_user.is_authenticated:
            return None
        now = utcnow()
        row = services.running_attempt(db.session, current_user.id, now)
        if row is None:
            return None
        return SimpleNamespace(id=row.id, title=row.title, deadline_at=row.deadline_at,
                               minutes_left=max(0, math.ceil((row.deadline_at - now).total_seconds() / 60)))

    return {"running_attempt": running_attempt}


def _published_or_404(model, slug: str):
    row = db.session.scalar(select(model).where(model.slug == slug, model.status == "published"))
    if row is None:
        abort(404)
    return row


def _secret() -> bytes:
    """The key of the attempts' opaque choice keys (services.choice_tokens): the app's secret."""
    secret = current_app.secret_key
    return secret.encode() if isinstance(secret, str) else secret


def _opened_from_this_site() -> bool:
    """Opened from this site's pages or typed in, not followed from a link on another site: only
    then does reading a lesson count as progress. Browsers say so in Sec-Fetch-Site; older ones
    are judged by their Referer."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in ("same-origin", "none")
    referrer = request.headers.get("Referer")
    return not referrer or urlsplit(referrer).netloc == request.host


#: on a page a learner may keep for offline reading, whose it is: the service worker's reading cache
#: (app/static/js/site.js) stores only pages that carry it with the signed-in person's value
OFFLINE_HEADER = "X-Offline-Cache"


def offline_copy_allowed(response: Response) -> Response:
    """Mark a lesson or source page as one the signed-in learner may keep on their device."""
    response.headers[OFFLINE_HEADER] = f"user-{current_user.id}"
    return response


def _is_offline_prefetch() -> bool:
    """The course page saving lessons for offline reading (site.js): not the learner reading them."""
    return request.headers.get("X-Offline-Prefetch") == "1"


def _wants_json() -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


@bp.route("/")
@login_required
def home():
    """Khóa học của tôi: each course with its status, progress and where to continue."""
    courses = db.session.scalars(
        select(Course).where(Course.status == "published").order_by(Course.title)).all()
    states = services.course_states(db.session, current_user, courses)
    return render_template("learn/home.html", courses=courses, states=states,
                           labels=services.STATUS_LABELS)


@bp.route("/courses/<slug>")
@login_required
def course(slug: str):
    """The course outline: lessons, checks, final test, commitment, certificate."""
    course = _published_or_404(Course, slug)
    state = services.course_state(db.session, current_user, course)
    checks = {quiz.lesson_id: quiz for quiz in db.session.scalars(select(Quiz).where(
        Quiz.course_id == course.id, Quiz.kind == "lesson_check", Quiz.status == "published"))}
    return render_template("learn/course.html", course=course, state=state, checks=checks,
                           labels=services.STATUS_LABELS, form=EmptyForm())


@bp.route("/lessons/<slug>")
@login_required
def lesson(slug: str):
    """Read a lesson; citations open the source viewer."""
    lesson = db.session.scalar(select(Lesson).where(Lesson.slug == slug, Lesson.status == "published")
                               .options(selectinload(Lesson.citations).joinedload(Citation.source)))
    if lesson is None:
        abort(404)
    if _opened_from_this_site() and not _is_offline_prefetch():
        services.record_lesson_visit(db.session, current_user, lesson)
    contacts = {source.slug: source.current_contact for source in db.session.scalars(
        select(Source).where(Source.current_contact.is_not(None)))}
    body, notes = render_lesson_cached(
        lesson, lambda c: url_for("learn.source", slug=c.source.slug, citation=c.id, _anchor="trich-dan"
                                  if c.quote else None), contacts)
    state = services.course_state(db.session, current_user, lesson.course)
    index = [item.id for item in state.lessons].index(lesson.id)
    check = db.session.scalar(select(Quiz).where(Quiz.lesson_id == lesson.id, Quiz.status == "published"))
    page = render_template(
        "learn/lesson.html", lesson=lesson, body=body, notes=notes, state=state, check=check,
        previous=state.lessons[index - 1] if index > 0 else None,
        next=state.lessons[index + 1] if index + 1 < len(state.lessons) else None,
        done=lesson.id in state.done_lesson_ids, form=EmptyForm())
    db.session.commit()  # once, after reading: committing first would expire what was just loaded
    return offline_copy_allowed(current_app.make_response(page))


@bp.route("/lessons/<slug>/complete", methods=["POST"])
@login_required
def complete_lesson(slug: str):
    """The learner confirms they have read the lesson to its end."""
    lesson = _published_or_404(Lesson, slug)
    if EmptyForm().validate_on_submit():
        services.complete_lesson(db.session, current_user, lesson)
        db.session.commit()
        flash(f"Đã hoàn thành bài «{lesson.title}».", "success")
    state = services.course_state(db.session, current_user, lesson.course)
    following = state.next_lesson
    if following is not None:
        return redirect(url_for("learn.lesson", slug=following.slug))
    return redirect(url_for("learn.course", slug=lesson.course.slug))


@bp.route("/sources/<slug>")
@login_required
def source(slug: str):
    """A source: its full text with the cited passage highlighted, and what has changed since."""
    source = db.session.scalar(select(Source).where(Source.slug == slug))
    if source is None:
        abort(404)
    citation = db.session.get(Citation, id_arg("citation", 0))
    if citation is not None and citation.source_id != source.id:
        citation = None
    text, found = render_letter(source.text or "", citation.quote if citation else None)
    return offline_copy_allowed(current_app.make_response(render_template(
        "learn/source.html", source=source, citation=citation, text=text, found=found)))


@bp.route("/offline/reading")
@login_required
def offline_reading():
    """The addresses the course page saves for offline reading: the assigned lessons and the sources
    they cite, for the signed-in person only (site.js checks `user` against the page's). Each source
    once, without a citation: offline, a lesson's link to a passage opens the whole source (the
    service worker ignores the query), which saves downloading a letter once per citation."""
    reading = services.offline_reading(db.session, current_user)
    urls = [url_for("learn.lesson", slug=slug) for slug in reading.lesson_slugs]
    urls += [url_for("learn.source", slug=slug) for slug in reading.source_slugs]
    return jsonify(user=current_user.id, urls=urls)


@bp.route("/quizzes/<slug>")
@login_required
def quiz(slug: str):
    """A quiz's rules, the learner's attempts so far, and the button to start or resume."""
    quiz = _published_or_404(Quiz, slug)
    attempts = db.session.scalars(select(Attempt).where(
        Attempt.user_id == current_user.id, Attempt.quiz_id == quiz.id)
        .order_by(Attempt.number)).all()
    graded = [attempt for attempt in attempts if attempt.is_open and services.close_if_expired(db.session, attempt)]
    if graded:  # release the grading's locks (the shared answer tallies) before rendering
        db.session.commit()
    page = render_template("learn/quiz.html", quiz=quiz, attempts=attempts, form=EmptyForm(),
                           passed=any(a.passed for a in attempts))
    db.session.commit()  # after rendering: committing first would expire, and reload, all it shows
    return page


@bp.route("/quizzes/<slug>/start", methods=["POST"])
@login_required
def start_quiz(slug: str):
    """Start (or resume) an attempt: the server draws and stores the questions."""
    quiz = _published_or_404(Quiz, slug)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        attempt = services.start_attempt(db.session, current_user, quiz)
    except services.LearnError as error:
        flash(str(error), "warning")
        return redirect(url_for("learn.quiz", slug=slug))
    # The answer is the attempt page itself, not a redirect to it: in an exam hour every learner
    # arrives at once, and a second request per arrival was a quarter of the arrival's cost. It is
    # rendered before the commit (which would expire, and reload, all it shows); every page's
    # script (site.js) puts the attempt's own address in the address bar (Content-Location says it
    # too), so a reload or a bookmark is a GET of the attempt. A second POST resumes the same attempt.
    page, address = _attempt_page(attempt), url_for("learn.attempt", attempt_id=attempt.id)
    db.session.commit()
    return page, 200, {"Content-Location": address}


@bp.route("/courses/<slug>/practice", methods=["POST"])
@login_required
def practice(slug: str):
    """Practise the topics got wrong; not counted."""
    course = _published_or_404(Course, slug)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        attempt = services.start_practice(db.session, current_user, course)
    except services.LearnError as error:
        flash(str(error), "warning")
        return redirect(url_for("learn.course", slug=slug))
    db.session.commit()
    return redirect(url_for("learn.attempt", attempt_id=attempt.id))


@bp.route("/attempts/<int:attempt_id>")
@login_required
def attempt(attempt_id: int):
    """Take an attempt. No correct answer or explanation is in this page."""
    attempt = get_own_attempt_or_404(attempt_id)
    if services.close_if_expired(db.session, attempt):
        db.session.commit()
        return redirect(url_for("learn.review", attempt_id=attempt.id))
    return _attempt_page(attempt)


def _question_rows(attempt: Attempt, *columns):
    """The attempt's questions in order, as rows (the pages only read them, and 20 ORM objects cost
    more than the statement): position, version id and its content hash, choice order, answer, and
    `columns`."""
    return db.session.execute(
        select(AttemptQuestion.position, AttemptQuestion.question_version_id, AttemptQuestion.choice_order,
               AttemptQuestion.answer, QuestionVersion.content_hash, *columns)
        .join(QuestionVersion, QuestionVersion.id == AttemptQuestion.question_version_id)
        .where(AttemptQuestion.attempt_id == attempt.id).order_by(AttemptQuestion.position)).all()


def _attempt_page(attempt: Attempt) -> str:
    """The page of an open attempt: its questions as drawn, no correct answer or explanation."""
    items = _question_rows(attempt, AttemptQuestion.answered_at)
    parts = question_parts(db.session, {item.question_version_id: item.content_hash for item in items})
    tokens = {item.position: services.choice_tokens(_secret(), attempt.id, item.position, item.choice_order)
              for item in items}
    return render_template("learn/attempt.html", attempt=attempt, items=items, parts=parts, tokens=tokens,
                           form=EmptyForm(), page_address=url_for("learn.attempt", attempt_id=attempt.id))


@bp.route("/attempts/<int:attempt_id>/questions/<int:position>", methods=["POST"])
@login_required
def answer(attempt_id: int, position: int):
    """Save one answer: a plain form post, or a background request from the page's script."""
    attempt, item, question_type = get_own_attempt_question_or_404(attempt_id, position)
    try:
        item = services.save_answer(db.session, attempt, position, request.form.getlist("answer"),
                                    slot=(item, question_type), opaque_secret=_secret())
    except services.LearnError as error:
        db.session.commit()  # an expired attempt was graded on the way
        if _wants_json():
            return jsonify(ok=False, error=str(error), closed=not attempt.is_open), error.status
        flash(str(error), "warning")
        target = "learn.review" if not attempt.is_open else "learn.attempt"
        return redirect(url_for(target, attempt_id=attempt.id))
    answered = len(item.answer) > 0  # read before the commit expires it (a reload for one boolean)
    db.session.commit()
    if _wants_json():
        return jsonify(ok=True, position=position, answered=answered)
    flash(f"Đã lưu câu trả lời câu {position}.", "success")
    return redirect(url_for("learn.attempt", attempt_id=attempt.id, _anchor=f"cau-{position}"))


@bp.route("/attempts/<int:attempt_id>/submit", methods=["POST"])
@login_required
def submit(attempt_id: int):
    """Submit for grading. Twice, or from two tabs, still grades once."""
    attempt = get_own_attempt_or_404(attempt_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    expired = services.is_past_deadline(attempt, utcnow())
    services.submit_attempt(db.session, attempt, expired=expired)
    # The answer is the review itself, not a redirect to it: as with the start, in an exam hour the
    # submissions come in a wave, and the second request per learner (its user, its attempt, the
    # reloads after a commit) was a third of the wave's cost. Its address is put in the address bar.
    return _review_response(attempt)


@bp.route("/attempts/<int:attempt_id>/review")
@login_required
def review(attempt_id: int):
    """After submission: each answer and, for the questions answered, the correct one, the
    explanation and its sources (an unanswered question's answer stays unseen)."""
    return _review_response(get_own_attempt_or_404(attempt_id))


def _review_response(attempt: Attempt):
    """The review of a closed attempt (one whose time is up is graded first), or a redirect: to the
    attempt while it is open, or to the learner's open final test (no answer of the bank is shown
    while one is open). The page is rendered before the commit, which would expire, and reload, all
    it shows; what the grading of an expired attempt wrote is committed either way."""
    services.close_if_expired(db.session, attempt)
    if attempt.is_open:
        db.session.commit()
        flash("Bài làm chưa được nộp.", "info")
        return redirect(url_for("learn.attempt", attempt_id=attempt.id))
    try:
        services.require_no_open_final(db.session, current_user)
    except services.FinalTestOpen as error:
        db.session.commit()
        flash(str(error), "warning")
        return redirect(url_for("learn.attempt", attempt_id=error.attempt_id))
    address = url_for("learn.review", attempt_id=attempt.id)
    items = _question_rows(attempt, AttemptQuestion.score)
    parts = review_parts(db.session, {item.question_version_id: item.content_hash for item in items})
    page = render_template("learn/review.html", attempt=attempt, items=items, parts=parts, form=EmptyForm(),
                           page_address=address)
    db.session.commit()
    return page, 200, {"Content-Location": address}


@bp.route("/courses/<slug>/commit", methods=["GET", "POST"])
@login_required
def commit(slug: str):
    """The personal commitment that completes the course."""
    course = _published_or_404(Course, slug)
    state = services.course_state(db.session, current_user, course)
    if state.completion is not None:
        return redirect(url_for("learn.course", slug=slug))
    form = CommitmentForm()
    if form.validate_on_submit():
        try:
            services.record_commitment(db.session, current_user, course,
                                       ip=request.remote_addr or "",
                                       user_agent=request.user_agent.string or "")
        except services.LearnError as error:
            flash(str(error), "warning")
            return redirect(url_for("learn.course", slug=slug))
        db.session.commit()
        flash("Chúc mừng! Anh/chị đã hoàn thành khóa học.", "success")
        return redirect(url_for("learn.course", slug=slug))
    return render_template("learn/commit.html", course=course, state=state, form=form)


@bp.route("/certificates/<code>.pdf")
@login_required
@pdf_limit
def certificate(code: str):
    """The learner's own certificate as a PDF."""
    completion = get_own_completion_or_404(code)
    verify_url = url_for("learn.verify", code=completion.certificate_code, _external=True)
    score, minutes = services.certificate_facts(db.session, completion)
    body = certificate_pdf(completion, verify_url, score_percent=score, course_minutes=minutes)
    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="chung-nhan-{completion.certificate_code}.pdf"'})


@bp.route("/certificates/<code>/commitment")
@login_required
def commitment(code: str):
    """The learner's own commitment, as recorded, on a page made to be printed."""
    completion = get_own_completion_or_404(code)
    return render_template("learn/commitment.html", completion=completion,
                           lessons=[lesson for lesson in completion.course.lessons if lesson.status == "published"])


@bp.route("/verify", defaults={"code": None})
@bp.route("/verify/<code>")
@limiter.limit("30 per minute")
def verify(code: str | None):
    """Public check of a certificate code: name, agency, course and date only."""
    form = VerifyForm(request.args if code is None else None)
    if code is None and form.code.data and form.validate():
        return redirect(url_for("learn.verify", code=form.code.data.strip().upper()))
    completion = services.completion_by_code(db.session, code) if code else None
    status = 404 if code and completion is None else 200
    standing = services.certificate_standing(completion) if completion else None
    return render_template("learn/verify.html", code=code, completion=completion, standing=standing,
                           form=form), status
