"""The trainer's pages: lists of lessons and questions, editors with a preview, drafts, publishing,
retiring, history, and whether the files on disk still match the database.

Every page needs `can_author`; every change is a POST behind CSRF that calls a service, which
checks the item by the rules of `flask content check` and writes the audit record; the view commits.
"""
from types import SimpleNamespace

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import defer

from ..auth.forms import EmptyForm
from ..content.checks import TRUE_FALSE_CHOICES
from ..content.export import compare_with_files
from ..content.files import body_citations
from ..extensions import db
from ..learn.rendering import render_lesson, render_markdown, render_question
from ..models import Course, Lesson, Question, Source, Topic
from ..pagination import paginate_rows, paginated
from ..permissions import require_author
from . import forms, services

bp = Blueprint("authoring", __name__, url_prefix="/author", template_folder="templates")
PER_PAGE = 50
KINDS = {"lesson": Lesson, "question": Question}


def _item_or_404(kind: str, slug: str):
    row = db.session.scalar(select(KINDS[kind]).where(KINDS[kind].slug == slug))
    if row is None:
        abort(404)
    return row


def _pairs(query) -> list[tuple[str, str]]:
    """(value, label) choices for a select, from a two-column query."""
    return [(value, label) for value, label in db.session.execute(query)]


@bp.route("/")
@require_author
def index():
    """Where to start: counts, new drafts, and whether the files on disk match the database."""
    comparison = compare_with_files(db.session, current_app.config["CONTENT_DIR"], current_app.config["QUIZZES_DIR"])
    return render_template("authoring/index.html", counts=services.counts(db.session), comparison=comparison,
                           lesson_drafts=services.new_drafts(db.session, "lesson"),
                           question_drafts=services.new_drafts(db.session, "question"))


# -- questions ------------------------------------------------------------------------------------

@bp.route("/questions")
@require_author
def questions():
    """The bank: searchable without diacritics, filtered by topic, type, difficulty and status."""
    form = forms.QuestionFilterForm(request.args)
    form.topic.choices = [("", "Tất cả")] + _pairs(select(Topic.slug, Topic.title).order_by(Topic.slug))
    filters = services.QuestionFilters(search=form.q.data or "", topic=form.topic.data or "", type=form.type.data or "",
                                       difficulty=form.difficulty.data or "", status=form.status.data or "")
    page = paginated(lambda number: paginate_rows(db.session, services.questions_query(filters), number, PER_PAGE))
    return render_template("authoring/questions.html", form=form, page=page, labels=forms)


class _QuestionForm(forms.QuestionForm):
    """The question form with its topics and sources to choose from."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_choices(_pairs(select(Topic.slug, Topic.title).order_by(Topic.slug)), _source_choices())


def _source_choices() -> list[tuple[str, str]]:
    return [(slug, f"{number} — {issuer}") for slug, number, issuer in db.session.execute(
        select(Source.slug, Source.number, Source.issuer).order_by(Source.kind, Source.slug))]


def _sources() -> list[Source]:
    """The sources without their texts: an editor page lists them, and fetches one text when the
    trainer opens it (`source_text`), instead of carrying every letter in its HTML."""
    return list(db.session.scalars(select(Source).options(defer(Source.text)).order_by(Source.kind, Source.slug)))


def _viewer_sources() -> list[Source]:
    """The sources that have a text to quote from, without the texts."""
    return list(db.session.scalars(select(Source).options(defer(Source.text))
                                   .where(Source.text.is_not(None), Source.text != "")
                                   .order_by(Source.kind, Source.slug)))


@bp.route("/sources/<slug>")
@require_author
def source_text(slug: str):
    """One source's text, to select a passage from: the fragment the editor's viewer loads on
    demand (`?partial=1`), or a page of its own (the link that works without JavaScript)."""
    source = db.session.scalar(select(Source).where(Source.slug == slug))
    if source is None or not source.text:
        abort(404)
    if request.args.get("partial"):
        return render_template("authoring/_source_text.html", source=source)
    return render_template("authoring/source_text.html", source=source)


def _question_preview(item: dict | None):
    """The question as the learner sees it (a dict stands in for the version)."""
    if not item:
        return None
    choices = TRUE_FALSE_CHOICES if item.get("type") == "true_false" else item.get("choices") or []
    return SimpleNamespace(**{**item, "choices": choices, "order": [c["key"] for c in choices if c.get("key")]})


def _draft_only_or_404(kind: str, slug: str):
    """A new item that so far exists only as a draft: edited like the others, or 404."""
    if services.get_draft(db.session, kind, slug) is None:
        abort(404)


def _edit(kind: str, row, slug: str | None, form_class, render):
    """The editor of a lesson or a question: check by the file rules, then preview, draft or publish.

    `row` is the published item (None for a new one), `slug` the item's slug (None until a new item
    has a draft); `render(form, draft, item)` shows the page.
    """
    draft = services.get_draft(db.session, kind, slug) if slug else None
    initial = draft.data if draft else services.published_data(db.session, kind, row)
    form = form_class(data=form_class.initial(initial) if initial and request.method == "GET" else None)
    if request.method == "GET":
        form.base.data = services.base_marker(db.session, kind, row, slug)
    item = None
    if form.validate_on_submit():
        data = form.to_data(slug, initial)
        item, errors = services.check_data(db.session, kind, data, row, slug)
        if errors:
            form.place_errors(errors)
            flash("Chưa lưu: hãy sửa các lỗi được đánh dấu.", "danger")
        elif form.save.data or form.publish.data:
            if form.save.data:
                made, error = _run(lambda: services.save_draft(db.session, kind, item["slug"], data, current_user,
                                                               row=row, base=form.base.data))
                done = "Đã lưu bản nháp. Học viên vẫn thấy bản đã xuất bản."
            else:
                made, error = _run(lambda: services.publish(db.session, kind, row, item, current_user,
                                                            base=form.base.data))
                done = f"Đã xuất bản ({made})." if made else "Không có gì thay đổi so với bản đã xuất bản."
            if error is None:
                db.session.commit()
                flash(done, "success" if made else "info")
                return _back(kind, item["slug"])
            form.add_general(error)
    return render(form, draft, item)


def _run(change):
    """(what the service returned, None), or (None, its Vietnamese message) after a rollback."""
    try:
        return change(), None
    except services.AuthoringError as error:
        db.session.rollback()
        return None, str(error)


def _action_form(kind: str, row, slug: str | None) -> forms.BaseForm:
    """The form behind the page's buttons, carrying the state the page shows."""
    form = forms.BaseForm()
    form.base.data = services.base_marker(db.session, kind, row, slug)
    return form


def _edit_question(question: Question | None, slug: str | None = None):
    """The question editor: an existing question, a new one (slug None), or a new one's draft."""
    def render(form, draft, item):
        preview = _question_preview(item)
        return render_template("authoring/question.html", question=question, slug=slug, form=form, draft=draft,
                               preview=preview, preview_parts=preview and render_question(preview),
                               sources=_viewer_sources(), render_markdown=render_markdown,
                               action_form=_action_form("question", question, slug), labels=forms)

    return _edit("question", question, slug, _QuestionForm, render)


# -- lessons --------------------------------------------------------------------------------------

@bp.route("/lessons")
@require_author
def lessons():
    """The lessons: searchable without diacritics, filtered by course and status."""
    form = forms.LessonFilterForm(request.args)
    form.course.choices = [("", "Tất cả")] + _pairs(select(Course.slug, Course.title).order_by(Course.slug))
    filters = services.LessonFilters(search=form.q.data or "", course=form.course.data or "", status=form.status.data or "")
    page = paginated(lambda number: paginate_rows(db.session, services.lessons_query(filters), number, PER_PAGE))
    return render_template("authoring/lessons.html", form=form, page=page)


@bp.route("/preview", methods=["POST"])
@require_author
def preview():
    """A lesson body rendered as the learner sees it, for the editor's live preview (CSRF-checked)."""
    body = (request.form.get("body") or "").replace("\r\n", "\n")
    citations = [{"source": c.source, "location": c.location, "quote": c.quote} for c in body_citations(body)]
    html, _ = _lesson_preview({"citations": citations}, body)
    return jsonify(html=str(html))


def _lesson_preview(item: dict | None, body: str):
    """The lesson body as the learner sees it: sanitised Markdown with numbered citations."""
    if item is None:
        return None, []
    sources = {s.slug: s for s in _sources()}
    citations = [SimpleNamespace(id=None, location=c["location"], quote=c["quote"],
                                 source=sources.get(c["source"]) or SimpleNamespace(slug=c["source"], issuer=c["source"]))
                 for c in item["citations"]]
    return render_lesson(SimpleNamespace(body_md=body, citations=citations),
                         lambda c: url_for("learn.source", slug=c.source.slug), {})


class _LessonForm(forms.LessonForm):
    """The lesson form with its courses and sources to choose from."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.course.choices = _pairs(select(Course.slug, Course.title).order_by(Course.slug))
        self.sources.choices = _source_choices()


def _edit_lesson(lesson: Lesson | None, slug: str | None = None):
    """The lesson editor: Markdown beside its sanitised preview."""
    def render(form, draft, item):
        preview, notes = _lesson_preview(item, form.to_entry()[1] if item else "")
        return render_template("authoring/lesson.html", lesson=lesson, slug=slug, form=form, draft=draft,
                               preview=preview, notes=notes, sources=_viewer_sources(),
                               action_form=_action_form("lesson", lesson, slug))

    return _edit("lesson", lesson, slug, _LessonForm, render)


# -- editors and history, the same for both kinds ------------------------------------------------

EDITORS = {"question": _edit_question, "lesson": _edit_lesson}
HISTORIES = {"question": services.question_history, "lesson": services.lesson_history}


@bp.route("/<any(lesson, question):kind>s/new", methods=["GET", "POST"])
@require_author
def new(kind: str):
    """Write a new lesson or question: it reaches learners once published."""
    return EDITORS[kind](None)


@bp.route("/<any(lesson, question):kind>s/<slug>", methods=["GET", "POST"])
@require_author
def edit(kind: str, slug: str):
    """Edit beside a preview as the learner sees it; save a draft or publish (a new version)."""
    row = db.session.scalar(select(KINDS[kind]).where(KINDS[kind].slug == slug))
    if row is None:
        _draft_only_or_404(kind, slug)
    return EDITORS[kind](row, slug)


@bp.route("/<any(lesson, question):kind>s/<slug>/history")
@require_author
def history(kind: str, slug: str):
    """Every published state with its differences, and every change in the audit log."""
    row = _item_or_404(kind, slug)
    return render_template("authoring/history.html", kind=kind, item=row,
                           title=row.slug if kind == "question" else row.title,
                           history=HISTORIES[kind](db.session, row),
                           audit=services.audit_entries(db.session, kind, row.id, row.slug))


# -- workflow: publish or discard a draft, retire, restore ---------------------------------------

def _back(kind: str, slug: str):
    return redirect(url_for("authoring.edit", kind=kind, slug=slug))


@bp.route("/<any(lesson, question):kind>s/<slug>/publish-draft", methods=["POST"])
@require_author
def publish_draft(kind: str, slug: str):
    """Publish the saved draft after checking it again (sources may have changed since)."""
    draft, row, form = _draft_action(kind, slug)
    item, errors = services.check_data(db.session, kind, draft.data, row, slug)
    if errors:
        flash("Bản nháp không còn hợp lệ: " + "; ".join(e.message for e in errors), "danger")
        return _back(kind, slug)
    _, error = _run(lambda: services.publish(db.session, kind, row, item, current_user, base=form.base.data))
    if error is None:
        db.session.commit()
    flash(error or "Đã xuất bản bản nháp.", "danger" if error else "success")
    return _back(kind, slug)


@bp.route("/<any(lesson, question):kind>s/<slug>/discard-draft", methods=["POST"])
@require_author
def discard_draft(kind: str, slug: str):
    """Throw the draft away; the published item stays as it is."""
    draft, row, form = _draft_action(kind, slug)
    _, error = _run(lambda: services.discard_draft(db.session, draft, current_user, row=row, base=form.base.data))
    if error is not None:
        flash(error, "danger")
        return _back(kind, slug)
    db.session.commit()
    flash("Đã bỏ bản nháp.", "success")
    return _back(kind, slug) if row is not None else redirect(url_for("authoring.index"))


def _draft_action(kind: str, slug: str):
    """The draft, the published item (or None) and the posted form of a draft's button, or 404/400."""
    draft = services.get_draft(db.session, kind, slug)
    form = forms.BaseForm()
    if draft is None or not form.validate_on_submit():
        abort(404 if draft is None else 400)
    return draft, db.session.scalar(select(KINDS[kind]).where(KINDS[kind].slug == slug)), form


@bp.route("/<any(lesson, question):kind>s/<slug>/<any(retire, restore):change>", methods=["POST"])
@require_author
def set_status(kind: str, slug: str, change: str):
    """Retire an item (learners and new attempts no longer get it; history stays) or restore it."""
    row = _item_or_404(kind, slug)
    if not EmptyForm().validate_on_submit():
        abort(400)
    status = "retired" if change == "retire" else "published"
    try:
        changed = services.set_status(db.session, row, status, current_user)
    except services.AuthoringError as error:
        db.session.rollback()
        flash(str(error), "danger")
        return _back(kind, slug)
    if changed:
        db.session.commit()
        flash("Đã ngừng dùng." if status == "retired" else "Đã dùng lại.", "success")
    return _back(kind, slug)

