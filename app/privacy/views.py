"""The privacy pages: the notice, "Dữ liệu của tôi" and its downloads, and the administrator's side
(the notice's text, retention, correction requests, the access trace)."""
import json
from datetime import timedelta

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..extensions import db
from ..formatting import local_day_start
from ..learn.rendering import render_markdown
from ..pagination import paginated
from ..permissions import require_role
from . import exports, forms, services
from .models import (ACCESS_ACTION_LABELS, CORRECTION_STATUS_LABELS, RETENTION_KINDS, CorrectionRequest)

bp = Blueprint("privacy", __name__, url_prefix="/privacy", template_folder="templates")
PER_PAGE = 50


def _private(response: Response) -> Response:
    """Personal pages stay out of shared office browsers' caches."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/notice")
def notice():
    """The privacy notice, readable by anyone (linked from every page's footer)."""
    return render_template("privacy/notice.html", body=render_markdown(services.notice_text(db.session)),
                           form=forms.Form(), next=request.args.get("next", ""))


@bp.route("/notice/read", methods=["POST"])
@login_required
def acknowledge():
    """The person has read the notice: it stops being shown at the top of their pages."""
    if forms.Form().validate_on_submit():
        services.acknowledge_notice(db.session, current_user)
        db.session.commit()
    return redirect(url_for("learn.home"))


@bp.route("/my-data")
@login_required
def my_data():
    """Everything the app holds about the signed-in person, and who looked at it."""
    data = services.personal_data(db.session, current_user)
    return _private(Response(render_template(
        "privacy/my_data.html", data=data, form=forms.CorrectionForm(), sections=exports.SECTIONS,
        retention=services.retention_months(db.session), kinds=RETENTION_KINDS)))


@bp.route("/my-data.<any(json, pdf):kind>")
@login_required
def my_data_download(kind: str):
    """The same, as a file to keep (JSON for machines, PDF for people)."""
    data = services.personal_data(db.session, current_user)
    name = f"du-lieu-cua-toi-{current_user.username}.{kind}"
    if kind == "json":
        body, mimetype = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8"), "application/json"
    else:
        body, mimetype = exports.personal_data_pdf(data, current_user.full_name), "application/pdf"
    return _private(Response(body, mimetype=mimetype,
                             headers={"Content-Disposition": f'attachment; filename="{name}"'}))


@bp.route("/corrections", methods=["POST"])
@login_required
def correction_new():
    """Ask the administrators to correct something."""
    form = forms.CorrectionForm()
    if form.validate_on_submit():
        services.request_correction(db.session, current_user, form.body.data)
        db.session.commit()
        flash("Đã gửi yêu cầu sửa thông tin tới quản trị viên. Bạn theo dõi trạng thái tại trang này.", "success")
        return redirect(url_for("privacy.my_data"))
    data = services.personal_data(db.session, current_user)
    return _private(Response(render_template(
        "privacy/my_data.html", data=data, form=form, sections=exports.SECTIONS,
        retention=services.retention_months(db.session), kinds=RETENTION_KINDS), status=400))


# -- the administrator's side ------------------------------------------------------------------------

def _settings_page(notice_form=None, retention_form=None, status=200):
    notice_form = notice_form or forms.NoticeForm(formdata=None, body=services.notice_text(db.session))
    retention_form = retention_form or forms.RetentionForm(formdata=None, data=services.retention_months(db.session))
    return render_template("privacy/admin_settings.html", notice_form=notice_form, retention_form=retention_form,
                           kinds=RETENTION_KINDS), status


@bp.route("/admin")
@require_role("admin")
def admin_settings():
    """The notice's text and the retention of each kind of record."""
    return _settings_page()


@bp.route("/admin/notice", methods=["POST"])
@require_role("admin")
def admin_notice():
    """Publish a new version of the notice (optionally shown again to everyone)."""
    form = forms.NoticeForm()
    if not form.validate_on_submit():
        return _settings_page(notice_form=form, status=400)
    services.publish_notice(db.session, form.body.data, current_user, form.ask_again.data)
    db.session.commit()
    flash("Đã lưu thông báo xử lý dữ liệu cá nhân.", "success")
    return redirect(url_for("privacy.admin_settings"))


@bp.route("/admin/retention", methods=["POST"])
@require_role("admin")
def admin_retention():
    """How long each kind of record is kept."""
    form = forms.RetentionForm()
    if not form.validate_on_submit():
        return _settings_page(retention_form=form, status=400)
    changed = services.set_retention(db.session, {kind: form[kind].data for kind in RETENTION_KINDS}, current_user)
    db.session.commit()
    flash("Đã lưu thời gian lưu giữ." if changed else "Không có gì thay đổi.", "success" if changed else "info")
    return redirect(url_for("privacy.admin_settings"))


@bp.route("/admin/corrections")
@require_role("admin")
def admin_corrections():
    """Correction requests, open ones first."""
    status = request.args.get("status", "open")
    query = (db.select(CorrectionRequest).options(db.joinedload(CorrectionRequest.user))
             .order_by(CorrectionRequest.created_at.desc()))
    if status in CORRECTION_STATUS_LABELS:
        query = query.where(CorrectionRequest.status == status)
    page = paginated(lambda number: db.paginate(query, page=number, per_page=PER_PAGE, error_out=False))
    return render_template("privacy/admin_corrections.html", page=page, status=status,
                           labels=CORRECTION_STATUS_LABELS, form=forms.HandleCorrectionForm(formdata=None))


@bp.route("/admin/corrections/<int:request_id>", methods=["POST"])
@require_role("admin")
def admin_correction(request_id: int):
    """Record what was done about a request; the person sees the status and the answer."""
    correction = db.get_or_404(CorrectionRequest, request_id)
    form = forms.HandleCorrectionForm()
    if form.validate_on_submit():
        services.handle_correction(db.session, correction, form.status.data, form.response.data or "", current_user)
        db.session.commit()
        flash("Đã lưu trạng thái yêu cầu.", "success")
    else:
        flash("Không lưu được: " + "; ".join(m for ms in form.errors.values() for m in ms), "danger")
    return redirect(url_for("privacy.admin_corrections"))


@bp.route("/admin/access")
@require_role("admin")
def admin_access():
    """The access trace: who opened whose record or exported which list, filtered."""
    form = forms.AccessFilterForm(request.args)
    form.validate()
    filters = services.AccessFilters(
        viewer=form.viewer.data or "", subject=form.subject.data or "",
        action=form.action.data if form.action.data in ACCESS_ACTION_LABELS else "",
        since=local_day_start(form.date_from.data) if form.date_from.data and not form.date_from.errors else None,
        until=local_day_start(form.date_to.data + timedelta(days=1)) if form.date_to.data and not form.date_to.errors else None)
    page = paginated(lambda number: db.paginate(services.access_query(filters), page=number, per_page=PER_PAGE,
                                                error_out=False))
    return _private(Response(render_template("privacy/admin_access.html", form=form, page=page,
                                             labels=ACCESS_ACTION_LABELS)))
