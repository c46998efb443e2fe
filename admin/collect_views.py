"""入户采集: a 网格员 (role `collector`) fills sheets on its own phone for the residents of its scope,
one after another (survey.collect; docs/security.md "Collectors").

/admin/collect lists the open waves and the units it collects for; /admin/collect/<wave>/<unit>
is the questionnaire. After each stored sheet the same page comes back blank, with a fresh
ticket, for the next resident.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from admin import bp
from admin.access import permission_required
from errors import Conflict
from extensions import limiter
from survey import collect
from survey.forms import form_class
from survey.intake import Outcome
from survey.integrity import Rules
from survey.links import wave_spec


def collector_rate_key() -> str:
    """The collector's own rate limit counts per account, not per address or device."""
    return f"collector:{current_user.get_id()}"


@bp.get("/collect")
@permission_required(collect.COLLECT_VERB)
def collect_home():
    """The open waves covering the collector's scope, and the units it can fill sheets for."""
    return render_template("admin/collect_home.html", assignments=collect.assignments(current_user))


def _sheet_page(wave, unit, form=None, expired: bool = False, status: int = 200):
    spec = wave_spec(wave)
    errors = form.answer_errors() if form is not None and status == 422 else []
    return render_template(
        "admin/collect_form.html",
        wave=wave,
        unit=unit,
        spec=spec,
        form=form if form is not None else form_class(spec)(formdata=None, meta={"csrf": False}),
        lang="zh",
        csrf_token=generate_csrf(),
        ticket=form.ticket.data if form is not None and not expired else collect.collector_ticket(wave, current_user),
        errors=errors,
        expired=expired,
        filled=collect.filled_count(wave, unit, current_user),
    ), status


@bp.route("/collect/<wave_slug>/<unit_code>", methods=["GET", "POST"])
@permission_required(collect.COLLECT_VERB)
@limiter.limit(lambda: current_app.config["COLLECTOR_RATE_LIMIT"], methods=["POST"], key_func=collector_rate_key)
def collect_sheet(wave_slug: str, unit_code: str):
    """The questionnaire for one resident (GET), or storing it (POST) and a blank one for the next."""
    try:
        wave, unit = collect.collect_target(current_user, wave_slug, unit_code)
    except Conflict as e:
        if request.method == "POST":
            raise
        flash(e.message)  # a bookmarked sheet of a wave that has ended: back to the list
        return redirect(url_for("admin.collect_home"), 303)
    if request.method == "GET":
        return _sheet_page(wave, unit)
    form = form_class(wave_spec(wave))()
    valid = form.validate()
    ticket = collect.read_collector_ticket(form.ticket.data, wave, current_user)
    if ticket is None or form.csrf_token.errors:
        return _sheet_page(wave, unit, form, expired=True, status=400)
    if not valid:
        return _sheet_page(wave, unit, form, status=422)
    outcome = collect.store_collected(
        wave, unit, current_user, ticket, form.answers(), Rules.from_config(current_app.config),
        int(current_app.config["COLLECTOR_PACE_PER_HOUR"]), screened_out=form.screened_by is not None,
    )
    if outcome is Outcome.ALREADY_STORED:
        flash("这份答卷已经保存过，没有重复保存。请为下一位居民填写。")
    else:
        flash(f"已保存（{unit.name}第 {collect.filled_count(wave, unit, current_user)} 份）。请为下一位居民填写。")
    return redirect(url_for("admin.collect_sheet", wave_slug=wave.slug, unit_code=unit.code), 303)
