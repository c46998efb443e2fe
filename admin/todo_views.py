"""The 待办 page: what the signed-in account must do next, and its address for the e-mail digest."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from admin import bp, digest, todo as todo_service
from admin.access import permission_required
from admin.formflow import attempt
from admin.todo_forms import EmailForm


def _page(form: EmailForm | None = None, error: str | None = None, status: int = 200):
    form = form or EmailForm(formdata=None, email=current_user.email)
    return render_template("admin/todo.html", todo=todo_service.todo_list(current_user), form=form, error=error), status


@bp.get("/todo")
@permission_required("read")
def todo():
    return _page()


@bp.post("/todo/email")
@permission_required("read")
def todo_email():
    form = EmailForm()
    outcome = attempt(form, lambda: digest.set_email(current_user, form.email.data))
    if outcome:
        flash(f"待办提醒将发到 {outcome.value}。" if outcome.value else "已取消待办邮件提醒。")
        return redirect(url_for("admin.todo"))
    return _page(form, outcome.error, outcome.status)
