"""Simultaneous rank intervals (docs/method.md "Rank intervals") against a brute-force reading of the text."""

import itertools
import math
import zlib

import numpy as np
import pytest

from analysis import analyse_wave
from analysis.ranking import rank_critical_value, rank_groups, rank_intervals

from .conftest import margins_frame, responses_frame, units_frame


def brute_rank_ci(x, s, seed, key, draws=2000):
    """Written out from the text with loops: the same generator and draws, everything else by hand."""
    g = len(x)
    if g == 1:
        return [(1, 1)], 0.0
    rng = np.random.default_rng([seed, zlib.crc32(key.encode("utf-8"))])
    z = rng.standard_normal((draws, g)) * np.asarray(s)
    maxima = []
    for row in z:
        best = 0.0
        for j, k in itertools.permutations(range(g), 2):
            sjk = math.sqrt(s[j] ** 2 + s[k] ** 2)
            if sjk > 0:
                best = max(best, abs(row[j] - row[k]) / sjk)
        maxima.append(best)
    maxima.sort()
    h = (draws - 1) * 0.95  # the 0.95 quantile, R's type 7
    c = maxima[int(math.floor(h))] + (h - math.floor(h)) * (maxima[int(math.floor(h)) + 1] - maxima[int(math.floor(h))])
    out = []
    for j in range(g):
        lo = 1 + sum(1 for k in range(g) if k != j and x[j] - x[k] > c * math.sqrt(s[j] ** 2 + s[k] ** 2))
        hi = g - sum(1 for k in range(g) if k != j and x[k] - x[j] > c * math.sqrt(s[j] ** 2 + s[k] ** 2))
        out.append((lo, hi))
    return out, c


def test_rank_groups_equal_the_brute_force_with_the_same_seed():
    rng = np.random.default_rng(11)
    g = 9
    codes = ["K"] + [f"T{i}" for i in range(g)]
    comp = np.r_[80.0, rng.normal(80, 3, g)]
    se = np.r_[0.5, rng.uniform(0.3, 2.5, g)]
    se[3] = 0.0  # a unit with SE 0 (single PSU) still takes part
    r = rank_groups(codes, ["county"] + ["town"] * g, [None] + ["K"] * g, np.full(g + 1, 100), comp, se,
                    comp, 30, 3, 20260701, 2000, ranked_kinds=["town"])
    order = sorted(range(1, g + 1), key=lambda u: comp[u])
    want, c = brute_rank_ci([comp[u] for u in order], [se[u] for u in order], 20260701, "town:K")
    got = [r[u].rank_ci for u in order]
    assert got == want
    assert [r[u].rank for u in order] == list(range(1, g + 1))
    assert all(lo <= r[u].rank <= hi for u, (lo, hi) in zip(order, got))
    assert r[0].rank_ci is None  # the root
    assert 2.0 < c < 4.0  # between the one-pair and the Bonferroni value for 36 pairs


def test_rank_ci_through_analyse_wave_equals_the_brute_force(spec):
    units = units_frame([("K", "county", None)] + [(f"T{i}", "town", "K") for i in range(1, 7)])
    rng = np.random.default_rng(3)
    rows = [
        {"unit_code": f"T{i}", "q1": "ABC"[min(2, rng.integers(i + 1) // 2)], "q2": "ABC"[rng.integers(3)],
         "psu": f"P{j % 3}"}
        for i in range(1, 7)
        for j in range(15)
    ]
    result = analyse_wave(spec, units, margins_frame([]), responses_frame(rows), seed=99)
    towns = sorted((u for u in result.units if u.kind == "town"), key=lambda u: u.rank)
    want, _ = brute_rank_ci([u.composite.estimate for u in towns], [u.composite.se for u in towns], 99, "town:K")
    assert [u.rank_ci for u in towns] == want
    assert len({u.rank_ci for u in towns}) > 1
    again = analyse_wave(spec, units, margins_frame([]), responses_frame(rows), seed=99)
    assert [u.rank_ci for u in again.units] == [u.rank_ci for u in result.units]  # seeded: repeatable


def test_well_separated_units_get_their_rank_and_equal_ones_the_whole_range():
    lo, hi = rank_intervals(np.array([10.0, 50.0, 90.0]), np.array([1.0, 1.0, 1.0]), 2.4)
    assert list(zip(lo, hi)) == [(1, 1), (2, 2), (3, 3)]
    lo, hi = rank_intervals(np.array([50.0, 50.1, 50.2, 90.0]), np.array([1.0, 1.0, 1.0, 1.0]), 2.4)
    assert list(zip(lo, hi)) == [(1, 3), (1, 3), (1, 3), (4, 4)]
    # SE 0 everywhere: c = 0 and the ranks are exact (ties share an interval)
    assert rank_critical_value(np.zeros(4), np.random.default_rng(0)) == 0.0
    lo, hi = rank_intervals(np.array([1.0, 2.0, 2.0, 3.0]), np.zeros(4), 0.0)
    assert list(zip(lo, hi)) == [(1, 1), (2, 3), (2, 3), (4, 4)]


def test_critical_value_of_two_units_is_the_normal_quantile():
    # one pair: |Z1 − Z2| / s12 is |N(0, 1)|, whose 0.95 quantile is 1.96
    c = rank_critical_value(np.array([1.0, 2.0]), np.random.default_rng(5), draws=200000)
    assert c == pytest.approx(1.959964, abs=0.02)


def test_critical_value_equals_a_direct_computation_for_a_big_group():
    s = np.random.default_rng(2).uniform(0.5, 2.0, 60)
    s[7] = 0.0
    got = rank_critical_value(s, np.random.default_rng(8), draws=500)
    z = np.random.default_rng(8).standard_normal((500, 60)) * s
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.abs(z[:, :, None] - z[:, None, :]) / np.sqrt(s[:, None] ** 2 + s[None, :] ** 2)
    t = np.where(np.isfinite(t), t, 0.0)
    assert got == pytest.approx(np.quantile(t.max(axis=(1, 2)), 0.95), rel=1e-12)
    # and in blocks of any size
    import analysis.ranking as ranking

    old, ranking.PAIR_CELLS = ranking.PAIR_CELLS, 7
    try:
        assert rank_critical_value(s, np.random.default_rng(8), draws=500) == got
    finally:
        ranking.PAIR_CELLS = old
