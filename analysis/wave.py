"""`analyse_wave`: one wave's responses in, a frozen `WaveResult` out (DESIGN.md §4)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd

from .design import build_design
from .errors import AnalysisError
from .estimates import DomainEstimates, estimate_domains
from .hierarchy import Hierarchy, build_hierarchy
from .integrity import unit_integrity
from .ranking import BOTTOM_N, INSUFFICIENT_SAMPLE, interview_list, rank_groups
from .responses import CodedResponses, code_responses, indicator_values
from .results import Z95, Change, Difference, Estimate, UnitResult, WaveResult
from .spec import QuestionnaireSpec
from .weights import rake_weights

SINGLE_PSU = "single_psu_stratum"
COMPOSITE_MISSING = "composite_missing"
# unit warnings are listed in the order the pipeline raises them
WARNING_ORDER = (
    "raking_impossible",
    "merged_category",
    "dimension_unanswered",
    "raking_not_converged",
    "trim_not_converged",
    SINGLE_PSU,
    COMPOSITE_MISSING,
)


def _ordered(codes: set[str]) -> tuple[str, ...]:
    known = [c for c in WARNING_ORDER if c in codes]
    return tuple(known + sorted(codes - set(WARNING_ORDER)))


def _f(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def analyse_wave(
    spec: QuestionnaireSpec,
    units: pd.DataFrame,
    margins: pd.DataFrame | None,
    responses: pd.DataFrame,
    previous: WaveResult | None = None,
    weight_cap: float = 5.0,
    seed: int = 20260701,
    draws: int = 20000,
) -> WaveResult:
    """Weights, domain estimates with linearised SEs, composite, ranking, grades and the interview list.

    `units`: the wave's scope subtree (code, name, kind, parent_code; the root has no parent).
    `margins`: unit_code, dimension, category, count (may be empty). `responses`: response_id, unit_code,
    psu, flagged and one column per choice item holding the option code (None/NaN = not answered); optional
    `submitted_at`, `mode` and free-text item columns feed the unit-level integrity checks (analysis.integrity).
    `previous`: the previous wave's result of the same series and scope, for escalation and change.
    """
    if weight_cap is None or not math.isfinite(weight_cap) or weight_cap < 0:
        raise AnalysisError("bad_parameter", f"权重上限应为不小于 0 的数(0 表示不截尾),实际为 {weight_cap}")
    if weight_cap and weight_cap <= 1:
        raise AnalysisError("bad_parameter", f"权重上限应大于 1(或为 0 表示不截尾),实际为 {weight_cap}")
    if draws < 1:
        raise AnalysisError("bad_parameter", f"模拟次数应为正整数,实际为 {draws}")
    hierarchy = build_hierarchy(units)
    coded = code_responses(spec, hierarchy, responses)
    weighting = rake_weights(spec, hierarchy, margins, coded, weight_cap)
    design = build_design(coded, weighting.weights, hierarchy.size)
    Y = indicator_values(spec, coded)
    a = spec.composite_weights
    a_vec = np.array([a.get(ind.key, 0.0) for ind in spec.indicators])
    table = estimate_domains(design, hierarchy.domains, hierarchy.depth, Y, a_vec, coded.flagged)

    unit_warnings = {u: set(ws) for u, ws in weighting.unit_warnings.items()}
    for h in design.single_psu_strata:
        unit_warnings.setdefault(int(h), set()).add(SINGLE_PSU)

    parent_codes = [hierarchy.parent_code(u) for u in range(hierarchy.size)]
    ranked = rank_groups(
        hierarchy.codes,
        hierarchy.kinds,
        parent_codes,
        table.n,
        table.composite,
        table.composite_se,
        table.estimate[:, 0],
        spec.ranking.min_n,
        spec.ranking.bottom_n,
        seed,
        draws,
    )
    previous_bottom = (
        {e.code for e in previous.interview_list if e.reason == BOTTOM_N} if previous is not None else set()
    )
    interviews = interview_list(
        hierarchy.codes, hierarchy.kinds, parent_codes, ranked, spec.ranking.bottom_n, previous_bottom
    )
    previous_units = {u.code: u for u in previous.units} if previous is not None else {}
    integrity = unit_integrity(spec, hierarchy, coded, responses, seed, Y)

    results = []
    for u in range(hierarchy.size):
        indicators = {ind.key: _indicator(table, u, k) for k, ind in enumerate(spec.indicators)}
        composite = _composite(table, u)
        grade = spec.grade_for(composite.estimate)
        r = ranked[u]
        warnings = unit_warnings.get(u, set())
        if parent_codes[u] is not None and table.n[u] >= spec.ranking.min_n and r.rank is None:
            warnings = warnings | {COMPOSITE_MISSING}
        result = UnitResult(
            code=hierarchy.codes[u],
            name=hierarchy.names[u],
            kind=hierarchy.kinds[u],
            parent_code=parent_codes[u],
            n=int(table.n[u]),
            n_eff=_f(table.n_eff[u]),
            n_flagged=int(table.n_flagged[u]),
            indicators=indicators,
            composite=composite,
            rank=r.rank,
            group_size=r.group_size,
            p_bottom=r.p_bottom,
            grade=None if grade is None else grade.label,
            color=None if grade is None else grade.color,
            flags=(INSUFFICIENT_SAMPLE,) if r.insufficient else (),
            warnings=_ordered(warnings),
            change=None,
            integrity=integrity[u],
        )
        prev = previous_units.get(result.code)
        if prev is not None:
            result = _with_change(result, prev)
        results.append(result)

    return WaveResult(
        units=tuple(results),
        interview_list=interviews,
        distributions=distributions(spec, hierarchy, coded, design.weights),
        warnings=tuple(sorted(weighting.wave_warnings)),
        params={"weight_cap": float(weight_cap), "seed": int(seed), "draws": int(draws)},
    )


def _indicator(table: DomainEstimates, u: int, k: int) -> Estimate:
    n_k = int(table.n_value[u, k])
    est = table.estimate[u, k]
    if not math.isfinite(est):
        return Estimate.missing(n=n_k)
    return Estimate.from_estimate(est, table.se[u, k], n=n_k)


def _composite(table: DomainEstimates, u: int) -> Estimate:
    est = table.composite[u]
    if not math.isfinite(est):
        return Estimate.missing()
    return Estimate.from_estimate(est, table.composite_se[u], deff=_f(table.composite_deff[u]))


def difference(current: Estimate, previous: Estimate) -> Difference | None:
    """current − previous, SE √(se₁² + se₂²), 95% CI; significant when the CI excludes 0."""
    if current.estimate is None or previous.estimate is None or current.se is None or previous.se is None:
        return None
    diff = current.estimate - previous.estimate
    se = math.sqrt(current.se**2 + previous.se**2)
    lo, hi = diff - Z95 * se, diff + Z95 * se
    return Difference(diff, se, lo, hi, bool(lo > 0 or hi < 0), previous.estimate)


def _with_change(result: UnitResult, prev: UnitResult) -> UnitResult:
    indicators = {}
    for key, est in result.indicators.items():
        p = prev.indicators.get(key)
        indicators[key] = None if p is None else difference(est, p)
    change = Change(difference(result.composite, prev.composite), indicators)
    return replace(result, change=change)


def distributions(
    spec: QuestionnaireSpec, hierarchy: Hierarchy, coded: CodedResponses, weights: np.ndarray
) -> dict[str, dict[str, dict[str, float | int | None]]]:
    """For each choice item, over the root domain: weighted share of each option among those who answered,
    and the unweighted count."""
    in_root = hierarchy.domains[coded.unit, 0] == 0 if coded.n else np.zeros(0, dtype=bool)
    all_in_root = bool(in_root.all())
    w_root = weights if all_in_root else weights[in_root]
    out: dict[str, dict[str, dict[str, float | int | None]]] = {}
    for it in spec.items:
        if not it.is_choice:
            continue
        k = len(it.options)
        slot = coded.answers[it.key].astype(np.int64) + 1  # 0 = not answered
        if not all_in_root:
            slot = slot[in_root]
        counts = np.bincount(slot, minlength=k + 1)[1:]
        wsum = np.bincount(slot, weights=w_root, minlength=k + 1)[1:]
        total = wsum.sum()
        out[it.key] = {
            o.code: {
                "share": float(wsum[i] / total) if total > 0 else None,
                "count": int(counts[i]),
            }
            for i, o in enumerate(it.options)
        }
    return out
