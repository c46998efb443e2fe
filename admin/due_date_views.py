"""The wave's 约谈 due days (N), set on the wave page (admin.due_dates)."""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask_login import current_user

import policy
from admin import bp, due_dates, waves
from admin.access import permission_required
from admin.formflow import attempt
from admin.todo_forms import InterviewDaysForm


@bp.context_processor
def _due_date_helpers() -> dict:
    return {
        "interview_days": due_dates.interview_days,
        "sets_due_dates": policy.sets_due_dates,
        "interview_days_form": InterviewDaysForm,
    }


@bp.post("/waves/<wave_slug>/interview-days")
@permission_required("cases.manage")
def wave_interview_days(wave_slug: str):
    from admin.wave_views import _wave_page  # the wave page, with the message above it

    wave = waves.get_wave(current_user, wave_slug)
    form = InterviewDaysForm()
    outcome = attempt(form, lambda: due_dates.set_interview_days(current_user, wave, form.interview_days.data))
    if outcome:
        change = outcome.value
        moved = f"；{change.moved} 件待约谈案件的期限已重新计算" if change.moved else ""
        source = "（按系统设置）" if change.inherited else ""
        flash(f"约谈期限已改为下发后 {change.days} 天{source}{moved}。")
        return redirect(url_for("admin.wave", wave_slug=wave.slug))
    message = outcome.error
    if form.interview_days.errors:
        message = form.interview_days.errors[0]
    return _wave_page(wave, error=message, status=outcome.status)
