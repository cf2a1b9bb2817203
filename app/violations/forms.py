"""Forms of the violation reports: filing, a status change, forwarding, officers and contacts."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask_wtf.file import FileField, MultipleFileField
from wtforms import BooleanField, DateTimeLocalField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Email, InputRequired, Length, ValidationError

from ..forms import Form
from ..formatting import VIETNAM
from .models import CONTACT_KINDS
from .services import (
    COMMON_VIOLATIONS,
    CONTACT_LABELS,
    NEXT_STATUSES,
    PLATFORMS,
    STATUS_LABELS,
    TWELVE_KINDS,
    is_web_url,
)

KIND_CHOICES = {
    "Mười hai loại thông tin vi phạm pháp luật (Sở TT&TT Yên Bái)": [(key, label) for key, label, _ in TWELVE_KINDS],
    "Ba nhóm vi phạm chủ yếu (Công an tỉnh Tuyên Quang)": [(key, label) for key, label, _ in COMMON_VIOLATIONS],
}


class ReportForm(Form):
    """What a person saw, where and when, and the evidence they kept."""

    url = StringField("Đường link (URL) của bài đăng, trang hoặc tài khoản", validators=[
        DataRequired("Hãy nhập đường link."), Length(max=2000, message="Đường link dài quá 2.000 ký tự.")],
        description="Sao chép đường link từ ứng dụng (nút Chia sẻ → Sao chép liên kết), bắt đầu bằng https://")
    platform = SelectField("Nền tảng", choices=[("", "— Chọn nền tảng —")] + PLATFORMS,
                           validators=[DataRequired("Hãy chọn nền tảng.")])
    seen_at = DateTimeLocalField("Thời điểm anh/chị nhìn thấy", format="%Y-%m-%dT%H:%M",
                                 validators=[InputRequired("Hãy nhập ngày giờ nhìn thấy.")],
                                 description="Giờ Việt Nam.")
    kind = SelectField("Có dấu hiệu thuộc loại vi phạm nào", choices=[("", "— Chọn loại —")] + [
        (key, label) for group in KIND_CHOICES.values() for key, label in group],
        validators=[DataRequired("Hãy chọn loại vi phạm.")])
    description = TextAreaField("Mô tả ngắn", validators=[
        DataRequired("Hãy mô tả ngắn nội dung vi phạm."),
        Length(max=2000, message="Mô tả dài quá 2.000 ký tự.")],
        description="Nội dung gì, ai đăng (tên tài khoản), đăng ở nhóm hay trang nào, có bao nhiêu lượt chia sẻ.")
    images = MultipleFileField("Ảnh chụp màn hình", description="Chọn một hoặc nhiều ảnh (JPEG, PNG, WebP) từ "
                               "thư viện ảnh của điện thoại. Ảnh được lưu nguyên gốc, không bị sửa.")
    pdf = FileField("Tệp PDF (không bắt buộc)", description="Ví dụ: trang web lưu thành PDF.")
    withhold_name = BooleanField("Không chuyển tên tôi khi vụ việc được chuyển cho cơ quan chức năng")
    submit = SubmitField("Gửi báo cáo")

    def validate_url(self, field) -> None:
        if not is_web_url(field.data or ""):
            raise ValidationError("Đường link phải bắt đầu bằng http:// hoặc https:// và có tên miền, "
                                  "ví dụ https://www.facebook.com/…")

    def validate_seen_at(self, field) -> None:
        if field.data is None:
            return
        moment = field.data.replace(tzinfo=VIETNAM)
        now = datetime.now(VIETNAM)
        if moment > now + timedelta(minutes=10):
            raise ValidationError("Thời điểm nhìn thấy không thể ở tương lai.")
        if moment < now - timedelta(days=3650):
            raise ValidationError("Thời điểm nhìn thấy quá xa (hơn 10 năm trước).")

    def seen_at_utc(self) -> datetime:
        return self.seen_at.data.replace(tzinfo=VIETNAM).astimezone(timezone.utc)


class StatusForm(Form):
    """A status change, always with a note; what the reporter should read is separate."""

    status = SelectField("Trạng thái mới", validators=[DataRequired("Hãy chọn trạng thái.")])
    note = TextAreaField("Ghi chú nội bộ (chỉ cán bộ xử lý thấy)", validators=[
        DataRequired("Hãy ghi chú lý do đổi trạng thái."), Length(max=4000)])
    reporter_note = TextAreaField("Thông tin cho người báo cáo (không bắt buộc)", validators=[Length(max=2000)])
    submit = SubmitField("Cập nhật trạng thái")

    def for_status(self, current: str) -> StatusForm:
        self.status.choices = [("", "— Chọn —")] + [(s, STATUS_LABELS[s]) for s in NEXT_STATUSES[current]]
        return self


class ForwardForm(Form):
    """Send the case with its evidence to the province's inspectorate or police."""

    # Checked on the server, not marked `required`: a required list must start with an empty
    # choice, and a contact is always chosen (the first is preselected).
    contact = SelectField("Gửi đến", coerce=int, validators=[DataRequired("Hãy chọn nơi nhận.")],
                          render_kw={"required": False})
    withhold_names = BooleanField("Không chuyển danh tính người báo cáo")
    # Its own id: the status form on the same page has a `note` too (ids are unique in a page).
    note = TextAreaField("Ghi chú kèm thư (không bắt buộc)", validators=[Length(max=2000)], id="forward-note")
    submit = SubmitField("Gửi kèm gói chứng cứ")


class OfficerForm(Form):
    agency_id = SelectField("Cơ quan (cả các đơn vị trực thuộc)", coerce=int)
    username = StringField("Tên đăng nhập của cán bộ theo dõi", validators=[DataRequired("Hãy nhập tên đăng nhập.")])
    submit = SubmitField("Giao theo dõi")


class ContactForm(Form):
    agency_id = SelectField("Tỉnh (hoặc cơ quan gốc)", coerce=int)
    kind = SelectField("Đầu mối", choices=[(kind, CONTACT_LABELS[kind]) for kind in CONTACT_KINDS])
    name = StringField("Tên cơ quan tiếp nhận", validators=[DataRequired("Hãy nhập tên cơ quan."), Length(max=255)])
    email = StringField("Email tiếp nhận", validators=[DataRequired("Hãy nhập email."),
                                                      Email("Email không hợp lệ."), Length(max=255)])
    submit = SubmitField("Lưu đầu mối")


class EmptyForm(Form):
    """A button-only POST (remove an officer, make a scenario): CSRF and nothing else."""

    submit = SubmitField("Xác nhận")

