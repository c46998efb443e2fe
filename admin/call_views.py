"""Phone interviews (电话调查): the interviewer's desk, one call, the interview read out one item
per screen (keyboard first: digit keys pick, Enter goes on; plain forms, so it works without
JavaScript too), and a wave's call list with its response rates. Work: admin.calls, survey.calls."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from admin import bp, calls, waves
from admin.access import permission_required
from admin.formflow import attempt
from admin.forms import ActionForm, CallListForm, OutcomeForm, choices
from errors import PinganError
from models.calls import DISPOSITION_LABELS


@bp.get("/calls")
@permission_required("calls.take")
def calls_desk():
    from survey.calls import desk

    return render_template("admin/calls.html", desk=desk(current_user), form=ActionForm())


@bp.post("/calls/next")
@permission_required("calls.take")
def calls_next():
    if not ActionForm().validate():
        abort(400)
    case = calls.take_next(current_user)
    if case is None:
        flash("现在没有需要拨打的电话(约定回拨的时间未到,或名单已拨完)。")
        return redirect(url_for("admin.calls_desk"))
    return redirect(url_for("admin.call", case_id=case.id))


def _outcome_form() -> OutcomeForm:
    form = OutcomeForm()
    form.disposition.choices = choices(calls.outcome_choices())
    return form


def _call_page(case_id: int, form: OutcomeForm | None = None, error: str | None = None, status: int = 200):
    page = calls.call_page(current_user, case_id)
    return render_template(
        "admin/call.html", page=page, form=form or _outcome_form(), action=ActionForm(), error=error,
        labels=DISPOSITION_LABELS,
    ), status


@bp.get("/calls/<int:case_id>")
@permission_required("calls.take")
def call(case_id: int):
    return _call_page(case_id)


@bp.post("/calls/<int:case_id>/outcome")
@permission_required("calls.take")
def call_outcome(case_id: int):
    form = _outcome_form()
    outcome = attempt(form, lambda: calls.outcome(current_user, case_id, form.disposition.data, form.callback_at.data))
    if not outcome:
        return _call_page(case_id, form, outcome.error, outcome.status)
    flash(f"已记录:{DISPOSITION_LABELS[form.disposition.data]}。")
    return redirect(url_for("admin.calls_desk"))


def _interview_page(case, screen, error: str | None = None, status: int = 200):
    return render_template("admin/interview.html", case=case, screen=screen, form=ActionForm(), error=error), status


@bp.get("/calls/<int:case_id>/interview")
@permission_required("calls.take")
def interview(case_id: int):
    case, screen = calls.interview_screen(current_user, case_id, start=True)
    return _interview_page(case, screen)


@bp.post("/calls/<int:case_id>/interview")
@permission_required("calls.take")
def interview_answer(case_id: int):
    if not ActionForm().validate():
        abort(400)
    try:
        calls.interview_answer(
            current_user, case_id, request.form.get("item", ""), request.form.getlist("choice"),
            request.form.get("key", ""), request.form.get("text", ""),
        )
    except PinganError as e:
        if e.status >= 500 or e.code not in ("bad_answer", "stale_item"):
            raise
        case, screen = calls.interview_screen(current_user, case_id)
        return _interview_page(case, screen, e.message, e.status)
    return redirect(url_for("admin.interview", case_id=case_id))


@bp.post("/calls/<int:case_id>/back")
@permission_required("calls.take")
def interview_back(case_id: int):
    if not ActionForm().validate():
        abort(400)
    calls.interview_back(current_user, case_id)
    return redirect(url_for("admin.interview", case_id=case_id))


@bp.post("/calls/<int:case_id>/finish")
@permission_required("calls.take")
def interview_finish(case_id: int):
    if not ActionForm().validate():
        abort(400)
    response = calls.interview_finish(current_user, case_id)
    flash("访问已保存(不符合条件,甄别退出)。" if response.screened_out else "访问已保存,计为电话调查答卷。")
    return redirect(url_for("admin.calls_desk"))


@bp.route("/waves/<wave_slug>/calls", methods=["GET", "POST"])
@permission_required("read")
def wave_calls(wave_slug: str):
    """A wave's call list: import numbers (CSV), where the calls stand, AAPOR rates."""
    wave = waves.get_wave(current_user, wave_slug)
    form = CallListForm()
    outcome = None
    if request.method == "POST":
        outcome = attempt(form, lambda: calls.import_upload(current_user, wave, form.file.data))
        if outcome:
            flash(f"{outcome.value}。")
            return redirect(url_for("admin.wave_calls", wave_slug=wave.slug))
    page = calls.call_list_page(current_user, wave)
    status = outcome.status if outcome is not None else 200
    return render_template("admin/wave_calls.html", page=page, form=form,
                           error=outcome.error if outcome is not None else None), status
