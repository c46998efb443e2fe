"""重点管理: units on a wave's interview list twice in a row, with their history across waves."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select

from analysis import InterviewEntry, UnitResult, WaveResult
from extensions import db
from models import AnalysisResult, InterviewCase, Unit, User, Wave
from policy import sees_wave, unit_clause

# -- 重点管理 ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryRow:
    wave: Wave
    unit: UnitResult | None  # None: the unit was not in that wave's results
    entry: InterviewEntry | None  # its line on that wave's interview list, if any
    case: InterviewCase | None


@dataclass
class KeyUnit:
    unit: Unit
    escalated_in: list[Wave] = field(default_factory=list)
    history: list[HistoryRow] = field(default_factory=list)

    @property
    def latest(self) -> Wave:
        return self.escalated_in[-1]


def key_management(user: User) -> list[KeyUnit]:
    """Units the account can see that some analysed wave put into 重点管理 (on its interview list
    twice in a row), each with its ranks, composite and cases over every analysed wave of the series."""
    stored = db.session.execute(
        select(Wave, AnalysisResult).join(AnalysisResult, AnalysisResult.wave_id == Wave.id).order_by(Wave.period_start, Wave.slug)
    ).all()
    analysed: list[tuple[Wave, WaveResult]] = [
        (wave, WaveResult.from_dict(result.payload)) for wave, result in stored if sees_wave(user, wave)
    ]
    escalated: dict[str, list[Wave]] = defaultdict(list)
    for wave, result in analysed:
        for entry in result.interview_list:
            if entry.escalation == "key_management":
                escalated[entry.code].append(wave)
    if not escalated:
        return []
    units = {u.code: u for u in db.session.scalars(select(Unit).where(Unit.code.in_(list(escalated)), unit_clause(user)))}
    cases: dict[tuple[int, int], InterviewCase] = {
        (c.wave_id, c.unit_id): c
        for c in db.session.scalars(select(InterviewCase).where(InterviewCase.unit_id.in_([u.id for u in units.values()])))
    }
    out = []
    for code, unit in units.items():
        key = KeyUnit(unit=unit, escalated_in=escalated[code])
        series = {(w.series, w.scope_unit_id) for w in key.escalated_in}
        for wave, result in analysed:
            if (wave.series, wave.scope_unit_id) not in series:
                continue
            found = next((u for u in result.units if u.code == code), None)
            entry = next((e for e in result.interview_list if e.code == code), None)
            key.history.append(HistoryRow(wave, found, entry, cases.get((wave.id, unit.id))))
        out.append(key)
    out.sort(key=lambda k: (-k.latest.period_start.toordinal(), k.unit.path))
    return out