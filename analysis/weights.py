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
COMPACT = 0.5  # drop the converged units' respondents once those still raked are fewer than this share
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
    """Validate population margins; rows of units outside the scope are ignored (returns wave warnings too).

    Checked column-wise; the error raised is the one of the first bad row, as a row-by-row reading
    would find it (in each row: the category, then the count, then a repeat of an earlier row)."""
    warnings: set[str] = set()
    dims_by_name = spec.dimensions
    if margins is None or len(margins) == 0:
        return _no_margins(), warnings
    missing = [c for c in MARGIN_COLUMNS if c not in margins.columns]
    if missing:
        raise AnalysisError("bad_margins", f"人口数据缺少列:{_sample(missing)}")
    option_index = {dim: {o.code: i for i, o in enumerate(it.options)} for dim, it in dims_by_name.items()}
    values = pd.to_numeric(margins["count"], errors="coerce").to_numpy(dtype=float)
    # each row's unit, dimension and category as text (str(value).strip()), numbered
    code_id, codes = _stripped(margins["unit_code"])
    dim_id, dims = _stripped(margins["dimension"])
    cat_id, cats = _stripped(margins["category"])
    unit = np.array([hierarchy.index.get(c, -1) for c in codes], dtype=np.int64)[code_id]
    known_dim = np.array([d in option_index for d in dims], dtype=bool)[dim_id]
    in_scope = unit >= 0
    if (in_scope & ~known_dim).any():
        warnings.add("dimension_not_in_questionnaire")
    read = in_scope & known_dim
    position = np.full((len(dims), len(cats)), -1, dtype=np.int64)  # (dimension, category) → option index
    for a, dim in enumerate(dims):
        index = option_index.get(dim)
        if index is not None:
            position[a] = [index.get(c, -1) for c in cats]
    option = position[dim_id, cat_id]
    bad_category = read & (option < 0)
    bad_count = read & ~bad_category & ~(np.isfinite(values) & (values >= 0))
    repeated = np.zeros(len(unit), dtype=bool)
    checked = np.flatnonzero(read & ~bad_category)
    span = max(int(option.max()) + 1, 1)
    key = (unit[checked] * len(dims) + dim_id[checked]) * span + option[checked]
    repeated[checked] = pd.Series(key).duplicated(keep="first").to_numpy()
    repeated &= ~bad_count
    bad = bad_category | bad_count | repeated
    if bad.any():
        r = int(np.argmax(bad))
        code, dim, cat = codes[code_id[r]], dims[dim_id[r]], cats[cat_id[r]]
        if bad_category[r]:
            item = dims_by_name[dim]
            raise AnalysisError(
                "unknown_category",
                f"单位 {code} 的人口维度 “{dim}” 中,类别 “{cat}” 不是题目 “{item.key}” 的选项代码"
                f"(有效代码:{'、'.join(o.code for o in item.options)})",
            )
        if bad_count[r]:
            raw = margins["count"].tolist()[r]
            raise AnalysisError("bad_count", f"单位 {code} 的人口数 {dim}={cat} 应为非负数,实际为 “{raw}”")
        raise AnalysisError("duplicate_margin", f"单位 {code} 的人口数 {dim}={cat} 重复出现")
    rows = np.flatnonzero(read)
    if not len(rows):
        return _no_margins(), warnings

    wu = np.unique(unit[rows])
    has_margins = np.zeros(hierarchy.size, dtype=bool)
    has_margins[wu] = True
    # nested margins: a unit with margins may not have an ancestor with margins (the first unit in code
    # order that has one is named, with its nearest such ancestor)
    nearest = np.full(len(wu), -1, dtype=np.int64)
    p = hierarchy.parent[wu]
    while (p >= 0).any():
        hit = (p >= 0) & (nearest < 0) & has_margins[np.maximum(p, 0)]
        nearest[hit] = p[hit]
        p = np.where(p >= 0, hierarchy.parent[np.maximum(p, 0)], -1)
    if (nearest >= 0).any():
        j = int(np.argmax(nearest >= 0))
        raise AnalysisError(
            "nested_margins",
            f"单位 {hierarchy.codes[nearest[j]]} 与其下级单位 {hierarchy.codes[wu[j]]} 都给出了人口数;"
            "加权层级只能有一层,请删去其中一个单位的人口数",
        )

    present = {dims[a] for a in np.unique(dim_id[rows])}
    dimensions = tuple(it for it in spec.items if it.dimension and it.dimension in present)
    J, D = len(wu), len(dimensions)
    j_of = np.searchsorted(wu, unit[rows])
    counts = tuple(np.zeros((J, len(it.options))) for it in dimensions)
    has = np.zeros((J, D), dtype=bool)
    for d, it in enumerate(dimensions):
        mine = dim_id[rows] == dims.index(it.dimension)
        counts[d][j_of[mine], option[rows[mine]]] = values[rows[mine]]
        has[j_of[mine], d] = True
    sums = _row_sums(counts)  # (J, D)
    hi = np.where(has, sums, -np.inf).max(axis=1)
    lo = np.where(has, sums, np.inf).min(axis=1)
    wrong = (hi - lo > TOTALS_TOL * hi) | (hi <= 0)
    if wrong.any():
        j = int(np.argmax(wrong))
        u = wu[j]
        if hi[j] - lo[j] > TOTALS_TOL * hi[j]:
            detail = "、".join(f"{it.dimension}={sums[j, d]:g}" for d, it in enumerate(dimensions) if has[j, d])
            raise AnalysisError("margin_totals_disagree", f"单位 {hierarchy.codes[u]} 各人口维度的合计不一致:{detail}")
        raise AnalysisError("empty_population", f"单位 {hierarchy.codes[u]} 的人口合计为 0,无法加权")
    totals = sums[np.arange(J), np.argmax(has, axis=1)]  # the first dimension the unit has
    return Margins(wu, dimensions, counts, has, totals), warnings


def _stripped(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each row's `str(value).strip()`, numbered: (number per row, the distinct texts). A column of
    strings is stripped once per distinct value (two strings are equal exactly when their texts are)."""
    values = column.to_numpy()
    if values.dtype == object:
        ids, uniques = pd.factorize(values)  # None and NaN: -1
        texts = list(uniques)
        if all(type(t) is str for t in texts):
            texts = [t.strip() for t in texts]
            for r in np.flatnonzero(ids < 0):  # "None", "nan": as str() gives them
                ids[r] = len(texts)
                texts.append(str(values[r]).strip())
            merged, distinct = pd.factorize(np.array(texts, dtype=object))  # " T" and "T" are one text
            return merged[ids], list(distinct)
    ids, distinct = pd.factorize(np.array([str(v).strip() for v in column.tolist()], dtype=object))
    return ids, list(distinct)


def _row_sums(counts: tuple[np.ndarray, ...]) -> np.ndarray:
    """(J, D): each unit's population per dimension, as `counts[d][j].sum()`. Counts are whole numbers
    nearly always, and then every order of summing gives the same float: summed at once; otherwise
    row by row, exactly as a row's own sum."""
    out = np.zeros((len(counts[0]) if counts else 0, len(counts)))
    for d, c in enumerate(counts):
        if np.all(c == np.floor(c)) and c.sum() < 2**52:
            out[:, d] = c.sum(axis=1)
        else:
            out[:, d] = [row.sum() for row in c]
    return out


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
    # (unit, option + 1) of each respondent, 0 for a blank: a raked respondent of a unit raked on d never
    # left d blank, and every cell of a unit not raked on d maps to the sentinel group below
    cell = r_wu * (k + 1)
    cell += r_ans
    cell += 1
    cnt = np.bincount(cell, minlength=J * (k + 1)).reshape(J, k + 1)[:, 1:]
    pop = m.counts[d]
    rows = np.flatnonzero(m.has[:, d] & (n_raked > 0))
    # A unit whose every category has respondents and population keeps its categories (merge_categories
    # would merge nothing): those are numbered at once, the others merged one by one. Groups are numbered
    # unit by unit, each unit's in option order.
    kept = np.all((cnt[rows] > 0) & (pop[rows] > 0), axis=1) if k > 1 else np.zeros(len(rows), dtype=bool)
    merged = {}
    for i in np.flatnonzero(~kept):
        j = int(rows[i])
        merged[i] = merge_categories(cnt[j].tolist(), pop[j].tolist())
        if len(merged[i]) < k:
            warn(j, "merged_category")
    n_groups = np.full(len(rows), k, dtype=np.int64)
    for i, groups in merged.items():
        n_groups[i] = len(groups)
    first = np.concatenate(([0], np.cumsum(n_groups)))
    sentinel = int(first[-1])
    gmap = np.full((J, k + 1), sentinel, dtype=np.int64)  # (unit, option + 1) → group
    group_pop = np.full(sentinel + 1, np.nan)
    group_wu = np.full(sentinel + 1, J, dtype=np.int64)
    ids = first[:-1][kept, None] + np.arange(k)
    gmap[rows[kept], 1:] = ids
    group_pop[ids.ravel()] = pop[rows[kept]].ravel()  # a kept category's population is > 0: as summed, 0 + p = p
    group_wu[ids.ravel()] = np.repeat(rows[kept], k)
    for i, groups in merged.items():
        j = int(rows[i])
        p_row = pop[j].tolist()
        for gi, members in enumerate(groups):
            gmap[j, np.asarray(members) + 1] = first[i] + gi
            group_pop[first[i] + gi] = sum(p_row[o] for o in members)
            group_wu[first[i] + gi] = j
    return np.take(gmap.ravel(), cell), group_pop, group_wu


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
    w = w.astype(float)  # a copy: the caller's array is left alone
    converged = np.zeros(n_wu + 1, dtype=bool)
    rows_of = np.bincount(wu, minlength=n_wu + 1)
    active = rows_of > 0
    active[n_wu] = False
    # The working set: the rows `pos` of the units still raked (None: every row, and `wk` is `w` itself).
    pos = None
    wk, wuk = w, wu
    scaled = np.empty(len(w))  # the factors of the rows, one buffer for every sweep
    safe_pops = [np.where(np.isnan(p), 1.0, p) for p in pops]
    gk, pk, gwk = _working_groups(active, list(groups), safe_pops, list(group_wu), n_wu)
    s0 = None  # margins of dimension 0 for the current weights, when already known
    for _ in range(max_sweeps):
        g_active = [active[gw] for gw in gwk]
        for d in range(len(gk)):
            s = s0 if d == 0 and s0 is not None else np.bincount(gk[d], weights=wk, minlength=len(pk[d]))
            ok = g_active[d] & (s > 0)
            f = np.ones(len(pk[d]))
            f[ok] = pk[d][ok] / s[ok]
            factor = np.take(f, gk[d], out=scaled[: len(wk)], mode="clip")  # valid indices: "raise" would buffer
            np.multiply(wk, factor, out=wk)
        # check every margin; a unit's last raked dimension was just matched, so only earlier ones can be off
        err = np.zeros(n_wu + 1)
        for d in range(len(gk) - 1):
            s = np.bincount(gk[d], weights=wk, minlength=len(pk[d]))
            if d == 0:
                s0 = s
            rel = np.where(g_active[d], np.abs(s - pk[d]) / pk[d], 0.0)
            np.maximum.at(err, gwk[d], rel)
        done = active & (err <= tol)
        converged |= done
        active &= ~done
        if not active.any():
            break
        if rows_of[active].sum() < COMPACT * len(wk):  # drop converged units from the working set
            keep = np.flatnonzero(active[wuk])
            if pos is None:
                pos = keep  # `w` holds every row's weight so far
            else:
                w[pos] = wk
                pos = pos[keep]
            wk, wuk = wk[keep], wuk[keep]
            gk, pk, gwk = _working_groups(active, [g[keep] for g in gk], pk, gwk, n_wu)
            s0 = None
    if pos is not None:
        w[pos] = wk
    return w, converged[:n_wu]


def _working_groups(
    active: np.ndarray, groups: list[np.ndarray], pops: list[np.ndarray], group_wu: list[np.ndarray], n_wu: int
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """The category groups of the units still being raked (and the sentinel "not raked on d"), renumbered
    0..: a sweep then works on arrays of their size, not of every unit's groups. A frozen unit's groups
    only ever got factor 1 and error 0, and every respondent of a unit still raked stays in the working
    set in its order, so each group's sum, factor and error are the same floats."""
    out_g, out_p, out_w = [], [], []
    for g, p, gw in zip(groups, pops, group_wu):
        keep = active[gw] | (gw == n_wu)
        if keep.all():
            out_g.append(g)
            out_p.append(p)
            out_w.append(gw)
            continue
        number = np.cumsum(keep) - 1
        out_g.append(number[g])
        out_p.append(p[keep])
        out_w.append(gw[keep])
    return out_g, out_p, out_w


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
    n_in = np.bincount(wu_all + 1, minlength=J + 1)[1:]

    # merge empty categories; group ids are global over the weighting units, per dimension
    r_idx = np.nonzero(raked)[0]
    r_wu = wu_all[r_idx]
    n_raked = np.bincount(r_wu, minlength=J)
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
