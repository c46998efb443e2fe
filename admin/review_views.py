"""Reviewing flagged responses of a wave: the queue, one response, and the decision."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from admin import bp, review, waves
from admin.access import permission_required
from policy import can
from admin.formflow import attempt
from admin.forms import ReviewForm
from errors import NotFound


@bp.get("/waves/<wave_slug>/review")
@permission_required("read")
def review_queue(wave_slug: str):
    """Flagged responses with their reasons (?queue=flagged|accepted|rejected|all, ?page=)."""
    wave = waves.get_wave(current_user, wave_slug)
    shown = review.queue_page(current_user, wave, request.args)
    return render_template(
        "admin/review.html", wave=wave, page=shown.page, queue=shown.queue, collector=shown.collector,
        groups=shown.groups, hints=shown.hints,
    )


def _group_page(wave, group, form, error=None, status=200):
    return render_template(
        "admin/review_group.html", wave=wave, group=group, form=form if can(current_user, "responses.review") else None,
        error=error,
    ), status


@bp.get("/waves/<wave_slug>/review/group")
@permission_required("read")
def review_group(wave_slug: str):
    """A flagged group (?group=burst:…, address:…, collector:<id>): every sheet, to inspect before
    deciding; a group since decided (or never there) goes back to the queue with a note."""
    wave = waves.get_wave(current_user, wave_slug)
    kind, _, key = request.args.get("group", "").partition(":")
    try:
        group = review.get_group(wave, current_user, kind, key)
    except NotFound as e:
        flash(e.message)
        return redirect(url_for("admin.review_queue", wave_slug=wave.slug), 303)
    return _group_page(wave, group, ReviewForm(formdata=None))


@bp.post("/waves/<wave_slug>/review/group")
@permission_required("responses.review")
def review_group_decide(wave_slug: str):
    """Accept or reject the sheets of the group that were shown, with one reason; audited per sheet."""
    wave = waves.get_wave(current_user, wave_slug)
    kind, _, key = request.args.get("group", "").partition(":")
    group = review.get_group(wave, current_user, kind, key)
    form = ReviewForm()
    shown = [int(v) for v in request.form.getlist("response") if v.isdigit()]
    outcome = attempt(form, lambda: review.decide_group(wave, current_user, kind, key, shown, form.decision.data, form.reason.data))
    if outcome:
        flash(f"已{'采纳' if form.decision.data == 'accept' else '剔除'}这一组的 {outcome.value} 份答卷。")
        return redirect(url_for("admin.review_queue", wave_slug=wave.slug))
    return _group_page(wave, group, form, outcome.error, outcome.status)


def _response_page(wave, response, form, error=None, status=200):
    return render_template(
        "admin/response.html",
        wave=wave,
        response=response,
        answers=review.answer_sheet(response, wave.questionnaire_version.to_spec()),
        flags=review.flag_labels(response.flags),
        form=form if can(current_user, "responses.review", response) else None,
        error=error,
    ), status


@bp.get("/waves/<wave_slug>/responses/<int:response_id>")
@permission_required("read")
def response(wave_slug: str, response_id: int):
    wave = waves.get_wave(current_user, wave_slug)
    return _response_page(wave, review.get_response(current_user, wave, response_id), ReviewForm(formdata=None))


@bp.post("/waves/<wave_slug>/responses/<int:response_id>/review")
@permission_required("responses.review")
def response_review(wave_slug: str, response_id: int):
    """Accept or reject, with a required reason; audited."""
    wave = waves.get_wave(current_user, wave_slug)
    found = review.get_response(current_user, wave, response_id)
    form = ReviewForm()
    outcome = attempt(form, lambda: review.decide(found, form.decision.data, form.reason.data, current_user))
    if outcome:
        flash(f"答卷 {found.response_key}:{review.DECISION_LABELS[found.review_status]}。")
        return redirect(url_for("admin.review_queue", wave_slug=wave.slug))
    return _response_page(wave, found, form, outcome.error, outcome.status)
