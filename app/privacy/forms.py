"""Forms of the privacy pages."""
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..forms import Form, GetForm
from .models import ACCESS_ACTION_LABELS, CORRECTION_STATUS_LABELS, RETENTION_KINDS


class NoticeForm(Form):
    body = TextAreaField("Nội dung thông báo (Markdown)", validators=[
        DataRequired("Vui lòng nhập nội dung thông báo."), Length(max=20000, message="Tối đa 20.000 ký tự.")],
        render_kw={"rows": 16})
    ask_again = BooleanField("Hiện lại thông báo cho mọi người ở lần truy cập tới")
    submit = SubmitField("Lưu thông báo")


class RetentionForm(Form):
    submit = SubmitField("Lưu thời gian lưu giữ")


for _kind, (_label, _effect, _default) in RETENTION_KINDS.items():
    setattr(RetentionForm, _kind, IntegerField(f"{_label} (tháng)", description=f"Quá hạn thì {_effect}.", validators=[
        InputRequired("Vui lòng nhập số tháng."),
        NumberRange(min=1, max=1200, message="Số tháng phải từ 1 đến 1.200.")]))


class CorrectionForm(Form):
    body = TextAreaField("Thông tin cần sửa", validators=[
        DataRequired("Vui lòng ghi rõ thông tin nào sai và cần sửa thế nào."),
        Length(max=2000, message="Tối đa 2.000 ký tự.")],
        description="Ví dụ: họ tên viết sai dấu, cơ quan công tác đã thay đổi.", render_kw={"rows": 3})
    submit = SubmitField("Gửi yêu cầu sửa")


class HandleCorrectionForm(Form):
    status = SelectField("Trạng thái", choices=list(CORRECTION_STATUS_LABELS.items()))
    response = TextAreaField("Trả lời người yêu cầu", validators=[Length(max=2000, message="Tối đa 2.000 ký tự.")],
                             render_kw={"rows": 2})
    submit = SubmitField("Lưu")


class AccessFilterForm(GetForm):
    viewer = StringField("Người xem (tên đăng nhập)")
    subject = StringField("Người được xem (tên đăng nhập)")
    action = SelectField("Hành động", choices=[("", "Tất cả"), *ACCESS_ACTION_LABELS.items()], default="")
    date_from = DateField("Từ ngày", validators=[Optional()])
    date_to = DateField("Đến ngày", validators=[Optional()])
    submit = SubmitField("Lọc")
