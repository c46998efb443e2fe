"""One way for a view to handle a submitted form: validate it, call the service, and turn a
refusal into a message beside its field (422) or above the form (the error's own status)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from flask_wtf import FlaskForm

from admin.errors import FieldError
from errors import PinganError
from extensions import db


@dataclass
class Outcome:
    ok: bool
    value: Any = None
    status: int = 200
    error: str | None = None  # shown above the form

    def __bool__(self) -> bool:
        return self.ok


def attempt(form: FlaskForm, action: Callable[[], Any]) -> Outcome:
    """Validate `form`; if it is valid, call `action`. Nothing is stored when this fails: the
    services check everything before they write and roll back on any error, and a refusal rolls
    the session back here too, so the page shown again reads the rows as stored (not a title or
    a date the service refused)."""
    if not form.validate():
        if "csrf_token" in form.errors:
            return Outcome(False, status=400, error="页面已过期,请刷新页面后重试")
        return Outcome(False, status=422, error="请按提示修改后再提交")
    try:
        return Outcome(True, action())
    except PinganError as e:
        db.session.rollback()
        if isinstance(e, FieldError) and e.field in form:
            form[e.field].errors = [*form[e.field].errors, e.message]
            return Outcome(False, status=e.status, error="请按提示修改后再提交")
        return Outcome(False, status=e.status, error=e.message)
