"""Domain estimates, linearised SEs, composite and deff against a brute-force reading of docs/method.md."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from analysis import analyse_wave
from analysis.hierarchy import build_hierarchy
from analysis.responses import code_responses, indicator_values
from analysis.weights import rake_weights

from .conftest import CITY, margins_frame, random_responses, responses_frame, units_frame

MARGINS = [
    (t, dim, cat, cnt)
    for t, scale in (("T11", 1.0), ("T12", 2.5), ("T21", 0.7))
    for dim, cat, cnt in (
        ("sex", "M", 500),
        ("sex", "F", 500),
        ("age_group", "Y", 300),
        ("age_group", "M", 400),
        ("age_group", "O", 300),
    )
    for cnt in [cnt * scale]
]
PARENT = {c: p for c, _, p in CITY}
KIND = {c: k for c, k, _ in CITY}


def chain(code):
    """Ancestors-or-self whose domain holds respondents of `code` (stopping after a department)."""
    out = [code]
    while KIND[out[-1]] != "department" and PARENT[out[-1]] is not None:
        out.append(PARENT[out[-1]])
    return out


def design_var(z, strata, psus):
    """Σ_h n_h/(n_h−1) Σ_p (z_hp − z̄_h)², one-PSU strata contributing 0 (written out as in §4)."""
    total = 0.0
    for h in set(strata):
        sel = strata == h
        totals = {}
        for zi, p in zip(z[sel], psus[sel]):
            totals[p] = totals.get(p, 0.0) + zi
        zp = np.array(list(totals.values()))
        nh = len(zp)
        if nh > 1:
            total += nh / (nh - 1) * ((zp - zp.mean()) ** 2).sum()
    return total


def korn_graubard(est, se, n, df):
    """R survey 4.1's svyciprop(method="beta") written out; Clopper–Pearson where it gives no interval."""
    from scipy.stats import beta, t

    p, var = est / 100, (se / 100) ** 2
    if 0 < p < 1 and var > 0 and n > 1 and df > 0:
        n_eff = p * (1 - p) / var * (t.ppf(0.025, n - 1) / t.ppf(0.025, df)) ** 2
        return 100 * beta.ppf(0.025, n_eff * p, n_eff * (1 - p) + 1), 100 * beta.ppf(0.975, n_eff * p + 1, n_eff * (1 - p))
    x = p * n
    lo = 0.0 if x == 0 else beta.ppf(0.025, x, n - x + 1)
    hi = 1.0 if x == n else beta.ppf(0.975, x + 1, n - x)
    return 100 * lo, 100 * hi


def brute_force(spec, units, margins, responses):
    h = build_hierarchy(units)
    coded = code_responses(spec, h, responses)
    w = rake_weights(spec, h, margins, coded, 5.0).weights
    Y = indicator_values(spec, coded)
    strata = responses["unit_code"].to_numpy()
    psus = np.array(
        [p if isinstance(p, str) and p else f"own{i}" for i, p in enumerate(responses["psu"])], dtype=object
    )
    a = np.array([spec.composite_weights.get(ind.key, 0.0) for ind in spec.indicators])
    out = {}
    for code in h.codes:
        d = np.array([code in chain(u) for u in strata])
        res = {"n": int(d.sum()), "n_flagged": int(responses["flagged"].to_numpy()[d].sum())}
        if d.sum() == 0:
            out[code] = res
            continue
        res["n_eff"] = w[d].sum() ** 2 / (w[d] ** 2).sum()
        ests, ses, zs, dfs, ns = [], [], [], [], []
        for k in range(Y.shape[1]):
            sel = d & ~np.isnan(Y[:, k])
            ns.append(int(sel.sum()))
            # R's degf(subset(des, sel)): PSUs in the subset minus strata in the subset
            dfs.append(len({(s, p) for s, p in zip(strata[sel], psus[sel])}) - len(set(strata[sel])))
            if not sel.any():
                ests.append(np.nan), ses.append(np.nan), zs.append(None)
                continue
            yhat = (w[sel] * Y[sel, k]).sum() / w[sel].sum()
            z = np.where(sel, w * (np.nan_to_num(Y[:, k]) - yhat) / w[sel].sum(), 0.0)
            ests.append(yhat), ses.append(np.sqrt(design_var(z, strata, psus))), zs.append(z)
        res["est"], res["se"] = np.array(ests), np.array(ses)
        res["df"], res["nk"] = dfs, ns
        if all(zs[k] is not None for k in np.nonzero(a)[0]):
            z = sum(a[k] * zs[k] for k in np.nonzero(a)[0])
            var = design_var(z, strata, psus)
            res["comp"] = float(np.dot(a, np.nan_to_num(ests)))
            res["comp_se"] = np.sqrt(var)
            nd, Wd = d.sum(), w[d].sum()
            e = z[d] * Wd / w[d]
            ebar = (w[d] * e).sum() / Wd
            s2 = (w[d] * (e - ebar) ** 2).sum() / Wd * nd / (nd - 1)
            res["deff"] = var / (s2 / nd)
        out[code] = res
    return out


@pytest.fixture
def city_data():
    rng = np.random.default_rng(7)
    units = units_frame(CITY)
    resp = random_responses(rng, ["T11", "T12", "T21", "T22", "V111", "D1", "KD1", "K1"], 25)
    single = random_responses(rng, ["V112", "D2"], 6)
    single["psu"] = "G0"  # one PSU only in these two strata
    import pandas as pd

    resp = pd.concat([resp, single], ignore_index=True)
    resp["response_id"] = [f"R{i}" for i in range(len(resp))]
    return units, margins_frame(MARGINS), resp


def test_every_domain_matches_the_brute_force_formulas(spec, city_data):
    units, margins, resp = city_data
    result = analyse_wave(spec, units, margins, resp)
    ref = brute_force(spec, units, margins, resp)
    order = ["C", "D1", "D2", "K1", "K2", "KD1", "T11", "T12", "T21", "T22", "V111", "V112"]
    assert [u.code for u in result.units] == order
    for u in result.units:
        r = ref[u.code]
        assert u.n == r["n"] and u.n_flagged == r["n_flagged"], u.code
        assert_allclose(u.n_eff, r["n_eff"], rtol=1e-12)
        for k, ind in enumerate(spec.indicators):
            e = u.indicators[ind.key]
            assert_allclose(e.estimate, r["est"][k], rtol=1e-12, err_msg=f"{u.code} {ind.key}")
            assert_allclose(e.se, r["se"][k], rtol=1e-9, atol=1e-12, err_msg=f"{u.code} {ind.key} se")
            if ind.is_share:
                lo, hi = korn_graubard(r["est"][k], r["se"][k], r["nk"][k], r["df"][k])
            else:
                lo = min(max(r["est"][k] - 1.959964 * r["se"][k], 0), 100)
                hi = min(max(r["est"][k] + 1.959964 * r["se"][k], 0), 100)
            assert_allclose([e.ci_low, e.ci_high], [lo, hi], rtol=1e-9, atol=1e-12, err_msg=f"{u.code} {ind.key} ci")
            assert 0 <= e.ci_low <= e.estimate <= e.ci_high <= 100
        assert_allclose(u.composite.estimate, r["comp"], rtol=1e-12)
        assert_allclose(u.composite.se, r["comp_se"], rtol=1e-9, atol=1e-12, err_msg=f"{u.code} composite se")
        assert_allclose(u.composite.deff, r["deff"], rtol=1e-9, err_msg=f"{u.code} deff")


def test_single_psu_stratum_contributes_zero_and_warns(spec, city_data):
    units, margins, resp = city_data
    result = analyse_wave(spec, units, margins, resp)
    d2 = result.unit("D2")
    assert d2.indicators["safety"].se == 0.0 and d2.composite.se == 0.0
    assert "single_psu_stratum" in d2.warnings
    assert "single_psu_stratum" in result.unit("V112").warnings
    assert "single_psu_stratum" not in result.unit("T11").warnings  # only on the stratum's own unit


def test_departments_are_not_in_the_city_or_county_domain(spec, city_data):
    units, margins, resp = city_data
    result = analyse_wave(spec, units, margins, resp)
    counts = resp["unit_code"].value_counts()
    assert result.unit("C").n == len(resp) - counts["D1"] - counts["D2"] - counts["KD1"]
    assert result.unit("K1").n == counts[["K1", "T11", "T12", "V111", "V112"]].sum()
    assert result.unit("KD1").n == counts["KD1"]


def test_share_of_and_unscored_answers(spec):
    units = units_frame([("T", "town", None)])
    rows = [
        {"unit_code": "T", "q1": "A", "q2": "C"},  # safety 100, satisfaction 50, rate 100
        {"unit_code": "T", "q1": "C", "q2": "X"},  # safety 0, satisfaction 0 (X missing), rate 0
        {"unit_code": "T", "q1": "X", "q2": "B"},  # safety missing (说不清), satisfaction 60, rate missing
        {"unit_code": "T", "q1": "B", "q2": None},  # safety 50, satisfaction 50, rate 100
        {"unit_code": "T", "q1": None, "q2": None},  # all missing
    ]
    result = analyse_wave(spec, units, margins_frame([]), responses_frame(rows))
    root = result.root
    assert root.n == 5
    assert root.indicators["safety"].n == 3 and root.indicators["safety"].estimate == pytest.approx(50)
    assert root.indicators["satisfaction"].n == 4 and root.indicators["satisfaction"].estimate == pytest.approx(40)
    assert root.indicators["rate"].n == 3 and root.indicators["rate"].estimate == pytest.approx(200 / 3)
    assert root.composite.estimate == pytest.approx(0.6 * 50 + 0.4 * 40)


def test_units_without_respondents_are_not_results(spec, city_data):
    units, margins, resp = city_data
    result = analyse_wave(spec, units, margins, resp)
    assert result.unit("T22").n > 0
    resp = resp[resp["unit_code"] != "T22"]
    result = analyse_wave(spec, units, margins, resp)
    with pytest.raises(KeyError):
        result.unit("T22")
    assert "T22" not in [e.code for e in result.interview_list]
    assert result.unit("T21").group_size == 1  # its peer group lost T22
    assert "T22" not in {u.code for u in result.units}


def test_composite_is_null_when_a_weighted_indicator_is_missing(spec):
    units = units_frame([("K", "county", None), ("T", "town", "K")])
    rows = [{"unit_code": "T", "q1": "X", "q2": "A"}, {"unit_code": "K", "q1": "A", "q2": "A"}]
    result = analyse_wave(spec, units, margins_frame([]), responses_frame(rows))
    t = result.unit("T")
    assert t.indicators["safety"].estimate is None
    assert t.indicators["satisfaction"].estimate == 100
    assert t.composite.estimate is None and t.composite.se is None
    assert result.root.composite.estimate == pytest.approx(100)
