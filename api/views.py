"""The routes of /api/v1. Each parses its input, asks `api.queries`, and answers JSON."""

from __future__ import annotations

from flask import jsonify, request

from api import api_user, bp
from api.openapi import document
from api.queries import (
    account_standing,
    result_of,
    scoped_interview_list,
    scoped_units,
    unit_result,
    visible_case,
    visible_cases,
    visible_wave,
    waves_with_results,
)
from api.serialize import case_json, timestamp, user_json, wave_json
from policy import visible_waves


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 document of this API (no token needed)."""
    return jsonify(document())


@bp.get("/me")
def me():
    """The account the token acts for: its role and scope."""
    return jsonify(user_json(api_user()))


@bp.get("/waves")
def waves():
    user = api_user()
    listed = visible_waves(user)
    analysed = waves_with_results(listed)
    return jsonify(waves=[wave_json(w, w.id in analysed) for w in listed])


@bp.get("/waves/<wave_slug>")
def wave(wave_slug: str):
    found = visible_wave(api_user(), wave_slug)
    return jsonify(wave_json(found, bool(waves_with_results([found]))))


@bp.get("/waves/<wave_slug>/results")
def results(wave_slug: str):
    """The wave's results in the shape of `analysis export --format json` (docs/formats.md),
    cut down to the token's units."""
    user = api_user()
    found = visible_wave(user, wave_slug)
    stored = result_of(found)
    payload = stored.payload
    return jsonify(
        wave=found.slug,
        period=found.period,
        series=found.series,
        computed_at=timestamp(stored.computed_at),
        units=scoped_units(user, payload),
        interview_list=scoped_interview_list(user, found, payload),
        standing=account_standing(user, payload),
    )


@bp.get("/waves/<wave_slug>/units/<unit_code>")
def unit(wave_slug: str, unit_code: str):
    """One unit's result in the wave, and its interview-list entry if it has one."""
    user = api_user()
    found = visible_wave(user, wave_slug)
    payload = result_of(found).payload
    unit_obj = unit_result(user, payload, unit_code)
    entry = next((e for e in scoped_interview_list(user, found, payload) if e["code"] == unit_code), None)
    return jsonify(wave=found.slug, period=found.period, series=found.series, unit=unit_obj, interview=entry)


@bp.get("/waves/<wave_slug>/interview-list")
def interview_list(wave_slug: str):
    """The 约谈名单 of the wave, for the token's units."""
    user = api_user()
    found = visible_wave(user, wave_slug)
    payload = result_of(found).payload
    return jsonify(
        wave=found.slug, period=found.period, series=found.series,
        interview_list=scoped_interview_list(user, found, payload),
    )


@bp.get("/cases")
def cases():
    """约谈 cases of the token's units; ?wave=SLUG and ?status=STATUS narrow the list."""
    user = api_user()
    slug = request.args.get("wave")
    found = visible_wave(user, slug) if slug else None
    listed = visible_cases(user, found, request.args.get("status") or None)
    return jsonify(cases=[case_json(c) for c in listed])


@bp.get("/cases/<int:case_id>")
def case(case_id: int):
    return jsonify(case_json(visible_case(api_user(), case_id)))
