"""Forms of the administration pages: agencies, users, sources, the staff import, audit filters."""
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (BooleanField, DateField, HiddenField, PasswordField, RadioField, SelectField, StringField,
                     SubmitField, TextAreaField)
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, Regexp, ValidationError

from ..auth.passwords import PasswordRules
from ..forms import Form, GetForm, bounded_int
from ..models import AGENCY_KIND_LABELS
from .services import ROLE_FILTERS

NO_PARENT = 0


# -- agencies -------------------------------------------------------------------------------------

class AgencyFilterForm(GetForm):
    q = StringField("Tìm theo tên hoặc mã")
    merged = BooleanField("Hiện cả cơ quan đã hợp nhất")


class AgencyForm(Form):
    code = StringField("Mã cơ quan", validators=[
        DataRequired("Vui lòng nhập mã cơ quan."), Length(max=40, message="Mã cơ quan tối đa 40 ký tự."),
        Regexp(r"^[A-Za-z0-9._-]+$", message="Mã cơ quan chỉ gồm chữ không dấu, số và . _ -")])
    name = StringField("Tên cơ quan", validators=[
        DataRequired("Vui lòng nhập tên cơ quan."), Length(max=255, message="Tên cơ quan tối đa 255 ký tự.")])
    submit = SubmitField("Lưu")


class AgencyEditForm(AgencyForm):
    """Renaming, and what the agency's PDF report prints in its number field and signature block."""

    document_symbol = StringField("Ký hiệu văn bản của cơ quan", description="Ví dụ: UBND — báo cáo ghi «Số: …/BC-UBND».",
                                  validators=[Length(max=40, message="Ký hiệu văn bản tối đa 40 ký tự.")])
    signer_title = StringField("Chức danh người ký báo cáo", description="Ví dụ: Chủ tịch. Để trống: «Thủ trưởng cơ quan».",
                               validators=[Length(max=120, message="Chức danh người ký tối đa 120 ký tự.")])
    signer_name = StringField("Họ và tên người ký", description="Để trống nếu ghi tay khi ký.",
                              validators=[Length(max=120, message="Họ và tên người ký tối đa 120 ký tự.")])
    local_passwords_allowed = BooleanField(
        "Cho phép đăng nhập bằng mật khẩu riêng của ứng dụng",
        description="Bỏ chọn khi mọi cán bộ của cơ quan này đã có tài khoản thư mục hoặc tài khoản đăng nhập "
                    "một lần của tỉnh: khi đó họ chỉ đăng nhập được bằng tài khoản đó. "
                    "Chỉ áp dụng cho cán bộ trực tiếp của cơ quan này, không cho cơ quan cấp dưới.")
    submit = SubmitField("Lưu")


class AgencyCreateForm(AgencyForm):
    kind = SelectField("Loại", choices=list(AGENCY_KIND_LABELS.items()), default="unit")
    parent_id = SelectField("Trực thuộc", coerce=bounded_int, default=NO_PARENT)
    submit = SubmitField("Tạo cơ quan")


class AgencyMoveForm(Form):
    parent_id = SelectField("Chuyển về trực thuộc", coerce=bounded_int)
    submit = SubmitField("Chuyển")


class MergeTargetForm(GetForm):
    target = SelectField("Hợp nhất vào", coerce=bounded_int, validators=[DataRequired("Vui lòng chọn cơ quan.")])
    submit = SubmitField("Xem trước")


class MergeConfirmForm(Form):
    target = HiddenField(validators=[DataRequired()])
    confirm = BooleanField("Tôi đã xem những gì sẽ được chuyển và muốn hợp nhất",
                           validators=[DataRequired("Vui lòng đánh dấu xác nhận.")])
    submit = SubmitField("Hợp nhất")

    def scope_fields(self) -> list:
        """The per-manager choices, in the order of the plan."""
        return [field for field in self if field.name.startswith(SCOPE_FIELD_PREFIX)]

    def widened_user_ids(self) -> list[int]:
        """The managers the administrator chose to give the target's whole subtree."""
        return [int(field.name.removeprefix(SCOPE_FIELD_PREFIX)) for field in self.scope_fields()
                if field.data == SCOPE_WIDEN]


SCOPE_FIELD_PREFIX = "scope_"
SCOPE_REMOVE, SCOPE_WIDEN = "remove", "widen"


def merge_confirm_form(plan, **kwargs) -> MergeConfirmForm:
    """The confirmation, with one choice per manager whose scope moving would widen (default: remove it)."""
    class PlannedMergeForm(MergeConfirmForm):
        pass

    if plan is not None:
        for change in plan.scope_changes:
            if change.would_widen:
                user = change.user
                setattr(PlannedMergeForm, f"{SCOPE_FIELD_PREFIX}{user.id}", RadioField(
                    f"Khi hợp nhất, quyền quản lý của {user.full_name} ({user.username})", default=SCOPE_REMOVE,
                    choices=[(SCOPE_REMOVE, f"Thu hồi quyền quản lý {plan.source.name} (mặc định)"),
                             (SCOPE_WIDEN, f"Giao quyền quản lý toàn bộ {plan.target.name} và mọi cơ quan "
                                           "cấp dưới (mở rộng quyền)")]))
    return PlannedMergeForm(**kwargs)


# -- users ----------------------------------------------------------------------------------------

class UserFilterForm(GetForm):
    q = StringField("Tìm theo tên, tên đăng nhập, email hoặc mã cán bộ")
    agency = SelectField("Cơ quan (cả cấp dưới)", coerce=bounded_int, default=0)
    role = SelectField("Vai trò", choices=[("", "Tất cả")] + list(ROLE_FILTERS.items()), default="")
    status = SelectField("Trạng thái", choices=[("active", "Đang hoạt động"), ("inactive", "Đã vô hiệu hóa"),
                                               ("all", "Tất cả")], default="active")


class UserForm(Form):
    full_name = StringField("Họ và tên", validators=[
        DataRequired("Vui lòng nhập họ và tên."), Length(max=255, message="Họ và tên tối đa 255 ký tự.")])
    username = StringField("Tên đăng nhập", validators=[
        DataRequired("Vui lòng nhập tên đăng nhập."),
        Length(min=3, max=80, message="Tên đăng nhập có từ 3 đến 80 ký tự."),
        Regexp(r"^[A-Za-z0-9._-]+$", message="Tên đăng nhập chỉ gồm chữ không dấu, số và . _ -")])
    email = StringField("Email", validators=[
        DataRequired("Vui lòng nhập email."), Length(max=255, message="Email tối đa 255 ký tự."),
        Email("Email không hợp lệ.")])
    employee_code = StringField("Mã cán bộ", validators=[
        Optional(), Length(max=50, message="Mã cán bộ tối đa 50 ký tự.")])
    agency_id = SelectField("Cơ quan", coerce=bounded_int, validators=[DataRequired("Vui lòng chọn cơ quan.")])
    submit = SubmitField("Lưu")


class UserCreateForm(UserForm):
    password = PasswordField("Mật khẩu ban đầu", validators=[
        Optional(), PasswordRules()],
        description="Để trống để hệ thống tạo mật khẩu tạm, chỉ hiện một lần.")
    is_trainer = BooleanField("Giảng viên")
    is_admin = BooleanField("Quản trị")
    submit = SubmitField("Tạo tài khoản")


class RolesForm(Form):
    is_trainer = BooleanField("Giảng viên (soạn bài, câu hỏi)")
    is_admin = BooleanField("Quản trị (toàn hệ thống)")
    submit = SubmitField("Lưu vai trò")


class ScopeForm(Form):
    # Its own id: the person's page also holds the form that moves them, with an `agency_id` too.
    agency_id = SelectField("Quản lý cơ quan (cả cấp dưới)", coerce=bounded_int,
                            validators=[DataRequired("Vui lòng chọn cơ quan.")], id="scope-agency_id")
    submit = SubmitField("Giao quyền quản lý")


class ResetPasswordForm(Form):
    password = PasswordField("Mật khẩu mới", validators=[
        Optional(), PasswordRules()],
        description="Để trống để hệ thống tạo mật khẩu tạm, chỉ hiện một lần.")
    confirm = PasswordField("Nhập lại mật khẩu mới", validators=[
        EqualTo("password", message="Hai lần nhập mật khẩu không khớp.")])
    submit = SubmitField("Đặt lại mật khẩu")


class EmptyForm(Form):
    """Only the CSRF token, for buttons that POST."""

    submit = SubmitField("Xác nhận")


# -- sources --------------------------------------------------------------------------------------

class SourceContactForm(Form):
    current_contact = TextAreaField("Đầu mối tiếp nhận phản ánh hiện nay", validators=[
        Length(max=2000, message="Tối đa 2000 ký tự.")],
        description="Để trống nếu chưa có. Hiện trong trang văn bản và trong bài học có nhắc đến đầu mối.")
    submit = SubmitField("Lưu")


# -- the staff import -----------------------------------------------------------------------------

class ImportUploadForm(Form):
    file = FileField("Tệp danh sách cán bộ (.xlsx hoặc .csv)", validators=[
        FileRequired("Vui lòng chọn tệp."),
        FileAllowed(["xlsx", "csv"], "Chỉ nhận tệp Excel (.xlsx) hoặc CSV (.csv).")])
    submit = SubmitField("Xem trước")


class ImportApplyForm(Form):
    #: the file kept on the server at the preview (app.uploads.PendingUploads): never sent twice
    token = HiddenField(validators=[DataRequired("Thiếu tệp đã xem trước; hãy tải tệp lên và xem trước lại.")])
    send_invitations = BooleanField("Gửi thư mời đặt mật khẩu cho tài khoản mới", default=True)
    submit = SubmitField("Áp dụng")


# -- audit log ------------------------------------------------------------------------------------

class AuditFilterForm(GetForm):
    actor = StringField("Người thực hiện", description="Tên đăng nhập hoặc họ tên; «-» là dòng lệnh.")
    action = SelectField("Hành động", default="")
    object_type = SelectField("Loại đối tượng", default="")
    date_from = DateField("Từ ngày", validators=[Optional()])
    date_to = DateField("Đến ngày", validators=[Optional()])

    def validate_date_to(self, field):
        if self.date_from.data and field.data and field.data < self.date_from.data:
            raise ValidationError("«Đến ngày» phải sau «Từ ngày».")
