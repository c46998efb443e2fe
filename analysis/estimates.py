"""Domain means, their linearised (Taylor) variances and the composite index (docs/method.md).

For domain d and indicator k, ŷ_dk = Σ w y / Σ w over respondents in d with a value, and
z_i = w_i (y_ik − ŷ_dk) 1[i∈d, y_ik present] / W_dk with W_dk = Σ_{j∈d, present} w_j;
Var = Σ_h n_h/(n_h−1) Σ_p (z_hp − z̄_h)², z_hp the PSU totals, n_h the PSUs of stratum h in the full
design, strata with one PSU contributing 0. This is R `survey`'s `svymean(~y, subset(des, d))` with
`survey.lonely.psu = "certainty"`.

The composite uses z_i = Σ_k a_k w_i (y_ik − ŷ_dk) 1[..] / W_dk (delta method, covariances included);
its deff divides Var by s²/n_d, s² the weighted variance of e_i = z_i W_d / w_i times n_d/(n_d − 1)
(R: `deff(svymean(~e, subset(des, d), deff="replace"))`).

How it is computed. Every stratum lies wholly inside one domain per hierarchy depth, and ŷ_dk, W_dk are
constant within a domain. So the respondent- and PSU-level work is done once, as per-stratum moments of
PSU totals centred within the stratum — A_pk = Σ_p w y, B_pk = Σ_p w 1[present],
α_pk = A_pk − c_hk B_pk (c_hk the stratum's own mean, for numerical accuracy) and β_pk = B_pk, each minus
its stratum mean over the n_h PSUs — and then, per depth, Σ_p (z_hp − z̄_h)² =
Σ_kl λ_k λ_l Σ_p (α_pk − δ_hk β_pk)(α_pl − δ_hl β_pl) with δ_hk = ŷ_dk − c_hk and λ_k = a_k / W_dk,
summed over the strata of each domain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .design import Design


@dataclass(frozen=True, eq=False)
class DomainEstimates:
    """Per hierarchy unit (its own domain). NaN where undefined."""

    n: np.ndarray  # (U,) respondents in the domain
    n_flagged: np.ndarray  # (U,)
    n_eff: np.ndarray  # (U,) Kish (Σw)²/Σw²
    estimate: np.ndarray  # (U, K)
    se: np.ndarray  # (U, K)
    n_value: np.ndarray  # (U, K) respondents with a value
    composite: np.ndarray  # (U,)
    composite_se: np.ndarray  # (U,)
    composite_deff: np.ndarray  # (U,)


def _bc(index: np.ndarray, values: np.ndarray | None, size: int) -> np.ndarray:
    return np.bincount(index, weights=values, minlength=size).astype(float)


def estimate_domains(
    design: Design,
    domains: np.ndarray,
    depth: np.ndarray,
    Y: np.ndarray,
    composite_weights: np.ndarray,
    flagged: np.ndarray,
) -> DomainEstimates:
    """Estimates for every unit's domain.

    `domains[h, L]`: the unit at depth L whose domain holds stratum h (-1: none); `depth[u]`: depth of unit u;
    `Y`: (n, K) indicator values with NaN = missing; `composite_weights`: (K,) a_k summing to 1, 0 for
    indicators outside the composite.
    """
    H = domains.shape[0]
    U = H
    n_levels = domains.shape[1]
    K = Y.shape[1]
    w, h, p, ph = design.weights, design.stratum, design.psu, design.psu_stratum
    P = len(ph)
    nh = design.n_psu.astype(float)
    f_h = np.where(nh > 1, nh / np.maximum(nh - 1, 1), 0.0)
    nh_safe = np.maximum(nh, 1)
    a = np.asarray(composite_weights, dtype=float)
    comp = [k for k in range(K) if a[k] > 0]

    # -- per stratum sums --------------------------------------------------------------------------
    cnt_h = _bc(h, None, H)
    sw_h = _bc(h, w, H)
    sw2_h = _bc(h, w * w, H)
    fl_h = _bc(h, flagged.astype(float), H)
    W_h = np.zeros((H, K))
    SY_h = np.zeros((H, K))
    N_h = np.zeros((H, K))
    c_h = np.zeros((H, K))
    alpha: list[np.ndarray] = []
    beta: list[np.ndarray] = []
    present: list[np.ndarray] = []
    yt: dict[int, np.ndarray] = {}
    for k in range(K):
        m = ~np.isnan(Y[:, k])
        y0 = np.where(m, Y[:, k], 0.0)
        wm = np.where(m, w, 0.0)
        wy = wm * y0
        W_h[:, k] = _bc(h, wm, H)
        SY_h[:, k] = _bc(h, wy, H)
        N_h[:, k] = _bc(h, m.astype(float), H)
        c_h[:, k] = np.divide(SY_h[:, k], W_h[:, k], out=np.zeros(H), where=W_h[:, k] > 0)
        A = _bc(p, wy, P)
        B = _bc(p, wm, P)
        al = A - c_h[ph, k] * B
        al -= (_bc(ph, al, H) / nh_safe)[ph]
        be = B - (_bc(ph, B, H) / nh_safe)[ph]
        alpha.append(al)
        beta.append(be)
        present.append(m)
        if k in comp:
            yt[k] = np.where(m, Y[:, k] - c_h[h, k], 0.0)

    # PSU moments per stratum: Saa[k, k2] = Σ_p α_k α_k2, Sab[k, k2] = Σ_p α_k β_k2, Sbb[k, k2] = Σ_p β_k β_k2
    Saa: dict[tuple[int, int], np.ndarray] = {}
    Sab: dict[tuple[int, int], np.ndarray] = {}
    Sbb: dict[tuple[int, int], np.ndarray] = {}
    for k in range(K):
        Saa[k, k] = _bc(ph, alpha[k] * alpha[k], H)
        Sab[k, k] = _bc(ph, alpha[k] * beta[k], H)
        Sbb[k, k] = _bc(ph, beta[k] * beta[k], H)
    for i, k in enumerate(comp):
        for k2 in comp[i + 1 :]:
            Saa[k, k2] = Saa[k2, k] = _bc(ph, alpha[k] * alpha[k2], H)
            Sab[k, k2] = _bc(ph, alpha[k] * beta[k2], H)
            Sab[k2, k] = _bc(ph, alpha[k2] * beta[k], H)
            Sbb[k, k2] = Sbb[k2, k] = _bc(ph, beta[k] * beta[k2], H)
    del alpha, beta
    # respondent moments for the composite's deff (ỹ = y − c_h, 0 when missing)
    T: dict[tuple[int, int], np.ndarray] = {}
    Um: dict[tuple[int, int], np.ndarray] = {}
    V: dict[tuple[int, int], np.ndarray] = {}
    for i, k in enumerate(comp):
        for k2 in comp[i:]:
            T[k, k2] = T[k2, k] = _bc(h, w * yt[k] * yt[k2], H)
            V[k, k2] = V[k2, k] = _bc(h, w * (present[k] & present[k2]), H)
        for k2 in comp:
            Um[k, k2] = _bc(h, w * yt[k] * present[k2], H)  # Σ w 1_k 1_k2 ỹ_k
    del yt, present

    # -- per depth: sum strata into domains ----------------------------------------------------------
    n = np.zeros(U)
    n_flagged = np.zeros(U)
    sw = np.zeros(U)
    sw2 = np.zeros(U)
    est = np.full((U, K), np.nan)
    se = np.full((U, K), np.nan)
    n_value = np.zeros((U, K))
    comp_est = np.full(U, np.nan)
    comp_se = np.full(U, np.nan)
    comp_deff = np.full(U, np.nan)
    for L in range(n_levels):
        targets = np.nonzero(depth == L)[0]
        strata = np.nonzero(domains[:, L] >= 0)[0]
        dom = domains[strata, L]

        def agg(x: np.ndarray, dom: np.ndarray = dom, strata: np.ndarray = strata) -> np.ndarray:
            """Sum per-stratum values into the domains of this depth."""
            return np.bincount(dom, weights=x[strata], minlength=U)

        n_d, sw_d = agg(cnt_h), agg(sw_h)
        n[targets], sw[targets] = n_d[targets], sw_d[targets]
        sw2[targets] = agg(sw2_h)[targets]
        n_flagged[targets] = agg(fl_h)[targets]
        W_d = np.zeros((U, K))
        yhat = np.full((U, K), np.nan)
        delta = np.zeros((H, K))
        for k in range(K):
            W_d[:, k] = agg(W_h[:, k])
            SY_d = agg(SY_h[:, k])
            n_value[targets, k] = agg(N_h[:, k])[targets]
            ok = W_d[:, k] > 0
            yhat[ok, k] = SY_d[ok] / W_d[ok, k]
            delta[strata, k] = np.where(ok[dom], yhat[dom, k], 0.0) - c_h[strata, k]
            q = Saa[k, k] - 2 * delta[:, k] * Sab[k, k] + delta[:, k] ** 2 * Sbb[k, k]
            with np.errstate(invalid="ignore", divide="ignore"):
                var = agg(f_h * q) / W_d[:, k] ** 2
            est[targets, k] = yhat[targets, k]
            se[targets, k] = np.sqrt(np.maximum(var[targets], 0.0))
        if not comp:
            continue
        # composite: linear combination, delta-method variance with covariances
        has_all = np.all(W_d[:, comp] > 0, axis=1)
        tgt = targets[has_all[targets]]
        if len(tgt) == 0:
            continue
        Wc = W_d[tgt][:, comp]
        lam = a[comp] / Wc  # (t, Kc)
        comp_est[tgt] = yhat[tgt][:, comp] @ a[comp]
        cvar = np.zeros(len(tgt))
        sum_we2 = np.zeros(len(tgt))
        sum_we = np.zeros(len(tgt))
        cdk = a[comp] * sw_d[tgt, None] / Wc  # c_dk = a_k W_d / W_dk
        for i, k in enumerate(comp):
            dk = delta[:, k]
            SY_d = agg(SY_h[:, k])[tgt]
            sum_we += cdk[:, i] * (SY_d - yhat[tgt, k] * W_d[tgt, k])
            for j, k2 in enumerate(comp):
                d2 = delta[:, k2]
                q = Saa[k, k2] - d2 * Sab[k, k2] - dk * Sab[k2, k] + dk * d2 * Sbb[k, k2]
                cvar += lam[:, i] * lam[:, j] * agg(f_h * q)[tgt]
                r = T[k, k2] - d2 * Um[k, k2] - dk * Um[k2, k] + dk * d2 * V[k, k2]
                sum_we2 += cdk[:, i] * cdk[:, j] * agg(r)[tgt]
        cvar = np.maximum(cvar, 0.0)
        comp_se[tgt] = np.sqrt(cvar)
        nd = n_d[tgt]
        Wd = sw_d[tgt]
        e_bar = sum_we / Wd
        ss = np.maximum(sum_we2 - Wd * e_bar**2, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            s2 = ss / Wd * nd / (nd - 1)
            v_srs = s2 / nd
            deff = np.where((nd > 1) & (v_srs > 0), cvar / v_srs, np.nan)
        comp_deff[tgt] = deff

    with np.errstate(invalid="ignore", divide="ignore"):
        n_eff = np.where(n > 0, sw**2 / sw2, np.nan)
    return DomainEstimates(
        n=n.round().astype(np.int64),
        n_flagged=n_flagged.round().astype(np.int64),
        n_eff=n_eff,
        estimate=est,
        se=se,
        n_value=n_value.round().astype(np.int64),
        composite=comp_est,
        composite_se=comp_se,
        composite_deff=comp_deff,
    )
