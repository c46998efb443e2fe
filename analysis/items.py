"""Item results: what a unit should fix (docs/method.md "Item results", docs/method.md
"Item results and key drivers").

- `items`: every scored single-choice item's weighted mean score per unit's domain, with its
  linearised SE and the clipped 95% CI of a score indicator (`estimate_domains` with the item scores
  as columns and no composite).
- `options`: for every `multiple` item and every unscored single-choice item that is not a raking
  dimension, the share (0–100) choosing each option among the respondents to whom the item applied
  (`show_if`) and who answered it, with the Korn–Graubard CI of `analysis.intervals.share_interval`.
- `weak_items` of a ranked unit: the scored items where its mean lies below its parent's by more than
  1.959964 SE of the difference, the difference linearised on the full design (R: `svycontrast` of
  `svytotal`s), lowest difference first, at most 3.
- `drivers` (root and counties): the survey-weighted regression of the first indicator's value on the
  scores of the composite's other items, fitted by WLS, with SEs from `linearised_variance` of the
  regression's influence functions (R: `svyglm` on `subset(des, d & complete)`).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .design import Design
from .estimates import DomainMeans, PsuSums, choice_base, choice_counts, domain_means, psu_sums, value_sums
from .hierarchy import Hierarchy
from .intervals import Z95, psu_degf, score_interval, share_interval
from .responses import CodedResponses
from .results import Estimate
from .spec import Item, QuestionnaireSpec
from .variance import centred_psu_totals, stratum_factors

WEAK_MAX = 3
DRIVER_KINDS = ("county",)
INTERCEPT = "(Intercept)"


def _f(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def scored_items(spec: QuestionnaireSpec) -> list[Item]:
    return [it for it in spec.items if it.is_single_choice and it.is_scored]


def share_items(spec: QuestionnaireSpec) -> list[Item]:
    """`multiple` items, and unscored single-choice items that are not a raking dimension."""
    return [
        it for it in spec.items
        if it.is_multiple or (it.is_single_choice and not it.is_scored and it.dimension is None)
    ]


def _scores(item: Item) -> np.ndarray:
    """The item's score by answer slot (0 = not answered, i + 1 = option i), NaN = no score (说不清)."""
    return np.array([np.nan] + [np.nan if o.score is None else float(o.score) for o in item.options])


def _domain_sum(hierarchy: Hierarchy, x_h: np.ndarray) -> np.ndarray:
    """Per-stratum values (H, …) summed into every unit's domain (U, …)."""
    out = np.zeros((hierarchy.size,) + x_h.shape[1:])
    for L in range(hierarchy.domains.shape[1]):
        strata = np.nonzero(hierarchy.domains[:, L] >= 0)[0]
        targets = hierarchy.depth == L
        acc = np.zeros_like(out)
        np.add.at(acc, hierarchy.domains[strata, L], x_h[strata])
        out[targets] = acc[targets]
    return out


def item_results(
    spec: QuestionnaireSpec,
    hierarchy: Hierarchy,
    coded: CodedResponses,
    design: Design,
    Y: np.ndarray,
    ranked: Sequence[bool],
) -> list[dict[str, Any]]:
    """Per unit (hierarchy order): {"items", "options", "weak_items", "drivers"} as UnitResult fields.

    `Y`: the (n, K) indicator values of `indicator_values`; `ranked`: whether each unit is ranked
    (`analysis.ranking.ranked_units`).
    """
    U = hierarchy.size
    out: list[dict[str, Any]] = [
        {"items": {}, "options": {}, "weak_items": None, "drivers": None} for _ in range(U)
    ]
    bases: dict[int, np.ndarray] = {}  # `choice_base` per number of options, shared by the items

    def counts(answer: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if k not in bases:
            bases[k] = choice_base(design, k)
        return choice_counts(design, answer, k, bases[k])

    # -- items ------------------------------------------------------------------------------------
    # Every column below is a function of one item's answer: each PSU's respondents are counted by
    # answer once per item (`choice_counts`), and the columns' PSU sums follow from those counts.
    scored = scored_items(spec)
    if scored:
        sums = PsuSums(*(np.column_stack(c) for c in zip(*(
            value_sums(*counts(coded.answers[it.key], len(it.options)), _scores(it)) for it in scored
        ))))
        means = domain_means(design, hierarchy.domains, hierarchy.depth, sums)
        lo, hi = score_interval(means.estimate, means.se)
        keys = [it.key for it in scored]
        # Python floats and ints through tolist, one C call per array (indexing numpy arrays one value
        # at a time cost more than building the 12,000 results of the benchmark), as flat lists: one
        # list per row would be 10,000 short-lived containers for the garbage collector to count
        E, S, LO, HI, N = (a.ravel().tolist() for a in (means.estimate, means.se, lo, hi, means.n_value))
        K = len(keys)
        for u in range(U):
            out[u]["items"] = {
                key: Estimate(E[i], S[i], LO[i], HI[i], N[i]) if math.isfinite(E[i]) else Estimate.missing(n=N[i])
                for i, key in enumerate(keys, u * K)
            }
        weak = _weak_items(hierarchy, design, means, scored, ranked)
        for u, w in weak.items():
            out[u]["weak_items"] = w

    # -- options ----------------------------------------------------------------------------------
    shares = share_items(spec)
    if shares:
        columns: list[tuple[Item, int]] = []
        blocks: list[PsuSums] = []
        for it in shares:
            ok = coded.answered(it.key)
            if it.show_if is not None:
                ok &= coded.applies(spec, it.key)
            k = len(it.options)
            if it.is_multiple:
                blocks.append(psu_sums(design, np.where(ok[:, None], 100.0 * coded.chosen[it.key], np.nan)))
            else:  # option i: 100 if chosen, 0 if another, missing where the item did not apply or was not answered
                answer = coded.answers[it.key] if it.show_if is None else np.where(ok, coded.answers[it.key], -1)
                c = counts(answer, k)
                parts = [value_sums(*c, np.array([np.nan] + [100.0 * (o == i) for o in range(k)])) for i in range(k)]
                blocks.append(PsuSums(*(np.column_stack(c) for c in zip(*parts))))
            columns.extend((it, i) for i in range(k))
        sums = PsuSums(*(np.hstack(c) for c in zip(*((b.A, b.B, b.N) for b in blocks))))
        means = domain_means(design, hierarchy.domains, hierarchy.depth, sums)
        # R's degrees of freedom of an option's domain: those of its item's respondents (the same for
        # every option), from whether each PSU holds one (its count of present values)
        first = np.cumsum([0] + [len(it.options) for it in shares])[:-1]
        df_item = psu_degf(design.psu_stratum, hierarchy.domains, hierarchy.depth, sums.N[:, first] > 0)
        df = np.repeat(df_item, [len(it.options) for it in shares], axis=1)
        lo, hi = share_interval(means.estimate, means.se, means.n_value, df)
        codes = [(it.key, it.options[i].code) for it, i in columns]
        E, S, LO, HI, N = (a.ravel().tolist() for a in (means.estimate, means.se, lo, hi, means.n_value))
        C = len(codes)
        for u in range(U):
            options: dict[str, dict[str, Estimate]] = {it.key: {} for it in shares}
            for i, (key, code) in enumerate(codes, u * C):
                e, n = E[i], N[i]
                options[key][code] = (
                    Estimate.missing(n=n) if n == 0 or not math.isfinite(e) else Estimate(e, S[i], _f(LO[i]), _f(HI[i]), n=n)
                )
            out[u]["options"] = options

    # -- drivers ----------------------------------------------------------------------------------
    for u, drivers in _drivers(spec, hierarchy, coded, design, Y).items():
        out[u]["drivers"] = drivers
    return out


def _weak_items(
    hierarchy: Hierarchy,
    design: Design,
    means: DomainMeans,
    items: Sequence[Item],
    ranked_mask: Sequence[bool],
) -> dict[int, list[dict[str, Any]]]:
    """Ranked unit → its weak items.

    Var(ŷ_u − ŷ_p) for the linearised z_i = w_i(y_i − ŷ_u)1[i∈u]/W_u − w_i(y_i − ŷ_p)1[i∈p]/W_p (present
    values only). In stratum h the PSU totals are z_hp = a_h A_hp − b_h B_hp with A = Σ w y, B = Σ w over
    the PSU, a_h = 1[h∈u]/W_u − 1[h∈p]/W_p, b_h = 1[h∈u]ŷ_u/W_u − 1[h∈p]ŷ_p/W_p; so the stratum's term is
    f_h (a² Saa − 2 a e Sab + e² Sbb), e = b − a c_h, from the stratum-centred moments of α = A − c_h B and
    β = B. The parent's own terms sum to se_p²; only the strata of u change them:
    Var = se_p² + Σ_{h∈u} f_h (q_h(u and p) − 1[h∈p] q_h(p alone)).
    """
    ranked = [u for u in range(hierarchy.size) if ranked_mask[u] and hierarchy.parent[u] >= 0]
    if not ranked:
        return {}
    f = stratum_factors(design)
    estimate, se = means.estimate, means.se
    # the per-stratum moments of the PSU sums of w y and w over the present values, linearised as
    # every domain mean is: those `domain_means` computed the means from
    W_h, c_h, Saa, Sab, Sbb = means.W, means.c, means.Saa, means.Sab, means.Sbb
    W_d = _domain_sum(hierarchy, W_h)

    # (unit, stratum) for every stratum of every ranked unit's domain
    is_ranked = np.zeros(hierarchy.size, dtype=bool)
    is_ranked[ranked] = True
    eu, eh = [], []
    for L in range(hierarchy.domains.shape[1]):
        strata = np.nonzero(hierarchy.domains[:, L] >= 0)[0]
        units = hierarchy.domains[strata, L]
        keep = is_ranked[units]
        eu.append(units[keep])
        eh.append(strata[keep])
    eu_a, eh_a = np.concatenate(eu), np.concatenate(eh)
    ep = hierarchy.parent[eu_a]
    in_p = (hierarchy.domains[eh_a, hierarchy.depth[ep]] == ep).astype(float)[:, None]

    with np.errstate(invalid="ignore", divide="ignore"):
        Wu, Wp = W_d[eu_a], W_d[ep]
        yu, yp = estimate[eu_a], estimate[ep]
        c = c_h[eh_a]
        a = 1.0 / Wu - in_p / Wp
        e = yu / Wu - in_p * yp / Wp - a * c
        ap = -1.0 / Wp
        e_p = -(yp - c) / Wp
        saa, sab, sbb = Saa[eh_a], Sab[eh_a], Sbb[eh_a]
        q = a * a * saa - 2 * a * e * sab + e * e * sbb
        qp = ap * ap * saa - 2 * ap * e_p * sab + e_p * e_p * sbb
        term = f[eh_a][:, None] * (q - in_p * np.nan_to_num(qp))
    change = np.zeros((hierarchy.size, estimate.shape[1]))
    np.add.at(change, eu_a, term)

    ranked_a = np.array(ranked)
    par = hierarchy.parent[ranked_a]
    diff = estimate[ranked_a] - estimate[par]
    with np.errstate(invalid="ignore"):
        s_diff = np.sqrt(np.maximum(se[par] ** 2 + change[ranked_a], 0.0))
        weak = np.isfinite(diff) & np.isfinite(s_diff) & (diff < -Z95 * s_diff)
    # the weak (unit, item) pairs, each unit's lowest difference first (ties: by item key), at most
    # WEAK_MAX per unit: sorted at once rather than one small list per unit
    result: dict[int, list[dict[str, Any]]] = {u: [] for u in ranked}
    ii, jj = np.nonzero(weak)
    if len(ii):
        key_rank = np.argsort(np.argsort(np.array([it.key for it in items], dtype=object)))  # keys are unique
        order = np.lexsort((key_rank[jj], diff[ii, jj], ii))
        ii, jj = ii[order], jj[order]
        first = np.r_[0, np.flatnonzero(np.diff(ii)) + 1]
        place = np.arange(len(ii)) - np.repeat(first, np.diff(np.r_[first, len(ii)]))
        ii, jj = ii[place < WEAK_MAX], jj[place < WEAK_MAX]
        for i, j, est, par_est, d, s in zip(
            ii.tolist(), jj.tolist(), estimate[ranked_a[ii], jj].tolist(), estimate[par[ii], jj].tolist(),
            diff[ii, jj].tolist(), s_diff[ii, jj].tolist(),
        ):
            result[ranked[i]].append({"item": items[j].key, "estimate": est, "parent_estimate": par_est, "diff": d, "se": s})
    return result


def driver_items(spec: QuestionnaireSpec) -> list[str]:
    """The scores the first indicator is regressed on: the items of the composite's other indicators
    (a `share_of` one: its item), without the first indicator's own items, each once, in order."""
    first = spec.indicators[0]
    own = set(first.items) | ({first.share_item} if first.share_item else set())
    keys: list[str] = []
    for ind in spec.indicators[1:]:
        if not ind.weight:
            continue
        for key in ind.items if not ind.is_share else (ind.share_item,):
            if key not in own and key not in keys:
                keys.append(key)
    return keys


def _drivers(
    spec: QuestionnaireSpec,
    hierarchy: Hierarchy,
    coded: CodedResponses,
    design: Design,
    Y: np.ndarray,
) -> dict[int, dict[str, Any] | None]:
    """Root and counties → {"n", "coef": {name: {"estimate", "se"}}}, None when the regression cannot
    be fitted (no other items, fewer complete respondents than coefficients, collinear scores).

    Respondents with the same scores share a row of the design matrix (a pattern): WLS on the patterns,
    weighted by their weight totals, with the weighted mean of y, has the same normal equations (X'WX,
    X'Wy) as WLS on the respondents, so the same coefficients. The targets of one depth (the counties)
    hold disjoint sets of whole strata, so they are fitted from one count per (target, pattern), and
    their variances follow from one pass of PSU totals of the influence functions: each PSU belongs to
    the one target whose domain holds its stratum (`linearised_variance`'s sum, for all of them at once).
    """
    from statsmodels.regression import linear_model as sm  # imported on first use, not at app start

    targets = [0] + [u for u in range(1, hierarchy.size) if hierarchy.kinds[u] in DRIVER_KINDS]
    keys = driver_items(spec)
    result: dict[int, dict[str, Any] | None] = dict.fromkeys(targets)
    if not keys or coded.n == 0:
        return result
    names = [INTERCEPT] + keys
    m = len(names)
    tables = [_scores(spec.item(k)) for k in keys]
    # (1-d gathers below use `take`: the same values as indexing, in half the time on a million rows)
    ok = ~np.isnan(Y[:, 0])
    for k, table in zip(keys, tables):
        ok &= np.append(~np.isnan(table[1:]), False).take(coded.answers[k].astype(np.intp))  # answer -1 (none) → the last entry
    complete = np.flatnonzero(ok)
    y_c, w_c = Y[:, 0].take(complete), design.weights.take(complete)
    # the complete respondents' options (0..k−1, every one scored), in the answers' own integer type
    chosen = [coded.answers[k].take(complete) for k in keys]
    scores = [table[1:] for table in tables]  # by option
    radix = [len(t) for t in tables]
    if math.prod(radix) < 2**62:
        raw = chosen[0].astype(np.int64)
        for option, r in zip(chosen[1:], radix[1:]):
            raw *= r
            raw += option
        pattern, uniques = pd.factorize(raw)
        digits = np.empty((len(uniques), len(keys)), dtype=np.int64)
        rest = np.asarray(uniques, dtype=np.int64)
        for j in range(len(keys) - 1, -1, -1):
            rest, digits[:, j] = np.divmod(rest, radix[j])
    else:  # very many items: number the patterns one item at a time
        pattern = np.zeros(len(complete), dtype=np.int64)
        for option, r in zip(chosen, radix):
            pattern = pd.factorize(pattern * r + option)[0]
        first = np.unique(pattern, return_index=True)[1]
        digits = np.column_stack([option[first] for option in chosen])
    n_pattern = len(digits)
    pattern_x = np.ones((n_pattern, m))
    for j, score in enumerate(scores):
        pattern_x[:, j + 1] = score[digits[:, j]]
    # Per respondent, once for every depth: the scores (the design matrix's columns without going
    # through an (n, m) gather), w·y and the PSU.
    x_c = [score.take(option) for score, option in zip(scores, chosen)]
    wy_c = w_c * y_c
    psu_c = design.psu.take(complete)
    P = len(design.psu_stratum)
    ph = design.psu_stratum
    f = stratum_factors(design)
    for L in sorted({int(hierarchy.depth[u]) for u in targets}):
        at = np.array([u for u in targets if hierarchy.depth[u] == L])
        T = len(at)
        # unit → its place in `at`; a stratum outside every target's domain (and -1: none) → T, a spare
        # row that is dropped: no copies of the respondents' arrays for a depth that leaves some out
        slot_of = np.full(hierarchy.size + 1, T, dtype=np.int64)
        slot_of[at] = np.arange(T)
        t_p = slot_of[hierarchy.domains[ph, L]]  # each PSU's target (through its stratum)
        if (t_p == 0).all():  # one target holding every stratum (the root): the cell is the pattern
            t_c, cell = None, pattern
        else:
            t_c = t_p.take(psu_c)
            cell = t_c * n_pattern
            cell += pattern
        size = (T + 1) * n_pattern
        W_tg = np.bincount(cell, weights=w_c, minlength=size).reshape(T + 1, n_pattern)
        WY_tg = np.bincount(cell, weights=wy_c, minlength=size).reshape(T + 1, n_pattern)
        n_t = np.bincount(t_c, minlength=T + 1) if t_c is not None else np.array([len(complete), 0])
        betas = np.full((T, m), np.nan)
        inverses: dict[int, np.ndarray] = {}
        for t in range(T):
            if n_t[t] <= m:
                continue
            used = np.flatnonzero(W_tg[t] > 0)
            X_g, W_g = pattern_x[used], W_tg[t, used]
            y_g = WY_tg[t, used] / W_g
            xtwx = X_g.T @ (X_g * W_g[:, None])
            if np.linalg.matrix_rank(xtwx) < m:
                continue
            betas[t] = np.asarray(sm.WLS(y_g, X_g, weights=W_g).fit().params)
            inverses[t] = np.linalg.inv(xtwx)
        if not inverses:
            continue
        # influence functions h_i = w_i r_i x_i (X'WX)⁻¹ of each target's own fit; Var(h) = (X'WX)⁻¹ Var(w r x) (X'WX)⁻¹.
        # The fitted value of (target, pattern) is looked up by the same cell number (the spare row: 0).
        fit_tg = np.zeros((T + 1, n_pattern))
        fit_tg[:T] = (pattern_x @ np.nan_to_num(betas).T).T
        # z = w (y − fitted) and z x_j, in two buffers: each fresh array of a million values costs its
        # page faults again (glibc maps arrays this large anew), as much as the arithmetic itself
        z = fit_tg.ravel().take(cell)
        np.subtract(y_c, z, out=z)
        np.multiply(w_c, z, out=z)
        zx = np.empty_like(z)
        totals = np.empty((P, m))
        totals[:, 0] = np.bincount(psu_c, weights=z, minlength=P)
        for j, x in enumerate(x_c):
            totals[:, j + 1] = np.bincount(psu_c, weights=np.multiply(z, x, out=zx), minlength=P)
        dev = centred_psu_totals(design, totals)
        keep = t_p < T  # T: the PSU's stratum is in no target's domain
        fd = (f[ph] * keep)[:, None] * dev
        # the PSUs of the targets, each column contiguous (the products below read them m times)
        kept = np.flatnonzero(keep)
        t_k, fd_k, dev_k = t_p.take(kept), fd.take(kept, axis=0).T.copy(), dev.take(kept, axis=0).T.copy()
        var = np.empty((T, m, m))
        for i in range(m):
            for j in range(i, m):
                var[:, i, j] = var[:, j, i] = np.bincount(t_k, weights=fd_k[i] * dev_k[j], minlength=T)
        for t, a_inv in inverses.items():
            cov = a_inv.T @ var[t] @ a_inv
            se = np.sqrt(np.maximum(np.diag(cov), 0.0))
            result[int(at[t])] = {
                "n": int(n_t[t]),
                "coef": {name: {"estimate": float(betas[t, i]), "se": float(se[i])} for i, name in enumerate(names)},
            }
    return result
