"""Fieldwork progress: responses per unit against the wave's target.

Every unit of the wave's scope is listed in tree order. A unit's `n` counts the responses
attached to it or to any unit below it — departments count only for themselves, never for
the city or county above them (docs/method.md, domains). Rejected responses are left out;
flagged ones count (a reviewer may still accept them) and are shown apart as `n_flagged`.
Screened-out sheets (the questionnaire ended early: an item's `screen_out` codes) are their own
count, `n_screened`, and not part of `n`: they never reach the results.

Targets: `wave.target_n` is what each unit wants. A unit whose geographic children
collect responses wants at least what they want together, so a town of five villages wants
max(target_n, 5 × target_n) and a county the sum over its towns.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from dataclasses import asdict, dataclass

from sqlalchemy import func, select

from extensions import db
from models import Response, Unit, Wave
from survey.qr import COLLECTION_KINDS


@dataclass(frozen=True)
class UnitProgress:
    code: str
    name: str
    kind: str
    depth: int  # below the wave's scope: the scope is 0
    n: int  # responses in the unit's domain, rejected ones left out
    n_flagged: int  # of which awaiting review
    n_screened: int  # screened-out sheets (not rejected), apart from n
    target: int
    share: float  # n / target
    collects: bool  # the unit has its own link (town, village, grid, department)

    def to_dict(self) -> dict:
        return asdict(self)


def _counts(wave: Wave) -> tuple[dict[int, int], dict[int, int], dict[int, int]]:
    """unit id → responses not rejected, → responses flagged, and → screened-out sheets, attached
    directly to the unit."""
    rows = db.session.execute(
        select(Response.unit_id, Response.review_status, Response.screened_out, func.count())
        .where(Response.wave_id == wave.id, Response.review_status != "rejected")
        .group_by(Response.unit_id, Response.review_status, Response.screened_out)
    )
    n: dict[int, int] = defaultdict(int)
    flagged: dict[int, int] = defaultdict(int)
    screened: dict[int, int] = defaultdict(int)
    for unit_id, status, screened_out, count in rows:
        if screened_out:
            screened[unit_id] += count
            continue
        n[unit_id] += count
        if status == "flagged":
            flagged[unit_id] += count
    return n, flagged, screened


def wave_progress(wave: Wave) -> list[UnitProgress]:
    """One row per unit of the scope, parents before children, with rolled-up counts and targets."""
    units = list(db.session.scalars(select(Unit).where(wave.scope.subtree_clause()).order_by(Unit.path)))
    direct_n, direct_flagged, direct_screened = _counts(wave)
    children: dict[int, list[Unit]] = defaultdict(list)
    for unit in units:
        if unit.parent_id is not None and unit.id != wave.scope.id:
            children[unit.parent_id].append(unit)

    totals: dict[int, tuple[int, int, int, int]] = {}

    def roll_up(unit: Unit) -> tuple[int, int, int, int]:
        n, flagged, screened, child_target = direct_n[unit.id], direct_flagged[unit.id], direct_screened[unit.id], 0
        for child in children[unit.id]:
            cn, cf, cs, ct = roll_up(child)
            if child.kind != "department":  # a department is its own domain, not part of its parent's
                n, flagged, screened, child_target = n + cn, flagged + cf, screened + cs, child_target + ct
        totals[unit.id] = (n, flagged, screened, max(wave.target_n, child_target))
        return totals[unit.id]

    roll_up(wave.scope)
    out = []
    for unit in units:
        n, flagged, screened, target = totals[unit.id]
        out.append(
            UnitProgress(
                code=unit.code,
                name=unit.name,
                kind=unit.kind,
                depth=unit.depth - wave.scope.depth,
                n=n,
                n_flagged=flagged,
                n_screened=screened,
                target=target,
                share=n / target,
                collects=unit.kind in COLLECTION_KINDS,
            )
        )
    return out


def _pad(text: str, width: int) -> str:
    """Left-align to `width` terminal columns; a Chinese character takes two."""
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(0, width - used)


def format_progress(rows: list[UnitProgress]) -> str:
    """A plain-text table for the command line, indented by depth."""
    name_width = max([8, *(2 * r.depth + 2 * len(r.name) for r in rows)])
    code_width = max([4, *(len(r.code) for r in rows)])
    header = f"{_pad('单位', name_width)}  {_pad('代码', code_width)}  {'答卷':>4}  {'待审':>4}  {'甄别':>4}  {'目标':>4}  {'完成':>4}"
    lines = [header]
    for r in rows:
        name = _pad("  " * r.depth + r.name, name_width)
        lines.append(f"{name}  {r.code:<{code_width}}  {r.n:>6}  {r.n_flagged:>6}  {r.n_screened:>6}  {r.target:>6}  {r.share:>6.0%}")
    return "\n".join(lines)
