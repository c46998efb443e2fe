"""Forms of the case files, due dates and 待办 (Flask-WTF, CSRF): kept apart from admin/forms.py."""

from __future__ import annotations

from flask_wtf.file import FileField, FileRequired
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import Length, NumberRange, Optional

from admin.due_dates import MAX_INTERVIEW_DAYS
from admin.forms import ConsoleForm, choices
from models.attachments import ATTACHMENT_KIND_LABELS


class InterviewDaysForm(ConsoleForm):
    """The wave's N: blank follows the INTERVIEW_DUE_DAYS setting."""

    interview_days = IntegerField("约谈期限（天）", invalid_value_message="应为整数天数", validators=[
        Optional(), NumberRange(min=1, max=MAX_INTERVIEW_DAYS, message=f"应为 1 到 {MAX_INTERVIEW_DAYS} 之间的天数"),
    ])


class AttachmentForm(ConsoleForm):
    kind = SelectField("材料类别", choices=choices(ATTACHMENT_KIND_LABELS.items()), validate_choice=False)
    file = FileField("文件（PDF、JPEG、PNG、DOCX、XLSX）", validators=[FileRequired("请选择要上传的文件")])


class EmailForm(ConsoleForm):
    """The account's own address for the 待办 digest; blank: no e-mail."""

    email = StringField("接收待办提醒的邮箱", validators=[
        Optional(), Length(max=254, message="邮箱最长 254 个字符"),
    ])  # the address itself is checked by admin.digest.clean_email
