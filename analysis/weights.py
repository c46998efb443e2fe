"""Raking weights (docs/method.md "Weights"), vectorised over all weighting units at once.

Steps: validate the margins; give every response its weighting unit (the nearest
ancestor-or-self with margins, never above a department); per weighting unit and
dimension, merge empty categories; rake by iterative proportional fitting from
weight 1; trim at `cap` × the unit's mean weight and re-rake; give respondents who
left a raking dimension unanswered the unit's mean raked weight. Responses without
a weighting unit keep weight 1.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import AnalysisError, _sample
from .hierarchy import Hierarchy
from .responses import CodedResponses
from .spec import Item, QuestionnaireSpec

RAKE_TOL = 1e-10
MAX_SWEEPS = 1000
TRIM_SLACK = 1e-9
MAX_TRIM_ROUNDS = 20
DEFAULT_WEIGHT_CAP = 5.0  # trim weights above 5 × the unit mean (docs/method.md); 0 = no trimming
TOTALS_TOL = 1e-9
MARGIN_COLUMNS = ("unit_code", "dimension", "category", "count")


@dataclass(frozen=True, eq=False)
class Margins:
    """Population margins of the weighting units, indexed by weighting unit j (0..J-1)."""

    units: np.ndarray  # (J,) hierarchy index of each weighting unit
    dimensions: tuple[Item, ...]  # raking dimensions in questionnaire item order
    counts: tuple[np.ndarray, ...]  # per dimension: (J, n_options) population, 0 where not given
    has: np.ndarray  # (J, D) bool: unit j has margins for dimension d
    totals: np.ndarray  # (J,) population of each weighting unit


@dataclass(frozen=True, eq=False)
class Weighting:
    weights: np.ndarray  # (n,)
    unit_warnings: dict[int, set[str]] = field(default_factory=dict)  # hierarchy index → warning codes
    wave_warnings: set[str] = field(default_factory=set)


def read_margins(
    spec: QuestionnaireSpec, hierarchy: Hierarchy, margins: pd.DataFrame | None
) -> tuple[Margins, set[str]]:
    """Validate population margins; rows of units outside the scope are ignored (returns wave warnings too)."""
    warnings: set[str] = set()
    dims_by_name = spec.dimensions
    if margins is None or len(margins) == 0:
        return _no_margins(), warnings
    missing = [c for c in MARGIN_COLUMNS if c not in margins.columns]
    if missing:
        raise AnalysisError("bad_margins", f"人口数据缺少列:{_sample(missing)}")
    table: dict[int, dict[str, dict[str, float]]] = defaultdict(dict)
    option_index = {dim: {o.code: i for i, o in enumerate(it.options)} for dim, it in dims_by_name.items()}
    values = pd.to_numeric(margins["count"], errors="coerce").to_numpy(dtype=float)
    rows = zip(
        margins["unit_code"].tolist(),
        margins["dimension"].tolist(),
        margins["category"].tolist(),
        values.tolist(),
        margins["count"].tolist(),
    )
    for code, dim, cat, value, raw in rows:
        code, dim, cat = str(code).strip(), str(dim).strip(), str(cat).strip()
        u = hierarchy.index.get(code)
        if u is None:
            continue
        options = option_index.get(dim)
        if options is None:
            warnings.add("dimension_not_in_questionnaire")
            continue
        if cat not in options:
            item = dims_by_name[dim]
            raise AnalysisError(
                "unknown_category",
                f"单位 {code} 的人口维度 “{dim}” 中,类别 “{cat}” 不是题目 “{item.key}” 的选项代码"
                f"(有效代码:{'、'.join(o.code for o in item.options)})",
            )
        if not np.isfinite(value) or value < 0:
            raise AnalysisError("bad_count", f"单位 {code} 的人口数 {dim}={cat} 应为非负数,实际为 “{raw}”")
        cats = table[u].setdefault(dim, {})
        if cat in cats:
            raise AnalysisError("duplicate_margin", f"单位 {code} 的人口数 {dim}={cat} 重复出现")
        cats[cat] = value
    if not table:
        return _no_margins(), warnings

    wu = np.array(sorted(table), dtype=np.int64)
    has_margins = np.zeros(hierarchy.size, dtype=bool)
    has_margins[wu] = True
    # nested margins: a unit with margins may not have an ancestor with margins
    for u in wu:
        p = hierarchy.parent[u]
        while p >= 0:
            if has_margins[p]:
                raise AnalysisError(
                    "nested_margins",
                    f"单位 {hierarchy.codes[p]} 与其下级单位 {hierarchy.codes[u]} 都给出了人口数;"
                    "加权层级只能有一层,请删去其中一个单位的人口数",
                )
            p = hierarchy.parent[p]

    dimensions = tuple(it for it in spec.items if it.dimension and any(it.dimension in table[u] for u in wu))
    counts = tuple(np.zeros((len(wu), len(it.options))) for it in dimensions)
    has = np.zeros((len(wu), len(dimensions)), dtype=bool)
    totals = np.zeros(len(wu))
    for j, u in enumerate(wu):
        sums = {}
        for d, it in enumerate(dimensions):
            cats = table[u].get(it.dimension)
            if cats is None:
                continue
            has[j, d] = True
            index = option_index[it.dimension]
            for c, v in cats.items():
                counts[d][j, index[c]] = v
            sums[it.dimension] = counts[d][j].sum()
        values = list(sums.values())
        lo, hi = min(values), max(values)
        if hi - lo > TOTALS_TOL * hi:
            detail = "、".join(f"{k}={v:g}" for k, v in sums.items())
            raise AnalysisError("margin_totals_disagree", f"单位 {hierarchy.codes[u]} 各人口维度的合计不一致:{detail}")
        if hi <= 0:
            raise AnalysisError("empty_population", f"单位 {hierarchy.codes[u]} 的人口合计为 0,无法加权")
        totals[j] = values[0]
    return Margins(wu, dimensions, counts, has, totals), warnings


def _no_margins() -> Margins:
    return Margins(np.zeros(0, dtype=np.int64), (), (), np.zeros((0, 0), dtype=bool), np.zeros(0))


def weighting_units(hierarchy: Hierarchy, margins: Margins) -> np.ndarray:
    """(U,) weighting unit j of each hierarchy unit: nearest ancestor-or-self with margins, never
    walking above a department; -1 if none."""
    n = hierarchy.size
    j_of = np.full(n, -1, dtype=np.int64)
    j_of[margins.units] = np.arange(len(margins.units))
    is_dept = hierarchy.is_department
    result = np.full(n, -1, dtype=np.int64)
    cur = np.arange(n)
    alive = np.ones(n, dtype=bool)
    while alive.any():
        found = alive & (j_of[cur] >= 0)
        result[found] = j_of[cur[found]]
        alive &= ~found & ~is_dept[cur] & (hierarchy.parent[cur] >= 0)
        cur = np.where(alive, hierarchy.parent[cur], cur)
    return result


def merge_categories(respondents: np.ndarray, population: np.ndarray) -> list[list[int]]:
    """Groups of option indices: walk in option order, merge the first group with no respondents or
    population 0 into the next one (the last into the one before), until none is bad."""
    groups = [[i] for i in range(len(population))]
    cnt = [float(c) for c in respondents]
    pop = [float(p) for p in population]
    while len(groups) > 1:
        bad = next((i for i in range(len(groups)) if cnt[i] == 0 or pop[i] == 0), None)
        if bad is None:
            break
        into = bad + 1 if bad + 1 < len(groups) else bad - 1
        lo, hi = min(bad, into), max(bad, into)
        groups[lo : hi + 1] = [groups[lo] + groups[hi]]
        cnt[lo : hi + 1] = [cnt[lo] + cnt[hi]]
        pop[lo : hi + 1] = [pop[lo] + pop[hi]]
    return groups


def _category_groups(
    m: Margins,
    d: int,
    r_wu: np.ndarray,
    r_ans: np.ndarray,
    n_raked: np.ndarray,
    warn: Callable[[int, str], None],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merged category groups of dimension d for every weighting unit that rakes on it.

    `r_wu`, `r_ans`: weighting unit and option index of the raked respondents. Returns each respondent's
    global group id (a final sentinel group for units not raked on d), the groups' populations (NaN for the
    sentinel) and their weighting units (J for the sentinel).
    """
    J, k = m.counts[d].shape
    on = np.take(m.has[:, d], r_wu)
    r_ans = r_ans.astype(np.int64)
    cnt = np.bincount((r_wu * k + r_ans)[on], minlength=J * k).reshape(J, k)
    pop_list: list[float] = []
    gwu_list: list[int] = []
    rows = np.nonzero(m.has[:, d] & (n_raked > 0))[0].tolist()
    gmap_rows = []
    for j, c_row, p_row in zip(rows, cnt[rows].tolist(), m.counts[d][rows].tolist()):
        merged = merge_categories(c_row, p_row)
        if len(merged) < k:
            warn(j, "merged_category")
        row = [0] * k
        for members in merged:
            for o in members:
                row[o] = len(pop_list)
            pop_list.append(sum(p_row[o] for o in members))
            gwu_list.append(j)
        gmap_rows.append(row)
    sentinel = len(pop_list)
    gmap = np.full((J + 1, k), sentinel, dtype=np.int64)
    if rows:
        gmap[rows] = np.array(gmap_rows, dtype=np.int64)
    g = np.take(gmap.ravel(), np.where(on, r_wu * k + r_ans, J * k))
    return g, np.array(pop_list + [np.nan]), np.array(gwu_list + [J], dtype=np.int64)


def ipf(
    w: np.ndarray,
    wu: np.ndarray,
    groups: list[np.ndarray],
    pops: list[np.ndarray],
    group_wu: list[np.ndarray],
    n_wu: int,
    tol: float = RAKE_TOL,
    max_sweeps: int = MAX_SWEEPS,
) -> tuple[np.ndarray, np.ndarray]:
    """Iterative proportional fitting of `w`, all weighting units at once.

    `wu[i]` is respondent i's weighting unit; `groups[d][i]` its (merged) category group for dimension d,
    where the last group index of `pops[d]` is a sentinel meaning "not raked on d". Each sweep adjusts the
    dimensions in order (w ← w · N_g / Σ_g w). A unit is frozen once every one of its margins matches to
    relative `tol` after a sweep. Returns the raked weights and a (n_wu,) converged mask.
    """
    w = w.astype(float).copy()
    converged = np.zeros(n_wu + 1, dtype=bool)
    active = np.bincount(wu, minlength=n_wu + 1) > 0
    active[n_wu] = False
    pos = np.arange(len(w))
    wk, wuk, gk = w.copy(), wu, list(groups)
    sizes = [len(p) for p in pops]
    safe_pops = [np.where(np.isnan(p), 1.0, p) for p in pops]
    s0 = None  # margins of dimension 0 for the current weights, when already known
    for _ in range(max_sweeps):
        g_active = [active[gw] for gw in group_wu]
        for d in range(len(gk)):
            s = s0 if d == 0 and s0 is not None else np.bincount(gk[d], weights=wk, minlength=sizes[d])
            ok = g_active[d] & (s > 0)
            f = np.ones(sizes[d])
            f[ok] = safe_pops[d][ok] / s[ok]
            wk *= f[gk[d]]
        # check every margin; a unit's last raked dimension was just matched, so only earlier ones can be off
        err = np.zeros(n_wu + 1)
        for d in range(len(gk) - 1):
            s = np.bincount(gk[d], weights=wk, minlength=sizes[d])
            if d == 0:
                s0 = s
            rel = np.where(g_active[d], np.abs(s - safe_pops[d]) / safe_pops[d], 0.0)
            np.maximum.at(err, group_wu[d], rel)
        done = active & (err <= tol)
        converged |= done
        active &= ~done
        if not active.any():
            break
        keep = active[wuk]
        if keep.sum() < 0.5 * len(wk):  # drop converged units from the working set
            w[pos] = wk
            pos, wk, wuk = pos[keep], wk[keep], wuk[keep]
            gk = [g[keep] for g in gk]
            s0 = None
    w[pos] = wk
    return w, converged[:n_wu]


def rake_weights(
    spec: QuestionnaireSpec,
    hierarchy: Hierarchy,
    margins: pd.DataFrame | None,
    coded: CodedResponses,
    weight_cap: float = DEFAULT_WEIGHT_CAP,
) -> Weighting:
    """Final weights of all responses (docs/method.md "Weights")."""
    m, wave_warnings = read_margins(spec, hierarchy, margins)
    unit_warnings: dict[int, set[str]] = defaultdict(set)
    n = coded.n
    weights = np.ones(n)
    J = len(m.units)
    if J == 0 or n == 0:
        return Weighting(weights, dict(unit_warnings), wave_warnings)

    def warn(j: int, code: str) -> None:
        unit_warnings[int(m.units[j])].add(code)

    wu_all = weighting_units(hierarchy, m)[coded.unit]  # (n,)
    answers = [coded.answers[it.key] for it in m.dimensions]
    D = len(m.dimensions)
    in_wu = wu_all >= 0
    raked = in_wu.copy()
    wsafe = np.maximum(wu_all, 0)
    for d in range(D):
        raked &= ~np.take(m.has[:, d], wsafe) | (answers[d] >= 0)
    n_in = np.bincount(wu_all[in_wu], minlength=J)
    n_raked = np.bincount(wu_all[raked], minlength=J)

    # merge empty categories; group ids are global over the weighting units, per dimension
    r_idx = np.nonzero(raked)[0]
    r_wu = wu_all[r_idx]
    groups, pops, group_wu = [], [], []
    for d in range(D):
        g, p, gw = _category_groups(m, d, r_wu, np.take(answers[d], r_idx), n_raked, warn)
        groups.append(g)
        pops.append(p)
        group_wu.append(gw)

    # rake from weight 1, then trim at cap × the unit's mean raked weight and re-rake from the capped weights
    w, conv = ipf(np.ones(len(r_idx)), r_wu, groups, pops, group_wu, J)
    if weight_cap and weight_cap > 0:
        cap = weight_cap * np.bincount(r_wu, weights=w, minlength=J) / np.maximum(n_raked, 1)
        over = np.zeros(J, dtype=bool)
        over[r_wu[w > cap[r_wu] * (1 + TRIM_SLACK)]] = True
        sel = np.nonzero(over[r_wu])[0]  # raked respondents of the units still being trimmed
        rounds = 0
        while len(sel):
            sel_wu = r_wu[sel]
            if rounds == MAX_TRIM_ROUNDS:
                for j in np.unique(sel_wu):
                    warn(j, "trim_not_converged")
                break
            sel_groups = [g[sel] for g in groups]
            w_sel, conv_sel = ipf(np.minimum(w[sel], cap[sel_wu]), sel_wu, sel_groups, pops, group_wu, J)
            w[sel] = w_sel
            conv[over] = conv_sel[over]
            rounds += 1
            cap = weight_cap * np.bincount(sel_wu, weights=w_sel, minlength=J) / np.maximum(n_raked, 1)
            over = np.zeros(J, dtype=bool)
            over[sel_wu[w_sel > cap[sel_wu] * (1 + TRIM_SLACK)]] = True
            sel = sel[over[sel_wu]]
    for j in np.nonzero((n_raked > 0) & ~conv)[0]:
        warn(j, "raking_not_converged")

    weights[r_idx] = w
    # left out of the raking: the mean raked weight of the unit; no raked respondent at all: N / n
    mean = np.bincount(r_wu, weights=w, minlength=J) / np.maximum(n_raked, 1)
    fallback = np.where(n_raked > 0, mean, m.totals / np.maximum(n_in, 1))
    left = in_wu & ~raked
    weights[left] = fallback[wu_all[left]]
    for j in np.nonzero((n_in > n_raked) & (n_raked > 0))[0]:
        warn(j, "dimension_unanswered")
    for j in np.nonzero((n_in > 0) & (n_raked == 0))[0]:
        warn(j, "raking_impossible")
    return Weighting(weights, dict(unit_warnings), wave_warnings)
