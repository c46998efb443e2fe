import numpy as np
import pytest
from numpy.testing import assert_allclose

from analysis import analyse_wave
from analysis.ranking import interview_list, p_bottom, rank_groups
from analysis.results import InterviewEntry

from .conftest import make_spec, margins_frame, responses_frame, units_frame

NAN = np.nan


def rank(codes, kinds, parents, n, comp, se=None, first=None, min_n=5, bottom_n=2, seed=1, draws=2000):
    m = len(codes)
    return rank_groups(
        codes,
        kinds,
        parents,
        np.array(n),
        np.array(comp, dtype=float),
        np.array(se if se is not None else [1.0] * m, dtype=float),
        np.array(first if first is not None else [0.0] * m, dtype=float),
        min_n,
        bottom_n,
        seed,
        draws,
    )


def test_ties_are_broken_by_the_first_indicator_then_code():
    codes = ["C", "T1", "T2", "T3", "T4"]
    kinds = ["city", "town", "town", "town", "town"]
    parents = [None, "C", "C", "C", "C"]
    r = rank(codes, kinds, parents, [100, 10, 10, 10, 10], [80, 70, 70, 70, 60], first=[0, 90, 85, 90, 99])
    assert [x.rank for x in r] == [None, 3, 2, 4, 1]
    assert [x.group_size for x in r] == [None, 4, 4, 4, 4]
    assert r[0].p_bottom is None and not r[0].insufficient  # the root is not ranked


def test_min_n_units_are_not_ranked_and_flagged():
    codes = ["C", "T1", "T2", "T3", "D1"]
    kinds = ["city", "town", "town", "town", "department"]
    parents = [None, "C", "C", "C", "C"]
    r = rank(codes, kinds, parents, [100, 4, 5, 0, 9], [80, 10, 70, NAN, 75])
    assert [x.rank for x in r] == [None, None, 1, None, 1]
    assert [x.insufficient for x in r] == [False, True, False, False, False]  # T3: no respondent, no result
    assert [x.group_size for x in r] == [None, 1, 1, None, 1]
    assert [x.p_bottom for x in r] == [None, None, 1.0, None, 1.0]  # groups with ≤ bottom_n ranked units
    assert [x.rank_ci for x in r] == [None, None, (1, 1), None, (1, 1)]  # a group of one


def test_unit_with_enough_respondents_but_no_composite_is_neither_ranked_nor_flagged():
    r = rank(["C", "T1", "T2"], ["city", "town", "town"], [None, "C", "C"], [9, 6, 6], [80, NAN, 70])
    assert (r[1].rank, r[1].insufficient, r[1].group_size) == (None, False, 1)


def test_p_bottom_is_repeatable_and_sums_to_n():
    est = np.array([60.0, 61.0, 62.0, 70.0, 90.0])
    se = np.array([1.0, 1.0, 1.5, 2.0, 0.5])
    a = p_bottom(est, se, 2, np.random.default_rng([1, 2]), 20000)
    b = p_bottom(est, se, 2, np.random.default_rng([1, 2]), 20000)
    assert np.array_equal(a, b)
    assert_allclose(a.sum(), 2.0)
    assert a[-1] == 0.0 and a[0] > 0.9
    assert np.all((a >= 0) & (a <= 1))
    # exact for two units: P(X1 < X2) = Φ((μ2 − μ1)/√(σ1² + σ2²))
    from scipy.stats import norm

    pair = p_bottom(np.array([50.0, 51.0]), np.array([1.0, 1.0]), 1, np.random.default_rng(3), 200000)
    assert_allclose(pair[0], norm.cdf(1 / np.sqrt(2)), atol=0.005)


def test_p_bottom_is_one_for_small_groups_and_zero_for_bottom_0():
    assert_allclose(p_bottom(np.array([1.0, 2.0]), np.array([1.0, 1.0]), 2, np.random.default_rng(0), 100), [1, 1])
    assert_allclose(p_bottom(np.array([1.0, 2.0]), np.array([1.0, 1.0]), 0, np.random.default_rng(0), 100), [0, 0])


def test_p_bottom_of_a_group_does_not_depend_on_other_groups():
    codes = ["C", "T1", "T2", "T3", "T4", "D1", "D2", "D3"]
    kinds = ["city"] + ["town"] * 4 + ["department"] * 3
    parents = [None] + ["C"] * 7
    comp = [80, 70, 71, 72, 73, 60, 61, 62]
    n = [100] * 8
    full = rank(codes, kinds, parents, n, comp)
    towns_only = rank(codes[:5], kinds[:5], parents[:5], n[:5], comp[:5])
    assert [x.p_bottom for x in full[:5]] == [x.p_bottom for x in towns_only]
    again = rank(codes, kinds, parents, n, comp)
    assert [x.p_bottom for x in full] == [x.p_bottom for x in again]
    other_seed = rank(codes, kinds, parents, n, comp, seed=2)
    assert [x.p_bottom for x in full] != [x.p_bottom for x in other_seed]


def test_interview_list_order_and_escalation():
    codes = ["C", "K1", "K2", "K3", "D1", "D2", "T11", "T12", "T13", "T21"]
    kinds = ["city", "county", "county", "county", "department", "department", "town", "town", "town", "town"]
    parents = [None, "C", "C", "C", "C", "C", "K1", "K1", "K1", "K2"]
    n = [500, 100, 100, 100, 2, 40, 50, 50, 3, 50]
    comp = [80, 75, 70, 72, NAN, 60, 81, 79, NAN, 50]
    r = rank(codes, kinds, parents, n, comp, bottom_n=2)
    lst = interview_list(codes, kinds, parents, r, 2, previous_issued={"K2", "T21", "D1"})
    assert [(e.code, e.reason, e.rank, e.escalation) for e in lst] == [
        ("K2", "bottom_n", 1, "key_management"),
        ("K3", "bottom_n", 2, None),
        ("D2", "bottom_n", 1, None),
        ("D1", "insufficient_sample", None, "key_management"),
        ("T12", "bottom_n", 1, None),
        ("T11", "bottom_n", 2, None),
        ("T13", "insufficient_sample", None, None),
        ("T21", "bottom_n", 1, "key_management"),
    ]
    # sorted by kind as a plain string ("county" < "department" < "town"), then parent code
    assert all(isinstance(e, InterviewEntry) for e in lst)


def test_analyse_wave_ranks_grades_and_escalates_only_after_issuing(spec):
    # min_n 5, bottom_n 2, min_group 4 (2 × bottom_n)
    units = units_frame([("K", "county", None)] + [(f"T{i}", "town", "K") for i in range(1, 7)])
    answers = {"T1": "A", "T2": "B", "T3": "C", "T4": "A", "T5": "B", "T6": "A"}
    rows = [{"unit_code": t, "q1": a, "q2": a, "psu": f"P{j % 2}"} for t, a in answers.items() for j in range(6)]
    rows += [{"unit_code": "T4", "q1": "C", "q2": "C"}, {"unit_code": "T5", "q1": "C", "q2": "C"}]
    rows = [r for r in rows if not (r["unit_code"] == "T1" and r["psu"] == "P1")]  # T1: 3 respondents < min_n 5
    result = analyse_wave(spec, units, margins_frame([]), responses_frame(rows))
    by = {u.code: u for u in result.units}
    assert [by[t].rank for t in ("T3", "T5", "T2", "T4", "T6")] == [1, 2, 3, 4, 5]
    assert by["T1"].rank is None and by["T1"].rank_ci is None and by["T1"].p_bottom is None
    assert by["T1"].flags == ("insufficient_sample",) and by["T1"].group_size == 5
    assert by["T3"].grade == "不合格" and by["T3"].color == "red"
    assert by["T1"].grade is None and by["T1"].color is None  # under min_n: no grade, no colour
    assert by["T1"].composite.estimate == pytest.approx(100)  # … though its estimate is reported
    assert [(e.code, e.reason, e.rank, e.escalation) for e in result.interview_list] == [
        ("T3", "bottom_n", 1, None),
        ("T5", "bottom_n", 2, None),
        ("T1", "insufficient_sample", None, None),
    ]
    assert result.interview_list[0].rank_ci == by["T3"].rank_ci
    # the previous list computed but never issued escalates nobody
    again = analyse_wave(spec, units, margins_frame([]), responses_frame(rows), previous=result)
    assert [e.escalation for e in again.interview_list] == [None, None, None]
    # issued to T3 only (T5 taken off): T3 escalates; an insufficient_sample unit issued for bottom_n too
    issued = analyse_wave(spec, units, margins_frame([]), responses_frame(rows), previous=result,
                          previous_issued={"T3", "T1"})
    assert [e.escalation for e in issued.interview_list] == ["key_management", None, "key_management"]
    assert again.unit("T3").p_bottom == result.unit("T3").p_bottom


def test_small_peer_groups_list_nobody_for_bottom_n(spec):
    spec = make_spec(ranking={"bottom_n": 2, "min_n": 5, "min_group": 3})
    units = units_frame(
        [("C", "city", None), ("K1", "county", "C"), ("K2", "county", "C")]
        + [(f"A{i}", "town", "K1") for i in range(3)]
        + [(f"B{i}", "town", "K2") for i in range(2)]
    )
    rows = [{"unit_code": t, "q1": "ABC"[i % 3], "q2": "ABC"[j % 3]} for i, t in enumerate(["A0", "A1", "A2", "B0", "B1"]) for j in range(8)]
    rows += [{"unit_code": "B1", "q1": "C", "q2": "C"}]
    result = analyse_wave(spec, units, margins_frame([]), responses_frame(rows))
    listed = [(e.code, e.reason) for e in result.interview_list]
    # K1's towns: 3 ranked = min_group → bottom 2 listed; K2's towns: 2 ranked < 3 → ranked, nobody listed;
    # the counties: 2 ranked < 3
    assert [c for c, _ in listed] == [u.code for u in sorted(
        (result.unit(c) for c in ("A0", "A1", "A2")), key=lambda u: u.rank)][:2]
    assert result.unit("B0").rank is not None and result.unit("B0").group_size == 2
    assert result.unit("K1").rank is not None


def test_only_ranked_kinds_are_ranked_or_flagged(spec):
    units = units_frame(
        [("K", "county", None)]
        + [(f"T{i}", "town", "K") for i in range(1, 5)]
        + [("V1", "village", "T1"), ("V2", "village", "T1"), ("V3", "village", "T1")]
    )
    rows = [{"unit_code": f"T{i}", "q1": "ABC"[(i + j) % 3], "q2": "AB"[j % 2]} for i in range(2, 5) for j in range(6)]
    rows += [{"unit_code": "V1", "q1": "A", "q2": "B"} for _ in range(6)]  # 6 ≥ min_n
    rows += [{"unit_code": "V2", "q1": "C", "q2": "B"} for _ in range(2)]  # 2 < min_n
    result = analyse_wave(spec, units, margins_frame([]), responses_frame(rows))
    codes = [u.code for u in result.units]
    assert "V3" not in codes  # no respondent: not a result
    v1, v2, t1 = result.unit("V1"), result.unit("V2"), result.unit("T1")
    for v in (v1, v2):
        assert (v.rank, v.rank_ci, v.p_bottom, v.group_size, v.flags) == (None, None, None, None, ())
    assert v1.grade is not None and v2.grade is None  # grades follow min_n, ranked or not
    assert t1.n == 8 and t1.rank is not None and t1.group_size == 4  # T1's respondents are its villages'
    assert not any(e.code.startswith("V") for e in result.interview_list)
    # villages ranked when the questionnaire says so
    spec_v = make_spec(ranking={"bottom_n": 2, "min_n": 5, "kinds": ["town", "village"]})
    rv = analyse_wave(spec_v, units, margins_frame([]), responses_frame(rows))
    assert rv.unit("V1").rank == 1 and rv.unit("V2").flags == ("insufficient_sample",)
    assert rv.root.rank is None
    assert ("V2", "insufficient_sample") in [(e.code, e.reason) for e in rv.interview_list]


def test_p_bottom_through_analyse_wave_is_seeded(spec):
    units = units_frame([("K", "county", None)] + [(f"T{i}", "town", "K") for i in range(1, 6)])
    rng = np.random.default_rng(0)
    rows = [
        {"unit_code": f"T{i}", "q1": "ABC"[rng.integers(3)], "q2": "ABC"[rng.integers(3)]}
        for i in range(1, 6)
        for _ in range(12)
    ]
    resp = responses_frame(rows)
    a = analyse_wave(spec, units, margins_frame([]), resp, seed=5, draws=5000)
    b = analyse_wave(spec, units, margins_frame([]), resp, seed=5, draws=5000)
    c = analyse_wave(spec, units, margins_frame([]), resp, seed=6, draws=5000)
    pa = [u.p_bottom for u in a.units[1:]]
    assert pa == [u.p_bottom for u in b.units[1:]]
    assert pa != [u.p_bottom for u in c.units[1:]]
    assert sum(pa) == pytest.approx(2.0)


def test_p_bottom_exact_ties_count_exactly_n_per_draw():
    # SE 0 and equal estimates: the earlier (better-ranked-as-lower) unit is taken
    pb = p_bottom(np.array([50.0, 50.0, 50.0, 60.0]), np.zeros(4), 2, np.random.default_rng(0), 100)
    assert_allclose(pb, [1, 1, 0, 0])
    big = np.r_[np.full(3, 50.0), np.arange(60.0, 100.0)]
    pb = p_bottom(big, np.zeros(len(big)), 2, np.random.default_rng(0), 100)
    assert_allclose(pb[:4], [1, 1, 0, 0])
    assert pb.sum() == 2


def test_threads_do_not_change_p_bottom(monkeypatch):
    import analysis.ranking as ranking

    codes = ["C"] + [f"T{i:02d}" for i in range(40)] + [f"D{i}" for i in range(30)]
    kinds = ["city"] + ["town"] * 40 + ["department"] * 30
    parents = [None] + ["C"] * 70
    rng = np.random.default_rng(4)
    comp = list(rng.normal(80, 2, 71))
    se = list(rng.uniform(0.5, 2, 71))
    threaded = rank(codes, kinds, parents, [100] * 71, comp, se=se, draws=20000)
    monkeypatch.setattr(ranking, "THREADS", 1)
    single = rank(codes, kinds, parents, [100] * 71, comp, se=se, draws=20000)
    assert [x.p_bottom for x in threaded] == [x.p_bottom for x in single]


@pytest.mark.parametrize("bottom_n", [1, 2, 3, 6, 7])  # ≤ 6: argmin passes; above: a partition per draw
def test_p_bottom_counts_each_draws_lowest_from_the_same_normals(bottom_n):
    """The draws are the seeded normals in row order whatever the block size; a unit's count is the
    number of draws in which it is among the bottom_n lowest, exact ties to the earlier unit (in
    ascending order of the estimate). Some SEs are 0 and some estimates equal, so ties occur."""
    rng = np.random.default_rng(bottom_n)
    m, draws = 23, 3001
    est = np.round(rng.normal(80, 2, m))
    se = np.where(rng.random(m) < 0.3, 0.0, rng.uniform(0.1, 1.5, m))
    got = p_bottom(est, se, bottom_n, np.random.default_rng(99), draws)
    order = np.argsort(est, kind="stable")
    x = np.random.default_rng(99).standard_normal((draws, m)) * se[order] + est[order]
    lowest = np.argsort(x, axis=1, kind="stable")[:, :bottom_n]  # ties: the earlier column
    expected = np.empty(m)
    expected[order] = np.bincount(lowest.ravel(), minlength=m) / draws
    assert got.tobytes() == expected.tobytes()
