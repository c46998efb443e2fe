"""The 约谈 cases: the list, one case with its next steps and history, the steps, and 重点管理."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from admin import bp, cases, waves
from admin.access import can, permission_required
from admin.formflow import attempt
from admin.forms import CASE_FORMS
from models.interviews import CASE_STATUSES


@bp.get("/cases")
@permission_required("read")
def cases_list():
    """Cases in scope (?status=open|<status>, ?overdue=1, ?wave=<slug>), overdue ones highlighted."""
    status = request.args.get("status") or None
    if status not in (None, "open", *CASE_STATUSES):
        abort(404)
    wave_slug = request.args.get("wave") or None
    wave = waves.get_wave(current_user, wave_slug) if wave_slug else None
    overdue = request.args.get("overdue") == "1"
    found = cases.list_cases(current_user, cases.CaseFilter(status=status, overdue=overdue, wave=wave))
    return render_template(
        "admin/cases.html", cases=found, status=status, overdue=overdue, wave=wave,
        counts=cases.case_counts(current_user), today=cases.today(), is_overdue=cases.is_overdue,
    )


def _case_page(case, forms=None, error=None, status=200):
    forms = forms or {}
    if can(current_user, "cases.manage"):
        for action in cases.next_actions(case):
            forms.setdefault(action, CASE_FORMS[action](formdata=None))
    return render_template(
        "admin/case.html",
        case=case,
        forms=forms,
        steps=cases.STEPS,
        history=cases.case_history(case),
        overdue=cases.is_overdue(case),
        standing=cases.standing(case),
        today=cases.today(),
        error=error,
    ), status


@bp.get("/cases/<int:case_id>")
@permission_required("read")
def case(case_id: int):
    return _case_page(cases.get_case(current_user, case_id))


def _step(case_id: int, action: str, call):
    found = cases.get_case(current_user, case_id)
    refused = cases.refusal(found, action)
    if refused is not None:  # the wrong step for the case's state, whatever the form holds
        return _case_page(found, error=refused, status=409)
    form = CASE_FORMS[action]()
    outcome = attempt(form, lambda: call(found, form))
    if outcome:
        flash(f"{cases.STEPS[action].label}:已保存。")
        return redirect(url_for("admin.case", case_id=found.id))
    return _case_page(found, {action: form}, outcome.error, outcome.status)


@bp.post("/cases/<int:case_id>/schedule")
@permission_required("cases.manage")
def case_schedule(case_id: int):
    return _step(case_id, "schedule", lambda c, f: cases.schedule(c, f.scheduled_for.data))


@bp.post("/cases/<int:case_id>/hold")
@permission_required("cases.manage")
def case_hold(case_id: int):
    return _step(case_id, "hold", lambda c, f: cases.hold(c, f.held_on.data, f.attendees.data, f.notes.data))


@bp.post("/cases/<int:case_id>/rectify")
@permission_required("cases.manage")
def case_rectify(case_id: int):
    return _step(case_id, "rectify", lambda c, f: cases.rectify(c, f.rectification_plan.data, f.responsible.data, f.deadline.data))


@bp.post("/cases/<int:case_id>/recheck")
@permission_required("cases.manage")
def case_recheck(case_id: int):
    return _step(case_id, "recheck", lambda c, f: cases.recheck(c, f.recheck_on.data, f.passed_value, f.recheck_result.data))


@bp.post("/cases/<int:case_id>/close")
@permission_required("cases.manage")
def case_close(case_id: int):
    return _step(case_id, "close", lambda c, f: cases.close(c, f.closed_on.data))


@bp.get("/key-management")
@permission_required("read")
def key_management():
    """Units in 重点管理 (on the interview list twice in a row) with their history across waves."""
    return render_template("admin/key_management.html", units=cases.key_management(current_user))
