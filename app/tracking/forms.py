"""Forms for assigning a course to an agency subtree and filtering people."""
from datetime import date

from wtforms import DateField, HiddenField, IntegerField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, NumberRange, Optional, ValidationError

from ..forms import Form, GetForm, bounded_int
from ..pagination import MAX_ID
from .services import PEOPLE_SORT_LABELS


class AssignmentTermsForm(Form):
    """Dates, validity and recertification of an assignment; saved only after its preview was shown."""

    starts_on = DateField("Ngày bắt đầu", default=date.today,
                          validators=[DataRequired("Vui lòng nhập ngày bắt đầu (ngày/tháng/năm).")])
    due_on = DateField("Hạn hoàn thành", validators=[DataRequired("Vui lòng nhập hạn hoàn thành.")])
    validity_months = IntegerField("Chứng nhận có hiệu lực (tháng)", validators=[
        Optional(), NumberRange(min=1, max=120, message="Thời hạn hiệu lực từ 1 đến 120 tháng.")],
        description="Để trống nếu chứng nhận không hết hạn; 12 nếu có hiệu lực một năm.")
    recertify_days = IntegerField("Học lại trước khi hết hạn (ngày)", validators=[
        Optional(), NumberRange(min=1, max=365, message="Số ngày mở đợt học lại từ 1 đến 365.")],
        description="Để trống nếu chỉ học một lần; 60 để mở đợt học lại 60 ngày trước khi chứng nhận hết hạn.")
    #: the terms whose preview was shown; saving other terms shows their preview first
    previewed = HiddenField()
    preview = SubmitField("Xem trước ảnh hưởng")
    submit = SubmitField("Lưu")

    def validate_due_on(self, field):
        if self.starts_on.data and field.data and field.data <= self.starts_on.data:
            raise ValidationError("Hạn hoàn thành phải sau ngày bắt đầu.")

    def validate_recertify_days(self, field):
        if field.data is not None and not self.validity_months.data:
            raise ValidationError("Muốn học lại định kỳ thì cần nhập thời hạn hiệu lực của chứng nhận.")
        if field.data is not None and self.validity_months.data and field.data >= self.validity_months.data * 28:
            raise ValidationError("Số ngày mở đợt học lại phải ngắn hơn thời hạn hiệu lực.")

    def terms_key(self) -> str:
        """The terms as entered, to tell whether the preview shown is of them."""
        return "|".join(str(value) for value in (
            getattr(self, "course_id", None) and self.course_id.data, self.starts_on.data, self.due_on.data,
            self.validity_months.data, self.recertify_days.data))

    @property
    def confirmed(self) -> bool:
        """Saving, with the preview of exactly these terms shown before."""
        return bool(self.submit.data) and self.previewed.data == self.terms_key()


class AssignmentForm(AssignmentTermsForm):
    course_id = SelectField("Khóa học", coerce=bounded_int, validators=[DataRequired("Vui lòng chọn khóa học.")])
    submit = SubmitField("Giao khóa học")

    field_order = ("course_id", "starts_on", "due_on", "validity_months", "recertify_days")

    def __iter__(self):  # the course first
        fields = {field.name: field for field in super().__iter__()}
        ordered = [fields.pop(name) for name in self.field_order]
        return iter(ordered + list(fields.values()))


class PeopleFilterForm(GetForm):
    q = StringField("Tìm theo tên hoặc mã cán bộ")
    status = SelectField("Trạng thái", choices=[("", "Tất cả"), ("completed", "Hoàn thành"),
                                                ("in_progress", "Đang học"), ("not_started", "Chưa bắt đầu"),
                                                ("overdue", "Quá hạn")], default="")
    #: the agency chosen (from the matches of `unit`, a link, an export): its id
    agency = IntegerField("Đơn vị", validators=[Optional(), NumberRange(min=1, max=MAX_ID)])
    #: typed to find an agency of the subtree by name or code (matched on the server)
    unit = StringField("Đơn vị (tên hoặc mã)")
    sort = SelectField("Sắp xếp theo", choices=list(PEOPLE_SORT_LABELS.items()), default="name")
    order = SelectField("Thứ tự", choices=[("asc", "Tăng dần"), ("desc", "Giảm dần")], default="asc")
