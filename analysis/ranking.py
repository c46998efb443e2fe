"""Ranking inside peer groups, P(bottom N), simultaneous rank intervals and the interview list
(docs/method.md "Ranking", "Rank intervals", "Interview list")."""

from __future__ import annotations

import math
import os
import zlib
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .results import InterviewEntry

INSUFFICIENT_SAMPLE = "insufficient_sample"
BOTTOM_N = "bottom_n"
KEY_MANAGEMENT = "key_management"
DRAW_CELLS = 1 << 16  # draws × units generated per block (stays in cache)
THREADS = max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class Ranked:
    rank: int | None
    group_size: int | None
    p_bottom: float | None
    insufficient: bool
    rank_ci: tuple[int, int] | None = None


RANK_CI_DRAWS = 2000
RANK_CI_LEVEL = 0.95
PAIR_CELLS = 1 << 18  # numbers compared per block


def peer_group_key(kind: str, parent_code: str) -> str:
    return f"{kind}:{parent_code}"


def _lowest(x: np.ndarray, nth: np.ndarray, bottom_n: int) -> np.ndarray:
    """Mask of the `bottom_n` lowest of each row, `nth` being each row's bottom_n-th lowest value; exact ties
    (only possible with SE = 0) go to the earlier column."""
    low = x <= nth[:, None]
    excess = np.nonzero(np.count_nonzero(low, axis=1) > bottom_n)[0]
    if len(excess):
        xr, t = x[excess], nth[excess, None]
        less, equal = xr < t, xr == t
        room = bottom_n - np.count_nonzero(less, axis=1)
        low[excess] = less | (equal & (np.cumsum(equal, axis=1) <= room[:, None]))
    return low


def p_bottom(estimates: np.ndarray, ses: np.ndarray, bottom_n: int, rng: np.random.Generator, draws: int) -> np.ndarray:
    """Share of `draws` joint draws from independent Normal(ŷ, SE²) in which each unit is among the
    `bottom_n` lowest; 1 for every unit of a group with ≤ bottom_n units.

    Draws are made in blocks of rows (one row = one joint draw), the units in ascending order of ŷ so that
    exact ties, possible only with SE = 0, go to the lower-ranked unit.
    """
    m = len(estimates)
    if bottom_n <= 0:
        return np.zeros(m)
    if m <= bottom_n:
        return np.ones(m)
    order = np.argsort(np.asarray(estimates, dtype=float), kind="stable")
    est = np.asarray(estimates, dtype=float)[order]
    se = np.asarray(ses, dtype=float)[order]
    hits = np.zeros(m, dtype=np.int64)
    block = max(1, DRAW_CELLS // m)
    buf = np.empty((block, m))
    rows = np.arange(block)
    # A few lowest of each draw: as many passes of argmin (the first of equal lowest values, i.e. the
    # earlier column, as `_lowest` breaks ties), each lowest then set to +inf. Cheaper than a partition
    # of every row for a small N; it needs every draw finite (+inf must mean "taken").
    by_argmin = (
        bottom_n <= 6
        and np.isfinite(est).all()
        and np.isfinite(se).all()
        and (np.abs(est).max() + 1e3 * se.max() < 1e300)
    )
    done = 0
    while done < draws:
        c = min(block, draws - done)
        x = buf[:c]
        rng.standard_normal(out=x)
        x *= se
        x += est
        if by_argmin:
            for _ in range(bottom_n):
                low = x.argmin(axis=1)
                hits += np.bincount(low, minlength=m)
                x[rows[:c], low] = np.inf
        else:
            nth = np.partition(x, bottom_n - 1, axis=1)[:, bottom_n - 1]  # each draw's bottom_n-th lowest
            hits += np.count_nonzero(_lowest(x, nth, bottom_n), axis=0)
        done += c
    out = np.empty(m)
    out[order] = hits / draws
    return out


def _pair_max(z: np.ndarray, s2: np.ndarray, d: np.ndarray, j: np.ndarray, inv: np.ndarray | None = None) -> np.ndarray:
    """For each (draw d, unit j): max over k of |Z_dj − Z_dk| / s_jk, pairs with s_jk = 0 counting 0.
    `inv`: the (G, G) matrix of 1 / s_jk (0 where s_jk = 0) when the caller has it; else row by row."""
    out = np.empty(len(d))
    step = max(1, PAIR_CELLS // max(1, z.shape[1]))
    for a in range(0, len(d), step):
        dd, jj = d[a : a + step], j[a : a + step]
        if inv is None:
            inv_rows = _inverse_sd(s2[jj][:, None] + s2[None, :])
        else:
            inv_rows = inv[jj]
        diff = z[dd]
        diff -= z[dd, jj][:, None]
        np.abs(diff, out=diff)
        diff *= inv_rows
        out[a : a + step] = diff.max(axis=1)
    return out


def _inverse_sd(v: np.ndarray) -> np.ndarray:
    """1 / √v, 0 where √v = 0."""
    sjk = np.sqrt(v)
    return np.divide(1.0, sjk, out=np.zeros_like(sjk), where=sjk > 0)


def rank_critical_value(ses: np.ndarray, rng: np.random.Generator, draws: int = RANK_CI_DRAWS) -> float:
    """c = the 0.95 quantile (numpy's and R's default, type 7) over `draws` draws Z_j ~ Normal(0, s_j²) of
    M = max over pairs j≠k with s_jk = √(s_j² + s_k²) > 0 of |Z_j − Z_k| / s_jk (0 when no pair qualifies).

    Z is one (draws, G) block of standard normals times s, the units in the order given. M is exact but not
    computed over all G²/2 pairs: with u_j = |Z_j| / s_j, Cauchy–Schwarz gives
    |Z_j − Z_k| / s_jk ≤ (u_j s_j + u_k s_k) / s_jk ≤ √(u_j² + u_k²), so a pair can exceed a value m only if
    max(u_j, u_k) > m / √2. Each draw first compares its unit of largest u with every unit (m), then every
    unit with u > m / √2 with every unit: about 5 G comparisons per draw instead of G²/2."""
    s = np.asarray(ses, dtype=float)
    g = len(s)
    z = rng.standard_normal((draws, g)) * s
    if g < 2 or not (s > 0).any():
        return 0.0
    s2 = s * s
    pos = s > 0
    if pos.all():
        u = np.abs(z) / s
    else:
        u = np.zeros_like(z)
        u[:, pos] = np.abs(z[:, pos]) / s[pos]
    # every pair's 1 / s_jk once, when the group is not too large for a (G, G) matrix
    inv = _inverse_sd(s2[:, None] + s2[None, :]) if g <= 2048 else None
    rows = np.arange(draws)
    top = u.argmax(axis=1)
    m = _pair_max(z, s2, rows, top, inv)
    candidates = u > (m * (1 - 1e-12) / math.sqrt(2))[:, None]
    candidates[rows, top] = False
    d, j = np.nonzero(candidates)
    if len(d):
        np.maximum.at(m, d, _pair_max(z, s2, d, j, inv))
    return float(np.quantile(m, RANK_CI_LEVEL))


def rank_intervals(estimates: np.ndarray, ses: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray]:
    """lo_j = 1 + #{k: x_j − x_k > c·s_jk}, hi_j = G − #{k: x_k − x_j > c·s_jk} (Mogstad, Romano, Shaikh &
    Wilhelm 2024, simultaneous; R csranks `csranks(x, Sigma, simul=TRUE)` with Sigma diagonal)."""
    x = np.asarray(estimates, dtype=float)
    s = np.asarray(ses, dtype=float)
    g = len(x)
    sjk = np.sqrt(s[:, None] ** 2 + s[None, :] ** 2)
    diff = x[:, None] - x[None, :]  # x_j − x_k
    above = diff > c * sjk  # j certainly above k
    np.fill_diagonal(above, False)
    lo = 1 + above.sum(axis=1)
    hi = g - above.sum(axis=0)
    return lo, hi


def _rankable(n: float, composite: float, min_n: int) -> bool:
    return bool(n >= min_n and not np.isnan(composite))


def ranked_units(
    kinds: Sequence[str],
    parent_codes: Sequence[str | None],
    n: np.ndarray,
    composite: np.ndarray,
    min_n: int,
    ranked_kinds: Iterable[str] | None = None,
) -> list[bool]:
    """Which units `rank_groups` gives a rank, known before any draw is made."""
    allowed = None if ranked_kinds is None else set(ranked_kinds)
    return [
        parent is not None
        and n[u] > 0
        and (allowed is None or kind in allowed)
        and _rankable(n[u], composite[u], min_n)
        for u, (kind, parent) in enumerate(zip(kinds, parent_codes))
    ]


def rank_groups(
    codes: Sequence[str],
    kinds: Sequence[str],
    parent_codes: Sequence[str | None],
    n: np.ndarray,
    composite: np.ndarray,
    composite_se: np.ndarray,
    first_indicator: np.ndarray,
    min_n: int,
    bottom_n: int,
    seed: int,
    draws: int,
    ranked_kinds: Iterable[str] | None = None,
    rank_ci_draws: int = RANK_CI_DRAWS,
) -> list[Ranked]:
    """Rank every peer group (same kind and parent) of a ranked kind (`ranked_kinds`; None: every kind).

    The root (without parent) is not ranked, and a unit with no respondent (n = 0) is not a result: it
    belongs to no group. Units with n ≥ min_n and a composite are ranked ascending by composite (rank 1 =
    lowest), ties by the first indicator, then by code; units with 0 < n < min_n are flagged
    insufficient_sample (a unit with n ≥ min_n but no composite is neither ranked nor flagged). Units of
    other kinds get nothing (no rank, no group size, no flag). Every ranked unit gets P(bottom N) and its
    simultaneous 95% rank interval. Each group draws from its own generators, seeded by
    (seed, crc32(group key)), so results do not depend on which other groups exist.
    """
    allowed = None if ranked_kinds is None else set(ranked_kinds)
    out: list[Ranked] = [Ranked(None, None, None, False)] * len(codes)
    groups: dict[str, list[int]] = {}
    for u, (kind, parent) in enumerate(zip(kinds, parent_codes)):
        if parent is not None and n[u] > 0 and (allowed is None or kind in allowed):
            groups.setdefault(peer_group_key(kind, parent), []).append(u)
    jobs = []
    for key, members in groups.items():
        ok = [u for u in members if _rankable(n[u], composite[u], min_n)]
        order = sorted(
            ok,
            key=lambda u: (
                composite[u],
                np.inf if np.isnan(first_indicator[u]) else first_indicator[u],
                codes[u],
            ),
        )
        jobs.append((key, members, order))

    def simulate(job: tuple[str, list[int], list[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        key, _, order = job
        group_seed = [seed, zlib.crc32(key.encode("utf-8"))]
        pb = p_bottom(composite[order], composite_se[order], bottom_n, np.random.default_rng(group_seed), draws)
        if len(order) < 2:
            return pb, np.ones(len(order), dtype=np.int64), np.ones(len(order), dtype=np.int64)
        c = rank_critical_value(composite_se[order], np.random.default_rng(group_seed), rank_ci_draws)
        lo, hi = rank_intervals(composite[order], composite_se[order], c)
        return pb, lo, hi

    # numpy releases the GIL while drawing and partitioning, and every group has its own generator:
    # threads speed this up without changing any result
    cells = sum(len(order) for _, _, order in jobs if len(order) > bottom_n) * draws
    if THREADS > 1 and cells > 8 * DRAW_CELLS:
        with ThreadPoolExecutor(THREADS) as pool:
            sims = list(pool.map(simulate, jobs))
    else:
        sims = [simulate(job) for job in jobs]
    for (_, members, order), (pb, lo, hi) in zip(jobs, sims):
        ranks = {u: r for r, u in enumerate(order)}
        for u in members:
            r = ranks.get(u)
            if r is not None:
                out[u] = Ranked(r + 1, len(order), float(pb[r]), False, (int(lo[r]), int(hi[r])))
            else:
                out[u] = Ranked(None, len(order), None, bool(n[u] < min_n))
    return out


def interview_list(
    codes: Sequence[str],
    kinds: Sequence[str],
    parent_codes: Sequence[str | None],
    ranked: Sequence[Ranked],
    bottom_n: int,
    previous_issued: Iterable[str] = (),
    min_group: int = 0,
) -> tuple[InterviewEntry, ...]:
    """Per peer group: the `bottom_n` lowest ranked units when the group has at least `min_group` ranked
    units, then the insufficient_sample ones (by code); groups ordered by kind, then parent code. A listed
    unit to whom the previous wave's list was issued for bottom_n (`previous_issued`) is escalated to
    key_management (重点管理)."""
    escalate = set(previous_issued)
    rows = []
    for u, r in enumerate(ranked):
        if parent_codes[u] is None:
            continue
        group = (kinds[u], parent_codes[u])
        if r.rank is not None and r.rank <= bottom_n and (r.group_size or 0) >= min_group:
            rows.append((group + (0, r.rank, codes[u]), InterviewEntry(codes[u], BOTTOM_N, r.rank, None, r.rank_ci)))
        elif r.insufficient:
            rows.append((group + (1, 0, codes[u]), InterviewEntry(codes[u], INSUFFICIENT_SAMPLE, None, None)))
    rows.sort(key=lambda t: t[0])
    return tuple(
        InterviewEntry(e.code, e.reason, e.rank, KEY_MANAGEMENT if e.code in escalate else None, e.rank_ci)
        for _, e in rows
    )
