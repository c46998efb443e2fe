import json

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from analysis import AnalysisError, WaveResult, analyse_wave
from analysis.results import Estimate
from analysis.wave import difference

from .conftest import CITY, margins_frame, random_responses, responses_frame, units_frame

SECTION5_UNIT_KEYS = {
    "code",
    "name",
    "kind",
    "parent_code",
    "n",
    "n_eff",
    "indicators",
    "composite",
    "rank",
    "group_size",
    "p_bottom",
    "rank_ci",
    "grade",
    "color",
    "flags",
    "warnings",
    "integrity",
}
EXTRA_UNIT_KEYS = {"n_flagged", "change", "peer_group"}
SECTION5_UNIT_KEYS |= {"items", "options", "weak_items", "drivers"}  # item results (docs/formats.md)


@pytest.fixture
def two_waves(spec):
    units = units_frame(CITY)
    margins = margins_frame([("T11", "sex", "M", 100), ("T11", "sex", "F", 120)])
    w1 = random_responses(np.random.default_rng(1), ["T11", "T12", "T21", "T22", "V111", "D1", "D2"], 30)
    w2 = random_responses(np.random.default_rng(2), ["T11", "T12", "T21", "T22", "V111", "D1", "D2"], 30)
    first = analyse_wave(spec, units, margins, w1)
    second = analyse_wave(spec, units, margins, w2, previous=first)
    return first, second


def test_json_shape(two_waves):
    _, result = two_waves
    d = result.to_dict(wave="2026Q3-towns", period="2026Q3", series="safety")
    text = json.dumps(d, allow_nan=False, ensure_ascii=False)  # no NaN anywhere
    assert json.loads(text) == d
    assert set(d) == {"wave", "period", "series", "units", "interview_list", "distributions", "warnings", "params"}
    assert (d["wave"], d["period"], d["series"]) == ("2026Q3-towns", "2026Q3", "safety")
    assert d["params"] == {"weight_cap": 5.0, "seed": 20260701, "draws": 20000}
    for u in d["units"]:
        assert set(u) == SECTION5_UNIT_KEYS | EXTRA_UNIT_KEYS
        assert set(u["composite"]) == {"estimate", "se", "ci_low", "ci_high", "deff"}
        for e in u["indicators"].values():
            assert set(e) == {"estimate", "se", "ci_low", "ci_high", "n"}
    root = d["units"][0]
    assert root["parent_code"] is None and root["peer_group"] is None and root["rank"] is None
    assert d["units"][1]["peer_group"] == "department:C"
    for e in d["interview_list"]:
        assert list(e) == ["code", "reason", "rank", "rank_ci", "escalation"]
    keys = list(d["units"][1])
    assert keys[keys.index("p_bottom") + 1] == "rank_ci"
    # distributions over the root domain (departments excluded)
    q1 = d["distributions"]["q1"]
    assert list(q1) == ["A", "B", "C", "X"]
    assert_allclose(sum(v["share"] for v in q1.values()), 1.0)
    n_root = d["units"][0]["n"]
    assert sum(v["count"] for v in q1.values()) <= n_root
    assert list(d["distributions"]) == ["q1", "q2", "sex", "age"]


def test_round_trip(two_waves):
    for result in two_waves:
        d = json.loads(json.dumps(result.to_dict(wave="w", period="2026Q3", series="s")))
        back = WaveResult.from_dict(d)
        assert back == result
        assert back.to_dict(wave="w", period="2026Q3", series="s") == d


def test_change_against_previous(two_waves):
    first, second = two_waves
    assert all(u.change is None for u in first.units)
    for u in second.units:
        prev = first.unit(u.code)
        if u.composite.estimate is None or prev.composite.estimate is None:
            continue
        c = u.change.composite
        assert c.estimate == pytest.approx(u.composite.estimate - prev.composite.estimate)
        assert c.se == pytest.approx(np.hypot(u.composite.se, prev.composite.se))
        assert c.ci_low == pytest.approx(c.estimate - 1.959964 * c.se)
        assert c.previous == prev.composite.estimate
        assert c.significant == (c.ci_low > 0 or c.ci_high < 0)
        assert set(u.change.indicators) == {"safety", "satisfaction", "rate"}


def test_difference_significance():
    cur = Estimate.from_estimate(80.0, 1.0, n=100)
    assert difference(cur, Estimate.from_estimate(75.0, 1.0)).significant is True
    d = difference(cur, Estimate.from_estimate(79.0, 1.0))
    assert d.significant is False and d.estimate == 1.0 and d.se == pytest.approx(np.sqrt(2))
    assert difference(cur, Estimate.missing(n=0)) is None


def test_change_is_null_per_key_when_one_side_is_missing(spec):
    units = units_frame([("K", "county", None), ("T", "town", "K")])
    w1 = responses_frame([{"unit_code": "T", "q1": "X", "q2": "A"}, {"unit_code": "T", "q1": "X", "q2": "B"}])
    w2 = responses_frame([{"unit_code": "T", "q1": "A", "q2": "A"}, {"unit_code": "T", "q1": "C", "q2": "B"}])
    first = analyse_wave(spec, units, margins_frame([]), w1)
    second = analyse_wave(spec, units, margins_frame([]), w2, previous=first)
    ch = second.unit("T").change
    assert ch.composite is None and ch.indicators["safety"] is None
    assert ch.indicators["satisfaction"] is not None


def test_units_order_depth_then_code(spec):
    units = units_frame([("Z", "town", "K"), ("K", "county", None), ("A", "town", "K"), ("V", "village", "A")])
    rows = [{"unit_code": "V", "q1": "A"}, {"unit_code": "Z", "q1": "B"}]
    result = analyse_wave(spec, units, margins_frame([]), responses_frame(rows))
    assert [u.code for u in result.units] == ["K", "A", "Z", "V"]
    assert result.units[0].n == 2 and result.unit("Z").n == 1


def test_no_responses_at_all(spec):
    units = units_frame([("K", "county", None), ("T", "town", "K")])
    result = analyse_wave(spec, units, margins_frame([]), responses_frame([]))
    assert result.root.n == 0 and result.root.composite.estimate is None
    assert [u.code for u in result.units] == ["K"]  # the root is always kept; T has no respondent
    assert result.interview_list == ()
    json.dumps(result.to_dict(), allow_nan=False)


@pytest.mark.parametrize(
    "rows, code",
    [
        ([{"unit_code": "T", "q1": "Q"}], "unknown_option"),
        ([{"unit_code": "T", "sex": "male"}], "unknown_option"),
        ([{"unit_code": "NOPE", "q1": "A"}], "unknown_unit"),
    ],
)
def test_bad_codes_are_analysis_errors(spec, rows, code):
    units = units_frame([("K", "county", None), ("T", "town", "K")])
    with pytest.raises(AnalysisError) as err:
        analyse_wave(spec, units, margins_frame([]), responses_frame(rows))
    assert err.value.code == code
    assert err.value.message  # Chinese text for the CLI/admin


def test_bad_inputs_are_analysis_errors(spec):
    two_roots = units_frame([("K", "county", None), ("T", "town", None)])
    with pytest.raises(AnalysisError) as err:
        analyse_wave(spec, two_roots, margins_frame([]), responses_frame([]))
    assert err.value.code == "bad_units"
    units = units_frame([("K", "county", None), ("T", "town", "K")])
    dup = margins_frame([("T", "sex", "M", 1), ("T", "sex", "M", 2)])
    with pytest.raises(AnalysisError) as err:
        analyse_wave(spec, units, dup, responses_frame([{"unit_code": "T", "sex": "M"}]))
    assert err.value.code == "duplicate_margin"
    missing_col = responses_frame([{"unit_code": "T"}]).drop(columns=["q2"])
    with pytest.raises(AnalysisError) as err:
        analyse_wave(spec, units, margins_frame([]), missing_col)
    assert err.value.code == "bad_responses"
    with pytest.raises(AnalysisError):
        analyse_wave(spec, units, margins_frame([]), responses_frame([]), weight_cap=-1)


def test_blank_strings_and_nan_are_unanswered(spec):
    units = units_frame([("T", "town", None)])
    df = pd.DataFrame(
        {
            "response_id": ["a", "b", "c"],
            "unit_code": ["T", "T", "T"],
            "psu": ["", np.nan, None],
            "flagged": [True, False, np.nan],
            "q1": ["A", "", np.nan],
            "q2": [None, "B", " "],
            "sex": ["M", None, None],
            "age": [None, None, None],
        }
    )
    result = analyse_wave(spec, units, margins_frame([]), df)
    assert result.root.indicators["safety"].n == 1
    assert result.root.indicators["satisfaction"].n == 2
    assert result.root.n_flagged == 1
    assert "single_psu_stratum" not in result.root.warnings  # three own PSUs


def test_cis_stay_inside_the_scale_and_shares_use_korn_graubard(spec):
    # every respondent answers A: estimates at 100, SE 0 → CIs [100, 100] for scores, Clopper–Pearson for
    # the share; a mixed town near 100% must not pass 100 either
    units = units_frame([("K", "county", None), ("T1", "town", "K"), ("T2", "town", "K")])
    rows = [{"unit_code": "T1", "q1": "A", "q2": "A", "psu": f"P{j % 3}"} for j in range(9)]
    rows += [{"unit_code": "T2", "q1": "A" if j else "C", "q2": "A", "psu": f"P{j % 3}"} for j in range(30)]
    result = analyse_wave(spec, units, margins_frame([]), responses_frame(rows))
    t1 = result.unit("T1")
    assert (t1.indicators["safety"].ci_low, t1.indicators["safety"].ci_high) == (100.0, 100.0)
    rate = t1.indicators["rate"]
    assert rate.estimate == 100 and rate.ci_high == 100.0
    assert rate.ci_low == pytest.approx(100 * 0.025 ** (1 / 9))  # Clopper–Pearson, x = n = 9
    for u in result.units:
        for e in [*u.indicators.values(), u.composite]:
            assert 0 <= e.ci_low <= e.estimate <= e.ci_high <= 100, u.code
    t2 = result.unit("T2")
    assert t2.indicators["safety"].estimate + 1.959964 * t2.indicators["safety"].se > 100
    assert t2.indicators["safety"].ci_high == 100.0


def test_changes_are_significant_only_when_both_periods_have_min_n(spec):
    units = units_frame([("K", "county", None), ("T1", "town", "K"), ("T2", "town", "K")])

    def wave(t2_n, answer):
        rows = [{"unit_code": "T1", "q1": answer, "q2": answer, "psu": f"P{j % 3}"} for j in range(12)]
        rows += [{"unit_code": "T1", "q1": "B", "q2": "B", "psu": "P0"}]
        rows += [{"unit_code": "T2", "q1": answer, "q2": answer, "psu": f"P{j % 2}"} for j in range(t2_n)]
        rows += [{"unit_code": "T2", "q1": "B", "q2": "B", "psu": "P1"}]
        return responses_frame(rows)

    first = analyse_wave(spec, units, margins_frame([]), wave(3, "C"))  # T2: n = 4 < min_n 5
    second = analyse_wave(spec, units, margins_frame([]), wave(12, "A"), previous=first)
    t1, t2 = second.unit("T1").change.composite, second.unit("T2").change.composite
    assert t1.significant and t1.ci_low > 0
    assert t2.ci_low > 0 and not t2.significant  # the CI excludes 0, but the previous n was 4
    assert not second.unit("T2").change.indicators["safety"].significant
