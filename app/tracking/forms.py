"""Forms for assigning a course to an agency subtree and filtering people."""
from datetime import date

from wtforms import DateField, IntegerField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, NumberRange, Optional, ValidationError

from ..forms import Form, GetForm, bounded_int


class AssignmentForm(Form):
    course_id = SelectField("Khóa học", coerce=bounded_int, validators=[DataRequired("Vui lòng chọn khóa học.")])
    starts_on = DateField("Ngày bắt đầu", default=date.today,
                          validators=[DataRequired("Vui lòng nhập ngày bắt đầu (ngày/tháng/năm).")])
    due_on = DateField("Hạn hoàn thành", validators=[DataRequired("Vui lòng nhập hạn hoàn thành.")])
    recurrence_months = IntegerField("Lặp lại sau (tháng)", validators=[
        Optional(), NumberRange(min=1, max=60, message="Chu kỳ lặp lại từ 1 đến 60 tháng.")],
        description="Để trống nếu chỉ học một lần; 12 để học lại hằng năm.")
    submit = SubmitField("Giao khóa học")

    def validate_due_on(self, field):
        if self.starts_on.data and field.data and field.data <= self.starts_on.data:
            raise ValidationError("Hạn hoàn thành phải sau ngày bắt đầu.")


class PeopleFilterForm(GetForm):
    q = StringField("Tìm theo tên hoặc mã cán bộ")
    status = SelectField("Trạng thái", choices=[("", "Tất cả"), ("completed", "Hoàn thành"),
                                                ("in_progress", "Đang học"), ("not_started", "Chưa bắt đầu"),
                                                ("overdue", "Quá hạn")], default="")
    agency = SelectField("Đơn vị", coerce=bounded_int, default=0)
