"""The integrity checks' pattern counting (analysis.integrity) against a pairwise count.

`unit_integrity` never compares sheets pairwise: it codes each answer pattern as one integer and counts
equal (pattern, unit) keys by sorting. Here every way it can take (k = 0 or 1; eligibility judged per
possible pattern or per sheet; one int64 code or the numbered 64-bit hashes) is compared, on random
sheets with many near-duplicates, with the definition itself: two eligible sheets of a unit's domain
are near-duplicates when they differ on at most k scored items, and the null's expected share is the
mean over a peer group's pooled sheets of 1 − (1 − P_i)^(n − 1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import integrity
from analysis.hierarchy import build_hierarchy
from analysis.integrity import MIN_ITEMS, unit_integrity
from analysis.responses import code_responses
from analysis.spec import parse_questionnaire


def _spec(m: int, n_options: int):
    """`m` scored items of `n_options` scored options (codes A, B, …) and 说不清 (X)."""
    codes = "ABCDEFGH"[:n_options]
    items = [
        {
            "key": f"q{j}",
            "text": f"第{j}题",
            "options": [{"code": c, "label": c, "score": 100 - 10 * i} for i, c in enumerate(codes)]
            + [{"code": "X", "label": "说不清"}],
        }
        for j in range(m)
    ]
    return parse_questionnaire(
        {
            "slug": "counts",
            "title": "计数",
            "version": 1,
            "items": items,
            "indicators": [{"key": "all", "label": "总", "items": [f"q{j}" for j in range(m)], "weight": 1}],
        }
    )


def _wave(spec, seed: int, n_villages: int = 12, n: int = 30):
    """Two towns of villages; answers from few distinct sheets with random changes and blanks, so that
    exact and one-off duplicates are common."""
    rng = np.random.default_rng(seed)
    units = [("C", "C", "county", None), ("T1", "T1", "town", "C"), ("T2", "T2", "town", "C")]
    units += [(f"V{v}", f"V{v}", "village", f"T{1 + v % 2}") for v in range(n_villages)]
    keys = [it.key for it in spec.items]
    letters = np.array([o.code for o in spec.items[0].options] + [None], dtype=object)
    base = rng.integers(0, 2, size=(4, len(keys)))  # four typical sheets
    rows = []
    for v in range(n_villages):
        k = n + int(rng.integers(-8, 9))
        sheet = base[rng.integers(0, 4, size=k)].copy()
        change = rng.random(sheet.shape) < 0.12
        sheet[change] = rng.integers(0, len(letters), size=int(change.sum()))
        for r in sheet:
            rows.append({"unit_code": f"V{v}", **{key: letters[i] for key, i in zip(keys, r)}})
    units = pd.DataFrame(units, columns=["code", "name", "kind", "parent_code"])
    return units, pd.DataFrame(rows)


def _pairwise(spec, hierarchy, coded):
    """Per unit, the near-duplicate and all-maximum counts and the eligible sheets, from the definition."""
    scored = [it for it in spec.items if it.is_scored]
    m = len(scored)
    k = min(1, int(np.floor(0.15 * m + 1e-9)))
    X = np.stack([coded.answers[it.key] for it in scored], axis=1).astype(np.int64)  # -1 = blank
    score_of = [np.array([o.score if o.score is not None else np.nan for o in it.options] + [np.nan]) for it in scored]
    values = np.stack([score_of[j][X[:, j]] for j in range(m)], axis=1)
    eligible = (~np.isnan(values)).sum(axis=1) >= MIN_ITEMS
    top = np.all(np.isnan(values) | (values == np.array([max(it.scores.values()) for it in scored])), axis=1)
    differ = (X[:, None, :] != X[None, :, :]).sum(axis=2)
    near = (differ <= k) & eligible[:, None] & eligible[None, :]
    np.fill_diagonal(near, False)
    out = {}
    for u in range(hierarchy.size):
        mine = np.isin(coded.unit, np.flatnonzero((hierarchy.domains == u).any(axis=1)))
        el = mine & eligible
        out[hierarchy.codes[u]] = (int((near[np.ix_(el, el)].any(axis=1)).sum()), int((el & top).sum()), int(el.sum()))
    return out, near, eligible


CASES = [
    pytest.param(3, 2, id="k0-few-patterns"),  # 4^3 patterns: the root's depth counted with a bincount
    pytest.param(4, 5, id="k0-every-pattern-judged"),  # 6^4 patterns ≤ 65,536: eligibility from a table
    pytest.param(6, 5, id="k0-demo-size"),  # 6^6 patterns > the sheets: eligibility per sheet
    pytest.param(7, 2, id="k1-every-pattern-judged"),  # 3 options + blank: 4^7 patterns, k = 1
    pytest.param(8, 5, id="k1-per-sheet"),
]


@pytest.mark.parametrize("m,n_options", CASES)
def test_near_duplicates_and_all_maximum_equal_a_pairwise_count(m, n_options):
    spec = _spec(m, n_options)
    for seed in range(3):
        units, responses = _wave(spec, seed)
        hierarchy = build_hierarchy(units)
        coded = code_responses(spec, hierarchy, responses)
        found = dict(zip(hierarchy.codes, unit_integrity(spec, hierarchy, coded, responses)))
        expected, _, _ = _pairwise(spec, hierarchy, coded)
        assert sum(v[0] for v in expected.values()) > 0  # the data has near-duplicates to find
        for code, (nd, am, el) in expected.items():
            assert found[code]["near_duplicate_share"] == (nd / el if el else None), code
            assert found[code]["all_maximum_share"] == (am / el if el else None), code


@pytest.mark.parametrize("m,n_options", CASES)
def test_the_null_expected_share_equals_its_definition(m, n_options):
    """E_u = mean over the peer group's pooled sheets i of 1 − (1 − P_i)^(n_u − 1), P_i the share of the
    other pooled sheets that are near-duplicates of i."""
    spec = _spec(m, n_options)
    units, responses = _wave(spec, 11)
    hierarchy = build_hierarchy(units)
    coded = code_responses(spec, hierarchy, responses)
    _, near, eligible = _pairwise(spec, hierarchy, coded)
    sheets = integrity._sheets(spec, coded, responses, None)
    assert np.array_equal(sheets.eligible, eligible)
    groups = integrity._peer_groups(hierarchy)
    n_eligible = integrity._rollup(hierarchy, np.bincount(coded.unit[eligible], minlength=hierarchy.size))
    checked = 0
    for d in range(1, hierarchy.domains.shape[1]):
        level = [g for g in groups if hierarchy.depth[g[0]] == d]
        ranks = integrity._Ranks(hierarchy, d, level)
        counts = integrity._depth_counts(
            [p[eligible] for p in sheets.patterns],
            sheets.n_patterns,
            ranks.of_attached[coded.unit[eligible]],
            ranks,
            hierarchy.size,
        )
        got = np.full(hierarchy.size, np.nan)
        integrity._near_expected(counts, level, n_eligible, got)
        for g in level:
            pooled = eligible & np.isin(hierarchy.domains[coded.unit, d], g)
            N = int(pooled.sum())
            P = near[np.ix_(pooled, pooled)].sum(axis=1) / (N - 1)
            for u in g:
                want = np.mean(1 - (1 - P) ** (n_eligible[u] - 1))
                assert got[u] == pytest.approx(want, rel=1e-12, abs=1e-15)
                checked += 1
    assert checked == 2 + 12


def test_too_many_items_for_one_integer_falls_back_to_numbered_hashes():
    """25 items of 6 options and blank: 7^25 patterns do not fit in an int64."""
    spec = _spec(25, 5)
    units, responses = _wave(spec, 3)
    hierarchy = build_hierarchy(units)
    coded = code_responses(spec, hierarchy, responses)
    found = dict(zip(hierarchy.codes, unit_integrity(spec, hierarchy, coded, responses)))
    expected, _, _ = _pairwise(spec, hierarchy, coded)
    assert sum(v[0] for v in expected.values()) > 0
    for code, (nd, _, el) in expected.items():
        assert found[code]["near_duplicate_share"] == (nd / el if el else None), code
