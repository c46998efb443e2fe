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
from datetime import date

from sqlalchemy import Date, cast, func, select

from extensions import db
from models import Response, Unit, User, Wave
from models.waves import RESPONSE_MODES
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


# -- by day, by channel, by collector --------------------------------------------------------------


@dataclass(frozen=True)
class Breakdown:
    """The counted sheets (not rejected, not screened out) of the units in view, three ways."""

    modes: dict[str, int]  # mode → sheets, every mode listed (qr, door, phone, paper)
    days: list[tuple[date, dict[str, int], int]]  # Beijing date, mode → sheets, total; sheets without a time left out
    undated: int  # paper sheets without a date
    collectors: list[CollectorCount]

    def to_dict(self) -> dict:
        return {
            "modes": self.modes,
            "days": [{"day": d.isoformat(), "modes": m, "n": n} for d, m, n in self.days],
            "undated": self.undated,
            "collectors": [asdict(c) for c in self.collectors],
        }


@dataclass(frozen=True)
class CollectorCount:
    user_id: int
    name: str  # display name, else the username
    role: str
    n: int  # sheets not rejected
    n_flagged: int
    n_rejected: int


def _local_day(column):
    """A stored UTC time's date on Beijing's wall clock, in SQL (clock.LOCAL_TZ; China keeps no DST)."""
    if db.engine.dialect.name == "postgresql":
        return cast(func.timezone("Asia/Shanghai", column), Date)
    return func.date(column, "+8 hours")


def breakdown(wave: Wave, unit_where=None) -> Breakdown:
    """Sheets by mode, by Beijing day and mode, and by collector (door sheets filled by an account);
    `unit_where` a WHERE clause on Unit restricting the units counted (an account's scope)."""
    counted = [Response.wave_id == wave.id, Response.review_status != "rejected", Response.screened_out.is_(False)]
    scoped = [*counted, wave.scope.subtree_clause()] + ([unit_where] if unit_where is not None else [])
    day = _local_day(Response.submitted_at).label("day")
    rows = db.session.execute(
        select(day, Response.mode, func.count())
        .join(Unit, Unit.id == Response.unit_id)
        .where(*scoped)
        .group_by(day, Response.mode)
    ).all()
    modes = {m: 0 for m in RESPONSE_MODES}
    by_day: dict[date, dict[str, int]] = defaultdict(lambda: {m: 0 for m in RESPONSE_MODES})
    undated = 0
    for value, mode, count in rows:
        modes[mode] = modes.get(mode, 0) + count
        if value is None:
            undated += count
            continue
        d = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
        by_day[d][mode] = by_day[d].get(mode, 0) + count
    days = [(d, by_day[d], sum(by_day[d].values())) for d in sorted(by_day)]

    where = [Response.wave_id == wave.id, Response.collector_id.is_not(None), Response.screened_out.is_(False),
             wave.scope.subtree_clause()] + ([unit_where] if unit_where is not None else [])
    per = db.session.execute(
        select(User.id, User.display_name, User.username, User.role, Response.review_status, func.count())
        .join(Response, Response.collector_id == User.id)
        .join(Unit, Unit.id == Response.unit_id)
        .where(*where)
        .group_by(User.id, User.display_name, User.username, User.role, Response.review_status)
    ).all()
    tally: dict[int, dict] = {}
    for user_id, display, username, role, status, count in per:
        t = tally.setdefault(user_id, {"name": display or username, "role": role, "n": 0, "n_flagged": 0, "n_rejected": 0})
        if status == "rejected":
            t["n_rejected"] += count
        else:
            t["n"] += count
            t["n_flagged"] += count if status == "flagged" else 0
    collectors = sorted(
        (CollectorCount(user_id=uid, **t) for uid, t in tally.items()), key=lambda c: (-c.n, c.name)
    )
    return Breakdown(modes=modes, days=days, undated=undated, collectors=collectors)
