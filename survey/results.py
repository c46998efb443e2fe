"""Running the analysis for a wave and keeping its results.

The statistical work happens in `analysis` (pure functions of data frames); this
module only loads the wave's data from the database into frames, calls
`analyse_wave`, and replaces the stored results in one transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import delete, select

import audit
from analysis import AnalysisError, WaveResult, analyse_wave
from analysis.spec import QuestionnaireSpec
from errors import Conflict, PinganError
from extensions import db
from models import AnalysisResult, PopulationMargin, Response, Unit, Wave
from survey.waves import previous_wave

DEFAULT_WEIGHT_CAP = 5.0


@dataclass(frozen=True)
class WaveData:
    """A wave's inputs to `analyse_wave`, as data frames."""

    spec: QuestionnaireSpec
    units: pd.DataFrame
    margins: pd.DataFrame
    responses: pd.DataFrame
    n_rejected: int


def load_wave_data(wave: Wave) -> WaveData:
    """Units of the scope, their margins, and every response not rejected in review."""
    spec = wave.questionnaire_version.to_spec()
    scope = wave.scope.subtree_clause()
    parent = db.aliased(Unit)
    units = pd.DataFrame(
        db.session.execute(
            select(Unit.id, Unit.code, Unit.name, Unit.kind, parent.code.label("parent_code"))
            .outerjoin(parent, Unit.parent_id == parent.id)
            .where(scope)
            .order_by(Unit.depth, Unit.code)
        ).all(),
        columns=["id", "code", "name", "kind", "parent_code"],
    )
    # The scope's root has no parent inside the wave, whatever lies above it.
    units.loc[units["code"] == wave.scope.code, "parent_code"] = None
    margins = pd.DataFrame(
        db.session.execute(
            select(Unit.code, PopulationMargin.dimension, PopulationMargin.category, PopulationMargin.count)
            .join(Unit, PopulationMargin.unit_id == Unit.id)
            .where(scope)
        ).all(),
        columns=["unit_code", "dimension", "category", "count"],
    )
    responses = _load_responses(wave, spec, dict(zip(units["id"], units["code"])))
    n_rejected = db.session.scalar(
        select(db.func.count()).select_from(Response).where(Response.wave_id == wave.id, Response.review_status == "rejected")
    )
    return WaveData(spec, units.drop(columns="id"), margins, responses, n_rejected)


def _load_responses(wave: Wave, spec: QuestionnaireSpec, unit_codes: dict[int, str]) -> pd.DataFrame:
    """One row per response, one column per choice item. Answers are one JSON value per
    response, read through the raw DB-API cursor: a million rows load in seconds."""
    choice_keys = [it.key for it in spec.items if it.is_choice]
    table = Response.__table__
    query = (
        select(table.c.response_key, table.c.unit_id, table.c.psu, table.c.review_status, table.c.answers)
        .where(table.c.wave_id == wave.id, table.c.review_status != "rejected")
        .order_by(table.c.id)
    )
    connection = db.session.connection()
    rows = connection.execute(query).all()
    if rows:
        keys, unit_ids, psus, statuses, answers = zip(*rows)
    else:
        keys, unit_ids, psus, statuses, answers = (), (), (), (), ()
    # SQLite hands back JSON text, PostgreSQL a decoded dict (SQLAlchemy decodes both here).
    if answers and isinstance(answers[0], str):
        answers = [json.loads(a) for a in answers]
    frame = pd.DataFrame.from_records(list(answers), columns=choice_keys) if answers else pd.DataFrame(columns=choice_keys)
    frame.insert(0, "response_id", list(keys))
    frame.insert(1, "unit_code", [unit_codes[u] for u in unit_ids])
    frame.insert(2, "psu", list(psus))
    frame.insert(3, "flagged", [s in ("flagged", "accepted") for s in statuses])  # flagged, not rejected
    return frame


def stored_result(wave: Wave) -> AnalysisResult | None:
    return db.session.scalar(select(AnalysisResult).where(AnalysisResult.wave_id == wave.id))


def previous_result(wave: Wave, weight_cap: float) -> WaveResult | None:
    """The previous wave's results: stored ones, or computed now (not stored) if it was never analysed."""
    previous = previous_wave(wave)
    if previous is None:
        return None
    stored = stored_result(previous)
    if stored is not None:
        return WaveResult.from_dict(stored.payload)
    data = load_wave_data(previous)
    if data.responses.empty:
        return None
    return analyse_wave(data.spec, data.units, data.margins, data.responses, previous=None, weight_cap=weight_cap)


def compute(wave: Wave, weight_cap: float = DEFAULT_WEIGHT_CAP) -> tuple[WaveResult, WaveData]:
    """Analyse the wave from the database, without storing anything."""
    if weight_cap < 0:
        raise PinganError("--weight-cap 不能为负数(0 表示不截尾)")
    data = load_wave_data(wave)
    if data.responses.empty:
        raise Conflict(f"调查 “{wave.slug}” 还没有可用的答卷", code="no_responses")
    try:
        result = analyse_wave(
            data.spec, data.units, data.margins, data.responses,
            previous=previous_result(wave, weight_cap), weight_cap=weight_cap,
        )
    except AnalysisError as e:
        raise PinganError(e.message, code=e.code) from None
    return result, data


def run_analysis(wave: Wave, weight_cap: float = DEFAULT_WEIGHT_CAP) -> AnalysisResult:
    """Analyse the wave and replace its stored results atomically."""
    if wave.status == "published":
        raise Conflict(f"调查 “{wave.slug}” 已发布,结果不能再改动")
    result, data = compute(wave, weight_cap)
    payload = result.to_dict(wave=wave.slug, period=wave.period, series=wave.series)
    actor_id, actor_name = audit.actor()
    try:
        old = stored_result(wave)
        before = None
        if old is not None:
            before = {"computed_at": old.computed_at.isoformat(), "n_responses": old.n_responses}
            db.session.execute(delete(AnalysisResult).where(AnalysisResult.id == old.id))
        stored = AnalysisResult(
            wave_id=wave.id,
            computed_by=actor_name,
            weight_cap=weight_cap,
            n_responses=len(data.responses),
            n_rejected=data.n_rejected,
            payload=payload,
        )
        db.session.add(stored)
        db.session.flush()
        audit.record(
            "analysis.run", "wave", wave.slug, before,
            {"n_responses": len(data.responses), "n_rejected": data.n_rejected, "weight_cap": weight_cap,
             "interview_list": len(payload["interview_list"])},
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return stored


def wave_result(wave: Wave) -> WaveResult:
    """The stored results as a result object; Conflict if the analysis has not been run."""
    stored = stored_result(wave)
    if stored is None:
        raise Conflict(f"调查 “{wave.slug}” 还没有分析结果,请先运行 analysis run", code="no_results")
    return WaveResult.from_dict(stored.payload)
