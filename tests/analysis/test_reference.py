"""The analysis core against R (tests/fixtures/analysis/make_reference.R, `make r-reference`) at 1e-8.

Two datasets, two waves each: `city` holds every edge case (a village and the villages of a town with no
respondent, a town at 100 % 安全感率 whose villages are only its PSUs, towns with 2–3 PSUs, a ranked
single-PSU town, peer groups below and at min_group, units under min_n of a ranked and of an unranked kind);
`practice` is shaped like the common design (residents attached to towns, villages only as PSUs, 安全感率
near 100 %, peer groups of 3–10 towns). Between the waves wave 1's list is issued minus one unit."""

import json

import numpy as np
import pandas as pd
import pytest

from analysis.hierarchy import build_hierarchy
from analysis.responses import code_responses
from analysis.weights import rake_weights

from .reference import DATASETS, TOL, analyse_both, assert_matches_reference, frames, reference


@pytest.fixture(scope="module", params=list(DATASETS))
def dataset(request):
    return request.param, analyse_both(request.param)


def test_both_waves_equal_r(dataset):
    name, (w1, w2) = dataset
    seen = []
    for wave, result in ((1, w1), (2, w2)):
        ours = json.loads(json.dumps(result.to_dict(), allow_nan=False))
        seen.append(assert_matches_reference(ours, reference(name, wave)))
    assert sum(s["insensitive"] for s in seen) >= sum(s["groups"] for s in seen) // 3, seen


def test_the_cases_are_there(dataset):
    name, (w1, w2) = dataset
    units = {c: k for c, k in zip(*[__import__("pandas").read_csv(DATASETS[name] / "units.csv", dtype=str)[col]
                                     for col in ("code", "kind")])}
    codes = {u.code for u in w1.units}
    assert any(k == "village" and c not in codes for c, k in units.items())  # not results
    towns = [u for u in w1.units + w2.units if u.kind == "town"]
    assert any(u.indicators["safety_rate"].estimate == 100 and u.rank is not None for u in towns)
    assert all(0 <= e.ci_low <= e.ci_high <= 100 for u in w1.units + w2.units
               for e in (*u.indicators.values(), u.composite) if e.estimate is not None)
    sizes = {u.peer_group: u.group_size for u in w1.units if u.kind == "town" and u.group_size}
    assert min(sizes.values()) < 6 <= max(sizes.values())  # a group below min_group, one at or above it
    assert any(u.flags == ("insufficient_sample",) for u in towns)
    assert not any(e.code in codes and units[e.code] == "village" for e in w1.interview_list + w2.interview_list)
    issued = set(reference(name, 2)["previous_issued"])
    listed_bottom_1 = {e.code for e in w1.interview_list if e.reason == "bottom_n"}
    excluded = listed_bottom_1 - issued
    assert len(excluded) == 1
    escalated = {e.code for e in w2.interview_list if e.escalation == "key_management"}
    assert escalated and escalated <= issued
    assert excluded <= {e.code for e in w2.interview_list} and not excluded & escalated  # taken off: no 重点管理
    if name == "city":
        small = [u for u in w1.units if u.kind == "village" and u.n < 30]
        assert small and all(u.grade is None and u.flags == () and u.rank is None for u in small)
        single = w1.unit("510703003")
        assert single.composite.se == 0 and single.rank is not None and "single_psu_stratum" in single.warnings


@pytest.mark.parametrize("name", list(DATASETS))
@pytest.mark.parametrize("wave", [1, 2])
def test_final_weights_equal_r(name, wave):
    """Every response's final weight (raking, merging, trimming, the mean for the unraked) against
    R's expected_weights_w*.csv, at 1e-8 relative: a weighting mismatch shows here, apart from a
    variance one."""
    spec, units, margins, r1, r2 = frames(name)
    responses = r1 if wave == 1 else r2
    hierarchy = build_hierarchy(units)
    weights = rake_weights(spec, hierarchy, margins, code_responses(spec, hierarchy, responses)).weights
    expected = pd.read_csv(DATASETS[name] / f"expected_weights_w{wave}.csv", dtype={"response_id": str})
    assert list(expected["response_id"]) == list(responses["response_id"])
    np.testing.assert_allclose(weights, expected["weight"].to_numpy(), rtol=TOL, atol=0)


def test_make_r_reference_regenerates_every_reference_fixture():
    """`make r-reference` runs every make_dataset.py and make_reference.R under tests/fixtures."""
    root = DATASETS["city"].parents[2]
    makefile = (root / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\nr-reference:", 1)[1].split("\n\n", 1)[0]
    scripts = sorted(p.relative_to(root).as_posix() for p in (root / "tests" / "fixtures").rglob("make_*.*"))
    assert scripts and all(s in recipe for s in scripts), (scripts, recipe)
    assert "make_reference.R practice" in recipe
