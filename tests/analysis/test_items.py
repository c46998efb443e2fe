"""Item results against R (tests/fixtures/items, made by make_reference.R with survey 4.1.1):
`items` (svymean), `options` (svyciprop beta), `weak_items` (svycontrast of svytotals), `drivers`
(svyglm), and the shared linearised variance (svyrecvar)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis import analyse_wave
from analysis.design import build_design
from analysis.hierarchy import build_hierarchy
from analysis.responses import code_responses
from analysis.spec import parse_questionnaire
from analysis.errors import AnalysisError
from analysis.estimates import PsuSums
from analysis.variance import linearised_variance
from analysis.weights import rake_weights

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "items"
REFERENCE = json.loads((FIXTURE / "reference.json").read_text(encoding="utf-8"))
TOL = 1e-8


def load_inputs():
    spec = parse_questionnaire(yaml.safe_load((FIXTURE / "questionnaire.yaml").read_text(encoding="utf-8")))
    units = pd.read_csv(FIXTURE / "units.csv", dtype=str, keep_default_na=False)
    units["parent_code"] = units["parent_code"].replace("", None)
    margins = pd.read_csv(FIXTURE / "population.csv", dtype={"unit_code": str})
    responses = pd.read_csv(FIXTURE / "responses.csv", dtype=str, keep_default_na=False)
    responses = responses.replace("", None)
    return spec, units, margins, responses


@pytest.fixture(scope="module")
def result():
    spec, units, margins, responses = load_inputs()
    return analyse_wave(spec, units, margins, responses)


def close(ours, theirs, what):
    if theirs is None:
        assert ours is None, what
        return
    assert ours is not None, what
    assert math.isclose(ours, theirs, rel_tol=TOL, abs_tol=TOL), f"{what}: {ours} vs R {theirs}"


def test_weights_are_the_references(result):
    # the item results below are compared on these weights (post-stratification by sex in each town)
    spec, units, margins, responses = load_inputs()
    hierarchy = build_hierarchy(units)
    coded = code_responses(spec, hierarchy, responses)
    w = rake_weights(spec, hierarchy, margins, coded, 5.0).weights
    expected = np.array([REFERENCE["weights"][r] for r in responses["response_id"]])
    np.testing.assert_allclose(w, expected, rtol=1e-10)


def test_item_means_equal_svymean(result):
    for code, ref in REFERENCE["units"].items():
        unit = result.unit(code)
        assert set(unit.items) == set(ref["items"])
        for key, e in ref["items"].items():
            ours = unit.items[key]
            assert ours.n == e["n"], (code, key)
            for field in ("estimate", "se", "ci_low", "ci_high"):
                close(getattr(ours, field), e[field], f"{code} {key} {field}")


def test_option_shares_equal_svyciprop_beta(result):
    checked = 0
    for code, ref in REFERENCE["units"].items():
        unit = result.unit(code)
        assert set(unit.options) == {"improved", "concerns"} == set(ref["options"])
        for key, opts in ref["options"].items():
            assert list(unit.options[key]) == list(opts)  # every option, in questionnaire order
            for oc, e in opts.items():
                ours = unit.options[key][oc]
                assert ours.n == e["n"], (code, key, oc)
                for field in ("estimate", "se", "ci_low", "ci_high"):
                    close(getattr(ours, field), e[field], f"{code} {key}={oc} {field}")
                checked += 1
    assert checked == 12 * 9
    # the denominators respect show_if: concerns only among safety D/E who answered it
    root = result.unit("320500")
    assert root.options["concerns"]["theft"].n < root.options["improved"]["same"].n


def test_weak_items_equal_svycontrast(result):
    seen_weak = 0
    for code, ref in REFERENCE["units"].items():
        unit = result.unit(code)
        expected = ref.get("weak_items")
        if unit.rank is None:
            assert unit.weak_items is None and expected is None, code
            continue
        assert expected is not None, code
        assert [w["item"] for w in unit.weak_items] == [w["item"] for w in expected], code
        for ours, theirs in zip(unit.weak_items, expected):
            for field in ("estimate", "parent_estimate", "diff", "se"):
                close(ours[field], theirs[field], f"{code} {ours['item']} {field}")
        seen_weak += len(expected)
    assert seen_weak >= 5
    # a department beside its city's residents, and a town in its county, both checked
    assert result.unit("320500902").weak_items and result.unit("320501003").weak_items


def test_drivers_equal_svyglm(result):
    for code, ref in REFERENCE["units"].items():
        unit = result.unit(code)
        expected = ref.get("drivers")
        if expected is None:
            assert unit.drivers is None, code
            continue
        assert unit.drivers["n"] == expected["n"]
        assert list(unit.drivers["coef"]) == list(expected["coef"]) == ["(Intercept)", "sat_police", "sat_court", "sat_mediation"]
        for name, e in expected["coef"].items():
            close(unit.drivers["coef"][name]["estimate"], e["estimate"], f"{code} {name} estimate")
            close(unit.drivers["coef"][name]["se"], e["se"], f"{code} {name} se")
    assert {u.code for u in result.units if u.drivers} == {"320500", "320501", "320502"}


def test_json_round_trip_and_shape(result):
    d = result.to_dict(wave="w", period="2026Q3", series="s")
    text = json.dumps(d, allow_nan=False, ensure_ascii=False)
    again = json.loads(text)
    assert type(result).from_dict(again) == result
    town = next(u for u in again["units"] if u["code"] == "320501003")
    assert set(town["items"]["sat_police"]) == {"estimate", "se", "ci_low", "ci_high", "n"}
    assert set(town["options"]["concerns"]["fraud"]) == {"estimate", "se", "ci_low", "ci_high", "n"}
    assert set(town["weak_items"][0]) == {"item", "estimate", "parent_estimate", "diff", "se"}
    assert town["drivers"] is None
    # the root's answer distribution of a `multiple` item: shares of those who answered it
    concerns = result.distributions["concerns"]
    answered = REFERENCE["units"]["320500"]["options"]["concerns"]["theft"]["n"]
    assert sum(v["count"] for v in concerns.values()) > answered  # several choices per sheet
    assert 0 < concerns["theft"]["share"] < 1


# -- the shared linearised variance ----------------------------------------------------------------


def reference_design():
    """The item fixture's responses, hierarchy, coded answers, raked weights and design."""
    spec, units, margins, responses = load_inputs()
    hierarchy = build_hierarchy(units)
    coded = code_responses(spec, hierarchy, responses)
    w = rake_weights(spec, hierarchy, margins, coded, 5.0).weights
    return responses, hierarchy, coded, w, build_design(coded, w, hierarchy.size)


def test_linearised_variance_is_svyrecvar():
    """Var of the difference of two domain means through `linearised_variance`, against R's
    svycontrast (the `diffs` of reference.json), with and without `rows`; and the covariance form."""
    responses, hierarchy, coded, w, design = reference_design()
    scores = {"A": 100, "B": 80, "C": 60, "D": 30, "E": 0}
    y = responses["sat_police"].map(scores).to_numpy(dtype=float)
    present = ~np.isnan(y)

    def member(code):
        u = hierarchy.index[code]
        return (hierarchy.domains[coded.unit, hierarchy.depth[u]] == u) & present

    def z(mask):
        W = w[mask].sum()
        est = (w * np.nan_to_num(y))[mask].sum() / W
        return np.where(mask, w * (np.nan_to_num(y) - est) / W, 0.0)

    for code, parent in (("320501003", "320501"), ("320500902", "320500"), ("320502002", "320502")):
        Z = np.column_stack([z(member(code)), z(member(parent))])
        cov = linearised_variance(design, Z)
        var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
        close(math.sqrt(var), REFERENCE["diffs"][code]["sat_police"]["se"], code)
        diff = Z[:, 0] - Z[:, 1]
        rows = np.flatnonzero(diff != 0)
        close(math.sqrt(linearised_variance(design, diff[rows], covariance=False, rows=rows)[0]), math.sqrt(var), code)
        np.testing.assert_allclose(linearised_variance(design, Z, covariance=False), np.diag(cov), rtol=1e-12)



def test_domain_means_and_the_shared_variance_agree():
    """One engine: every domain mean's SE from estimate_domains (per-stratum moments built by
    analysis.variance.ratio_moments) is the square root of linearised_variance of that mean's own
    linearised values, for every unit of every depth, at 1e-10 relative."""
    from analysis.estimates import estimate_domains

    responses, hierarchy, coded, w, design = reference_design()
    scores = {"A": 100, "B": 80, "C": 60, "D": 30, "E": 0}
    Y = np.column_stack([responses[key].map(scores).to_numpy(dtype=float) for key in ("safety", "sat_police")])
    est = estimate_domains(design, hierarchy.domains, hierarchy.depth, Y, np.zeros(2), np.zeros(len(w), dtype=bool))
    checked = 0
    for u in range(hierarchy.size):
        member = hierarchy.domains[coded.unit, hierarchy.depth[u]] == u
        for k in range(2):
            mask = member & ~np.isnan(Y[:, k])
            if mask.sum() < 2:
                continue
            W = w[mask].sum()
            y = np.nan_to_num(Y[:, k])
            mean = (w * y)[mask].sum() / W
            z = np.where(mask, w * (y - mean) / W, 0.0)
            se = math.sqrt(linearised_variance(design, z, covariance=False)[0])
            assert est.estimate[u, k] == pytest.approx(mean, rel=1e-12)
            assert est.se[u, k] == pytest.approx(se, rel=1e-10, abs=1e-12)
            checked += 1
    assert checked > 10


def test_domain_means_from_answer_counts_are_estimate_domains():
    """The item results' means (`domain_means` on PSU sums built from each item's answer counts) are
    `estimate_domains`' on the respondents' values, and the options' degrees of freedom from PSU
    counts (`psu_degf`) are `domain_degf`'s from the respondents."""
    from analysis.estimates import choice_counts, domain_means, estimate_domains, value_sums
    from analysis.intervals import domain_degf, psu_degf

    responses, hierarchy, coded, w, design = reference_design()
    scores = {"A": 100, "B": 80, "C": 60, "D": 30, "E": 0}
    keys = ("safety", "sat_police")
    Y = np.column_stack([responses[key].map(scores).to_numpy(dtype=float) for key in keys])
    ours = [value_sums(*choice_counts(design, coded.answers[key], 6), np.array([np.nan, 100, 80, 60, 30, 0, np.nan])) for key in keys]
    sums = PsuSums(*(np.column_stack(c) for c in zip(*ours)))
    means = domain_means(design, hierarchy.domains, hierarchy.depth, sums)
    theirs = estimate_domains(design, hierarchy.domains, hierarchy.depth, Y, np.zeros(2), np.zeros(len(w), dtype=bool))
    assert (theirs.n_value > 0).sum() > 10 and np.isnan(theirs.estimate).any()  # empty domains too
    np.testing.assert_allclose(means.estimate, theirs.estimate, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(means.se, theirs.se, rtol=1e-10, atol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(means.n_value, theirs.n_value)
    present = ~np.isnan(Y)
    np.testing.assert_array_equal(
        psu_degf(design.psu_stratum, hierarchy.domains, hierarchy.depth, sums.N > 0),
        domain_degf(design.psu, design.stratum, hierarchy.domains, hierarchy.depth, present),
    )


# -- responses: multiple answers and show_if -------------------------------------------------------


def test_multiple_answers_are_checked():
    spec, units, margins, responses = load_inputs()
    hierarchy = build_hierarchy(units)
    bad = responses.copy()
    row = bad.index[bad["concerns"].notna()][0]
    bad.loc[row, "concerns"] = "theft;fraud;drugs;other"
    with pytest.raises(AnalysisError) as e:
        code_responses(spec, hierarchy, bad)
    assert e.value.code == "too_many_choices" and "最多选 3 项" in e.value.message
    bad.loc[row, "concerns"] = "theft;burglary"
    with pytest.raises(AnalysisError) as e:
        code_responses(spec, hierarchy, bad)
    assert e.value.code == "unknown_option" and "burglary" in e.value.message
    coded = code_responses(spec, hierarchy, responses)
    chosen = coded.chosen["concerns"]
    assert chosen.shape == (len(responses), 5)
    first = responses["concerns"].notna().to_numpy().nonzero()[0][0]
    codes = [o.code for o in spec.item("concerns").options]
    assert {codes[i] for i in np.flatnonzero(chosen[first])} == set(responses["concerns"].iloc[first].split(";"))
    asked = coded.applies(spec, "concerns")
    np.testing.assert_array_equal(asked, responses["safety"].isin(["D", "E"]).to_numpy())
    assert not (coded.answered("concerns") & ~asked).any()
