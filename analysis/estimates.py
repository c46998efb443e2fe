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
from .variance import ratio_moments, stratum_factors


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


@dataclass(eq=False)
class _StratumMoments:
    """Everything the domain estimates need, summed once per stratum (H of them).

    Per stratum: respondents, Σw, Σw², flagged; per indicator k: W_hk = Σ w 1[present], SY_hk = Σ w y,
    N_hk = respondents with a value, c_hk = SY_hk / W_hk. PSU moments (the linearised variance):
    Saa[k, l] = Σ_p α_pk α_pl, Sab[k, l] = Σ_p α_pk β_pl, Sbb[k, l] = Σ_p β_pk β_pl over the PSUs of the
    stratum (for k = l, and for every pair of composite indicators). Respondent moments for the
    composite's deff, with ỹ = y − c_h (0 when missing): T[k, l] = Σ w ỹ_k ỹ_l, Um[k, l] = Σ w ỹ_k 1_l,
    V[k, l] = Σ w 1_k 1_l.
    """

    count: np.ndarray | None  # None: not counted (`domain_means`)
    sw: np.ndarray | None
    sw2: np.ndarray | None
    flagged: np.ndarray | None
    W: np.ndarray  # (H, K)
    SY: np.ndarray
    N: np.ndarray
    c: np.ndarray
    f: np.ndarray  # (H,) n_h / (n_h − 1), 0 for a stratum with one PSU
    Saa: dict[tuple[int, int], np.ndarray]
    Sab: dict[tuple[int, int], np.ndarray]
    Sbb: dict[tuple[int, int], np.ndarray]
    T: dict[tuple[int, int], np.ndarray]
    Um: dict[tuple[int, int], np.ndarray]
    V: dict[tuple[int, int], np.ndarray]


@dataclass(frozen=True, eq=False)
class PsuSums:
    """Per PSU (P rows) and column k: A = Σ w y, B = Σ w 1[y present], N = Σ 1[y present]. Every
    estimate below needs the respondents only through these sums (and the composite's deff)."""

    A: np.ndarray  # (P, K)
    B: np.ndarray
    N: np.ndarray


def psu_sums(design: Design, Y: np.ndarray) -> PsuSums:
    """The PSU sums of the columns of Y (n, K), NaN = missing."""
    P, K = len(design.psu_stratum), Y.shape[1]
    psu, w = design.psu, design.weights
    A, B, N = np.zeros((P, K)), np.zeros((P, K)), np.zeros((P, K))
    everyone = np.bincount(psu, minlength=P) if K else None
    for k in range(K):
        y = Y[:, k]
        missing = np.isnan(y)
        A[:, k] = _bc(psu, np.where(missing, 0.0, w * y), P)
        B[:, k] = _bc(psu, np.where(missing, 0.0, w), P)
        # the respondents with a value: the PSU's all but its (few) missing ones, exact integers
        N[:, k] = everyone - np.bincount(psu[missing], minlength=P)
    return PsuSums(A, B, N)


def choice_counts(
    design: Design, answer: np.ndarray, k: int, base: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(P, k + 1) weighted and unweighted counts of each PSU's respondents by answer slot (0 = not
    answered, i + 1 = option i), from `answer` (−1 = not answered, i = option i; any integer type): one
    pass over the respondents for every column that is a function of one choice item's answer.
    `base`: `choice_base(design, k)`, when the caller counts several items of k options."""
    P = len(design.psu_stratum)
    key = (choice_base(design, k) if base is None else base) + answer
    weighted = np.bincount(key, weights=design.weights, minlength=P * (k + 1)).reshape(P, k + 1)
    counted = np.bincount(key, minlength=P * (k + 1)).reshape(P, k + 1).astype(float)
    return weighted, counted


def choice_base(design: Design, k: int) -> np.ndarray:
    """psu·(k + 1) + 1: `choice_counts`' cell of a respondent who chose option 0 (the answer is added)."""
    key = design.psu * (k + 1)
    key += 1
    return key


def value_sums(weighted: np.ndarray, counted: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A, B, N of the column whose value is values[slot] (NaN = missing), from `choice_counts`."""
    present = ~np.isnan(values)
    w = weighted[:, present]
    return w @ values[present], w.sum(axis=1), counted[:, present].sum(axis=1)


def _stratum_moments(
    design: Design, H: int, Y: np.ndarray | None, comp: list[int], flagged: np.ndarray | None, sums: PsuSums | None = None
) -> _StratumMoments:
    """The respondent- and PSU-level work, done once (see the module's docstring). The stratum sums are
    the sums of the PSU sums (PSUs nest in strata). `flagged` None: the means alone (`domain_means`),
    without the respondents' counts and weight sums, which take a pass over the respondents each."""
    if sums is None:
        sums = psu_sums(design, Y)
    K = sums.A.shape[1]
    w, h, ph = design.weights, design.stratum, design.psu_stratum
    W_h = np.zeros((H, K))
    SY_h = np.zeros((H, K))
    N_h = np.zeros((H, K))
    c_h = np.zeros((H, K))
    alpha: list[np.ndarray] = []
    beta: list[np.ndarray] = []
    present: dict[int, np.ndarray] = {}
    yt: dict[int, np.ndarray] = {}
    wyt: dict[int, np.ndarray] = {}  # w ỹ, shared by the products below
    for k in range(K):
        W_h[:, k], SY_h[:, k], c_h[:, k], al, be = ratio_moments(design, sums.A[:, k], sums.B[:, k])
        N_h[:, k] = _bc(ph, sums.N[:, k], H)
        alpha.append(al)
        beta.append(be)
        if k in comp:
            m = ~np.isnan(Y[:, k])
            present[k] = m
            yt[k] = np.where(m, Y[:, k] - c_h[:, k].take(h), 0.0)
            wyt[k] = w * yt[k]

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
    T: dict[tuple[int, int], np.ndarray] = {}
    Um: dict[tuple[int, int], np.ndarray] = {}
    V: dict[tuple[int, int], np.ndarray] = {}
    for i, k in enumerate(comp):
        for k2 in comp[i:]:
            T[k, k2] = T[k2, k] = _bc(h, wyt[k] * yt[k2], H)
            V[k, k2] = V[k2, k] = _bc(h, w * (present[k] & present[k2] if k2 != k else present[k]), H)
        for k2 in comp:
            Um[k, k2] = _bc(h, wyt[k] * present[k2], H)  # Σ w 1_k 1_k2 ỹ_k
    if flagged is None:
        count = sw = sw2 = n_flagged = None
    else:
        count, sw, sw2 = _bc(h, None, H), _bc(h, w, H), _bc(h, w * w, H)
        n_flagged = _bc(h[np.asarray(flagged, dtype=bool)], None, H)  # the few flagged ones alone (exact counts)
    return _StratumMoments(
        count=count, sw=sw, sw2=sw2, flagged=n_flagged,
        W=W_h, SY=SY_h, N=N_h, c=c_h, f=stratum_factors(design),
        Saa=Saa, Sab=Sab, Sbb=Sbb, T=T, Um=Um, V=V,
    )


def _psu_variance_term(s: _StratumMoments, k: int, l: int, delta: np.ndarray, covariance: bool = False) -> np.ndarray:
    """Per stratum, Σ_p (α_pk − δ_hk β_pk)(α_pl − δ_hl β_pl): the one linearised variance (and
    covariance) term of every domain estimate, domain means k and l centred at ŷ_d = c_h + δ_h.
    (`covariance`: the general form also for k = l, as the composite sums it; the same value.)"""
    dk, dl = delta[:, k], delta[:, l]
    if k == l and not covariance:
        return s.Saa[k, k] - 2 * dk * s.Sab[k, k] + dk**2 * s.Sbb[k, k]
    return s.Saa[k, l] - dl * s.Sab[k, l] - dk * s.Sab[l, k] + dk * dl * s.Sbb[k, l]


@dataclass(eq=False)
class _Level:
    """One depth of the hierarchy: its units (`targets`) and the strata inside their domains."""

    U: int
    targets: np.ndarray
    strata: np.ndarray
    dom: np.ndarray

    def agg(self, x: np.ndarray) -> np.ndarray:
        """Sum per-stratum values into the domains of this depth."""
        return np.bincount(self.dom, weights=x[self.strata], minlength=self.U)


def estimate_domains(
    design: Design,
    domains: np.ndarray,
    depth: np.ndarray,
    Y: np.ndarray | None,
    composite_weights: np.ndarray,
    flagged: np.ndarray,
    sums: PsuSums | None = None,
) -> DomainEstimates:
    """Estimates for every unit's domain.

    `domains[h, L]`: the unit at depth L whose domain holds stratum h (-1: none); `depth[u]`: depth of unit u;
    `Y`: (n, K) indicator values with NaN = missing; `composite_weights`: (K,) a_k summing to 1, 0 for
    indicators outside the composite. `sums`: the PSU sums of Y's columns when the caller has them
    (analysis.items builds them from the answers' counts); Y is then needed only for a composite.
    """
    H = U = domains.shape[0]
    K = Y.shape[1] if sums is None else sums.A.shape[1]
    a = np.asarray(composite_weights, dtype=float)
    comp = [k for k in range(K) if a[k] > 0]
    if comp and Y is None:
        raise ValueError("a composite needs the respondents' values Y")
    s = _stratum_moments(design, H, Y, comp, flagged, sums)
    out = DomainEstimates(
        n=np.zeros(U), n_flagged=np.zeros(U), n_eff=np.full(U, np.nan), estimate=np.full((U, K), np.nan),
        se=np.full((U, K), np.nan), n_value=np.zeros((U, K)), composite=np.full(U, np.nan),
        composite_se=np.full(U, np.nan), composite_deff=np.full(U, np.nan),
    )
    sw, sw2 = np.zeros(U), np.zeros(U)
    for L in range(domains.shape[1]):
        strata = np.nonzero(domains[:, L] >= 0)[0]
        level = _Level(U, np.nonzero(depth == L)[0], strata, domains[strata, L])
        targets = level.targets
        n_d, sw_d = level.agg(s.count), level.agg(s.sw)
        out.n[targets], sw[targets] = n_d[targets], sw_d[targets]
        sw2[targets] = level.agg(s.sw2)[targets]
        out.n_flagged[targets] = level.agg(s.flagged)[targets]
        W_d, yhat, delta = _level_means(s, level, out)
        if comp:
            _level_composite(s, level, a, comp, n_d, sw_d, W_d, yhat, delta, out)

    with np.errstate(invalid="ignore", divide="ignore"):
        n_eff = np.where(out.n > 0, sw**2 / sw2, np.nan)
    return DomainEstimates(
        n=out.n.round().astype(np.int64),
        n_flagged=out.n_flagged.round().astype(np.int64),
        n_eff=n_eff,
        estimate=out.estimate,
        se=out.se,
        n_value=out.n_value.round().astype(np.int64),
        composite=out.composite,
        composite_se=out.composite_se,
        composite_deff=out.composite_deff,
    )


@dataclass(eq=False)
class DomainMeans:
    """Each column's domain mean, SE and count for every unit (as in `DomainEstimates`), and the
    per-stratum moments they were computed from (H rows), which the weak items' differences reuse:
    W = Σ w 1[present], c = the stratum's own mean, Saa, Sab, Sbb = Σ_p α², αβ, β² over its PSUs."""

    estimate: np.ndarray  # (U, K)
    se: np.ndarray  # (U, K)
    n_value: np.ndarray  # (U, K)
    W: np.ndarray  # (H, K)
    c: np.ndarray  # (H, K)
    Saa: np.ndarray  # (H, K)
    Sab: np.ndarray  # (H, K)
    Sbb: np.ndarray  # (H, K)


def domain_means(design: Design, domains: np.ndarray, depth: np.ndarray, sums: PsuSums) -> DomainMeans:
    """`estimate_domains`' means, SEs and counts of the columns of `sums` (no composite, no respondent
    counts: the item results need only these, and each count is a further pass over the respondents)."""
    H = U = domains.shape[0]
    K = sums.A.shape[1]
    s = _stratum_moments(design, H, None, [], None, sums)
    out = DomainMeans(
        estimate=np.full((U, K), np.nan), se=np.full((U, K), np.nan), n_value=np.zeros((U, K)), W=s.W, c=s.c,
        Saa=np.column_stack([s.Saa[k, k] for k in range(K)]) if K else np.zeros((H, 0)),
        Sab=np.column_stack([s.Sab[k, k] for k in range(K)]) if K else np.zeros((H, 0)),
        Sbb=np.column_stack([s.Sbb[k, k] for k in range(K)]) if K else np.zeros((H, 0)),
    )
    for L in range(domains.shape[1]):
        strata = np.nonzero(domains[:, L] >= 0)[0]
        _level_means(s, _Level(U, np.nonzero(depth == L)[0], strata, domains[strata, L]), out)
    out.n_value = out.n_value.round().astype(np.int64)
    return out


def _level_means(s: _StratumMoments, level: _Level, out: DomainEstimates | DomainMeans) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each indicator's domain mean and SE for the units of one depth (written into `out`); returns
    W_dk, ŷ_dk and δ_hk = ŷ_dk − c_hk for the composite."""
    U, H, K = level.U, s.c.shape[0], s.c.shape[1]
    targets, strata, dom = level.targets, level.strata, level.dom
    W_d = np.zeros((U, K))
    yhat = np.full((U, K), np.nan)
    delta = np.zeros((H, K))
    for k in range(K):
        W_d[:, k] = level.agg(s.W[:, k])
        SY_d = level.agg(s.SY[:, k])
        out.n_value[targets, k] = level.agg(s.N[:, k])[targets]
        ok = W_d[:, k] > 0
        yhat[ok, k] = SY_d[ok] / W_d[ok, k]
        delta[strata, k] = np.where(ok[dom], yhat[dom, k], 0.0) - s.c[strata, k]
        q = _psu_variance_term(s, k, k, delta)
        with np.errstate(invalid="ignore", divide="ignore"):
            var = level.agg(s.f * q) / W_d[:, k] ** 2
        out.estimate[targets, k] = yhat[targets, k]
        out.se[targets, k] = np.sqrt(np.maximum(var[targets], 0.0))
    return W_d, yhat, delta


def _level_composite(
    s: _StratumMoments,
    level: _Level,
    a: np.ndarray,
    comp: list[int],
    n_d: np.ndarray,
    sw_d: np.ndarray,
    W_d: np.ndarray,
    yhat: np.ndarray,
    delta: np.ndarray,
    out: DomainEstimates,
) -> None:
    """The composite of the units of one depth: the linear combination, its delta-method SE with the
    covariances, and its deff (written into `out`)."""
    targets = level.targets
    has_all = np.all(W_d[:, comp] > 0, axis=1)
    tgt = targets[has_all[targets]]
    if len(tgt) == 0:
        return
    Wc = W_d[tgt][:, comp]
    lam = a[comp] / Wc  # (t, Kc)
    out.composite[tgt] = yhat[tgt][:, comp] @ a[comp]
    cvar = np.zeros(len(tgt))
    sum_we2 = np.zeros(len(tgt))
    sum_we = np.zeros(len(tgt))
    cdk = a[comp] * sw_d[tgt, None] / Wc  # c_dk = a_k W_d / W_dk
    for i, k in enumerate(comp):
        dk = delta[:, k]
        SY_d = level.agg(s.SY[:, k])[tgt]
        sum_we += cdk[:, i] * (SY_d - yhat[tgt, k] * W_d[tgt, k])
        for j, k2 in enumerate(comp):
            d2 = delta[:, k2]
            q = _psu_variance_term(s, k, k2, delta, covariance=True)
            cvar += lam[:, i] * lam[:, j] * level.agg(s.f * q)[tgt]
            r = s.T[k, k2] - d2 * s.Um[k, k2] - dk * s.Um[k2, k] + dk * d2 * s.V[k, k2]
            sum_we2 += cdk[:, i] * cdk[:, j] * level.agg(r)[tgt]
    cvar = np.maximum(cvar, 0.0)
    out.composite_se[tgt] = np.sqrt(cvar)
    nd = n_d[tgt]
    Wd = sw_d[tgt]
    e_bar = sum_we / Wd
    ss = np.maximum(sum_we2 - Wd * e_bar**2, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        s2 = ss / Wd * nd / (nd - 1)
        v_srs = s2 / nd
        deff = np.where((nd > 1) & (v_srs > 0), cvar / v_srs, np.nan)
    out.composite_deff[tgt] = deff
