"""The linearised (Taylor) variance of a stratified, clustered design with fixed weights.

What R's `survey::svyrecvar` computes for `svydesign(ids=~psu, strata=~stratum, weights=~w,
nest=TRUE)` with `options(survey.lonely.psu="certainty")` and no finite-population correction
(docs/method.md "Item results and key drivers"): for linearised values z_i (one column per
statistic, already divided by the domain weight totals as needed, 0 outside the domain),

    V = Σ_h n_h/(n_h − 1) Σ_{p∈h} (z_hp − z̄_h)(z_hp − z̄_h)ᵀ,

z_hp the PSU totals, z̄_h their mean over the n_h PSUs of stratum h in the FULL design (a PSU with no
member of the domain has total 0, as `subset()` keeps it), a stratum with one PSU contributing 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .design import Design


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
    factor = np.where(nh > 1, nh / np.maximum(nh - 1, 1), 0.0)
    f_psu = factor[stratum]
    f_rest = factor * untouched
    if covariance:
        return (dev * f_psu[:, None]).T @ dev + (mean * f_rest[:, None]).T @ mean
    return np.einsum("pm,p,pm->m", dev, f_psu, dev) + np.einsum("sm,s,sm->m", mean, f_rest, mean)


def _dense_variance(design: Design, Z: np.ndarray, psu: np.ndarray, covariance: bool) -> np.ndarray:
    """The same sum over every PSU of the design (those without a value in Z have total 0)."""
    m = Z.shape[1]
    P, H = len(design.psu_stratum), len(design.n_psu)
    ph = design.psu_stratum
    nh = design.n_psu.astype(float)
    totals = np.empty((P, m))
    mean = np.empty((H, m))
    for j in range(m):
        totals[:, j] = np.bincount(psu, weights=Z[:, j], minlength=P)
        mean[:, j] = np.bincount(ph, weights=totals[:, j], minlength=H) / np.maximum(nh, 1)
    dev = totals - mean[ph]
    f_psu = np.where(nh > 1, nh / np.maximum(nh - 1, 1), 0.0)[ph]
    if covariance:
        return (dev * f_psu[:, None]).T @ dev
    return np.einsum("pm,p,pm->m", dev, f_psu, dev)
