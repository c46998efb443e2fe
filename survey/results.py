"""Running the analysis for a wave and keeping its results.

The statistical work happens in `analysis` (pure functions of data frames); this
module only loads the wave's data from the database into frames, calls
`analyse_wave`, and replaces the stored results in one transaction.
"""

from __future__ import annotations

import gc
import json
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np
import pandas as pd
from flask import has_request_context
from sqlalchemy import Text, case, cast, delete, func, or_, select

import audit
from analysis import DEFAULT_WEIGHT_CAP, WaveResult, analyse_wave
from analysis.packing import packer, unpack
from analysis.spec import QuestionnaireSpec
from errors import Conflict, PinganError
from extensions import db
from models import AnalysisResult, PopulationMargin, Response, Unit, Wave
from models.interviews import InterviewCase
from models.waves import RESPONSE_MODES
from survey.waves import previous_wave


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
    responses, n_rejected = _load_responses(wave, spec, dict(zip(units["id"], units["code"])))
    return WaveData(spec, units.drop(columns="id"), margins, responses, n_rejected)


LOAD_CHUNK = 50_000  # rows fetched at a time
# The review status as the loader reads it (0 = clean): flagged and accepted sheets count as flagged,
# rejected ones are dropped and counted.
FLAGGED, REJECTED = 1, 2
STATUS_CODES = {FLAGGED: ("flagged", "accepted"), REJECTED: ("rejected",)}
_BULK_LOADING: ContextVar[bool] = ContextVar("bulk_loading", default=False)


@contextmanager
def bulk_loading():
    """Inside, loading a wave's responses pauses Python's cyclic garbage collector (`_load_responses`).

    Only for a process that is not the web server: `flask analysis run` (survey/cli.py), the worker
    (worker.py sets PAUSE_GC_WHILE_LOADING, jobs/runner.py enters this) and bench/analysis.py.
    `gc.disable()` holds for the whole process, so in the web server its other threads would run
    without a collector until the load ends: the web process never enters this, and inside a
    request the collector is not paused even here."""
    token = _BULK_LOADING.set(True)
    try:
        yield
    finally:
        _BULK_LOADING.reset(token)


@contextmanager
def frozen_heap():
    """Inside `bulk_loading()` (never in a request), the objects that exist before the analysis (the
    app, its libraries, the loaded wave) are moved out of the collector's sight while it runs
    (`gc.freeze`) and given back afterwards (`gc.unfreeze`): the analysis' own full collection
    then walks only what the analysis made, 1–4 ms instead of 60–70 ms on the 1M wave
    (docs/performance.md). Nothing is leaked: unfreeze returns every object to the oldest
    generation, where the next full collection sees it."""
    freeze = _BULK_LOADING.get() and gc.isenabled() and not has_request_context()
    if freeze:
        gc.freeze()
    try:
        yield
    finally:
        if freeze:
            gc.unfreeze()


def _load_responses(wave: Wave, spec: QuestionnaireSpec, unit_codes: dict[int, str]) -> tuple[pd.DataFrame, int]:
    """One row per response not rejected in review (in id order), one column per item (choice codes as
    Categoricals, free text), `submitted_at` and `mode` (for analysis.integrity); and the number of rejected
    responses.

    A million rows load in seconds: the wave's rows are read in one pass as a range of the primary key
    (on SQLite, going through the index on wave_id instead means a million random look-ups and a sort,
    four times slower), through the DB-API cursor (plain tuples, no SQLAlchemy rows). The choice answers
    come packed (`answer_codes`, analysis.packing): the wave's rows are joined into one buffer that
    numpy decodes at once; only the few free texts are JSON. A row without packed answers (a writer
    that left them out) is packed here from its JSON. Within `bulk_loading()` (entered by `flask
    analysis run`, the worker and the benchmark, never by the web process) the cyclic garbage
    collector is paused meanwhile: the million new tuples would otherwise trigger it over and over."""
    pause = _BULK_LOADING.get() and gc.isenabled() and not has_request_context()
    if pause:
        gc.disable()
    try:
        return _read_responses(wave, spec, unit_codes)
    finally:
        if pause:
            gc.enable()


def _read_responses(wave: Wave, spec: QuestionnaireSpec, unit_codes: dict[int, str]) -> tuple[pd.DataFrame, int]:
    pk = packer(spec)
    table = Response.__table__
    connection = db.session.connection()
    lo, hi = connection.execute(
        select(func.min(table.c.id), func.max(table.c.id)).where(table.c.wave_id == wave.id)
    ).one()
    keys: list[str] = []
    unit_ids: list[int] = []
    psus: list[str | None] = []
    statuses: list[int] = []  # STATUS_CODES
    times: list = []
    modes: list[int] = []  # index in RESPONSE_MODES (the column is NOT NULL and checked)
    codes: list[bytes] = []
    texts: list[str | None] = []
    unpacked: dict[int, dict] = {}  # row → answers, for the rows not packed as they should be
    n_rejected = 0
    if lo is not None:
        # `wave_id + 0` keeps SQLite's planner off the wave_id index, so it scans the id range.
        in_wave = (table.c.wave_id + 0 if connection.dialect.name == "sqlite" else table.c.wave_id) == wave.id
        # status and mode as small ints (STATUS_CODES, RESPONSE_MODES): no string object per row
        status = case(*((or_(*(table.c.review_status == s for s in names)), c) for c, names in STATUS_CODES.items()),
                      else_=0)
        mode = case(*((table.c.mode == name, i) for i, name in enumerate(RESPONSE_MODES)), else_=-1)
        unpacked_row = or_(table.c.answer_codes.is_(None), func.length(table.c.answer_codes) != pk.width)
        query = (
            select(
                table.c.response_key,
                table.c.unit_id,
                table.c.psu,
                status,
                table.c.submitted_at,
                mode,
                table.c.answer_codes,
                table.c.answer_texts,
                case((unpacked_row, cast(table.c.answers, Text)), else_=None),  # the JSON only where it is needed
            )
            .where(table.c.id.between(lo, hi), in_wave, table.c.screened_out.is_(False))  # screened out: never in results
            .order_by(table.c.id)
        )
        compiled = query.compile(dialect=connection.dialect)
        params = compiled.construct_params()
        if compiled.positional:
            params = tuple(params[name] for name in compiled.positiontup)
        cursor = connection.connection.cursor()  # the session's own connection and transaction
        try:
            cursor.execute(str(compiled), params)
            while chunk := cursor.fetchmany(LOAD_CHUNK):
                rows = [row for row in chunk if row[3] != REJECTED]  # one pass, not one per column
                n_rejected += len(chunk) - len(rows)
                if not rows:
                    continue
                k, u, p, s, t, m, c, x, a = zip(*rows)
                if any(a):
                    c, x = list(c), list(x)
                    for i, text in enumerate(a):
                        if text is not None:
                            answers = json.loads(text)
                            c[i], x[i] = pk.pack(answers), pk.texts(answers)
                            if c[i] is None:  # a code that is no option: analysis.responses names it
                                c[i] = bytes(pk.width)
                                unpacked[len(keys) + i] = answers
                keys.extend(k)
                unit_ids.extend(u)
                psus.extend(p)
                statuses.extend(s)
                times.extend(t)
                modes.extend(m)
                codes.extend(c)
                texts.extend(x)
        finally:
            cursor.close()
    n = len(keys)
    columns: dict[str, object] = dict(unpack(spec, b"".join(codes), n))
    for key, values in _texts(pk.text_keys, texts, n).items():
        columns[key] = values
    if unpacked:  # as stored, so that analysis.responses names the code that is not an option
        for key in (f.item.key for f in pk.fields):
            col = np.asarray(columns[key], dtype=object)
            for row, answers in unpacked.items():
                value = answers.get(key)
                col[row] = ";".join(value) if isinstance(value, list) else value
            columns[key] = col
    frame = pd.DataFrame({it.key: columns[it.key] for it in spec.items}, index=pd.RangeIndex(n))
    frame.insert(0, "response_id", keys)
    # a Categorical of the scope's unit codes: analysis.responses codes it through its categories
    position = pd.Index(list(unit_codes)).get_indexer(np.fromiter(unit_ids, dtype=np.int64, count=n))
    frame.insert(1, "unit_code", pd.Categorical.from_codes(position, categories=list(unit_codes.values())))
    frame.insert(2, "psu", psus)
    frame.insert(3, "flagged", np.fromiter(statuses, dtype=np.int8, count=n) == FLAGGED)  # flagged, not rejected
    frame["submitted_at"] = pd.to_datetime(pd.Series(times, dtype=object), utc=True, format="ISO8601") if times else None
    mode_codes = np.fromiter(modes, dtype=np.int8, count=n)
    frame["mode"] = pd.Categorical.from_codes(mode_codes, categories=RESPONSE_MODES) if modes else None
    return frame, n_rejected


def _texts(text_keys: tuple[str, ...], texts: list[str | None], n: int) -> dict[str, np.ndarray]:
    """Each free-text item's column (None = blank) from the rows' JSON of free texts, decoded in one call."""
    out = {key: np.full(n, None, dtype=object) for key in text_keys}
    rows = [i for i, x in enumerate(texts) if x is not None]
    if rows:
        for i, found in zip(rows, json.loads("[" + ",".join(texts[i] for i in rows) + "]")):
            for key, value in found.items():
                if key in out:
                    out[key][i] = value
    return out


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


def issued_bottom_codes(wave: Wave | None) -> set[str]:
    """Codes of the units to whom the wave's interview list was issued for bottom_n (a case with reason
    bottom_n, not withdrawn): the units a listing in the next wave escalates to 重点管理."""
    if wave is None:
        return set()
    return set(
        db.session.scalars(
            select(Unit.code)
            .join(InterviewCase, InterviewCase.unit_id == Unit.id)
            .where(
                InterviewCase.wave_id == wave.id,
                InterviewCase.reason == "bottom_n",
                InterviewCase.status != "withdrawn",
            )
        )
    )


def compute(wave: Wave, weight_cap: float = DEFAULT_WEIGHT_CAP) -> tuple[WaveResult, WaveData]:
    """Analyse the wave from the database, without storing anything."""
    if weight_cap < 0:
        raise PinganError("--weight-cap 不能为负数(0 表示不截尾)")
    data = load_wave_data(wave)
    if data.responses.empty:
        raise Conflict(f"“{wave.title}” 还没有可用的答卷", code="no_responses")
    previous, previous_issued = previous_result(wave, weight_cap), issued_bottom_codes(previous_wave(wave))
    # AnalysisError is a PinganError (422): the page, the API and the CLI show its message.
    with frozen_heap():
        result = analyse_wave(
            data.spec, data.units, data.margins, data.responses,
            previous=previous, weight_cap=weight_cap, previous_issued=previous_issued,
        )
    return result, data


def run_analysis(wave: Wave, weight_cap: float = DEFAULT_WEIGHT_CAP) -> AnalysisResult:
    """Analyse the wave and replace its stored results atomically."""
    if wave.status == "published":
        raise Conflict(f"“{wave.title}” 已发布,结果不能再改动")
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
