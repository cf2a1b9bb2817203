"""Pages of the violation reports: filing and receipts for everyone, handling for monitoring officers,
figures for heads of agencies, officers and contacts for administrators."""
from __future__ import annotations

import io
from datetime import datetime

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..extensions import db
from ..formatting import VIETNAM
from ..models import Agency, User, utcnow
from ..permissions import (
    can_see_reporter,
    get_agency_or_404,
    get_case_or_404,
    get_evidence_or_404,
    get_report_or_404,
    handled_agency_filter,
    managed_root_agencies,
    require_author,
    require_role,
    require_violation_handler,
)
from ..reminders.mail import SmtpMailer
from . import exports, services
from .evidence import EvidenceError, EvidenceStore, Limits, check_uploads
from .forms import KIND_CHOICES, ContactForm, EmptyForm, ForwardForm, OfficerForm, ReportForm, StatusForm
from .models import MonitoringOfficer, ViolationCase, ViolationContact

bp = Blueprint("violations", __name__, url_prefix="/vi-pham", template_folder="templates")

LABELS = {"kinds": services.KIND_LABELS, "platforms": services.PLATFORM_LABELS,
          "statuses": services.STATUS_LABELS, "contacts": services.CONTACT_LABELS}


@bp.context_processor
def labels():
    return {"labels": LABELS, "format_hours": services.format_hours}


def evidence_store() -> EvidenceStore:
    return EvidenceStore(current_app.config["VIOLATION_EVIDENCE_DIR"])


def _read(storages, limit: int) -> list[tuple[str, bytes]]:
    """(name, bytes) of each chosen file; an input left empty sends a nameless part, skipped. Reading
    stops one byte past the limit: that is enough to refuse a file, whatever its real size."""
    return [(storage.filename, storage.stream.read(limit + 1)) for storage in storages if storage and storage.filename]


# -- filing -------------------------------------------------------------------------------------------

@bp.route("/bao-cao", methods=["GET", "POST"])
@login_required
def new_report():
    """File a report with its evidence."""
    form = ReportForm()
    if request.method == "GET" and form.seen_at.data is None:
        form.seen_at.data = datetime.now(VIETNAM).replace(second=0, microsecond=0, tzinfo=None)
    if form.validate_on_submit():
        limits = Limits.from_config(current_app.config)
        store, written = evidence_store(), []
        try:
            checked = check_uploads(_read(request.files.getlist(form.images.name), limits.file_bytes),
                                    _read(request.files.getlist(form.pdf.name), limits.file_bytes), limits)
            filing = services.Filing(form.url.data, form.platform.data, form.kind.data, form.seen_at_utc(),
                                     form.description.data, form.withhold_name.data)
            report = services.file_report(db.session, current_user, filing, checked, store, written)
            services.commit_or_remove(db.session, store, written)
        except EvidenceError as error:
            getattr(form, error.field).errors.append(str(error))
        except services.ViolationError as error:
            db.session.rollback()
            store.remove(written)
            form.url.errors.append(str(error))
        except BaseException:
            db.session.rollback()
            store.remove(written)
            raise
        else:
            if report.joined_existing:
                flash(f"Đường link này đã được báo cáo trước đó (vụ việc {report.case.code}). Báo cáo và chứng cứ "
                      "của anh/chị đã được gộp vào vụ việc đó.", "info")
            else:
                flash("Đã nhận báo cáo. Hãy lưu biên nhận dưới đây.", "success")
            return redirect(url_for(".receipt", code=report.code))
    status = 400 if form.errors else 200
    return render_template("violations/new.html", form=form, kind_groups=KIND_CHOICES,
                           limits=Limits.from_config(current_app.config)), status


@bp.route("/cua-toi")
@login_required
def my_reports():
    """The reports the current user filed, with their case's status."""
    return render_template("violations/mine.html", reports=services.reports_of(db.session, current_user))


@bp.route("/bao-cao/<code>")
@login_required
def receipt(code: str):
    """The receipt and the progress of a report (the reporter sees the notes meant for them)."""
    report = get_report_or_404(code)
    return render_template("violations/receipt.html", report=report,
                           events=services.reporter_events(report.case))


@bp.route("/bao-cao/<code>/bien-nhan.pdf")
@login_required
def receipt_pdf(code: str):
    """The receipt as a PDF with the hashes."""
    report = get_report_or_404(code)
    return send_file(io.BytesIO(exports.receipt_pdf(report)), mimetype="application/pdf", as_attachment=True,
                     download_name=f"bien-nhan-{report.code}.pdf")


@bp.route("/chung-cu/<int:evidence_id>")
@login_required
def evidence_original(evidence_id: int):
    """An original file exactly as received, as a download."""
    evidence = get_evidence_or_404(evidence_id)
    data = evidence_store().read(evidence.storage_key)
    response = send_file(io.BytesIO(data), mimetype=evidence.content_type, as_attachment=True,
                         download_name=f"{evidence.report.code}-{evidence.position:02d}."
                                       f"{evidence.storage_key.rsplit('.', 1)[-1]}")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/chung-cu/<int:evidence_id>/xem-truoc")
@login_required
def evidence_preview(evidence_id: int):
    """The re-encoded preview of an image (no metadata), shown on the pages."""
    evidence = get_evidence_or_404(evidence_id)
    if not evidence.preview_key:
        abort(404)
    response = send_file(io.BytesIO(evidence_store().read(evidence.preview_key)), mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, no-store"
    return response


# -- handling -------------------------------------------------------------------------------------------

@bp.route("/xu-ly")
@require_violation_handler
def queue():
    """The cases of the subtrees the officer monitors, open ones first."""
    status = request.args.get("status") or None
    query = (select(ViolationCase.id, ViolationCase.code, ViolationCase.kind, ViolationCase.platform,
                    ViolationCase.status, ViolationCase.created_at, Agency.name)
             .join(Agency, Agency.id == ViolationCase.agency_id).where(handled_agency_filter(current_user)))
    if status in services.STATUS_LABELS:
        query = query.where(ViolationCase.status == status)
    rows = db.session.execute(query.order_by(ViolationCase.closed_at.is_not(None), ViolationCase.created_at.desc())
                              .limit(500)).all()
    return render_template("violations/queue.html", rows=rows, status=status, now=utcnow())


@bp.route("/xu-ly/<int:case_id>")
@require_violation_handler
def case(case_id: int):
    """A case with its reports, reporters, evidence and history."""
    item = get_case_or_404(case_id)
    contacts = services.contacts_for(db.session, item)
    forward = ForwardForm()
    forward.contact.choices = [(c.id, f"{services.CONTACT_LABELS[c.kind]}: {c.name} <{c.email}>") for c in contacts]
    return render_template("violations/case.html", case=item, status_form=StatusForm().for_status(item.status),
                           forward_form=forward, contacts=contacts, show_reporter=can_see_reporter(current_user, item))


@bp.route("/xu-ly/<int:case_id>/trang-thai", methods=["POST"])
@require_violation_handler
def change_status(case_id: int):
    """Change a case's status, with a note."""
    item = get_case_or_404(case_id)
    form = StatusForm().for_status(item.status)
    if form.validate_on_submit():
        try:
            services.change_status(db.session, item, current_user, form.status.data, form.note.data,
                                   form.reporter_note.data or "")
        except services.ViolationError as error:
            db.session.rollback()
            flash(str(error), "danger")
        else:
            db.session.commit()
            flash(f"Đã chuyển vụ việc sang «{services.STATUS_LABELS[item.status]}».", "success")
    else:
        flash("Chưa đổi trạng thái: " + "; ".join(e for errors in form.errors.values() for e in errors), "danger")
    return redirect(url_for(".case", case_id=item.id))


@bp.route("/xu-ly/<int:case_id>/chuyen", methods=["POST"])
@require_violation_handler
def forward(case_id: int):
    """E-mail the case and its evidence package to the province's inspectorate or police."""
    import smtplib

    item = get_case_or_404(case_id)
    form = ForwardForm()
    contacts = {c.id: c for c in services.contacts_for(db.session, item)}
    form.contact.choices = [(cid, c.name) for cid, c in contacts.items()]
    if not form.validate_on_submit():
        flash("Chưa gửi: hãy chọn nơi nhận.", "danger")
        return redirect(url_for(".case", case_id=item.id))
    contact = contacts[form.contact.data]
    try:
        services.forward_case(db.session, item, current_user, contact, withhold_names=form.withhold_names.data,
                              note=form.note.data or "", mailer=SmtpMailer(current_app.config),
                              store=evidence_store(), base_url=current_app.config["PUBLIC_BASE_URL"])
    except (smtplib.SMTPException, OSError):
        db.session.rollback()
        current_app.logger.exception("forwarding case %s failed", item.code)
        flash("Không gửi được thư qua máy chủ thư; vụ việc chưa được ghi là đã chuyển. Hãy thử lại sau.", "danger")
    else:
        db.session.commit()
        flash(f"Đã gửi vụ việc và gói chứng cứ đến {contact.name} ({contact.email}).", "success")
    return redirect(url_for(".case", case_id=item.id))


@bp.route("/xu-ly/<int:case_id>/goi-chung-cu.zip")
@require_violation_handler
def package(case_id: int):
    """The evidence package (originals, manifest of hashes, summary), as it would be forwarded."""
    item = get_case_or_404(case_id)
    now = utcnow()
    summary = exports.case_summary_pdf(item, now=now, withhold_names=False)
    built = services.evidence_package(item, evidence_store(), summary)
    return send_file(io.BytesIO(built.data), mimetype="application/zip", as_attachment=True,
                     download_name=f"{item.code}.zip")


# -- back into training ---------------------------------------------------------------------------------

@bp.route("/tinh-huong")
@require_author
def scenarios():
    """Closed cases a trainer can turn into a draft question (no reporter, no text until anonymised)."""
    from .models import ViolationScenario

    rows = db.session.execute(
        select(ViolationCase.id, ViolationCase.code, ViolationCase.kind, ViolationCase.platform,
               ViolationCase.status, ViolationCase.closed_at, ViolationScenario.draft_slug)
        .outerjoin(ViolationScenario, ViolationScenario.case_id == ViolationCase.id)
        .where(ViolationCase.closed_at.is_not(None)).order_by(ViolationCase.closed_at.desc()).limit(200)).all()
    return render_template("violations/scenarios.html", rows=rows, form=EmptyForm())


@bp.route("/tinh-huong/<int:case_id>", methods=["POST"])
@require_author
def make_scenario(case_id: int):
    """Make the draft and open it in the question editor, where the placeholders must be filled."""
    from .scenarios import make_draft

    item = get_case_or_404(case_id, need="scenario")
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        draft = make_draft(db.session, item, current_user)
    except services.ViolationError as error:
        db.session.rollback()
        flash(str(error), "danger")
        return redirect(url_for(".scenarios"))
    db.session.commit()
    flash("Đã tạo bản nháp. Hãy thay mọi chỗ ⟦…⟧ bằng tên, số, đường link, địa danh hư cấu trước khi xuất bản.",
          "info")
    return redirect(url_for("authoring.edit", kind="question", slug=draft.slug))


# -- heads of agencies ------------------------------------------------------------------------------------

def _period():
    """The report's period from ?from=YYYY-MM-DD&to=YYYY-MM-DD (local days, `to` included); None: all."""
    def day(name):
        value = request.args.get(name)
        try:
            return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=VIETNAM) if value else None
        except ValueError:
            abort(400)
    since, until = day("from"), day("to")
    if until is not None:
        from datetime import timedelta
        until = until + timedelta(days=1)
    return since, until


@bp.route("/tong-hop")
@require_role("manager")
def dashboard_index():
    """The dashboard of the first subtree the head manages."""
    roots = managed_root_agencies(current_user)
    if not roots:
        abort(404)
    return redirect(url_for(".dashboard", agency_id=roots[0].id))


@bp.route("/tong-hop/<int:agency_id>")
@require_role("manager")
def dashboard(agency_id: int):
    """Reports of the subtree by status, kind, platform and month; medians; the open list."""
    agency = get_agency_or_404(agency_id)
    since, until = _period()
    board = services.dashboard(db.session, agency, since=since, until=until)
    return render_template("violations/dashboard.html", board=board, agency=agency,
                           roots=managed_root_agencies(current_user), args=request.args)


@bp.route("/tong-hop/<int:agency_id>/bao-cao.pdf")
@require_role("manager")
def dashboard_pdf(agency_id: int):
    """The periodic report upward, as a PDF in the administrative form."""
    agency = get_agency_or_404(agency_id)
    since, until = _period()
    now = utcnow()
    board = services.dashboard(db.session, agency, now, since=since, until=until, open_limit=500)
    root = db.session.get(Agency, agency.ancestor_ids()[0])
    data = exports.report_pdf(board, root=root, now=now, since=since, until=until)
    return send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=True,
                     download_name=f"bao-cao-vi-pham-{agency.code}.pdf")


@bp.route("/tong-hop/<int:agency_id>/bao-cao.xlsx")
@require_role("manager")
def dashboard_xlsx(agency_id: int):
    """The cases of the subtree and the counts, as a workbook."""
    agency = get_agency_or_404(agency_id)
    since, until = _period()
    board = services.dashboard(db.session, agency, since=since, until=until)
    target = exports.report_xlsx(board, services.case_rows(db.session, agency, since, until))
    return send_file(target, as_attachment=True, download_name=f"bao-cao-vi-pham-{agency.code}.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


# -- administration ------------------------------------------------------------------------------------

def _agency_choices(kinds: tuple[str, ...] | None = None) -> list[tuple[int, str]]:
    query = select(Agency.id, Agency.name, Agency.depth).where(Agency.is_active).order_by(Agency.path)
    if kinds:
        query = query.where(Agency.kind.in_(kinds) | Agency.parent_id.is_(None))
    return [(row.id, "— " * row.depth + row.name) for row in db.session.execute(query)]


@bp.route("/quan-tri", methods=["GET", "POST"])
@require_role("admin")
def settings():
    """Monitoring officers per subtree, and each province's forwarding contacts."""
    officer_form, contact_form = OfficerForm(prefix="officer"), ContactForm(prefix="contact")
    officer_form.agency_id.choices = _agency_choices()
    contact_form.agency_id.choices = _agency_choices(("province",))
    if officer_form.submit.data and officer_form.validate_on_submit():
        user = db.session.scalar(select(User).where(User.username == officer_form.username.data.strip().lower()))
        if user is None:
            officer_form.username.errors.append(f"Không có tài khoản «{officer_form.username.data}».")
        else:
            try:
                services.set_officer(db.session, db.session.get(Agency, officer_form.agency_id.data), user, current_user)
            except services.ViolationError as error:
                db.session.rollback()
                officer_form.username.errors.append(str(error))
            else:
                db.session.commit()
                flash("Đã giao cán bộ theo dõi.", "success")
                return redirect(url_for(".settings"))
    elif contact_form.submit.data and contact_form.validate_on_submit():
        services.set_contact(db.session, db.session.get(Agency, contact_form.agency_id.data), contact_form.kind.data,
                             contact_form.name.data, contact_form.email.data, current_user)
        db.session.commit()
        flash("Đã lưu đầu mối tiếp nhận.", "success")
        return redirect(url_for(".settings"))
    officers = db.session.execute(
        select(MonitoringOfficer, User, Agency).join(User, User.id == MonitoringOfficer.user_id)
        .join(Agency, Agency.id == MonitoringOfficer.agency_id).order_by(Agency.path, User.full_name)).all()
    contacts = db.session.execute(select(ViolationContact, Agency).join(Agency).order_by(Agency.path)).all()
    status = 400 if officer_form.errors or contact_form.errors else 200
    return render_template("violations/settings.html", officer_form=officer_form, contact_form=contact_form,
                           officers=officers, contacts=contacts, remove_form=EmptyForm()), status


@bp.route("/quan-tri/can-bo/<int:officer_id>/xoa", methods=["POST"])
@require_role("admin")
def remove_officer(officer_id: int):
    """Stop someone monitoring a subtree (cases already routed stay visible to officers above)."""
    officer = db.get_or_404(MonitoringOfficer, officer_id)
    if EmptyForm().validate_on_submit():
        services.remove_officer(db.session, officer, current_user)
        db.session.commit()
        flash("Đã bỏ giao theo dõi.", "success")
    return redirect(url_for(".settings"))

