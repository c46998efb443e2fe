"""The resident form: a Flask-WTF form class built from a QuestionnaireSpec.

Every item becomes a field named `q_<item key>` (the prefix keeps item keys clear of the
form's own attributes such as `data` or `errors`): a RadioField for an item with options,
a TextAreaField for free text. Two hidden fields travel with it: the CSRF token and the
`ticket`, which the server signs when it serves the form (see survey.intake).
"""

from __future__ import annotations

import re
from functools import lru_cache

from flask import request
from flask_babel import gettext
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto
from wtforms import Field, HiddenField, RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import StopValidation

from analysis.spec import Item, QuestionnaireSpec

FIELD_PREFIX = "q_"
# C0 controls other than tab and newline (PostgreSQL's JSONB refuses \u0000), and DEL.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def field_name(item: Item) -> str:
    return FIELD_PREFIX + item.key


def clean_text(value: str | None) -> str | None:
    """Browsers send line breaks as CRLF, counted as one character by `maxlength`: count them alike."""
    if value is None:
        return None
    return _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n")).strip()


class ChoiceAnswer:
    """A required item must be answered; any answer must be one of the item's option codes."""

    def __init__(self, item: Item) -> None:
        self.item = item
        self.codes = {o.code for o in item.options}

    def __call__(self, form: FlaskForm, field: Field) -> None:
        if field.data in (None, ""):
            field.data = None
            if self.item.required:
                raise StopValidation(gettext("这道题还没有回答，请选择一项。"))
            return
        if field.data not in self.codes:
            field.data = None
            raise StopValidation(gettext("所选答案无效，请重新选择。"))


class TextAnswer:
    def __init__(self, item: Item) -> None:
        self.item = item

    def __call__(self, form: FlaskForm, field: Field) -> None:
        if not field.data:
            if self.item.required:
                raise StopValidation(gettext("这道题还没有填写。"))
            return
        if len(field.data) > self.item.max_length:
            raise StopValidation(
                gettext("最多可写 %(limit)s 个字，现在是 %(count)s 个字，请删减一些。", limit=self.item.max_length, count=len(field.data))
            )


class ResidentForm(FlaskForm):
    ticket = HiddenField()

    spec: QuestionnaireSpec

    class Meta:
        def get_translations(self, form: FlaskForm) -> None:
            """None: every message a resident sees is our own (gettext above), and Flask-WTF would
            parse WTForms' catalogue from disk on every request (it keeps it per request only)."""
            return None

        def wrap_formdata(self, form: FlaskForm, formdata: object) -> object:
            """The posted form fields only. Flask-WTF would also read a JSON body or uploaded files,
            whose values need not be strings (`{"q_comment": {}}` reached `clean_text`); a
            browser posts neither."""
            if formdata is _Auto:  # Flask-WTF's default: "read the request"
                return request.form if request.method == "POST" else None
            return formdata

    def answers(self) -> dict[str, str]:
        """Item key → option code or text, unanswered items left out (call after validate)."""
        out = {}
        for item in self.spec.items:
            value = self[field_name(item)].data
            if value:
                out[item.key] = value
        return out

    def fields_of(self, item: Item) -> Field:
        return self[field_name(item)]

    def answer_errors(self) -> list[tuple[int, Item, str]]:
        """(question number, item, message) for each item with an error, in questionnaire order."""
        return [
            (n, item, self.fields_of(item).errors[0])
            for n, item in enumerate(self.spec.items, start=1)
            if self.fields_of(item).errors
        ]


@lru_cache(maxsize=64)
def form_class(spec: QuestionnaireSpec) -> type[ResidentForm]:
    """The form for a questionnaire version (a spec is frozen, so the class can be reused)."""
    attrs: dict[str, object] = {"spec": spec}
    for item in spec.items:
        if item.is_choice:
            attrs[field_name(item)] = RadioField(
                item.text,
                choices=[SelectChoice(o.code, o.label) for o in item.options],
                validators=[ChoiceAnswer(item)],
                validate_choice=False,  # ChoiceAnswer says it in the resident's words
            )
        else:
            attrs[field_name(item)] = TextAreaField(item.text, validators=[TextAnswer(item)], filters=[clean_text])
    return type(f"ResidentForm_{spec.slug}_{spec.version}", (ResidentForm,), attrs)
