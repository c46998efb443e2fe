"""Results of a wave: the indices per level, running the analysis, the XLSX, and issuing the interview list."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from admin import bp, cases, results, waves
from admin.access import permission_required
from admin.formflow import attempt
from admin.job_views import job_response
from admin.forms import ActionForm, AnalysisForm
from errors import PinganError

def _results_page(wave, analysis_form=None, error=None, status=200):
    page = results.results_page(current_user, wave, request.args.get("level"))
    return render_template(
        "admin/results.html",
        wave=wave,
        view=page.view,
        charts=page.charts,
        hints=page.hints,
        covers=page.covers,
        period=page.period,
        analysis_form=analysis_form or AnalysisForm(formdata=None),
        form=ActionForm(),
        error=error,
    ), status


@bp.get("/waves/<wave_slug>/results")
@permission_required("read")
def results_page(wave_slug: str):
    """Indices with 95% CIs, ranks, grades, P(bottom N) and changes, per level (?level=town)."""
    return _results_page(waves.get_wave(current_user, wave_slug))


@bp.post("/waves/<wave_slug>/analysis")
@permission_required("analysis.run")
def run_analysis(wave_slug: str):
    wave = waves.get_wave(current_user, wave_slug)
    form = AnalysisForm()
    if form.validate() and request.form.get("confirmed") != "1":
        try:
            confirm = results.rerun_confirmation(current_user, wave)
        except PinganError as e:
            return _results_page(wave, form, e.message, e.status)
        if confirm is not None:
            from admin.wave_views import confirm_page

            return confirm_page(wave, confirm, url_for("admin.run_analysis", wave_slug=wave.slug),
                                url_for("admin.results_page", wave_slug=wave.slug), {"weight_cap": form.weight_cap.data})
    outcome = attempt(form, lambda: results.run(current_user, wave, form.cap))
    if outcome:
        job = outcome.value  # a background job (docs/jobs.md): its page follows it
        if job.status == "done":
            flash(job.summary)
            return redirect(url_for("admin.results_page", wave_slug=wave.slug))
        return redirect(url_for("admin.job", job_id=job.id))
    return _results_page(wave, form, outcome.error, outcome.status)


@bp.get("/waves/<wave_slug>/results.xlsx")
@permission_required("read")
def results_xlsx(wave_slug: str):
    """The workbook: the file when it is built for the current results, else its job's page."""
    return job_response(results.xlsx(current_user, waves.get_wave(current_user, wave_slug)))


def _exclusions() -> dict[str, str]:
    """The units the office takes off the list (checkboxes `exclude`), each with its `reason-CODE`."""
    return {code: request.form.get(f"reason-{code}", "") for code in request.form.getlist("exclude")}


def _issue_page(wave, step: int, preview=None, exclusions=None, error=None, error_code=None, status=200):
    return render_template(
        "admin/issue.html", wave=wave, period=waves.period_label(wave), step=step, preview=preview,
        exclusions=exclusions or {}, error=error, error_code=error_code, form=ActionForm(),
    ), status


@bp.get("/waves/<wave_slug>/interviews/issue")
@permission_required("cases.issue")
def issue_preview(wave_slug: str):
    """Step 1 and 2: the computed list with its numbers and notes, and what issuing would change;
    units may be taken off, each with a written reason."""
    wave = waves.get_wave(current_user, wave_slug)
    try:
        preview = cases.preview_issue(wave, current_user)
    except PinganError as e:
        return _results_page(wave, error=e.message, status=e.status)
    return _issue_page(wave, 1, preview)


@bp.post("/waves/<wave_slug>/interviews/issue")
@permission_required("cases.issue")
def issue_review(wave_slug: str):
    """Step 3: the exclusions checked, what issuing will do (created, withdrawn), and the confirm button."""
    wave = waves.get_wave(current_user, wave_slug)
    exclusions = _exclusions()
    form = ActionForm()
    if not form.validate():
        return _issue_page(wave, 1, cases.preview_issue(wave, current_user), exclusions, "页面已过期,请刷新页面后重试", status=400)
    try:
        preview = cases.preview_issue(wave, current_user, exclusions)
    except cases.ExclusionError as e:
        return _issue_page(wave, 1, cases.preview_issue(wave, current_user), exclusions, e.message, e.unit_code, e.status)
    except PinganError as e:
        return _results_page(wave, error=e.message, status=e.status)
    return _issue_page(wave, 3, preview, exclusions)


@bp.post("/waves/<wave_slug>/interviews")
@permission_required("cases.issue")
def issue_interviews(wave_slug: str):
    """Issue the interview list: one case per listed unit in the account's scope, minus the units
    taken off (see admin.cases); withdrawals only with the number the confirm step showed."""
    wave = waves.get_wave(current_user, wave_slug)
    confirm = request.form.get("confirm_withdrawals", type=int)
    exclusions = _exclusions()
    outcome = attempt(ActionForm(), lambda: cases.issue_interview_list(wave, current_user, exclusions, confirm))
    if outcome:
        flash(str(outcome.value))
        return redirect(url_for("admin.cases_list", wave=wave.slug))
    return _results_page(wave, error=outcome.error, status=outcome.status)
