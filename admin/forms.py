"""The console's forms (Flask-WTF: every one carries a CSRF token). Messages are Chinese and
shown beside their field; the services check again what only they can know."""

from __future__ import annotations

import re

from flask import request
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from flask_wtf.form import SUBMIT_METHODS, _Auto
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, DateField, Field, IntegerField, PasswordField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError

from admin.accounts import MAX_PASSWORD, USERNAME
from analysis import DEFAULT_WEIGHT_CAP
from api.tokens import MAX_NAME
from models.accounts import ROLE_LABELS, ROLES
from survey.periods import parse_period
from survey.waves import SLUG

DATE_MESSAGE = "日期格式应为 2026-10-15"
# C0 control characters but tab and line breaks, and DEL: nobody types them, and PostgreSQL's
# text columns refuse NUL outright (an error, not a message, if it reached the database).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def no_control_characters(form: FlaskForm, field: Field) -> None:
    if isinstance(field.data, str) and _CONTROL.search(field.data):
        raise ValidationError("含有无法显示的控制字符,请删除后再提交")


class ConsoleForm(FlaskForm):
    """The base of every console form: text fields hold text, and only text.

    - Posted form fields only, uploads for file fields only: Flask-WTF would also read a JSON
      body, or a file part under a text field's name, as field values that are not strings
      (`{"username": 5}` reached `.strip()`).
    - No text field accepts control characters (`no_control_characters`).
    """

    class Meta:
        def wrap_formdata(self, form: FlaskForm, formdata: object) -> object:
            if formdata is not _Auto:  # Flask-WTF's default: "read the request"; anything else was passed in
                return formdata
            if request.method not in SUBMIT_METHODS:
                return None
            data = MultiDict(request.form)
            for field in form:
                if isinstance(field, FileField):
                    for upload in request.files.getlist(field.name):
                        data.add(field.name, upload)
            return data or None

        def bind_field(self, form: FlaskForm, unbound_field, options: dict) -> Field:
            field = super().bind_field(form, unbound_field, options)
            if isinstance(field, StringField):  # TextAreaField, PasswordField, HiddenField too
                field.validators = [no_control_characters, *field.validators]
            return field


def choices(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms choices."""
    return [SelectChoice(value, label) for value, label in pairs]


def _offered(field) -> set[str]:
    return {c.value for c in field.choices}


class DateInput(DateField):
    """A date; an empty box is "not filled in" (InputRequired says so), a malformed one a format error."""

    def __init__(self, label: str, **kwargs) -> None:
        super().__init__(label, invalid_value_message=DATE_MESSAGE, **kwargs)

    def process_formdata(self, valuelist) -> None:
        if valuelist and not "".join(valuelist).strip():
            self.data = None
            return
        super().process_formdata(valuelist)


class ActionForm(ConsoleForm):
    """A button that changes something and needs nothing but the CSRF token."""


class UnitsImportForm(ConsoleForm):
    units = FileField("单位表 units.csv", validators=[FileRequired("请选择单位表 units.csv")])
    population = FileField("人口表 population.csv(可选)")


class QuestionnaireUploadForm(ConsoleForm):
    file = FileField("问卷文件(YAML)", validators=[FileRequired("请选择问卷 YAML 文件")])


def _period(form, field) -> None:
    try:
        parse_period(field.data or "")
    except ValueError as e:
        raise ValidationError(str(e)) from None


class WaveForm(ConsoleForm):
    slug = StringField("调查标识", validators=[
        DataRequired("请填写调查标识,如 2026Q3-city"),
        Regexp(SLUG.pattern, message="只能用字母、数字、- 和 _,以字母或数字开头,最长 64 位"),
    ])
    questionnaire = SelectField("问卷", validators=[DataRequired("请选择问卷")], validate_choice=False)
    scope = SelectField("调查范围", validators=[DataRequired("请选择调查范围")], validate_choice=False)
    period = StringField("期间", validators=[DataRequired("请填写期间，如 2027年第一季度"), _period])
    title = StringField("调查名称（可选）", validators=[Optional(), Length(max=200, message="最多 200 字")])
    series = StringField("系列(可选)", validators=[Optional(), Regexp(SLUG.pattern, message="只能用字母、数字、- 和 _")])
    target_n = IntegerField("每个单位目标样本量", default=100, invalid_value_message="应为整数", validators=[
        InputRequired("请填写目标样本量"), NumberRange(min=1, max=100000, message="应为 1 到 100000 之间的整数"),
    ])

    # The view sets this to admin.waves.slug_problem for its account, so that a taken slug is
    # refused while the form validates, with the other fields' errors (not after them).
    slug_problem = None

    def validate_slug(self, field) -> None:
        if field.data.strip().lower() == "new":  # /admin/waves/new is the form itself
            raise ValidationError("“new” 是保留字,请换一个标识")
        problem = self.slug_problem(field.data.strip()) if self.slug_problem else None
        if problem:
            raise ValidationError(problem)

    def validate_questionnaire(self, field) -> None:
        if field.data not in _offered(field):
            raise ValidationError("请选择已导入的问卷")

    def validate_scope(self, field) -> None:
        if field.data not in _offered(field):
            raise ValidationError("请选择您管辖范围内的单位")


class WaveCollectionForm(ConsoleForm):
    """The days residents are asked; both empty: the whole period."""

    collection_start = DateInput("开始日期", validators=[Optional()])
    collection_end = DateInput("结束日期", validators=[Optional()])


class WaveTitleForm(ConsoleForm):
    title = StringField("调查名称", validators=[DataRequired("请填写调查名称"), Length(max=200, message="最多 200 字")])


class ReopenForm(ConsoleForm):
    """Reopen a closed wave (admin, with a reason)."""

    reason = TextAreaField("重新开放的理由", validators=[DataRequired("请填写重新开放的理由"), Length(max=1000, message="最多 1000 字")])


class ReviewForm(ConsoleForm):
    decision = RadioField("审核结论", choices=choices([("accept", "采纳（计入指数）"), ("reject", "剔除（不计入指数）")]),
                          validators=[InputRequired("请选择采纳或剔除")])
    reason = TextAreaField("理由", validators=[DataRequired("请填写审核理由"), Length(max=1000, message="最多 1000 字")])


class AnalysisForm(ConsoleForm):
    weight_cap = StringField("权重截尾倍数", default=f"{DEFAULT_WEIGHT_CAP:g}")

    def validate_weight_cap(self, field) -> None:
        try:
            value = float(field.data)
        except (TypeError, ValueError):
            raise ValidationError("应为数字,如 5;0 表示不截尾") from None
        if value < 0 or value != value or value > 1000:
            raise ValidationError("应为 0 到 1000 之间的数字;0 表示不截尾")

    @property
    def cap(self) -> float:
        return float(self.weight_cap.data)


class ScheduleForm(ConsoleForm):
    scheduled_for = DateInput("约谈日期", validators=[InputRequired("请填写约谈日期")])


class HoldForm(ConsoleForm):
    held_on = DateInput("约谈日期", validators=[InputRequired("请填写约谈日期")])
    attendees = TextAreaField("参加人员", validators=[DataRequired("请填写参加人员"), Length(max=1000, message="最多 1000 字")])
    notes = TextAreaField("约谈记录", validators=[DataRequired("请填写约谈记录"), Length(max=5000, message="最多 5000 字")])


class RectifyForm(ConsoleForm):
    rectification_plan = TextAreaField("整改要求", validators=[DataRequired("请填写整改要求"), Length(max=5000, message="最多 5000 字")])
    responsible = StringField("整改责任人", validators=[DataRequired("请填写整改责任人"), Length(max=100, message="最多 100 字")])
    deadline = DateInput("整改时限", validators=[InputRequired("请填写整改时限")])


class RecheckForm(ConsoleForm):
    recheck_on = DateInput("复查日期", validators=[InputRequired("请填写复查日期")])
    passed = RadioField("复查结论", choices=choices([("yes", "通过"), ("no", "未通过,需重新整改")]),
                        validators=[InputRequired("请选择复查是否通过")])
    recheck_result = TextAreaField("复查情况", validators=[DataRequired("请填写复查情况"), Length(max=5000, message="最多 5000 字")])

    @property
    def passed_value(self) -> bool | None:
        return {"yes": True, "no": False}.get(self.passed.data)


class CloseForm(ConsoleForm):
    closed_on = DateInput("销号日期", validators=[InputRequired("请填写销号日期")])
    confirm = BooleanField("我已核实复查通过，确认销号（销号后只能说明原因重新打开）")


class PlanForm(ConsoleForm):
    plan = TextAreaField("整改方案", validators=[DataRequired("请填写整改方案"), Length(max=5000, message="最多 5000 字")])


class ReportForm(ConsoleForm):
    report = TextAreaField("整改情况报告", validators=[DataRequired("请填写整改情况报告"), Length(max=5000, message="最多 5000 字")])


class RequestRecheckForm(ConsoleForm):
    """Only the CSRF token: the unit's plan and report are already in."""


class CaseReopenForm(ConsoleForm):
    reason = TextAreaField("重新打开的原因", validators=[DataRequired("请填写重新打开的原因"), Length(max=1000, message="最多 1000 字")])


CASE_FORMS = {
    "schedule": ScheduleForm, "hold": HoldForm, "rectify": RectifyForm, "plan": PlanForm, "report": ReportForm,
    "request_recheck": RequestRecheckForm, "recheck": RecheckForm, "close": CloseForm, "reopen": CaseReopenForm,
}


class LoginForm(ConsoleForm):
    username = StringField("用户名", validators=[DataRequired(message="请输入用户名"), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired(message="请输入密码"), Length(max=MAX_PASSWORD)])


class PasswordForm(ConsoleForm):
    current_password = PasswordField("当前密码", validators=[DataRequired(message="请输入当前密码"), Length(max=MAX_PASSWORD)], render_kw={"autocomplete": "current-password"})
    new_password = PasswordField("新密码", validators=[DataRequired(message="请输入新密码"), Length(max=MAX_PASSWORD, message=f"新密码最多 {MAX_PASSWORD} 位")], render_kw={"autocomplete": "new-password"})
    repeat_password = PasswordField("再次输入新密码", validators=[DataRequired(message="请再次输入新密码"), Length(max=MAX_PASSWORD)], render_kw={"autocomplete": "new-password"})


class TokenForm(ConsoleForm):
    name = StringField(
        "名称", validators=[DataRequired(message="请给令牌起个名字(例如用途或脚本名)"), Length(max=MAX_NAME)]
    )


class RevokeForm(ConsoleForm):
    """Only the CSRF token."""


class UserForm(ConsoleForm):
    username = StringField("用户名", validators=[
        DataRequired("请填写用户名"), Regexp(USERNAME.pattern, message="只能用字母、数字、点、- 和 _,2 到 64 位"),
    ])
    display_name = StringField("显示名称(可选)", validators=[Optional(), Length(max=100, message="最多 100 字")])
    role = SelectField("角色", choices=choices((r, ROLE_LABELS[r]) for r in ROLES), validators=[DataRequired("请选择角色")])
    scope = SelectField("所辖单位", validate_choice=False)

    def validate_scope(self, field) -> None:
        if field.data and field.data not in _offered(field):
            raise ValidationError("请选择列表中的单位")
        if self.role.data == "county" and not field.data:
            raise ValidationError("县（区）账号必须指定所辖单位")
        if self.role.data == "collector" and not field.data:
            raise ValidationError("网格员账号必须指定所辖乡镇（街道）、村（社区）或网格")


class CallListForm(ConsoleForm):
    file = FileField("电话名单 CSV", validators=[FileRequired("请选择电话名单 CSV 文件")])


class OutcomeForm(ConsoleForm):
    """A call's outcome other than a completed interview (survey.calls.record_outcome)."""

    disposition = SelectField("通话结果", choices=[], validators=[DataRequired("请选择通话结果")])
    callback_at = StringField("回拨时间(约定回拨时填写)", validators=[Optional(), Length(max=32)])


class ResponsesUploadForm(ConsoleForm):
    file = FileField("答卷文件(CSV 或 XLSX)", validators=[FileRequired("请选择答卷文件")])


class ConfirmUploadForm(ConsoleForm):
    token = StringField("token", validators=[DataRequired(), Length(max=32)])
