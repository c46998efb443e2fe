"""95% confidence intervals that stay inside the scale (docs/method.md "Intervals").

- Score indicators and the composite: estimate ± 1.959964·SE, clipped to [0, 100].
- Shares (a `share_of` indicator, an option share): Korn–Graubard, exactly R's
  `confint(svyciprop(~y, subset(des, d & present), method="beta"))` (survey 4.x):
  with p = estimate/100 and V = (SE/100)², the effective sample size n_eff = p(1−p)/V is scaled by
  (t_{0.975, n−1} / t_{0.975, df})², n the respondents with a value and df the domain's degrees of
  freedom (PSUs with a respondent minus strata with a respondent, R's `degf`), and
  [qbeta(0.025, n_eff·p, n_eff·(1−p) + 1), qbeta(0.975, n_eff·p + 1, n_eff·(1−p))].
  Where R gives no interval (p = 0 or 1, SE = 0, n = 1, df ≤ 0), the Clopper–Pearson interval for
  x = p·n successes of n: [qbeta(0.025, x, n − x + 1), qbeta(0.975, x + 1, n − x)], with 0 and 100
  at the ends.

Vectorised: every argument may be an array (one value per unit), NaN where undefined.
"""

from __future__ import annotations

import numpy as np

Z95 = 1.959964
ALPHA = 0.05


def score_interval(estimate, se) -> tuple[np.ndarray, np.ndarray]:
    """estimate ± Z95·SE, clipped to [0, 100]; NaN where either is NaN."""
    est = np.asarray(estimate, dtype=float)
    s = np.asarray(se, dtype=float)
    return np.clip(est - Z95 * s, 0.0, 100.0), np.clip(est + Z95 * s, 0.0, 100.0)


def clopper_pearson(x, n) -> tuple[np.ndarray, np.ndarray]:
    """Exact binomial interval (as proportions) for x successes of n, x possibly non-integer."""
    from scipy import stats  # imported on first use, not at app start (docs/performance.md)

    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.where(x <= 0, 0.0, stats.beta.ppf(ALPHA / 2, np.maximum(x, 1e-300), n - x + 1))
        hi = np.where(x >= n, 1.0, stats.beta.ppf(1 - ALPHA / 2, x + 1, np.maximum(n - x, 1e-300)))
    bad = ~(n > 0) | np.isnan(x)
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def _t_quantile(df: np.ndarray) -> np.ndarray:
    """t_{0.025, df} for every value of `df`, evaluated once per distinct value (many units share their
    respondent count or their degrees of freedom; the quantile is the costly part)."""
    from scipy import stats  # imported on first use, not at app start (docs/performance.md)

    distinct, where = np.unique(df, return_inverse=True)
    return stats.t.ppf(ALPHA / 2, distinct)[where.reshape(df.shape)]


def share_interval(estimate, se, n, df) -> tuple[np.ndarray, np.ndarray]:
    """Korn–Graubard 95% interval of a share given in percent, with the Clopper–Pearson fallback;
    returns percentages, NaN where the estimate is undefined (n = 0).

    Each quantile is computed only where it is used: the Korn–Graubard one where R gives an interval,
    the Clopper–Pearson one where it does not (the same values as computing both everywhere and
    choosing, element by element)."""
    from scipy import stats  # imported on first use, not at app start (docs/performance.md)

    est = np.atleast_1d(np.asarray(estimate, dtype=float))
    p = est / 100.0
    var = (np.atleast_1d(np.asarray(se, dtype=float)) / 100.0) ** 2
    n = np.broadcast_to(np.asarray(n, dtype=float), p.shape)
    df = np.broadcast_to(np.asarray(df, dtype=float), p.shape)
    lo = np.full(p.shape, np.nan)
    hi = np.full(p.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        usable = (p > 0) & (p < 1) & (var > 0) & (n > 1) & (df > 0)
        if usable.any():
            pu, vu = p[usable], var[usable]
            t_adj = (_t_quantile(n[usable] - 1) / _t_quantile(df[usable])) ** 2
            n_eff = pu * (1 - pu) / vu * t_adj
            lo[usable] = stats.beta.ppf(ALPHA / 2, n_eff * pu, n_eff * (1 - pu) + 1)
            hi[usable] = stats.beta.ppf(1 - ALPHA / 2, n_eff * pu + 1, n_eff * (1 - pu))
    kg = usable & np.isfinite(lo) & np.isfinite(hi)
    fallback = ~kg & ~np.isnan(p)
    if fallback.any():
        lo[fallback], hi[fallback] = clopper_pearson(p[fallback] * n[fallback], n[fallback])
    lo *= 100.0
    hi *= 100.0
    if np.ndim(estimate) == 0:
        return lo[0], hi[0]
    return lo, hi


def domain_degf(
    psu: np.ndarray, stratum: np.ndarray, domains: np.ndarray, depth: np.ndarray, present: np.ndarray
) -> np.ndarray:
    """R's `degf(subset(des, d & present))` for every unit's domain and every column of `present`:
    the PSUs holding at least one domain member with a value, minus the strata holding one.

    `psu`, `stratum`: (n,) per respondent; `domains[h, L]`: the unit at depth L whose domain holds
    stratum h (-1: none); `depth`: (U,); `present`: (n, K) bool. Returns (U, K) floats.
    """
    present = np.asarray(present, dtype=bool)
    if present.ndim == 1:
        present = present[:, None]
    n, K = present.shape
    P = int(psu.max()) + 1 if n else 0
    psu_stratum = np.zeros(P, dtype=np.int64)
    psu_stratum[psu] = stratum
    psu_has = np.column_stack([np.bincount(psu[present[:, k]], minlength=P) > 0 for k in range(K)]) if K else np.zeros((P, 0), bool)
    return psu_degf(psu_stratum, domains, depth, psu_has)


def psu_degf(psu_stratum: np.ndarray, domains: np.ndarray, depth: np.ndarray, psu_has: np.ndarray) -> np.ndarray:
    """`domain_degf` from (P, K) bools, whether each PSU holds a respondent with a value in each column
    (a caller with per-PSU counts already at hand saves the pass over the respondents)."""
    H, n_levels = domains.shape
    U = H
    K = psu_has.shape[1]
    out = np.zeros((U, K))
    for k in range(K):
        psus_h = np.bincount(psu_stratum[psu_has[:, k]], minlength=H).astype(float)  # PSUs with a member, per stratum
        strata_h = (psus_h > 0).astype(float)
        for L in range(n_levels):
            strata = np.nonzero(domains[:, L] >= 0)[0]
            dom = domains[strata, L]
            targets = np.nonzero(depth == L)[0]
            total = np.bincount(dom, weights=psus_h[strata] - strata_h[strata], minlength=U)
            out[targets, k] = total[targets]
    return out
