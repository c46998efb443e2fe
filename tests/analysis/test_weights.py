import numpy as np
import pytest
from numpy.testing import assert_allclose

from analysis import AnalysisError, analyse_wave
from analysis.hierarchy import build_hierarchy
from analysis.responses import code_responses
from analysis.weights import ipf, merge_categories, rake_weights

from .conftest import margins_frame, responses_frame, units_frame

TOWN = units_frame([("K", "county", None), ("T", "town", "K"), ("V", "village", "T"), ("D", "department", "K")])
SEX_AGE = [
    ("T", "sex", "M", 600),
    ("T", "sex", "F", 400),
    ("T", "age_group", "Y", 300),
    ("T", "age_group", "M", 400),
    ("T", "age_group", "O", 300),
]


class Weighed:
    def __init__(self, res, h):
        self.weights = res.weights
        self.wave_warnings = res.wave_warnings
        self.unit_warnings = {h.codes[u]: ws for u, ws in res.unit_warnings.items()}  # by unit code


def weigh(spec, units, margins, rows, cap=0.0):
    h = build_hierarchy(units)
    coded = code_responses(spec, h, responses_frame(rows))
    return Weighed(rake_weights(spec, h, margins_frame(margins), coded, cap), h)


def cells(counts):
    """Respondents of town T from {(sex, age): count}."""
    return [{"unit_code": "T", "sex": s, "age": a} for (s, a), k in counts.items() for _ in range(k)]


def margin_sums(w, rows, key):
    out = {}
    for wi, r in zip(w, rows):
        out[r[key]] = out.get(r[key], 0.0) + wi
    return out


def reference_rake(rows, margins, w0=None, sweeps=2000):
    """Plain-Python IPF over the respondents of one unit (dims in questionnaire order: sex, then age)."""
    w = list(w0) if w0 is not None else [1.0] * len(rows)
    for _ in range(sweeps):
        before = w
        for key, dim in (("sex", "sex"), ("age", "age_group")):
            pops = {c: v for (_, d, c, v) in margins if d == dim}
            if not pops:
                continue
            s = margin_sums(w, rows, key)
            w = [wi * pops[r[key]] / s[r[key]] for wi, r in zip(w, rows)]
        if max(abs(a / b - 1) for a, b in zip(w, before)) < 1e-14:
            break
    return np.array(w)


def test_raking_matches_margins_and_plain_ipf(spec):
    rows = cells({("M", "Y"): 3, ("M", "M"): 5, ("M", "O"): 2, ("F", "Y"): 4, ("F", "M"): 2, ("F", "O"): 6})
    res = weigh(spec, TOWN, SEX_AGE, rows)
    w = res.weights
    assert_allclose(sum(w), 1000, rtol=1e-12)
    sex, age = margin_sums(w, rows, "sex"), margin_sums(w, rows, "age")
    assert_allclose([sex["M"], sex["F"]], [600, 400], rtol=1e-10)
    assert_allclose([age["Y"], age["M"], age["O"]], [300, 400, 300], rtol=1e-10)
    assert_allclose(w, reference_rake(rows, SEX_AGE), rtol=1e-9)
    assert res.unit_warnings == {}
    assert res.wave_warnings == set()


def test_villages_are_weighted_by_their_town_and_departments_get_weight_1(spec):
    rows = cells({("M", "Y"): 2, ("F", "M"): 2, ("M", "O"): 2, ("F", "Y"): 2})
    rows += [{"unit_code": "V", "sex": "M", "age": "M"}, {"unit_code": "V", "sex": "F", "age": "O"}]
    rows += [{"unit_code": "D", "sex": "M", "age": "Y"}, {"unit_code": "K", "sex": "F", "age": "Y"}]
    w = weigh(spec, TOWN, SEX_AGE, rows).weights
    assert_allclose(w[:10].sum(), 1000, rtol=1e-12)
    assert_allclose(w[10:], [1.0, 1.0])  # department, and the county itself (above the weighting unit)


def test_department_with_its_own_margins_is_raked(spec):
    margins = [("D", "sex", "M", 30), ("D", "sex", "F", 70)]
    rows = [{"unit_code": "D", "sex": s} for s in "MMMF"]
    w = weigh(spec, TOWN, margins, rows).weights
    assert_allclose(w, [10, 10, 10, 70])


def test_merge_rules():
    # empty category in the middle: merged into the next one
    assert merge_categories([3, 0, 2], [10, 10, 10]) == [[0], [1, 2]]
    # last category empty: merged into the one before
    assert merge_categories([3, 2, 0], [10, 10, 10]) == [[0], [1, 2]]
    # population 0 with respondents: merged too
    assert merge_categories([3, 2, 4], [0, 10, 10]) == [[0, 1], [2]]
    # repeated: the merged group is still empty, so it moves on
    assert merge_categories([0, 0, 5, 1], [1, 1, 1, 1]) == [[0, 1, 2], [3]]
    assert merge_categories([5, 0, 0], [1, 1, 1]) == [[0, 1, 2]]
    assert merge_categories([1, 1], [1, 1]) == [[0], [1]]


@pytest.mark.parametrize(
    "counts, expected_groups",
    [
        ({("M", "Y"): 3, ("M", "O"): 4, ("F", "Y"): 2, ("F", "O"): 3}, {"Y": 300, "MO": 700}),  # middle empty
        ({("M", "Y"): 3, ("M", "M"): 4, ("F", "Y"): 2, ("F", "M"): 3}, {"Y": 300, "MO": 700}),  # last empty
    ],
)
def test_empty_category_is_merged(spec, counts, expected_groups):
    rows = cells(counts)
    res = weigh(spec, TOWN, SEX_AGE, rows)
    age = margin_sums(res.weights, rows, "age")
    assert_allclose(age.get("Y", 0), expected_groups["Y"], rtol=1e-10)
    assert_allclose(age.get("M", 0) + age.get("O", 0), expected_groups["MO"], rtol=1e-10)
    assert res.unit_warnings == {"T": {"merged_category"}}


def test_population_zero_with_respondents_is_merged(spec):
    margins = [m for m in SEX_AGE if m[1] == "sex"] + [("T", "age_group", "Y", 0), ("T", "age_group", "M", 1000)]
    # "O" is absent from the margins: population 0 as well (last → merged into the one before)
    rows = cells({("M", "Y"): 2, ("M", "M"): 3, ("M", "O"): 1, ("F", "Y"): 1, ("F", "M"): 2, ("F", "O"): 2})
    res = weigh(spec, TOWN, margins, rows)
    assert_allclose(res.weights.sum(), 1000, rtol=1e-12)
    sex = margin_sums(res.weights, rows, "sex")
    assert_allclose([sex["M"], sex["F"]], [600, 400], rtol=1e-10)
    assert "merged_category" in res.unit_warnings["T"]


def test_unanswered_dimension_gets_the_mean_raked_weight(spec):
    rows = cells({("M", "Y"): 3, ("M", "M"): 5, ("M", "O"): 2, ("F", "Y"): 4, ("F", "M"): 2, ("F", "O"): 6})
    rows += [{"unit_code": "T", "sex": None, "age": "Y"}, {"unit_code": "T", "sex": "F", "age": None}]
    res = weigh(spec, TOWN, SEX_AGE, rows)
    w = res.weights
    raked = w[:-2]
    assert_allclose(raked, reference_rake(rows[:-2], SEX_AGE), rtol=1e-9)
    assert_allclose(w[-2:], [raked.mean()] * 2, rtol=1e-12)
    assert res.unit_warnings == {"T": {"dimension_unanswered"}}


def test_raking_impossible_when_nobody_answered_the_dimensions(spec):
    rows = [{"unit_code": "T", "sex": None, "age": "Y"}, {"unit_code": "V", "sex": "M", "age": None}]
    res = weigh(spec, TOWN, SEX_AGE, rows)
    assert_allclose(res.weights, [500, 500])
    assert res.unit_warnings == {"T": {"raking_impossible"}}


def test_trimming_caps_and_rerakes(spec):
    # one woman among many men: her raked weight is far above 3 × the mean
    margins = [("T", "sex", "M", 500), ("T", "sex", "F", 500)]
    margins += [("T", "age_group", "Y", 500), ("T", "age_group", "O", 500)]
    counts = {("M", "Y"): 10, ("M", "O"): 12, ("F", "Y"): 1, ("F", "O"): 3}
    rows = cells(counts)
    untrimmed = weigh(spec, TOWN, margins, rows, cap=0).weights
    res = weigh(spec, TOWN, margins, rows, cap=3.0)
    w = res.weights
    assert untrimmed.max() > 3 * untrimmed.mean()
    # margins still match (the final weights are raked ones)
    sex, age = margin_sums(w, rows, "sex"), margin_sums(w, rows, "age")
    assert_allclose([sex["M"], sex["F"], age["Y"], age["O"]], [500] * 4, rtol=1e-10)
    # the reference procedure: cap at 3 × mean, re-rake from the capped weights, repeat
    ref = reference_rake(rows, margins)
    for _ in range(20):
        cap = 3 * ref.mean()
        if ref.max() <= cap * (1 + 1e-9):
            break
        ref = reference_rake(rows, margins, np.minimum(ref, cap))
    assert_allclose(w, ref, rtol=1e-8)
    if w.max() > 3 * w.mean() * (1 + 1e-9):
        assert "trim_not_converged" in res.unit_warnings["T"]
    else:
        assert "T" not in res.unit_warnings
    assert not np.allclose(w, untrimmed)


def test_trim_not_converged_is_reported(spec):
    # F has 1 respondent for half the population: with cap 1.5 no raked solution satisfies the cap
    margins = [("T", "sex", "M", 500), ("T", "sex", "F", 500)]
    rows = [{"unit_code": "T", "sex": "M"}] * 9 + [{"unit_code": "T", "sex": "F"}]
    res = weigh(spec, TOWN, margins, rows, cap=1.5)
    assert res.unit_warnings == {"T": {"trim_not_converged"}}
    assert_allclose(res.weights, [500 / 9] * 9 + [500])  # always the last raked weights


def test_ipf_runs_units_independently():
    # two units, one dimension with two groups each; the result does not depend on the other unit
    wu = np.array([0, 0, 0, 1, 1])
    g = np.array([0, 0, 1, 2, 3])
    pops = np.array([10.0, 5.0, 1.0, 3.0, np.nan])
    gw = np.array([0, 0, 1, 1, 2])
    w, conv = ipf(np.ones(5), wu, [g], [pops], [gw], 2)
    assert_allclose(w, [5, 5, 5, 1, 3])
    assert conv.all()


def test_nested_margins_are_an_error(spec):
    margins = SEX_AGE + [("V", "sex", "M", 10), ("V", "sex", "F", 10)]
    with pytest.raises(AnalysisError) as err:
        weigh(spec, TOWN, margins, cells({("M", "Y"): 1}))
    assert err.value.code == "nested_margins"
    assert "T" in err.value.message and "V" in err.value.message


def test_margin_category_not_an_option_is_an_error(spec):
    with pytest.raises(AnalysisError) as err:
        weigh(spec, TOWN, SEX_AGE + [("T", "age_group", "Z", 0)], cells({("M", "Y"): 1}))
    assert err.value.code == "unknown_category"
    assert "T" in err.value.message and "age_group" in err.value.message and "Z" in err.value.message


def test_margin_totals_must_agree(spec):
    margins = [("T", "sex", "M", 600), ("T", "sex", "F", 400), ("T", "age_group", "Y", 999)]
    with pytest.raises(AnalysisError) as err:
        weigh(spec, TOWN, margins, cells({("M", "Y"): 1}))
    assert err.value.code == "margin_totals_disagree"


def test_dimension_not_in_questionnaire_is_ignored_with_a_warning(spec):
    margins = [("T", "sex", "M", 50), ("T", "sex", "F", 50), ("T", "education", "college", 100)]
    rows = [{"unit_code": "T", "sex": s} for s in "MFF"]
    res = weigh(spec, TOWN, margins, rows)
    assert_allclose(res.weights, [50, 25, 25])
    assert res.wave_warnings == {"dimension_not_in_questionnaire"}
    result = analyse_wave(spec, TOWN, margins_frame(margins), responses_frame(rows))
    assert result.warnings == ("dimension_not_in_questionnaire",)


def test_raking_not_converged_is_reported(spec):
    # every man is young and every woman old, but the margins say 600 men and 300 young: no solution
    rows = cells({("M", "Y"): 3, ("F", "O"): 3})
    margins = [m for m in SEX_AGE if m[1] == "sex"] + [("T", "age_group", "Y", 300), ("T", "age_group", "O", 700)]
    res = weigh(spec, TOWN, margins, rows)
    assert "raking_not_converged" in res.unit_warnings["T"]
    assert "merged_category" in res.unit_warnings["T"]  # age M: no respondents, no population


def test_the_first_bad_margin_row_is_the_one_reported(spec):
    """Margins are checked column by column; the error is still the first bad row's, as a reader going
    down the file meets it (within a row: the category, then the count, then a repeat)."""
    rows = cells({("M", "Y"): 1})
    repeat = ("T", "sex", "M", 600)
    unknown = ("T", "age_group", "Z", 0)
    negative = ("T", "age_group", "O", -1)
    cases = [
        ([*SEX_AGE, repeat, unknown], "duplicate_margin", "sex=M"),
        ([*SEX_AGE, unknown, repeat], "unknown_category", "“Z”"),
        ([*SEX_AGE[:4], negative, repeat], "bad_count", "“-1”"),
        ([*SEX_AGE, ("T", "age_group", "O", -1)], "bad_count", "age_group=O"),  # a repeat with a bad count
        ([("T", "sex", "M", 600), ("T", "sex", "M", "many")], "bad_count", "“many”"),
    ]
    for margins, code, detail in cases:
        with pytest.raises(AnalysisError) as err:
            weigh(spec, TOWN, margins, rows)
        assert err.value.code == code, margins
        assert detail in err.value.message


def test_margin_codes_are_read_with_blanks_around_them_removed(spec):
    rows = cells({("M", "Y"): 2, ("F", "O"): 1, ("M", "M"): 1, ("F", "Y"): 1})
    plain = weigh(spec, TOWN, SEX_AGE, rows)
    padded = [(f" {u}", f"{d} ", f" {c} ", v) for u, d, c, v in SEX_AGE] + [(None, "sex", "M", 5), ("X", None, "M", 5)]
    res = weigh(spec, TOWN, padded, rows)
    assert res.weights.tobytes() == plain.weights.tobytes()
    with pytest.raises(AnalysisError) as err:  # the same unit, dimension and category, spelt with a blank
        weigh(spec, TOWN, [*SEX_AGE, ("T ", "sex", "M", 600)], rows)
    assert err.value.code == "duplicate_margin"
    with pytest.raises(AnalysisError) as err:  # an empty category is no option
        weigh(spec, TOWN, [*SEX_AGE, ("T", "sex", None, 600)], rows)
    assert err.value.code == "unknown_category"
