"""Forms of the learner's path (answers are plain inputs checked by the services)."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from .services import COMMITMENT_TEXT


class CommitmentForm(FlaskForm):
    agree = BooleanField(COMMITMENT_TEXT, validators=[
        DataRequired("Anh/chị cần đánh dấu vào ô cam kết để hoàn thành khóa học.")])
    submit = SubmitField("Xác nhận cam kết")


class VerifyForm(FlaskForm):
    class Meta:
        csrf = False  # a public GET lookup: nothing changes

    code = StringField("Mã chứng nhận", validators=[DataRequired("Vui lòng nhập mã chứng nhận."),
                                                   Length(max=20)])
    submit = SubmitField("Kiểm tra")
