"""The 约谈 cases: the list, one case with its next steps and history, the steps, and 重点管理."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from admin import bp, case_lists, cases
from admin.access import permission_required
from admin.formflow import attempt
from admin.forms import CASE_FORMS
from errors import Conflict

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/cases")
@permission_required("read")
def cases_list():
    """Cases in scope (?status=open|<status>, ?overdue=1, ?wave=<slug>), overdue ones highlighted;
    ?format=xlsx: the list as shown."""
    page = case_lists.cases_page(current_user, request.args)  # ?q=&county=&town=&sort= (admin/listing.py)
    if request.args.get("format") == "xlsx":
        return Response(case_lists.cases_xlsx(page), mimetype=XLSX, headers={
            "Content-Disposition": 'attachment; filename="cases.xlsx"', "Cache-Control": "private, no-store"})
    return render_template(
        "admin/cases.html", cases=page.cases, shown=page.shown, case_sorts=case_lists.CASE_SORTS, status=page.status,
        overdue=page.overdue, wave=page.wave, counts=page.counts, today=page.today, is_overdue=cases.is_overdue,
    )


def _case_page(case_id: int, forms=None, error=None, status=200):
    page = cases.case_page(current_user, case_id)
    forms = forms or {}
    for action in page.actions:  # only the steps this account may take
        forms.setdefault(action, CASE_FORMS[action](formdata=None))
    return render_template(
        "admin/case.html", case=page.case, forms=forms, steps=cases.STEPS, history=page.history, overdue=page.overdue,
        standing=page.standing, waiting=page.waiting, today=page.today, error=error,
    ), status


@bp.get("/cases/<int:case_id>")
@permission_required("read")
def case(case_id: int):
    return _case_page(case_id)


def _step(case_id: int, action: str, call):
    """One step of a case (the route needs `cases.manage`, a role that takes some step of a case):
    404 outside the account's scope, 403 when separation of duties gives the step to another
    account (policy.py), 409 when the case's state does not allow it, 422 for the form; then one
    service call."""
    try:
        found = cases.case_for_step(current_user, case_id, action)
    except Conflict as refused:  # the wrong step for the case's state, whatever the form holds
        return _case_page(case_id, error=refused.message, status=409)
    form = CASE_FORMS[action]()
    outcome = attempt(form, lambda: call(found, form))
    if outcome:
        flash(f"{cases.STEPS[action].label}：已保存。")
        return redirect(url_for("admin.case", case_id=found.id))
    return _case_page(found.id, {action: form}, outcome.error, outcome.status)


@bp.post("/cases/<int:case_id>/schedule")
@permission_required("cases.manage")
def case_schedule(case_id: int):
    return _step(case_id, "schedule", lambda c, f: cases.schedule(c, current_user, f.scheduled_for.data))


@bp.post("/cases/<int:case_id>/hold")
@permission_required("cases.manage")
def case_hold(case_id: int):
    return _step(case_id, "hold", lambda c, f: cases.hold(c, current_user, f.held_on.data, f.attendees.data, f.notes.data))


@bp.post("/cases/<int:case_id>/rectify")
@permission_required("cases.manage")
def case_rectify(case_id: int):
    """The 整改通知 (a new round each time)."""
    return _step(case_id, "rectify", lambda c, f: cases.rectify(c, current_user, f.rectification_plan.data, f.responsible.data, f.deadline.data))


@bp.post("/cases/<int:case_id>/plan")
@permission_required("cases.manage")
def case_plan(case_id: int):
    return _step(case_id, "plan", lambda c, f: cases.plan(c, current_user, f.plan.data))


@bp.post("/cases/<int:case_id>/report")
@permission_required("cases.manage")
def case_report(case_id: int):
    return _step(case_id, "report", lambda c, f: cases.report(c, current_user, f.report.data))


@bp.post("/cases/<int:case_id>/request_recheck")
@permission_required("cases.manage")
def case_request_recheck(case_id: int):
    return _step(case_id, "request_recheck", lambda c, f: cases.request_recheck(c, current_user))


@bp.post("/cases/<int:case_id>/recheck")
@permission_required("cases.manage")
def case_recheck(case_id: int):
    return _step(case_id, "recheck", lambda c, f: cases.recheck(c, current_user, f.recheck_on.data, f.passed_value, f.recheck_result.data))


@bp.post("/cases/<int:case_id>/close")
@permission_required("cases.manage")
def case_close(case_id: int):
    return _step(case_id, "close", lambda c, f: cases.close(c, current_user, f.closed_on.data, bool(f.confirm.data)))


@bp.post("/cases/<int:case_id>/reopen")
@permission_required("cases.manage")
def case_reopen(case_id: int):
    return _step(case_id, "reopen", lambda c, f: cases.reopen(c, current_user, f.reason.data))


@bp.get("/key-management")
@permission_required("read")
def key_management():
    """Units in 重点管理 (on the interview list twice in a row) with their history across waves."""
    shown = case_lists.key_page(current_user, request.args)  # ?q=&county=&town=&sort= (admin/listing.py)
    if request.args.get("format") == "xlsx":
        return Response(case_lists.key_xlsx(shown), mimetype=XLSX, headers={
            "Content-Disposition": 'attachment; filename="key-management.xlsx"', "Cache-Control": "private, no-store"})
    return render_template("admin/key_management.html", units=shown.units, shown=shown, key_sorts=case_lists.KEY_SORTS)
