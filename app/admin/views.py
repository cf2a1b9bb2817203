"""The administrator's pages: the agency tree, accounts and roles, sources, staff import, audit log.

Every page needs the admin role; every change is a POST behind CSRF that calls a service, which
checks the rules and writes the audit record; the view commits once.
"""
import os
import smtplib
from datetime import timedelta

from flask import (Blueprint, Response, abort, current_app, flash, redirect, render_template, request,
                   stream_with_context, url_for)
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge

from ..agencies.services import AgencyError, create_agency, merge_agency, move_agency, plan_merge, rename_agency
from ..auth import links, slips
from ..auth import services as accounts
from ..auth.passwords import validate_password
from ..directory.services import set_local_passwords_allowed
from ..extensions import db, export_limit
from ..formatting import VIETNAM, local_day_start
from ..models import Agency, AuditLog, ManagerScope, Source, User
from ..pagination import MAX_ID, id_arg, paginate_rows, paginated
from ..permissions import has_role, require_role
from ..reminders.mail import SmtpMailer
from ..uploads import PendingUploadError, PendingUploads
from . import forms, imports, services

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")
PER_PAGE = 50


@bp.route("/")
@require_role("admin")
def index():
    """Where to start: counts and the latest changes."""
    figures = {
        "agencies": db.session.scalar(select(func.count(Agency.id)).where(Agency.is_active)),
        "users": db.session.scalar(select(func.count(User.id)).where(User.is_active)),
        "without_password": db.session.scalar(select(func.count(User.id)).where(
            User.is_active, User.password_hash.startswith(accounts.UNUSABLE_PASSWORD_PREFIX))),
        "sources": db.session.scalar(select(func.count(Source.id))),
    }
    latest = db.session.execute(services.audit_query(services.AuditFilters()).limit(8)).all()
    return render_template("admin/index.html", figures=figures, latest=latest, labels=services.ACTION_LABELS)


# -- agencies -------------------------------------------------------------------------------------

def _agency_or_404(agency_id: int) -> Agency:
    return db.get_or_404(Agency, agency_id)


def _agency_select(field, *, exclude: Agency | None = None, blank: str | None = None) -> None:
    field.choices = ([(forms.NO_PARENT, blank)] if blank else []) + services.agency_choices(db.session, exclude=exclude)


@bp.route("/agencies")
@require_role("admin")
def agencies():
    """The tree in order with staff counts, searchable by name or code (diacritics ignored)."""
    form = forms.AgencyFilterForm(request.args)
    query = services.agencies_query(db.session, search=form.q.data or "", include_merged=form.merged.data)
    page = paginated(lambda number: db.paginate(query, page=number, per_page=PER_PAGE, error_out=False))
    return render_template("admin/agencies.html", form=form, page=page,
                           counts=services.staff_counts(db.session, page.items))


@bp.route("/agencies/new", methods=["GET", "POST"])
@require_role("admin")
def agency_new():
    """Create an agency under a parent (or a new root)."""
    form = forms.AgencyCreateForm(parent_id=id_arg("parent", forms.NO_PARENT))
    _agency_select(form.parent_id, blank="— Không (cấp cao nhất) —")
    if form.validate_on_submit():
        parent = db.session.get(Agency, form.parent_id.data) if form.parent_id.data else None
        try:
            agency = create_agency(db.session, code=form.code.data, name=form.name.data, kind=form.kind.data,
                                   parent=parent, actor=current_user)
        except AgencyError as error:
            form.code.errors.append(str(error))
        else:
            db.session.commit()
            flash(f"Đã tạo cơ quan «{agency.name}».", "success")
            return redirect(url_for("admin.agency", agency_id=agency.id))
    return render_template("admin/agency_form.html", form=form, agency=None)


@bp.route("/agencies/<int:agency_id>")
@require_role("admin")
def agency(agency_id: int):
    """One agency: where it sits, its children, staff, managers, assignments, what was merged into it."""
    detail = services.agency_detail(db.session, _agency_or_404(agency_id))
    return render_template("admin/agency.html", detail=detail, agency=detail.agency)


@bp.route("/agencies/<int:agency_id>/edit", methods=["GET", "POST"])
@require_role("admin")
def agency_edit(agency_id: int):
    """Rename an agency (its code too), set what its PDF report prints, turn its staff's local passwords on or off."""
    agency = _agency_or_404(agency_id)
    form = forms.AgencyEditForm(obj=agency)
    if form.validate_on_submit():
        try:
            changed = rename_agency(db.session, agency, name=form.name.data, code=form.code.data, actor=current_user,
                                    document_symbol=form.document_symbol.data or "",
                                    signer_title=form.signer_title.data or "", signer_name=form.signer_name.data or "")
            toggled = set_local_passwords_allowed(db.session, agency, form.local_passwords_allowed.data,
                                                  actor=current_user)
        except AgencyError as error:
            form.code.errors.append(str(error))
        else:
            db.session.commit()
            changed = changed or toggled
            flash("Đã lưu." if changed else "Không có gì thay đổi.", "success" if changed else "info")
            return redirect(url_for("admin.agency", agency_id=agency.id))
    return render_template("admin/agency_form.html", form=form, agency=agency)


@bp.route("/agencies/<int:agency_id>/move", methods=["GET", "POST"])
@require_role("admin")
def agency_move(agency_id: int):
    """Move an agency and everything below it under another parent; a cycle is refused."""
    agency = _agency_or_404(agency_id)
    if not agency.is_active:
        abort(404)
    form = forms.AgencyMoveForm(parent_id=agency.parent_id or forms.NO_PARENT)
    _agency_select(form.parent_id, exclude=agency, blank="— Không (cấp cao nhất) —")
    if form.validate_on_submit():
        parent = db.session.get(Agency, form.parent_id.data) if form.parent_id.data else None
        if (parent.id if parent else None) == agency.parent_id:
            form.parent_id.errors.append("Cơ quan đã trực thuộc nơi này.")
        else:
            try:
                move_agency(db.session, agency, parent, actor=current_user)
            except AgencyError as error:
                form.parent_id.errors.append(str(error))
            else:
                db.session.commit()
                flash("Đã chuyển cơ quan cùng toàn bộ cơ quan cấp dưới.", "success")
                return redirect(url_for("admin.agency", agency_id=agency_id))
    return render_template("admin/agency_move.html", form=form, agency=agency)


@bp.route("/agencies/<int:agency_id>/merge", methods=["GET", "POST"])
@require_role("admin")
def agency_merge(agency_id: int):
    """Choose the agency to merge into, see what will move, confirm."""
    agency = _agency_or_404(agency_id)
    if not agency.is_active:
        abort(404)
    choose = forms.MergeTargetForm(request.args)
    _agency_select(choose.target, exclude=agency)
    target_id = str(request.form.get("target") if request.method == "POST" else request.args.get("target", ""))
    target = db.session.get(Agency, int(target_id)) if target_id.isdecimal() and int(target_id) <= MAX_ID else None
    plan = None
    if target is not None:
        try:
            plan = plan_merge(db.session, agency, target)
        except AgencyError as error:
            choose.target.errors = [str(error)]
    confirm = forms.merge_confirm_form(plan, target=target_id)
    if plan is not None and confirm.validate_on_submit():
        merge_agency(db.session, agency, target, actor=current_user, widen_user_ids=confirm.widened_user_ids())
        db.session.commit()
        flash(f"Đã hợp nhất «{agency.name}» vào «{target.name}».", "success")
        return redirect(url_for("admin.agency", agency_id=target.id))
    return render_template("admin/agency_merge.html", agency=agency, choose=choose, confirm=confirm, plan=plan)


# -- users ----------------------------------------------------------------------------------------

def _user_or_404(user_id: int) -> User:
    return db.get_or_404(User, user_id)


@bp.route("/users")
@require_role("admin")
def users():
    """Accounts, searchable (diacritics ignored) and filtered by agency subtree, role and status."""
    form = forms.UserFilterForm(request.args)
    _agency_select(form.agency, blank="Tất cả cơ quan")
    agency = db.session.get(Agency, form.agency.data) if form.agency.data else None
    query = services.users_query(search=form.q.data or "", agency=agency, role=form.role.data or "",
                                 status=form.status.data or "active")
    page = paginated(lambda number: db.paginate(query, page=number, per_page=PER_PAGE, error_out=False))
    return render_template("admin/users.html", form=form, page=page)


def _show_password(user: User, password: str, created: bool = False):
    """The generated password, shown once: not stored anywhere readable, not cached."""
    response = Response(render_template("admin/password_shown.html", person=user, password=password,
                                        created=created))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/users/new", methods=["GET", "POST"])
@require_role("admin")
def user_new():
    """Create an account; without a password typed in, a temporary one is shown once."""
    form = forms.UserCreateForm(agency_id=id_arg("agency", 0))
    _agency_select(form.agency_id)
    if form.validate_on_submit():
        password = form.password.data or accounts.temporary_password()
        try:
            user = accounts.create_user(
                db.session, username=form.username.data, email=form.email.data, full_name=form.full_name.data,
                agency=db.session.get(Agency, form.agency_id.data), password=password,
                employee_code=form.employee_code.data, is_trainer=form.is_trainer.data,
                is_admin=form.is_admin.data, actor=current_user, temporary=True)
        except accounts.AccountError as error:
            form[error.field or "username"].errors.append(str(error))
        else:
            db.session.commit()
            if not form.password.data:
                return _show_password(user, password, created=True)
            flash(f"Đã tạo tài khoản «{user.username}».", "success")
            return redirect(url_for("admin.user", user_id=user.id))
    return render_template("admin/user_new.html", form=form)


def _user_page(user: User, **given):
    """The user page with its forms; a form passed in (with its errors) replaces the blank one."""
    page_forms = {
        "form": given.get("form") or forms.UserForm(obj=user, agency_id=user.agency_id),
        "roles_form": given.get("roles_form") or forms.RolesForm(obj=user),
        "scope_form": given.get("scope_form") or forms.ScopeForm(),
        "password_form": given.get("password_form") or forms.ResetPasswordForm(),
    }
    choices = services.agency_choices(db.session)
    page_forms["form"].agency_id.choices = choices
    page_forms["scope_form"].agency_id.choices = choices
    return render_template("admin/user.html", person=user, empty_form=forms.EmptyForm(),
                           has_password=accounts.has_usable_password(user), **page_forms)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@require_role("admin")
def user(user_id: int):
    """One account: details, roles and scopes, password, deactivation."""
    user = _user_or_404(user_id)
    form = forms.UserForm(obj=user, agency_id=user.agency_id)
    form.agency_id.choices = services.agency_choices(db.session)
    if form.validate_on_submit():
        try:
            changed = accounts.update_user(
                db.session, user, actor=current_user, username=form.username.data, email=form.email.data,
                full_name=form.full_name.data, employee_code=form.employee_code.data,
                agency=db.session.get(Agency, form.agency_id.data))
        except accounts.AccountError as error:
            form[{"agency": "agency_id"}.get(error.field, error.field or "username")].errors.append(str(error))
        else:
            db.session.commit()
            flash("Đã lưu." if changed else "Không có gì thay đổi.", "success" if changed else "info")
            return redirect(url_for("admin.user", user_id=user.id))
    return _user_page(user, form=form)


@bp.route("/users/<int:user_id>/roles", methods=["POST"])
@require_role("admin")
def user_roles(user_id: int):
    """Grant or revoke the trainer and administrator roles."""
    user = _user_or_404(user_id)
    form = forms.RolesForm()
    if form.validate_on_submit():
        try:
            changed = accounts.set_roles(db.session, user, is_trainer=form.is_trainer.data,
                                         is_admin=form.is_admin.data, actor=current_user)
        except accounts.AccountError as error:
            form.is_admin.errors.append(str(error))
        else:
            db.session.commit()
            flash("Đã lưu vai trò." if changed else "Không có gì thay đổi.", "success" if changed else "info")
            return redirect(url_for("admin.user", user_id=user.id))
    return _user_page(user, roles_form=form)


@bp.route("/users/<int:user_id>/scopes", methods=["POST"])
@require_role("admin")
def user_scope_grant(user_id: int):
    """Make the person a manager of an agency subtree."""
    user = _user_or_404(user_id)
    form = forms.ScopeForm()
    form.agency_id.choices = services.agency_choices(db.session)
    if form.validate_on_submit():
        agency = db.session.get(Agency, form.agency_id.data)
        try:
            accounts.grant_scope(db.session, user, agency, actor=current_user)
        except accounts.AccountError as error:
            form.agency_id.errors.append(str(error))
        else:
            db.session.commit()
            flash(f"Đã giao quyền quản lý {agency.name}.", "success")
            return redirect(url_for("admin.user", user_id=user.id))
    return _user_page(user, scope_form=form)


@bp.route("/users/<int:user_id>/scopes/<int:scope_id>/revoke", methods=["POST"])
@require_role("admin")
def user_scope_revoke(user_id: int, scope_id: int):
    """Take a manager scope away."""
    user = _user_or_404(user_id)
    scope = db.get_or_404(ManagerScope, scope_id)
    if scope.user_id != user.id:
        abort(404)
    if forms.EmptyForm().validate_on_submit():
        name = scope.agency.name
        accounts.revoke_scope(db.session, user, scope, actor=current_user)
        db.session.commit()
        flash(f"Đã thu hồi quyền quản lý {name}.", "success")
    return redirect(url_for("admin.user", user_id=user.id))


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@bp.route("/users/<int:user_id>/reactivate", methods=["POST"], endpoint="user_reactivate")
@require_role("admin")
def user_deactivate(user_id: int):
    """Deactivate an account (it is never deleted: its history stays), or reactivate it."""
    user = _user_or_404(user_id)
    active = request.endpoint == "admin.user_reactivate"
    if forms.EmptyForm().validate_on_submit():
        try:
            accounts.set_active(db.session, user, active, actor=current_user)
        except accounts.AccountError as error:
            flash(str(error), "danger")
        else:
            db.session.commit()
            flash("Đã kích hoạt lại tài khoản." if active else "Đã vô hiệu hóa tài khoản.", "success")
    return redirect(url_for("admin.user", user_id=user.id))


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@require_role("admin")
def user_password(user_id: int):
    """Set a password chosen by the administrator, or generate one and show it once."""
    user = _user_or_404(user_id)
    form = forms.ResetPasswordForm()
    if not form.validate_on_submit():
        return _user_page(user, password_form=form)
    if form.password.data:
        try:  # the form cannot see whose password it is: compare with the person's names here
            validate_password(form.password.data, user)
        except accounts.AccountError as error:
            form.password.errors.append(str(error))
            return _user_page(user, password_form=form)
    password = form.password.data or accounts.temporary_password()
    accounts.reset_password(db.session, user, password, actor=current_user)
    db.session.commit()
    if form.password.data:
        flash(f"Đã đặt mật khẩu mới cho «{user.username}».", "success")
        return redirect(url_for("admin.user", user_id=user.id))
    return _show_password(user, password)


@bp.route("/users/<int:user_id>/invite", methods=["POST"])
@require_role("admin")
def user_invite(user_id: int):
    """E-mail the person a one-time link to set their own password."""
    user = _user_or_404(user_id)
    if forms.EmptyForm().validate_on_submit():
        if not user.is_active:
            flash("Tài khoản đã bị vô hiệu hóa nên không gửi thư mời.", "danger")
            return redirect(url_for("admin.user", user_id=user.id))
        links.queue_invitations(db.session, [user], actor=current_user)
        db.session.commit()
        try:
            links.send_queued_invitations(db.session, SmtpMailer(current_app.config))
        except (OSError, smtplib.SMTPException):
            flash("Chưa gửi được thư (máy chủ thư không trả lời); thư mời sẽ được gửi lại khi chạy "
                  "lệnh gửi thư hằng ngày.", "warning")
        else:
            flash(f"Đã gửi thư mời đặt mật khẩu tới {user.email}.", "success")
    return redirect(url_for("admin.user", user_id=user.id))


@bp.route("/agencies/<int:agency_id>/password-sheet", methods=["POST"])
@require_role("admin")
def agency_password_sheet(agency_id: int):
    """Temporary passwords for the agency's staff who have none, as a PDF of slips, downloaded once."""
    agency = _agency_or_404(agency_id)
    if not forms.EmptyForm().validate_on_submit():
        abort(400)
    issued = slips.issue_slips(db.session, agency, actor=current_user)
    db.session.commit()
    pdf = slips.slips_pdf(agency, issued, current_app.config["PUBLIC_BASE_URL"].rstrip("/") + url_for("auth.login"))
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="phieu-mat-khau-{agency.code}.pdf"',
        "Cache-Control": "no-store"})


# -- sources --------------------------------------------------------------------------------------

@bp.route("/sources")
@require_role("admin")
def sources():
    """The documents the curriculum cites, with the current reporting contact of each province."""
    items = db.session.scalars(select(Source).order_by(Source.kind, Source.number)).all()
    return render_template("admin/sources.html", sources=items)


@bp.route("/sources/<int:source_id>", methods=["GET", "POST"])
@require_role("admin")
def source(source_id: int):
    """A source's metadata (read-only: the files own it) and its current contact (editable)."""
    source = db.get_or_404(Source, source_id)
    form = forms.SourceContactForm(obj=source)
    if form.validate_on_submit():
        changed = services.set_source_contact(db.session, source, form.current_contact.data or "", actor=current_user)
        db.session.commit()
        flash("Đã lưu đầu mối tiếp nhận phản ánh." if changed else "Không có gì thay đổi.",
              "success" if changed else "info")
        return redirect(url_for("admin.source", source_id=source.id))
    return render_template("admin/source.html", source=source, form=form)


# -- staff import ---------------------------------------------------------------------------------

def _pending() -> PendingUploads:
    config = current_app.config
    return PendingUploads(config["IMPORT_PENDING_DIR"], timedelta(minutes=config["IMPORT_PENDING_MINUTES"]))


def _plan(data: bytes, name: str, field=None) -> imports.ImportPlan | None:
    """Read and check a staff file; None (with the reason on `field`) if it cannot be read."""
    try:
        rows = imports.read_rows(data, name)
    except imports.ImportFileError as error:
        if field is not None:
            field.errors = [*field.errors, str(error)]
        return None
    return imports.plan_import(db.session, rows, file_name=name, file_hash=imports.file_hash(data),
                               actor=current_user)


def _preview(plan: imports.ImportPlan, token: str = ""):
    return render_template("admin/import_preview.html", plan=plan, labels=imports.KIND_LABELS, columns=imports.COLUMNS,
                           form=forms.ImportApplyForm(token=token), limit=500,
                           minutes=current_app.config["IMPORT_PENDING_MINUTES"])


@bp.route("/import", methods=["GET", "POST"])
@require_role("admin")
def import_staff():
    """Upload a staff file; the answer is the preview (nothing is written). A file that can be
    applied is kept on the server for the confirmation, so it is never uploaded twice."""
    form = forms.ImportUploadForm()
    if form.validate_on_submit():
        data = form.file.data.read()
        name = os.path.basename(form.file.data.filename or "tep")[:200]
        plan = _plan(data, name, form.file)
        if plan is not None:
            token = ""
            if plan.ok and plan.has_changes:
                token = _pending().keep(data, owner_id=current_user.id, file_name=name).token
            return _preview(plan, token)
    return render_template("admin/import.html", form=form, columns=imports.COLUMNS)


@bp.route("/import/apply", methods=["POST"])
@require_role("admin")
def import_apply():
    """Apply the file kept at the preview (only its token comes back), all or nothing."""
    form = forms.ImportApplyForm()
    upload_form = forms.ImportUploadForm(formdata=None)
    if not form.validate_on_submit():
        upload_form.file.errors = [message for messages in form.errors.values() for message in messages]
        return render_template("admin/import.html", form=upload_form, columns=imports.COLUMNS), 400
    pending = _pending()
    try:
        kept = pending.load(form.token.data, owner_id=current_user.id)
    except PendingUploadError as error:
        upload_form.file.errors = [str(error)]
        return render_template("admin/import.html", form=upload_form, columns=imports.COLUMNS), 400
    plan = _plan(kept.data, kept.file_name, upload_form.file)
    if plan is None:
        return render_template("admin/import.html", form=upload_form, columns=imports.COLUMNS), 400
    if not plan.ok:  # the data changed since the preview (an agency merged, an email taken)
        flash("Dữ liệu đã thay đổi từ lúc xem trước và tệp nay có lỗi, nên chưa thay đổi gì.", "danger")
        pending.discard(kept.token)
        return _preview(plan)
    try:
        counts = imports.apply_import(db.session, plan, actor=current_user)
        if form.send_invitations.data:
            links.queue_invitations(db.session, imports.created_users(db.session, plan), actor=current_user)
        db.session.commit()
    except IntegrityError:  # someone changed the same accounts meanwhile
        db.session.rollback()
        flash("Dữ liệu vừa thay đổi trong lúc nhập nên chưa áp dụng gì; đây là bản xem trước mới.", "danger")
        return _preview(plan, kept.token)
    pending.discard(kept.token)
    flash("Đã nhập: " + ", ".join(f"{imports.KIND_LABELS[kind].lower()} {counts[kind]}" for kind in imports.KINDS)
          + ".", "success")
    if form.send_invitations.data and counts["created"]:
        _send_invitations_now()
    elif counts["created"]:
        flash("Tài khoản mới chưa có mật khẩu: gửi thư mời hoặc in phiếu mật khẩu tạm trên trang cơ quan.", "info")
    return redirect(url_for("admin.import_staff"))


#: invitations mailed while the administrator waits; the rest go with the daily mail command
INVITATIONS_PER_REQUEST = 200


def _send_invitations_now() -> None:
    try:
        sent = links.send_queued_invitations(db.session, SmtpMailer(current_app.config), limit=INVITATIONS_PER_REQUEST)
    except (OSError, smtplib.SMTPException):
        flash("Chưa gửi được thư mời (máy chủ thư không trả lời); thư sẽ được gửi khi chạy lệnh gửi thư hằng ngày.",
              "warning")
        return
    waiting = len(links.queued_invitations(db.session))
    flash(f"Đã gửi {sent} thư mời đặt mật khẩu" + (f"; {waiting} thư còn lại sẽ được gửi bởi lệnh gửi thư hằng ngày."
                                                  if waiting else "."), "success")


@bp.route("/import/template.<any(xlsx, csv):extension>")
@require_role("admin")
def import_template(extension: str):
    """The template with the headers and four example rows."""
    if extension == "xlsx":
        data, mimetype = imports.template_xlsx(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        data, mimetype = imports.template_csv(), "text/csv"
    return Response(data, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="mau-danh-sach-can-bo.{extension}"'})


@bp.errorhandler(RequestEntityTooLarge)
def file_too_large(error):
    """An upload over MAX_CONTENT_LENGTH: say so on the import page, in Vietnamese."""
    if not has_role(current_user, "admin"):
        return render_template("errors/403.html"), 403
    form = forms.ImportUploadForm(formdata=None)
    form.file.errors = ["Tệp quá lớn (tối đa 10 MB); hãy chia thành nhiều tệp."]
    return render_template("admin/import.html", form=form, columns=imports.COLUMNS), 413


# -- audit log ------------------------------------------------------------------------------------

def _audit_filters() -> tuple[forms.AuditFilterForm, services.AuditFilters]:
    form = forms.AuditFilterForm(request.args)
    actions, types = services.audit_facets(db.session)
    form.action.choices = [("", "Tất cả")] + [(a, services.ACTION_LABELS.get(a, a)) for a in actions]
    form.object_type.choices = [("", "Tất cả")] + [(t, services.OBJECT_TYPE_LABELS.get(t, t)) for t in types]
    form.validate()
    return form, services.AuditFilters(
        actor=form.actor.data or "", action=form.action.data or "", object_type=form.object_type.data or "",
        since=_day_start(form.date_from.data) if form.date_from.data and not form.date_from.errors else None,
        until=_day_start(form.date_to.data + timedelta(days=1)) if form.date_to.data and not form.errors else None)


_day_start = local_day_start  # midnight in Vietnam, the way the administrator means a date


@bp.route("/audit")
@require_role("admin")
def audit():
    """Every change made through the services, newest first, filtered."""
    form, filters = _audit_filters()
    page = paginated(lambda number: paginate_rows(db.session, services.audit_query(filters), number, PER_PAGE))
    return render_template("admin/audit.html", form=form, page=page, labels=services.ACTION_LABELS,
                           type_labels=services.OBJECT_TYPE_LABELS, field_labels=services.FIELD_LABELS,
                           audit_value=services.audit_value, total=db.session.scalar(
                               select(func.count(AuditLog.id))))


@bp.route("/audit.csv")
@require_role("admin")
@export_limit
def audit_export():
    """The filtered log as CSV (UTF-8 with a BOM, so Excel reads the Vietnamese right)."""
    _, filters = _audit_filters()
    return Response(stream_with_context(services.audit_csv_lines(db.session, filters)),
                    mimetype="text/csv",  # Flask adds "; charset=utf-8"
                    headers={"Content-Disposition": 'attachment; filename="nhat-ky-thay-doi.csv"'})
