"""Ranking inside peer groups, P(bottom N) and the interview list (DESIGN.md §4 "Ranking", "Interview list")."""

from __future__ import annotations

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
    done = 0
    while done < draws:
        c = min(block, draws - done)
        x = buf[:c]
        rng.standard_normal(out=x)
        x *= se
        x += est
        nth = np.partition(x, bottom_n - 1, axis=1)[:, bottom_n - 1]  # each draw's bottom_n-th lowest
        hits += np.count_nonzero(_lowest(x, nth, bottom_n), axis=0)
        done += c
    out = np.empty(m)
    out[order] = hits / draws
    return out


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
) -> list[Ranked]:
    """Rank every peer group (same kind and parent; the root, without parent, is not ranked).

    Units with n ≥ min_n and a composite are ranked ascending by composite (rank 1 = lowest), ties by the
    first indicator, then by code; units with n < min_n are flagged insufficient_sample (a unit with
    n ≥ min_n but no composite is neither ranked nor flagged). Each group draws from its own
    generator, seeded by (seed, crc32(group key)), so results do not depend on which other groups exist.
    """
    out: list[Ranked] = [Ranked(None, None, None, False)] * len(codes)
    groups: dict[str, list[int]] = {}
    for u, (kind, parent) in enumerate(zip(kinds, parent_codes)):
        if parent is not None:
            groups.setdefault(peer_group_key(kind, parent), []).append(u)
    jobs = []
    for key, members in groups.items():
        ok = [u for u in members if n[u] >= min_n and not np.isnan(composite[u])]
        order = sorted(
            ok,
            key=lambda u: (
                composite[u],
                np.inf if np.isnan(first_indicator[u]) else first_indicator[u],
                codes[u],
            ),
        )
        jobs.append((key, members, order))

    def simulate(job: tuple[str, list[int], list[int]]) -> np.ndarray:
        key, _, order = job
        rng = np.random.default_rng([seed, zlib.crc32(key.encode("utf-8"))])
        return p_bottom(composite[order], composite_se[order], bottom_n, rng, draws)

    # numpy releases the GIL while drawing and partitioning, and every group has its own generator:
    # threads speed this up without changing any result
    cells = sum(len(order) for _, _, order in jobs if len(order) > bottom_n) * draws
    if THREADS > 1 and cells > 8 * DRAW_CELLS:
        with ThreadPoolExecutor(THREADS) as pool:
            sims = list(pool.map(simulate, jobs))
    else:
        sims = [simulate(job) for job in jobs]
    for (_, members, order), pb in zip(jobs, sims):
        ranks = {u: (r + 1, float(pb[r])) for r, u in enumerate(order)}
        for u in members:
            if u in ranks:
                out[u] = Ranked(ranks[u][0], len(order), ranks[u][1], False)
            else:
                out[u] = Ranked(None, len(order), None, bool(n[u] < min_n))
    return out


def interview_list(
    codes: Sequence[str],
    kinds: Sequence[str],
    parent_codes: Sequence[str | None],
    ranked: Sequence[Ranked],
    bottom_n: int,
    previous_bottom: Iterable[str] = (),
) -> tuple[InterviewEntry, ...]:
    """Per peer group: the `bottom_n` lowest ranked units, then the insufficient_sample ones (by code); a unit
    that was on the previous wave's list for bottom_n is escalated to key_management (重点管理)."""
    escalate = set(previous_bottom)
    rows = []
    for u, r in enumerate(ranked):
        if parent_codes[u] is None:
            continue
        group = (kinds[u], parent_codes[u])
        if r.rank is not None and r.rank <= bottom_n:
            rows.append((group + (0, r.rank, codes[u]), InterviewEntry(codes[u], BOTTOM_N, r.rank, None)))
        elif r.insufficient:
            rows.append((group + (1, 0, codes[u]), InterviewEntry(codes[u], INSUFFICIENT_SAMPLE, None, None)))
    rows.sort(key=lambda t: t[0])
    return tuple(
        InterviewEntry(e.code, e.reason, e.rank, KEY_MANAGEMENT if e.code in escalate else None) for _, e in rows
    )
