"""Unit-level integrity checks: does a unit's set of answer sheets look like what honest units look like?

Computed for every unit of the wave (docs/method.md, "Unit-level integrity checks"). Each signal is
calibrated against the unit's PEERS (same parent, same kind), never against independence: honest
answers are strongly correlated (a resident happy with the police is happy with the courts), so a
null built from a unit's own item margins taken independently would flag honest units.

Signals (a flag is raised when the unit's figure is beyond its null's 99th percentile):

- `near_duplicates`: share of eligible sheets (≥ 3 scored answers) with a near-duplicate in the same
  unit (the same answer on all but at most k of the scored items, k = ⌊0.15·m⌋ capped at 1; a blank
  matches only a blank). Null: the peer group's pooled sheets drawn to the unit's size (closed form
  of the expected share), on a funnel plot with additive overdispersion on the logit scale
  (Spiegelhalter 2005), τ² estimated from the peers.
- `all_maximum`: share of sheets answering every scored item with its highest score; the same funnel
  against the peers' pooled share (leaving the unit out).
- `same_text`: share of sheets whose free text (≥ 6 characters once blanks are removed) is identical to
  another sheet's of the unit; a binomial with the peers' rate (a rare event), and at least 3 such sheets.
- `time_cluster`: among the sheets attached to the unit, the densest 24-hour window of QR sheets, when
  it holds ≥ 10 sheets and ≥ 3× the unit's average for a 24-hour window; its sheets are compared with
  random sets of the same size from the unit (exact permutation test, 999 seeded draws) on two
  statistics: the share of the most common answer pattern, and the mean sheet score. Flag when either
  p ≤ 0.005 (Bonferroni for two). Organised honest sessions cluster in time but answer like
  everyone else, and pass.
- `mode_gap`: QR sheets' mean sheet score minus the other modes' (door, phone, paper), with its SE and
  95% CI, against the peers' gaps (random-effects funnel, DerSimonian–Laird τ²); flag when |z| exceeds
  the two-sided 0.2% t quantile.

Everything is deterministic: draws come from generators seeded by the wave's seed and the unit's code.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from .hierarchy import Hierarchy
from .responses import CodedResponses, indicator_values
from .spec import QuestionnaireSpec

WINSOR_VAR = 0.678655  # E[z²] of a standard normal winsorised at its 10th and 90th percentiles
NEAR_MATCH = 0.85  # share of items that must agree
MIN_ITEMS = 3  # scored answers a sheet needs to count in the pattern signals
MIN_N = 20  # sheets a unit needs before any pattern signal is judged
MIN_PEERS = 5  # peers with MIN_N sheets needed to estimate the overdispersion within the group
MIN_TEXT = 6  # characters of a free text (blanks removed) before it counts
MIN_SAME_TEXT = 3
WINDOW_S = 24 * 3600
BURST_MIN = 10
BURST_RATIO = 3.0
PERMUTATIONS = 999
ALPHA_CLUSTER = 0.005
MIN_MODE_N = 10
FLAG_ORDER = ("near_duplicates", "all_maximum", "time_cluster", "mode_gap", "same_text")
_HASH_SEED = 0x5EED_1A7E


@dataclass(frozen=True, eq=False)
class _Sheets:
    """Per-sheet quantities the signals share (length n)."""

    eligible: np.ndarray  # bool: ≥ MIN_ITEMS scored answers
    all_max: np.ndarray  # bool
    patterns: list[np.ndarray]  # int64 answer-pattern codes: the full pattern, then one per masked item
    n_patterns: int  # every code is in 0..n_patterns-1
    scored: tuple[np.ndarray, ...]  # the scored items' option indices (-1 = blank), for `_pattern_hash`
    score: np.ndarray | None  # per-sheet composite (0–100), NaN when the sheet has no indicator value;
    # None when neither the mode nor the time is known (only their signals use it)
    time_s: np.ndarray | None  # seconds, int64, -1 = unknown
    is_qr: np.ndarray | None  # bool; None = mode unknown
    text_key: np.ndarray | None  # int64: the sequence of the sheet's normalised free texts numbered, 0 = none


def unit_integrity(
    spec: QuestionnaireSpec,
    hierarchy: Hierarchy,
    coded: CodedResponses,
    responses: pd.DataFrame,
    seed: int = 20260701,
    values: np.ndarray | None = None,
) -> list[dict]:
    """One `integrity` dict per unit of `hierarchy` (docs/method.md, "Unit-level integrity checks").

    `responses` may carry `submitted_at`, `mode` and the free-text item columns; the signals that need
    an absent column are left out (their keys are null). `values`: `indicator_values(spec, coded)` when
    the caller has it already."""
    U = hierarchy.size
    out: list[dict] = [{"flags": []} for _ in range(U)]
    if coded.n == 0:
        return out
    sheets = _sheets(spec, coded, responses, values)
    groups = _peer_groups(hierarchy)
    depth_of = hierarchy.depth
    per_unit = np.bincount(coded.unit, minlength=U)
    n_unit = _rollup(hierarchy, per_unit)
    elig_unit = _rollup(hierarchy, np.bincount(coded.unit[sheets.eligible], minlength=U))
    am_unit = _rollup(hierarchy, np.bincount(coded.unit[sheets.all_max], minlength=U))
    nd_unit = np.zeros(U, dtype=np.int64)
    st_unit = np.zeros(U, dtype=np.int64)
    near_null = np.full(U, np.nan)
    # The eligible sheets' unit and pattern codes, taken once for every depth below, where each depth counts
    # (pattern, unit) keys by sorting them (`_depth_counts`).
    e_unit = coded.unit[sheets.eligible]
    e_patterns = [p[sheets.eligible] for p in sheets.patterns]
    bound = sheets.n_patterns
    if bound >= 2 ** (62 - U.bit_length()):  # (pattern, unit) would not fit in an int64: number them
        e_patterns = [np.unique(p, return_inverse=True)[1].ravel().astype(np.int64) for p in e_patterns]
        bound = max(len(e_unit), 1)
    has_text = sheets.text_key is not None
    if has_text:
        with_text = sheets.text_key != 0
        t_unit, t_key = coded.unit[with_text], sheets.text_key[with_text]
    attached = per_unit > 0
    for d in range(hierarchy.domains.shape[1]):
        if not (hierarchy.domains[attached, d] >= 0).any():
            continue
        level = [g for g in groups if depth_of[g[0]] == d]
        ranks = _Ranks(hierarchy, d, level)
        counts = _depth_counts(e_patterns, bound, ranks.of_attached[e_unit], ranks, U)
        nd_unit += counts.with_partner
        _near_expected(counts, level, elig_unit, near_null)
        if has_text:
            st_unit += _depth_counts([t_key], int(t_key.max()) + 1, ranks.of_attached[t_unit], ranks, U).with_partner

    # -- answer-pattern concentration and same text: funnels against the peers ----------------
    near = _funnel(groups, nd_unit, elig_unit, near_null)
    am_rate = _leave_one_out_rates(groups, am_unit, elig_unit)
    allmax = _funnel(groups, am_unit, elig_unit, am_rate)
    same = None
    if sheets.text_key is not None:
        st_rate = _leave_one_out_rates(groups, st_unit, n_unit)
        same = _rare_funnel(st_unit, n_unit, st_rate)
    gaps = _mode_gaps(groups, hierarchy, coded, sheets)
    clusters = _time_clusters(hierarchy, coded, sheets, seed)

    for u in range(U):
        d: dict = {"flags": []}
        flags = set()
        share, p99, flag = near[u]
        d["near_duplicate_share"], d["near_duplicate_null_p99"] = share, p99
        if flag:
            flags.add("near_duplicates")
        share, p99, flag = allmax[u]
        d["all_maximum_share"], d["all_maximum_null_p99"] = share, p99
        if flag:
            flags.add("all_maximum")
        if same is not None:
            share, p99, flag = same[u]
            d["same_text_share"], d["same_text_null_p99"], d["same_text_n"] = share, p99, int(st_unit[u])
            if flag and st_unit[u] >= MIN_SAME_TEXT:
                flags.add("same_text")
        else:
            d["same_text_share"] = None
        d["time_cluster"] = clusters.get(u) if sheets.time_s is not None else None
        if d["time_cluster"] and d["time_cluster"]["flag"]:
            flags.add("time_cluster")
        d["mode_gap"] = gaps.get(u) if sheets.is_qr is not None else None
        if d["mode_gap"] and d["mode_gap"]["flag"]:
            flags.add("mode_gap")
        d["flags"] = [f for f in FLAG_ORDER if f in flags]
        out[u] = d
    return out


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


@lru_cache(maxsize=256)
def _t_quantile(p: float, df: int) -> float:
    from scipy.stats import t as student_t  # scipy.stats: imported on first use, not at app start

    return float(student_t.ppf(p, df))


# -- per-sheet quantities ---------------------------------------------------------------------


def _item_weights(m: int) -> np.ndarray:
    return np.random.default_rng(_HASH_SEED).integers(1, 2**63, size=m, dtype=np.uint64) | np.uint64(1)


def _pattern_hash(sheets: _Sheets, rows: np.ndarray) -> np.ndarray:
    """The 64-bit pattern key Σ (code+2)·r_j of `rows` (as `sheet_patterns`). Only the time clusters use
    it, for the few sheets of a unit with a burst: among equally common patterns, the burst's modal one is
    the one with the smallest key, as it always was."""
    r = _item_weights(max(len(sheets.scored), 1))
    h = np.zeros(len(rows), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j, idx in enumerate(sheets.scored):
            h += (idx[rows].astype(np.int64) + 2).astype(np.uint64) * r[j]
    return h


def _sheets(spec: QuestionnaireSpec, coded: CodedResponses, responses: pd.DataFrame, Y: np.ndarray | None) -> _Sheets:
    scored = [it for it in spec.items if it.is_choice and it.is_scored]
    n = coded.n
    m = len(scored)
    answers = tuple(coded.answers[it.key] for it in scored)
    # per option of each item (the last entry: blank, index -1): scored? not below the item's top score?
    has = [np.array([o.score is not None for o in it.options] + [False]) for it in scored]
    ok = [
        np.array([o.score is None or float(o.score) == max(it.scores.values()) for o in it.options] + [True])
        for it in scored
    ]
    k = min(1, math.floor((1 - NEAR_MATCH) * m + 1e-9))

    # The answer pattern as one exact integer: item j's option index + 1 (0 = blank) is digit j in base
    # (options + 1). Equal patterns have equal codes and no two patterns share one, so the depths below
    # count patterns by sorting integers (numpy's sort of a million int64 takes milliseconds; a hash
    # table of a million keys, pandas.factorize, about fifty). With k = 1, one more code per item: the
    # pattern with that item's digit set to 0, i.e. left out.
    radix = [len(it.options) + 1 for it in scored]
    R = math.prod(radix)
    places = [math.prod(radix[:j]) for j in range(m)]
    code = None
    if R < 2**62:
        code = np.zeros(n, dtype=np.int32 if R < 2**31 else np.int64)
        parts = []
        for idx, place in zip(answers, places):
            part = idx.astype(code.dtype)
            part += 1
            if place > 1:
                part *= place
            code += part
            if k == 1:
                parts.append(part)
        patterns = [code] + [code - p for p in parts]
        n_patterns = R
    else:  # too many items for one int64: the 64-bit keys of `sheet_patterns`, numbered (hashing, once)
        h = np.zeros(n, dtype=np.uint64)
        hparts = []
        r = _item_weights(m)
        with np.errstate(over="ignore"):
            for j, idx in enumerate(answers):
                part = (idx.astype(np.int64) + 2).astype(np.uint64) * r[j]
                hparts.append(part)
                h += part
            keys = [h] + ([h - p for p in hparts] if k == 1 else [])
        patterns, n_patterns = [], 1
        for key in keys:
            ids, uniques = pd.factorize(key)
            patterns.append(ids.astype(np.int64))
            n_patterns = max(n_patterns, len(uniques))

    if code is not None and R <= max(n, 1 << 16):
        # every possible pattern judged once (eligible? all at the top?), then looked up per sheet
        every = np.arange(R, dtype=np.int64)
        n_scored = np.zeros(R, dtype=np.int16 if m < 2**15 else np.int64)
        at_max = np.ones(R, dtype=bool)
        for j in range(m):
            option = every // places[j] % radix[j] - 1
            n_scored += has[j][option]
            at_max &= ok[j][option]
        eligible_pattern = n_scored >= MIN_ITEMS
        eligible = eligible_pattern[code]
        all_max = (eligible_pattern & at_max)[code]
    else:
        n_scored = np.zeros(n, dtype=np.int16 if m < 2**15 else np.int64)
        at_max = np.ones(n, dtype=bool)
        for j, idx in enumerate(answers):
            n_scored += has[j][idx]
            at_max &= ok[j][idx]
        eligible = n_scored >= MIN_ITEMS
        all_max = eligible & at_max

    time_s = None
    if "submitted_at" in responses.columns:
        t = _seconds(responses["submitted_at"])
        if (t >= 0).any():
            time_s = t
    is_qr = None
    if "mode" in responses.columns:
        col = responses["mode"]
        if isinstance(col.dtype, pd.CategoricalDtype):  # as survey.results loads it: through its categories
            codes, uniques = col.cat.codes.to_numpy(), np.asarray(col.cat.categories, dtype=object)
            present = bool((codes >= 0).any())
        else:
            codes, uniques = pd.factorize(col.astype(object).to_numpy())  # a handful of values
            present = len(uniques) > 0
        if present:
            qr = [i for i, v in enumerate(uniques) if str(v).strip().lower() == "qr"]
            is_qr = np.isin(codes, qr)
    score = None
    if time_s is not None or is_qr is not None:
        if Y is None:
            Y = indicator_values(spec, coded)
        a = spec.composite_weights
        w = np.array([a.get(ind.key, 0.0) for ind in spec.indicators])
        present_y = ~np.isnan(Y) & (w > 0)
        wsum = (present_y * w).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            # (no NaN is left to skip: np.sum, as np.nansum would sum the same values)
            score = np.where(wsum > 0, (np.where(present_y, Y, 0.0) * w).sum(axis=1) / wsum, np.nan)
    return _Sheets(eligible, all_max, patterns, n_patterns, answers, score, time_s, is_qr, _text_key(spec, responses))


def _text_key(spec: QuestionnaireSpec, responses: pd.DataFrame) -> np.ndarray | None:
    """Per sheet, the sequence of its free texts of ≥ MIN_TEXT characters (blanks removed), in item
    order, numbered 1..; 0 = none. Two sheets share a number exactly when their sequences are equal."""
    texts = [it.key for it in spec.items if not it.is_choice and it.key in responses.columns]
    if not texts:
        return None
    columns = []
    for key in texts:
        # Normalise each distinct text once (most sheets leave it blank).
        codes, uniques = pd.factorize(responses[key].to_numpy(dtype=object))
        norm = pd.Series(uniques, dtype=object).astype(str).str.replace(r"\s+", "", regex=True)
        columns.append((codes, norm))
    # one numbering of the normalised texts over all the items, 1..V
    vocabulary, _ = pd.factorize(pd.concat([norm for _, norm in columns], ignore_index=True).to_numpy(dtype=object))
    n = len(responses)
    key = np.zeros(n, dtype=np.int64)
    base = int(vocabulary.max()) + 2 if len(vocabulary) else 2
    offset = 0
    for codes, norm in columns:
        if not len(norm):
            continue
        ok_u = (norm.str.len() >= MIN_TEXT).to_numpy()
        id_u = vocabulary[offset : offset + len(norm)].astype(np.int64) + 1
        offset += len(norm)
        rows = np.flatnonzero(codes >= 0)  # the few sheets with this text
        rows = rows[ok_u[codes[rows]]]
        if len(rows) and int(key.max()) >= (2**62) // base:  # renumber the sequences so far before they overflow
            nz = key != 0
            key[nz] = np.unique(key[nz], return_inverse=True)[1].ravel() + 1
        key[rows] = key[rows] * base + id_u[codes[rows]]
    nz = np.flatnonzero(key)
    if not len(nz):
        return None
    key[nz] = np.unique(key[nz], return_inverse=True)[1].ravel() + 1
    return key


def _seconds(col: pd.Series) -> np.ndarray:
    """Seconds since the epoch (int64), -1 where unknown; strings are read as ISO 8601."""
    s = col
    if s.dtype == object or isinstance(s.dtype, pd.StringDtype):
        s = pd.to_datetime(s, errors="coerce", format="ISO8601", utc=True)  # blank → NaT
    else:
        s = pd.to_datetime(s, errors="coerce", utc=True)
    ns = s.to_numpy(dtype="datetime64[ns]", na_value=np.datetime64("NaT"))
    valid = ~np.isnat(ns)
    out = np.full(len(col), -1, dtype=np.int64)
    out[valid] = ns[valid].astype("datetime64[s]").astype(np.int64) - np.int64(0)
    out[valid] = np.maximum(out[valid], 0)
    return out


# -- peer groups ------------------------------------------------------------------------------


def _rollup(hierarchy: Hierarchy, attached: np.ndarray) -> np.ndarray:
    """Totals over each unit's domain from totals over the sheets attached to each unit."""
    total = np.zeros(len(attached), dtype=attached.dtype)
    for d in range(hierarchy.domains.shape[1]):
        col = hierarchy.domains[:, d]
        ok = col >= 0
        np.add.at(total, col[ok], attached[ok])
    return total


def _peer_groups(hierarchy: Hierarchy) -> list[np.ndarray]:
    """Unit indices of each peer group (same parent and kind); the root is in none."""
    groups: dict[tuple[int, str], list[int]] = {}
    for u in range(hierarchy.size):
        p = int(hierarchy.parent[u])
        if p >= 0:
            groups.setdefault((p, hierarchy.kinds[u]), []).append(u)
    return [np.array(g, dtype=np.int64) for g in groups.values()]


class _Ranks:
    """The units at depth d numbered so that each peer group's members are consecutive (in `level`'s
    order), then the units in no group. `of_attached[u]`: the number of the unit at depth d whose domain
    holds the sheets attached to u, `size` when none."""

    def __init__(self, hierarchy: Hierarchy, d: int, level: list[np.ndarray]) -> None:
        grouped = np.concatenate(level) if level else np.zeros(0, dtype=np.int64)
        rest = np.setdiff1d(np.flatnonzero(hierarchy.depth == d), grouped)
        self.unit = np.concatenate([grouped, rest]).astype(np.int64)  # number → unit
        self.size = len(self.unit)
        sizes = [len(g) for g in level]
        # number → peer group (-1: none); one more entry, -1, for `size` (no unit at this depth)
        self.group = np.concatenate([np.repeat(np.arange(len(level)), sizes), np.full(len(rest) + 1, -1)])
        number = np.full(hierarchy.size, self.size, dtype=np.int64)
        number[self.unit] = np.arange(self.size)
        col = hierarchy.domains[:, d]
        self.of_attached = np.where(col >= 0, number[np.maximum(col, 0)], self.size)
        self.n_groups = len(level)


@dataclass(frozen=True, eq=False)
class _Counts:
    """What one depth's pattern counts give: per unit, its sheets that share a key with another sheet of
    the unit; per peer group, the multiset of `others` (near-duplicates of a pooled sheet among the other
    pooled sheets) as rows sorted by (group, others) with multiplicities, and the pooled sheets."""

    with_partner: np.ndarray  # (U,) int64
    group: np.ndarray
    others: np.ndarray
    mult: np.ndarray
    size: np.ndarray  # (groups,) int64


def _run_starts(s: np.ndarray) -> np.ndarray:
    """Where each run of equal values of the sorted `s` starts."""
    change = np.empty(len(s), dtype=bool)
    change[:1] = True
    np.not_equal(s[1:], s[:-1], out=change[1:])
    return np.flatnonzero(change)


def _histogram(n_groups: int, group: np.ndarray, values: np.ndarray, scale: bool) -> tuple:
    """Rows of distinct (group, value) sorted, their multiplicities (how many times each occurs, times
    value + 1 when `scale`: a run of value + 1 sheets stands for that many sheets), and their total per
    group."""
    if not len(group):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, np.zeros(n_groups, dtype=np.int64)
    span = int(values.max()) + 1
    uniq, mult = np.unique(group * span + values, return_counts=True)
    g, v = uniq // span, uniq % span
    mult = mult.astype(np.int64)
    if scale:
        mult *= v + 1
    return g, v, mult, np.bincount(g, weights=mult, minlength=n_groups).astype(np.int64)  # exact: < 2**53


def _depth_counts(patterns: list[np.ndarray], bound: int, number: np.ndarray, ranks: _Ranks, U: int) -> _Counts:
    """Pattern counts of one depth by sorting: each sheet's key (pattern, its unit's number at the depth)
    as one integer; runs of equal keys are the sheets of one unit with one pattern, and since a peer
    group's units are numbered consecutively, consecutive runs of one pattern within one group are the
    group's pooled sheets with that pattern. `patterns`: the full pattern, then the masked ones (k = 1),
    all below `bound`, of the sheets whose unit numbers are `number` (`ranks.size`: outside every unit of
    the depth); bound << U.bit_length() must fit in an int64."""
    shift = int(ranks.size).bit_length()  # number ≤ ranks.size < 2**shift
    low = (1 << shift) - 1
    keys = bound << shift
    with_partner = np.zeros(U, dtype=np.int64)
    if not len(number):
        return _Counts(with_partner, *_histogram(ranks.n_groups, number, number, False))
    if len(patterns) == 1:  # k = 0: everything from the runs, no per-sheet array
        s = np.left_shift(patterns[0], shift, dtype=np.int32 if keys <= 2**31 else np.int64)
        s |= number
        if keys <= len(s) // 2:  # fewer possible keys than sheets (the root's depth): counted, not sorted
            length = np.bincount(s, minlength=keys)
            first = np.flatnonzero(length)
            length = length[first]
        else:
            s.sort()
            starts = _run_starts(s)
            length = np.diff(starts, append=len(s))
            first = s[starts].astype(np.int64)
        unit_number = first & low
        per_number = np.bincount(unit_number, weights=length * (length >= 2), minlength=ranks.size + 1)
        with_partner[ranks.unit] += per_number[: ranks.size].astype(np.int64)  # integers, exact in float64
        if not ranks.n_groups:
            return _Counts(with_partner, *_histogram(0, first[:0], first[:0], False))
        group = ranks.group[unit_number]
        coarse = first & ~low  # the pattern ...
        coarse |= group + 1  # ... and the peer group (0: none)
        cstart = _run_starts(coarse)
        pooled = np.add.reduceat(length, cstart)
        g = group[cstart]
        keep = g >= 0
        return _Counts(with_partner, *_histogram(ranks.n_groups, g[keep], pooled[keep] - 1, True))
    # k = 1: a sheet's near-duplicates are a union over its keys (inclusion–exclusion), so per sheet
    found = np.zeros(len(number), dtype=bool)
    exact = union = None
    for j, p in enumerate(patterns):
        key = np.left_shift(p, shift, dtype=np.int64)
        key |= number
        order = np.argsort(key)
        s = key[order]
        starts = _run_starts(s)
        length = np.diff(starts, append=len(s))
        same = np.empty(len(s), dtype=np.int64)
        same[order] = np.repeat(length, length)
        found |= same >= 2
        coarse = s & ~low
        coarse |= ranks.group[s & low] + 1
        cstart = _run_starts(coarse)
        pooled = np.diff(cstart, append=len(s))
        in_group = np.empty(len(s), dtype=np.int64)
        in_group[order] = np.repeat(pooled, pooled)
        if j == 0:
            exact = in_group
        else:
            union = in_group if union is None else union + in_group
    union = union - (len(patterns) - 2) * exact
    inside = number < ranks.size
    with_partner += np.bincount(ranks.unit[number[found & inside]], minlength=U)
    g = ranks.group[number]
    keep = g >= 0
    return _Counts(with_partner, *_histogram(ranks.n_groups, g[keep], union[keep] - 1, False))


def _near_expected(counts: _Counts, level: list[np.ndarray], n_eligible: np.ndarray, expected: np.ndarray) -> None:
    """Expected near-duplicate share of each unit of `level`'s groups if its sheets were drawn from its
    peer group's pooled sheets: mean over pooled sheets i of 1 − (1 − P_i)^(n − 1), where P_i is the share
    of the other pooled sheets that are near-duplicates of i (inclusion–exclusion over the masked keys)."""
    bounds = np.searchsorted(counts.group, np.arange(len(level) + 1))
    for gi, g in enumerate(level):
        N = counts.size[gi]
        if N < 2:
            continue
        lo, hi = bounds[gi], bounds[gi + 1]
        values, mult = counts.others[lo:hi], counts.mult[lo:hi]
        P = values / (N - 1)
        for u in g:
            n = n_eligible[u]
            if n >= 2:
                expected[u] = float(np.dot(mult, 1.0 - (1.0 - P) ** (n - 1)) / N)


def _leave_one_out_rates(groups: list[np.ndarray], hits: np.ndarray, totals: np.ndarray) -> np.ndarray:
    rate = np.full(len(hits), np.nan)
    for g in groups:
        H, T = hits[g].sum(), totals[g].sum()
        rest_t = T - totals[g]
        with np.errstate(invalid="ignore", divide="ignore"):
            # +½ and +1: a rate of 0 among the peers still leaves room for chance (no zero variance)
            rate[g] = np.where(rest_t > 0, (H - hits[g] + 0.5) / (rest_t + 1), np.nan)
    return rate


def _funnel(
    groups: list[np.ndarray], hits: np.ndarray, totals: np.ndarray, expected: np.ndarray
) -> list[tuple[float | None, float | None, bool]]:
    """(share, null p99, flag) per unit: a funnel plot with additive overdispersion (Spiegelhalter 2005,
    random-effects version) on the logit scale, where shares of honest units spread symmetrically.
    y = logit((h + ½)/(n + 1)), target logit(E), V = 1/(n·E(1−E)); the group's z-scores, winsorised at
    their 10th and 90th percentiles, give φ = mean z² / 0.6787 (the winsorised variance of a standard
    normal) and τ² = (Gφ − (G − 1)) / (Σw − Σw²/Σw), w = 1/V; p99 = expit(logit E + t(0.99, G−1)·√(V + τ²))."""
    U = len(hits)
    share = np.where(totals > 0, hits / np.maximum(totals, 1), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        e = np.clip(expected, 1e-6, 1 - 1e-6)
        y = _logit((hits + 0.5) / (totals + 1))
        target = _logit(e)
        var = 1 / (np.maximum(totals, 1) * e * (1 - e))
        z = (y - target) / np.sqrt(var)
    ok = (totals >= MIN_N) & np.isfinite(z) & np.isfinite(expected)
    tau2 = np.full(U, np.nan)
    quantile = np.full(U, np.nan)
    for g in groups:
        members = g[ok[g]]
        G = len(members)
        if G >= MIN_PEERS:
            zz = z[members]
            lo, hi = np.percentile(zz, [10, 90])
            phi = float(np.mean(np.clip(zz, lo, hi) ** 2)) / WINSOR_VAR
            w = 1 / var[members]
            denom = float(w.sum() - (w**2).sum() / w.sum())
            tau2[g] = max(0.0, (G * phi - (G - 1)) / denom) if denom > 0 else 0.0
            quantile[g] = _t_quantile(0.99, G - 1)  # the spread is estimated from the group
    # not judged: too few sheets, or too few peers to tell what honest spread looks like
    judged = ((totals >= MIN_N) & np.isfinite(expected) & np.isfinite(tau2)).tolist()
    with np.errstate(invalid="ignore"):
        limits = (target + quantile * np.sqrt(var + tau2)).tolist()  # the same IEEE operations, per element
    out: list[tuple[float | None, float | None, bool]] = []
    for s, judge, limit, yu in zip(share.tolist(), judged, limits, y.tolist()):
        s = s if math.isfinite(s) else None
        if not judge:
            out.append((s, None, False))
        else:  # math.exp, not numpy's (whose vectorised exp may differ in the last bit)
            out.append((s, 1 / (1 + math.exp(-limit)), yu > limit))
    return out


def _rare_funnel(
    hits: np.ndarray, totals: np.ndarray, rate: np.ndarray
) -> list[tuple[float | None, float | None, bool]]:
    """(share, null p99, flag) for a rare event (identical free text): the 99th percentile of a binomial
    with the peers' rate (the logit funnel's normal approximation fails near 0)."""
    judged = (totals >= MIN_N) & np.isfinite(rate)
    p99 = np.full(len(hits), np.nan)
    if judged.any():
        from scipy.stats import binom  # imported on first use, not at app start

        p99[judged] = binom.ppf(0.99, totals[judged], rate[judged]) / totals[judged]
    out: list[tuple[float | None, float | None, bool]] = []
    for u in range(len(hits)):
        s = float(hits[u] / totals[u]) if totals[u] else None
        if not judged[u]:
            out.append((s, None, False))
        else:
            out.append((s, float(p99[u]), bool(s is not None and s > p99[u])))
    return out


# -- mode gap ---------------------------------------------------------------------------------


def _mode_gaps(
    groups: list[np.ndarray], hierarchy: Hierarchy, coded: CodedResponses, sheets: _Sheets
) -> dict[int, dict]:
    """QR minus other modes, mean sheet score, per unit; judged against the peer group's gaps with a
    random-effects funnel (DerSimonian–Laird τ² over the group)."""
    if sheets.is_qr is None:
        return {}
    U = hierarchy.size
    ok = np.isfinite(sheets.score)
    stats = {}
    for name, sel in (("qr", ok & sheets.is_qr), ("other", ok & ~sheets.is_qr)):
        a, x = coded.unit[sel], sheets.score[sel]
        n = _rollup(hierarchy, np.bincount(a, minlength=U).astype(float))
        s1 = _rollup(hierarchy, np.bincount(a, weights=x, minlength=U))
        s2 = _rollup(hierarchy, np.bincount(a, weights=x**2, minlength=U))
        stats[name] = (n, s1, s2)
    (nq, q1, q2), (no, o1, o2) = stats["qr"], stats["other"]
    with np.errstate(invalid="ignore", divide="ignore"):
        mq, mo = q1 / nq, o1 / no
        vq = (q2 - nq * mq**2) / (nq - 1)
        vo = (o2 - no * mo**2) / (no - 1)
        diff = mq - mo
        se = np.sqrt(vq / nq + vo / no)
    valid = (nq >= MIN_MODE_N) & (no >= MIN_MODE_N) & np.isfinite(se) & (se > 0)
    out: dict[int, dict] = {}
    for g in groups:
        members = g[valid[g]]
        target, tau2 = _random_effects(diff[members], se[members] ** 2)
        for u in members:
            entry = {
                "diff": float(diff[u]),
                "se": float(se[u]),
                "ci_low": float(diff[u] - 1.959964 * se[u]),
                "ci_high": float(diff[u] + 1.959964 * se[u]),
                "n_qr": int(nq[u]),
                "n_other": int(no[u]),
                "peer_diff": None,
                "z": None,
                "flag": False,
            }
            if target is not None:
                z = (diff[u] - target) / math.sqrt(se[u] ** 2 + tau2)
                limit = _t_quantile(0.999, len(members) - 1)  # two-sided 0.2%, τ² estimated from the group
                entry.update(peer_diff=float(target), z=float(z), flag=bool(abs(z) > limit))
            out[int(u)] = entry
    return out


def _random_effects(y: np.ndarray, v: np.ndarray) -> tuple[float | None, float]:
    """DerSimonian–Laird: the pooled mean of `y` (variances `v`) and the between-unit variance τ²."""
    if len(y) < MIN_PEERS:
        return None, 0.0
    w = 1 / v
    mean = float(np.sum(w * y) / np.sum(w))
    q = float(np.sum(w * (y - mean) ** 2))
    c = float(np.sum(w) - np.sum(w**2) / np.sum(w))
    tau2 = max(0.0, (q - (len(y) - 1)) / c) if c > 0 else 0.0
    ws = 1 / (v + tau2)
    return float(np.sum(ws * y) / np.sum(ws)), tau2


# -- time clusters ----------------------------------------------------------------------------


def _time_clusters(hierarchy: Hierarchy, coded: CodedResponses, sheets: _Sheets, seed: int) -> dict[int, dict]:
    """The densest 24-hour window of each unit's own QR sheets (or of all its sheets when the mode is
    unknown), and whether its answers differ from the unit's other sheets (docs/method.md)."""
    if sheets.time_s is None:
        return {}
    t = sheets.time_s
    cand = (t >= 0) & (sheets.is_qr if sheets.is_qr is not None else True)
    rows = np.flatnonzero(cand)
    out: dict[int, dict] = {}
    if len(rows) < BURST_MIN:
        return out
    unit = coded.unit[rows]
    tr = t[rows]
    t0 = int(tr.min())
    t_bits, r_bits = int(tr.max() - t0).bit_length(), len(t).bit_length()
    if hierarchy.size.bit_length() + t_bits + r_bits <= 62:
        # (unit, time, row) as one int64: one sort, in the order of lexsort((time, unit)) (which keeps
        # the rows' order among equal times)
        packed = unit << (t_bits + r_bits)
        packed |= (tr - t0) << r_bits
        packed |= rows
        packed.sort()
        rows, unit = packed & ((1 << r_bits) - 1), packed >> (t_bits + r_bits)
    else:
        order = np.lexsort((tr, unit))
        rows, unit = rows[order], unit[order]
    tt = t[rows]
    big = np.int64(2**40)
    key = unit.astype(np.int64) * big + tt
    count = np.searchsorted(key, key + WINDOW_S, side="right") - np.arange(len(key))
    starts = np.searchsorted(unit, np.arange(hierarchy.size + 1))
    n_attached = np.bincount(coded.unit, minlength=hierarchy.size)
    # each unit's densest window (the first of equally dense ones), all units at once
    sizes = np.diff(starts)
    seen = np.flatnonzero(sizes > 0)
    lo, hi = starts[seen], starts[seen + 1]
    densest = np.maximum.reduceat(count, lo)
    at_max = np.where(count == np.repeat(densest, sizes[seen]), np.arange(len(count)), len(count))
    first = np.minimum.reduceat(at_max, lo)
    c = count[first]
    span = np.maximum((tt[hi - 1] - tt[lo]).astype(float), WINDOW_S)
    average = (hi - lo) * WINDOW_S / span
    burst_of = (sizes[seen] >= BURST_MIN) & (c >= BURST_MIN) & (c >= BURST_RATIO * average)
    tested = seen[burst_of]
    if not len(tested):
        return out
    # the sheets attached to each tested unit, in row order
    wanted = np.zeros(hierarchy.size, dtype=bool)
    wanted[tested] = True
    theirs = np.flatnonzero(wanted[coded.unit])
    theirs = theirs[np.argsort(coded.unit[theirs], kind="stable")]
    bounds = np.searchsorted(coded.unit[theirs], np.append(tested, hierarchy.size))
    for k, (u, i, c_u) in enumerate(zip(tested.tolist(), first[burst_of].tolist(), c[burst_of].tolist())):
        burst = rows[i : i + c_u]
        mine = theirs[bounds[k] : bounds[k + 1]]
        out[u] = _cluster_test(burst, mine, sheets, int(tt[i]), seed, hierarchy.codes[u], int(n_attached[u]))
    return out


def _cluster_test(
    burst: np.ndarray, mine: np.ndarray, sheets: _Sheets, start: int, seed: int, code: str, n: int
) -> dict:
    b = len(burst)
    rest = np.setdiff1d(mine, burst)
    entry = {
        "n": b,
        "start": pd.Timestamp(start, unit="s", tz="UTC").isoformat(),
        "hours": WINDOW_S / 3600,
        "share_of_unit": b / n if n else None,
        "pattern_share": None,
        "pattern_share_rest": None,
        "score": None,
        "score_rest": None,
        "p_pattern": None,
        "p_score": None,
        "flag": False,
    }
    if len(rest) < 5:
        return entry

    def score_of(rows: np.ndarray) -> np.ndarray:
        x = sheets.score[rows]
        return np.where(np.isfinite(x), x, np.nan)

    def modal_share(keys: np.ndarray) -> np.ndarray:
        """Share of the most common exact pattern in each row of `keys` (R, b)."""
        s = np.sort(keys, axis=1)
        change = np.ones(s.shape, dtype=bool)
        change[:, 1:] = s[:, 1:] != s[:, :-1]
        flat = change.ravel()
        run = np.cumsum(flat) - 1
        lengths = np.bincount(run)
        run_row = np.flatnonzero(flat) // s.shape[1]
        best = np.zeros(s.shape[0], dtype=np.int64)
        np.maximum.at(best, run_row, lengths)
        return best / s.shape[1]

    burst_keys = _pattern_hash(sheets, burst)
    burst_score = score_of(burst)
    obs_pattern = float(modal_share(burst_keys[None, :])[0])
    obs_score = float(np.nanmean(burst_score)) if np.isfinite(burst_score).any() else math.nan
    rng = np.random.default_rng([seed, zlib.crc32(("time:" + code).encode("utf-8"))])
    pick = np.argpartition(rng.random((PERMUTATIONS, len(mine))), b - 1, axis=1)[:, :b]  # random b-subsets
    perm_pattern = modal_share(_pattern_hash(sheets, mine)[pick])
    with np.errstate(invalid="ignore"):
        perm_score = np.nanmean(score_of(mine)[pick], axis=1)
    p_pattern = (1 + int(np.sum(perm_pattern >= obs_pattern - 1e-12))) / (PERMUTATIONS + 1)
    p_score = None
    if math.isfinite(obs_score):
        p_score = (1 + int(np.sum(perm_score >= obs_score - 1e-9))) / (PERMUTATIONS + 1)
    rest_keys = _pattern_hash(sheets, rest)
    modal_key = np.unique(burst_keys, return_counts=True)
    top = modal_key[0][np.argmax(modal_key[1])]
    entry.update(
        pattern_share=obs_pattern,
        pattern_share_rest=float(np.mean(rest_keys == top)),
        score=None if not math.isfinite(obs_score) else obs_score,
        score_rest=float(np.nanmean(score_of(rest))) if np.isfinite(score_of(rest)).any() else None,
        p_pattern=p_pattern,
        p_score=p_score,
    )
    entry["flag"] = bool(p_pattern <= ALPHA_CLUSTER or (p_score is not None and p_score <= ALPHA_CLUSTER))
    return entry


# -- for the intake: how alike is a handful of sheets? -------------------------------------------


def sheet_patterns(spec: QuestionnaireSpec, answers: list[dict]) -> tuple[list[np.ndarray], np.ndarray]:
    """The near-duplicate keys (as in `unit_integrity`) and eligibility of answer sheets given as dicts
    (item key → option code)."""
    scored = [it for it in spec.items if it.is_choice and it.is_scored]
    m, n = len(scored), len(answers)
    r = _item_weights(max(m, 1))
    h = np.zeros(n, dtype=np.uint64)
    parts = []
    n_scored = np.zeros(n, dtype=np.int64)
    with np.errstate(over="ignore"):
        for j, it in enumerate(scored):
            index = {o.code: i for i, o in enumerate(it.options)}
            codes = [a.get(it.key) if isinstance(a, dict) else None for a in answers]
            idx = np.array([index.get(c, -1) if isinstance(c, str) else -1 for c in codes], dtype=np.int64)
            n_scored += np.array([isinstance(c, str) and c in it.scores for c in codes], dtype=bool)
            part = (idx + 2).astype(np.uint64) * r[j]
            parts.append(part)
            h += part
    keys = [h]
    if min(1, math.floor((1 - NEAR_MATCH) * m + 1e-9)) == 1:
        with np.errstate(over="ignore"):
            keys += [h - p for p in parts]
    return keys, n_scored >= MIN_ITEMS


def _row_partner_share(keys: list[np.ndarray]) -> np.ndarray:
    """For key matrices (R, m): the share of each row's sheets sharing any key with another sheet of the row."""
    found = np.zeros(keys[0].shape, dtype=bool)
    for key in keys:
        order = np.argsort(key, axis=1, kind="stable")
        s = np.take_along_axis(key, order, axis=1)
        same = np.zeros(s.shape, dtype=bool)
        eq = s[:, 1:] == s[:, :-1]
        same[:, 1:] |= eq
        same[:, :-1] |= eq
        back = np.zeros_like(same)
        np.put_along_axis(back, order, same, axis=1)
        found |= back
    return found.mean(axis=1)


def alike_share(keys: list[np.ndarray], eligible: np.ndarray) -> float | None:
    """Share of the eligible sheets that have a near-duplicate among the others (None: fewer than 2)."""
    rows = np.flatnonzero(eligible)
    if len(rows) < 2:
        return None
    return float(_row_partner_share([k[rows][None, :] for k in keys])[0])


def alike_null_p99(keys: list[np.ndarray], eligible: np.ndarray, size: int, draws: int = 200) -> float | None:
    """The 99th percentile of `alike_share` over `draws` random sets of `size` sheets from the reference
    sheets (without replacement; seeded, so deterministic). None when the reference has too few sheets."""
    rows = np.flatnonzero(eligible)
    if size < 2 or len(rows) < max(2 * size, 30):
        return None
    rng = np.random.default_rng(_HASH_SEED + size)
    pick = rows[np.argpartition(rng.random((draws, len(rows))), size - 1, axis=1)[:, :size]]
    shares = _row_partner_share([k[pick] for k in keys])
    return float(np.quantile(shares, 0.99))
