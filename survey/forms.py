"""The resident form: a Flask-WTF form class built from a QuestionnaireSpec.

Every item becomes a field named `q_<item key>` (the prefix keeps item keys clear of the
form's own attributes such as `data` or `errors`): a RadioField for a single-choice item, a
SelectMultipleField (checkboxes, at most `multiple` codes) for a `multiple` item, a
TextAreaField for free text. Hidden fields travel with it: the `ticket`, which the server signs
when it serves the form (see survey.intake), and the honeypot `website`, which a person never sees
and a form-filling bot fills (docs/security.md). On the residents' own pages the ticket is also
the CSRF token (the view builds the form with `meta={"csrf": False}`); the 网格员's sheet in the
console keeps the session's CSRF token as well.

What the questionnaire's rules mean on the server (`ResidentForm.validate`), item by item in
order, each seeing only the answers before it:
- `show_if` not met: the item is not applicable; an answer sent for it anyway (a page without
  JavaScript shows every item, and a resident may change the controlling answer afterwards)
  is dropped, never stored and never an error. Met: the item is asked, and required unless
  `required: false`.
- `screen_out`: an answer with one of these codes ends the questionnaire. The answers from
  there on are dropped and nothing more is required; the sheet is stored as screened out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from flask import request
from flask_babel import gettext
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto
from wtforms import HiddenField, RadioField, SelectMultipleField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import StopValidation

import caches
from analysis.spec import Item, QuestionnaireSpec

FIELD_PREFIX = "q_"
HONEYPOT = "website"  # a field no person fills: hidden from sight, from screen readers and from Tab
# C0 controls other than tab and newline (PostgreSQL's JSONB refuses \u0000), and DEL.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def field_name(item: Item) -> str:
    return FIELD_PREFIX + item.key


def clean_text(value: str | None) -> str | None:
    """Browsers send line breaks as CRLF, counted as one character by `maxlength`: count them alike."""
    if value is None:
        return None
    return _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n")).strip()


def is_bot(formdata: Mapping) -> bool:
    """The honeypot was filled: no person sees that field (docs/security.md)."""
    return bool((formdata.get(HONEYPOT) or "").strip())


def missing_message(item: Item) -> str:
    if item.is_multiple:
        return gettext("这道题还没有回答，请至少选择一项。")
    if item.is_choice:
        return gettext("这道题还没有回答，请选择一项。")
    return gettext("这道题还没有填写。")


class ChoiceAnswer:
    """Any answer must be one of the item's option codes. Whether an unanswered item is missing
    depends on the answers before it (`show_if`, `screen_out`): ResidentForm.validate says."""

    def __init__(self, item: Item) -> None:
        self.item = item
        self.codes = {o.code for o in item.options}

    def __call__(self, form: FlaskForm, field) -> None:
        if field.data in (None, ""):
            field.data = None
            return
        if field.data not in self.codes:
            field.data = None
            raise StopValidation(gettext("所选答案无效，请重新选择。"))


class MultipleAnswer:
    """Option codes of the item, each at most once, at most `item.multiple` of them; kept in the
    questionnaire's order of the options (the order a resident ticked them in means nothing)."""

    def __init__(self, item: Item) -> None:
        self.item = item
        self.order = {o.code: i for i, o in enumerate(item.options)}

    def __call__(self, form: FlaskForm, field) -> None:
        codes = [c for c in dict.fromkeys(field.data or ()) if c != ""]
        if any(c not in self.order for c in codes):
            field.data = []
            raise StopValidation(gettext("所选答案无效，请重新选择。"))
        field.data = sorted(codes, key=self.order.__getitem__)
        if len(field.data) > self.item.multiple:
            raise StopValidation(
                gettext("最多选 %(k)s 项，现在选了 %(n)s 项，请去掉一些。", k=self.item.multiple, n=len(field.data))
            )


class TextAnswer:
    def __init__(self, item: Item) -> None:
        self.item = item

    def __call__(self, form: FlaskForm, field) -> None:
        if not field.data:
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

    screened_by: Item | None = None  # after validate: the item whose answer ended the questionnaire

    def validate(self, extra_validators=None) -> bool:
        """Each field's own checks (codes, at most K, length), then the questionnaire's rules in
        item order: not-applicable answers dropped, applicable required items answered, and
        nothing after a screening answer kept or required (module docstring)."""
        super().validate(extra_validators)
        answers: dict[str, object] = {}
        missing: list[Item] = []
        self.screened_by = None
        for item in self.spec.items:
            field = self.fields_of(item)
            if self.screened_by is not None or not item.applies(answers):
                field.data = [] if item.is_multiple else None
                field.errors = []
                continue
            if field.errors:
                continue
            if field.data:
                answers[item.key] = field.data
                if item.screens_out(field.data):
                    self.screened_by = item
            elif item.required:
                missing.append(item)
        if self.screened_by is None:  # a screened-out resident owes nothing more
            for item in missing:
                self.fields_of(item).errors = [missing_message(item)]
        return not self.errors

    def answers(self) -> dict[str, object]:
        """Item key → option code, list of codes (`multiple`, in option order) or text; unanswered and
        not-applicable items left out (call after validate)."""
        out = {}
        for item in self.spec.items:
            value = self[field_name(item)].data
            if value:
                out[item.key] = value
        return out

    def fields_of(self, item: Item):
        return self[field_name(item)]

    def answer_errors(self) -> list[tuple[int, Item, str]]:
        """(question number, item, message) for each item with an error, in questionnaire order."""
        return [
            (n, item, self.fields_of(item).errors[0])
            for n, item in enumerate(self.spec.items, start=1)
            if self.fields_of(item).errors
        ]


def form_class(spec: QuestionnaireSpec) -> type[ResidentForm]:
    """The form for a questionnaire version, made once per process (caches.FORM_CLASSES, keyed by
    the spec's content: a spec is frozen and compares by value, so the class can be reused)."""
    return caches.FORM_CLASSES.get_or_make(spec, lambda: _make_form_class(spec))


def _make_form_class(spec: QuestionnaireSpec) -> type[ResidentForm]:
    attrs: dict[str, object] = {"spec": spec}
    for item in spec.items:
        if item.is_multiple:
            attrs[field_name(item)] = SelectMultipleField(
                item.text,
                choices=[SelectChoice(o.code, o.label) for o in item.options],
                validators=[MultipleAnswer(item)],
                validate_choice=False,
            )
        elif item.is_choice:
            attrs[field_name(item)] = RadioField(
                item.text,
                choices=[SelectChoice(o.code, o.label) for o in item.options],
                validators=[ChoiceAnswer(item)],
                validate_choice=False,  # ChoiceAnswer says it in the resident's words
            )
        else:
            attrs[field_name(item)] = TextAreaField(item.text, validators=[TextAnswer(item)], filters=[clean_text])
    return type(f"ResidentForm_{spec.slug}_{spec.version}", (ResidentForm,), attrs)


# -- the resident POST without a form object ---------------------------------------------------


@dataclass(frozen=True)
class Sheet:
    """What `ResidentForm.validate` makes of a posted answer sheet, computed without building the
    form: `answers` as `ResidentForm.answers()` gives them, `errors` item key → the message its
    field would carry, and the item whose answer screened the resident out."""

    answers: dict[str, object]
    errors: dict[str, str] = field(default_factory=dict)
    screened_by: Item | None = None

    @property
    def valid(self) -> bool:
        return not self.errors


_MULTIPLE, _CHOICE, _TEXT = range(3)


class SheetChecker:
    """`ResidentForm.validate` for one questionnaire, compiled once (caches.SHEET_CHECKERS).

    Why not the form: building a WTForms form binds a field object per item and per option on every
    POST, 10% of a submission's CPU (py-spy, docs/performance.md), while a valid sheet, nearly every
    POST, needs none of them. The view checks the posted fields here and builds the form only to show
    the page again (errors, an expired ticket). The rules are the ones the form's validators and
    `ResidentForm.validate` apply, step for step (the field's own check, then `show_if`, required,
    `screen_out` in item order); tests/survey/test_resident_features.py compares the two on many
    random and hostile sheets, messages included."""

    def __init__(self, spec: QuestionnaireSpec) -> None:
        self.fields = []
        for item in spec.items:
            kind = _MULTIPLE if item.is_multiple else _CHOICE if item.is_choice else _TEXT
            codes = {o.code: i for i, o in enumerate(item.options)}
            self.fields.append((item, field_name(item), kind, codes))

    def check(self, formdata: Mapping) -> Sheet:
        """The sheet in `formdata` (a MultiDict: request.form)."""
        answers: dict[str, object] = {}
        errors: dict[str, str] = {}
        missing: list[Item] = []
        screened_by = None
        for item, name, kind, codes in self.fields:
            raw = formdata.getlist(name)
            error = None
            if kind == _MULTIPLE:  # MultipleAnswer
                data = [c for c in dict.fromkeys(raw) if c != ""]
                if any(c not in codes for c in data):
                    error = gettext("所选答案无效，请重新选择。")
                else:
                    data.sort(key=codes.__getitem__)
                    if len(data) > item.multiple:
                        error = gettext("最多选 %(k)s 项，现在选了 %(n)s 项，请去掉一些。", k=item.multiple, n=len(data))
            elif kind == _CHOICE:  # the RadioField's first value, then ChoiceAnswer
                data = raw[0] if raw else None
                if data == "":
                    data = None
                elif data is not None and data not in codes:
                    error = gettext("所选答案无效，请重新选择。")
            else:  # the TextAreaField's first value through clean_text, then TextAnswer
                data = clean_text(raw[0]) if raw else None
                if data and len(data) > item.max_length:
                    error = gettext("最多可写 %(limit)s 个字，现在是 %(count)s 个字，请删减一些。", limit=item.max_length, count=len(data))
            if screened_by is not None or not item.applies(answers):
                continue  # not asked: dropped, never an error
            if error is not None:
                errors[item.key] = error
                continue
            if data:
                answers[item.key] = data
                if item.screens_out(data):
                    screened_by = item
            elif item.required:
                missing.append(item)
        if screened_by is None:  # a screened-out resident owes nothing more
            for item in missing:
                errors[item.key] = missing_message(item)
        return Sheet(answers, errors, screened_by)


def sheet_checker(spec: QuestionnaireSpec) -> SheetChecker:
    return caches.SHEET_CHECKERS.get_or_make_for(spec, lambda: SheetChecker(spec))
