"""The linearised (Taylor) variance of a stratified, clustered design with fixed weights.

What R's `survey::svyrecvar` computes for `svydesign(ids=~psu, strata=~stratum, weights=~w,
nest=TRUE)` with `options(survey.lonely.psu="certainty")` and no finite-population correction
(docs/method.md "Item results and key drivers"): for linearised values z_i (one column per
statistic, already divided by the domain weight totals as needed, 0 outside the domain),

    V = Σ_h n_h/(n_h − 1) Σ_{p∈h} (z_hp − z̄_h)(z_hp − z̄_h)ᵀ,

z_hp the PSU totals, z̄_h their mean over the n_h PSUs of stratum h in the FULL design (a PSU with no
member of the domain has total 0, as `subset()` keeps it), a stratum with one PSU contributing 0.

This module is the one variance engine of the analysis: the stratum factors f_h, the centring of
PSU totals within their stratum, and the linearisation of a ratio (`ratio_moments`) are written here
once. The domain means, their SEs and the composite (analysis.estimates, which sums the centred
moments of all domains at once instead of one Z per domain), the weak items' differences and the key
drivers' influence functions (analysis.items) all build on these; `linearised_variance` is the same
sum for any Z, and a test checks that it gives every domain mean's SE (tests/analysis/test_items.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .design import Design


def stratum_factors(design: Design) -> np.ndarray:
    """f_h = n_h/(n_h − 1) per stratum, 0 for a stratum of one PSU (R's lonely.psu="certainty")."""
    nh = design.n_psu.astype(float)
    return np.where(nh > 1, nh / np.maximum(nh - 1, 1), 0.0)


def centred_psu_totals(design: Design, totals: np.ndarray) -> np.ndarray:
    """PSU totals (P,) or (P, m), each minus the mean of its stratum's n_h PSUs: z_hp − z̄_h."""
    ph, H = design.psu_stratum, len(design.n_psu)
    nh = np.maximum(design.n_psu.astype(float), 1)
    if totals.ndim == 1:
        return totals - (np.bincount(ph, weights=totals, minlength=H) / nh)[ph]
    mean = np.empty((H, totals.shape[1]))
    for j in range(totals.shape[1]):
        mean[:, j] = np.bincount(ph, weights=totals[:, j], minlength=H) / nh
    return totals - mean[ph]


def ratio_moments(design: Design, A: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The linearisation of a ratio (a mean ŷ = ΣA/ΣB over a domain made of whole strata), shared by
    every domain estimate, the weak items' differences and the composite: from the PSU sums A = Σ w y
    and B = Σ w, per stratum W_h = ΣB, SY_h = ΣA and c_h = SY_h/W_h, and per PSU the centred
    α = (A − c_h B) − its stratum mean and β = B − its stratum mean. A domain's linearised PSU total
    in stratum h is (α − δ_h β)/W_d up to the stratum's mean, δ_h = ŷ_d − c_h, so that its variance
    term is f_h Σ_p (α − δ_h β)² (docs/method.md "Variance")."""
    ph, H = design.psu_stratum, len(design.n_psu)
    W_h = np.bincount(ph, weights=B, minlength=H)
    SY_h = np.bincount(ph, weights=A, minlength=H)
    c_h = np.divide(SY_h, W_h, out=np.zeros(H), where=W_h > 0)
    alpha = centred_psu_totals(design, A - c_h[ph] * B)
    beta = centred_psu_totals(design, B)
    return W_h, SY_h, c_h, alpha, beta


def linearised_variance(
    design: Design, Z: np.ndarray, covariance: bool = True, rows: np.ndarray | None = None
) -> np.ndarray:
    """The (m, m) covariance matrix of the m statistics whose linearised values are the columns of
    Z (n, m) — or, with `covariance=False`, only their (m,) variances. A 1-d Z is one statistic.

    `rows`: when given, Z holds only these respondents' values (every other respondent's are 0), so
    that a small domain costs in proportion to its size; the PSUs of a stratum without a value there
    still count in n_h and in the stratum's mean, as zeros.
    """
    Z = np.asarray(Z, dtype=float)
    if Z.ndim == 1:
        Z = Z[:, None]
    m = Z.shape[1]
    if rows is None:
        psu = design.psu
    else:
        psu = design.psu[np.asarray(rows)]
    if len(psu) == 0:
        return np.zeros((m, m)) if covariance else np.zeros(m)
    n_all = len(design.psu_stratum)
    if 4 * len(psu) >= n_all:  # a large domain: the totals of every PSU of the design, no renumbering
        return _dense_variance(design, Z, psu, covariance)
    local, psus = pd.factorize(psu, sort=True)  # the PSUs with a value, numbered 0..T-1
    T = len(psus)
    totals = np.empty((T, m))
    for j in range(m):
        totals[:, j] = np.bincount(local, weights=Z[:, j], minlength=T)
    strata, stratum = np.unique(design.psu_stratum[psus], return_inverse=True)
    nh = design.n_psu[strata].astype(float)
    S = len(strata)
    mean = np.empty((S, m))
    for j in range(m):
        mean[:, j] = np.bincount(stratum, weights=totals[:, j], minlength=S) / nh
    dev = totals - mean[stratum]
    untouched = nh - np.bincount(stratum, minlength=S)  # PSUs of the stratum with total 0: deviation −z̄_h
    factor = stratum_factors(design)[strata]
    f_psu = factor[stratum]
    f_rest = factor * untouched
    if covariance:
        return (dev * f_psu[:, None]).T @ dev + (mean * f_rest[:, None]).T @ mean
    return np.einsum("pm,p,pm->m", dev, f_psu, dev) + np.einsum("sm,s,sm->m", mean, f_rest, mean)


def _dense_variance(design: Design, Z: np.ndarray, psu: np.ndarray, covariance: bool) -> np.ndarray:
    """The same sum over every PSU of the design (those without a value in Z have total 0)."""
    m = Z.shape[1]
    P = len(design.psu_stratum)
    totals = np.empty((P, m))
    for j in range(m):
        totals[:, j] = np.bincount(psu, weights=Z[:, j], minlength=P)
    dev = centred_psu_totals(design, totals)
    f_psu = stratum_factors(design)[design.psu_stratum]
    if covariance:
        return (dev * f_psu[:, None]).T @ dev
    return np.einsum("pm,p,pm->m", dev, f_psu, dev)
