"""`analyse_wave`: one wave's responses in, a frozen `WaveResult` out (docs/method.md)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pandas as pd

from .design import build_design
from .errors import AnalysisError
from .estimates import DomainEstimates, estimate_domains
from .hierarchy import Hierarchy, build_hierarchy
from .integrity import unit_integrity
from .intervals import domain_degf, share_interval
from .items import item_results
from .ranking import INSUFFICIENT_SAMPLE, interview_list, rank_groups, ranked_units
from .responses import CodedResponses, code_responses, indicator_values
from .results import Z95, Change, Difference, Estimate, UnitResult, WaveResult
from .spec import QuestionnaireSpec
from .weights import DEFAULT_WEIGHT_CAP, rake_weights

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
    weight_cap: float = DEFAULT_WEIGHT_CAP,
    seed: int = 20260701,
    draws: int = 20000,
    previous_issued: Iterable[str] | None = None,
) -> WaveResult:
    """Weights, domain estimates with linearised SEs, composite, ranking, grades and the interview list.

    `units`: the wave's scope subtree (code, name, kind, parent_code; the root has no parent).
    `margins`: unit_code, dimension, category, count (may be empty). `responses`: response_id, unit_code,
    psu, flagged and one column per choice item holding the option code (None/NaN = not answered); optional
    `submitted_at`, `mode` and free-text item columns feed the unit-level integrity checks (analysis.integrity).
    `previous`: the previous wave's result of the same series and scope, for the change columns.
    `previous_issued`: codes of the units to whom the previous wave's interview list was issued for bottom_n
    (escalation to key_management follows the issued list, not the computed one).

    Units whose domain holds no respondent are not results (the root, the wave's scope, is always kept).
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

    shares = [k for k, ind in enumerate(spec.indicators) if ind.is_share]
    share_ci: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if shares:
        present = ~np.isnan(Y[:, shares])
        degf = domain_degf(design.psu, design.stratum, hierarchy.domains, hierarchy.depth, present)
        for j, k in enumerate(shares):
            # a domain where every respondent with a value is in (or out of) the share: exactly 100 (0), SE 0,
            # as R computes it; the floating-point sum would give 100 ± 1e-13 and a spurious SE
            hits = _domain_sums(np.bincount(design.stratum, weights=Y[:, k] == 100, minlength=hierarchy.size), hierarchy)
            nk = table.n_value[:, k]
            table.estimate[(nk > 0) & (hits == nk), k] = 100.0
            table.estimate[(nk > 0) & (hits == 0), k] = 0.0
            table.se[(nk > 0) & ((hits == nk) | (hits == 0)), k] = 0.0
            share_ci[k] = share_interval(table.estimate[:, k], table.se[:, k], nk, degf[:, j])

    # The ranking's draws need nothing else computed below: they run on a thread of their own (with
    # their own two threads) while the item results are computed. numpy releases the GIL while it
    # draws, so the work overlaps on two cores; each group has its own seeded generator, so the results
    # do not change. (The integrity checks hold the GIL most of the time: on a third thread they only
    # made the run slower on a loaded machine, docs/performance.md.)
    ranking = spec.ranking
    parent_codes = [hierarchy.parent_code(u) for u in range(hierarchy.size)]
    with ThreadPoolExecutor(1) as pool:
        ranking_job = pool.submit(
            rank_groups,
            hierarchy.codes,
            hierarchy.kinds,
            parent_codes,
            table.n,
            table.composite,
            table.composite_se,
            table.estimate[:, 0],
            ranking.min_n,
            ranking.bottom_n,
            seed,
            draws,
            ranked_kinds=ranking.kinds,
        )
        # the item results need only which units are ranked, known before the ranking's draws
        is_ranked = ranked_units(hierarchy.kinds, parent_codes, table.n, table.composite, ranking.min_n, ranking.kinds)
        item_fields = item_results(spec, hierarchy, coded, design, Y, is_ranked)
        integrity = unit_integrity(spec, hierarchy, coded, responses, seed, Y)
        ranked = ranking_job.result()
    interviews = interview_list(
        hierarchy.codes,
        hierarchy.kinds,
        parent_codes,
        ranked,
        ranking.bottom_n,
        previous_issued or (),
        min_group=ranking.min_group,
    )
    previous_units = {u.code: u for u in previous.units} if previous is not None else {}

    results = []
    ranked_kinds = set(ranking.kinds)
    for u in range(hierarchy.size):
        if parent_codes[u] is not None and table.n[u] == 0:
            continue  # no respondent in its domain: not a result
        indicators = {ind.key: _indicator(table, u, k, share_ci.get(k)) for k, ind in enumerate(spec.indicators)}
        composite = _composite(table, u)
        enough = table.n[u] >= ranking.min_n
        grade = spec.grade_for(composite.estimate) if enough else None
        r = ranked[u]
        warnings = unit_warnings.get(u, set())
        if parent_codes[u] is not None and hierarchy.kinds[u] in ranked_kinds and enough and r.rank is None:
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
            rank_ci=r.rank_ci,
            grade=None if grade is None else grade.label,
            color=None if grade is None else grade.color,
            flags=(INSUFFICIENT_SAMPLE,) if r.insufficient else (),
            warnings=_ordered(warnings),
            change=None,
            **item_fields[u],
            integrity=integrity[u],
        )
        prev = previous_units.get(result.code)
        if prev is not None:
            result = _with_change(result, prev, ranking.min_n)
        results.append(result)

    return WaveResult(
        units=tuple(results),
        interview_list=interviews,
        distributions=distributions(spec, hierarchy, coded, design.weights),
        warnings=tuple(sorted(weighting.wave_warnings)),
        params={"weight_cap": float(weight_cap), "seed": int(seed), "draws": int(draws)},
    )


def _domain_sums(per_stratum: np.ndarray, hierarchy: Hierarchy) -> np.ndarray:
    """Sum a per-stratum quantity over every unit's domain."""
    out = np.zeros(hierarchy.size)
    for L in range(hierarchy.domains.shape[1]):
        strata = np.nonzero(hierarchy.domains[:, L] >= 0)[0]
        total = np.bincount(hierarchy.domains[strata, L], weights=per_stratum[strata], minlength=hierarchy.size)
        targets = hierarchy.depth == L
        out[targets] = total[targets]
    return out


def _indicator(
    table: DomainEstimates, u: int, k: int, share_ci: tuple[np.ndarray, np.ndarray] | None = None
) -> Estimate:
    """A score indicator: estimate ± 1.959964·SE clipped to [0, 100]; a share: its Korn–Graubard interval."""
    n_k = int(table.n_value[u, k])
    est = table.estimate[u, k]
    if not math.isfinite(est):
        return Estimate.missing(n=n_k)
    if share_ci is None:
        return Estimate.from_estimate(est, table.se[u, k], n=n_k)
    lo, hi = share_ci
    return Estimate(float(est), float(table.se[u, k]), _f(lo[u]), _f(hi[u]), n=n_k)


def _composite(table: DomainEstimates, u: int) -> Estimate:
    est = table.composite[u]
    if not math.isfinite(est):
        return Estimate.missing()
    return Estimate.from_estimate(est, table.composite_se[u], deff=_f(table.composite_deff[u]))


def difference(current: Estimate, previous: Estimate, comparable: bool = True) -> Difference | None:
    """current − previous, SE √(se₁² + se₂²), 95% CI; significant when the CI excludes 0 and the two periods
    are `comparable` (both have n ≥ min_n)."""
    if current.estimate is None or previous.estimate is None or current.se is None or previous.se is None:
        return None
    diff = current.estimate - previous.estimate
    se = math.sqrt(current.se**2 + previous.se**2)
    lo, hi = diff - Z95 * se, diff + Z95 * se
    return Difference(diff, se, lo, hi, bool(comparable and (lo > 0 or hi < 0)), previous.estimate)


def _with_change(result: UnitResult, prev: UnitResult, min_n: int) -> UnitResult:
    comparable = result.n >= min_n and prev.n >= min_n
    indicators = {}
    for key, est in result.indicators.items():
        p = prev.indicators.get(key)
        indicators[key] = None if p is None else difference(est, p, comparable)
    change = Change(difference(result.composite, prev.composite, comparable), indicators)
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
        if it.is_multiple:  # the share of those who answered choosing each option
            _multiple_distribution(it, coded.chosen[it.key], in_root, w_root, all_in_root, out)
            continue
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


def _multiple_distribution(item, chosen, in_root, w_root, all_in_root, out) -> None:
    if not all_in_root:
        chosen = chosen[in_root]
    answered = chosen.any(axis=1)
    total = w_root[answered].sum()
    out[item.key] = {
        o.code: {
            "share": float(w_root[chosen[:, i]].sum() / total) if total > 0 else None,
            "count": int(chosen[:, i].sum()),
        }
        for i, o in enumerate(item.options)
    }
