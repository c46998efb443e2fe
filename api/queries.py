"""What a token's account may read, as small named queries.

Who sees what is decided in `policy` (the one access policy of console, API and CLI): a wave is visible
when `sees_wave`, a unit when `sees_unit` / `unit_clause`. Anything outside the account's
scope is NotFound, worded as if it did not exist, so a token cannot learn what lies elsewhere.
Results of a wave larger than the scope (a city-wide wave seen by a county) are cut down to
the scope's own units — the city's aggregate and the other counties' units are left out.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from errors import Conflict, NotFound, PinganError
from extensions import db
from models import AnalysisResult, InterviewCase, Unit, User, Wave
from models.interviews import CASE_STATUSES
from policy import sees_case, sees_unit, sees_wave, unit_clause, wave_clause


def visible_wave(user: User, slug: str) -> Wave:
    wave = db.session.scalar(select(Wave).where(Wave.slug == slug))
    if wave is None or not sees_wave(user, wave):
        raise NotFound(f"调查 “{slug}” 不存在")
    return wave


def result_of(wave: Wave) -> AnalysisResult:
    """The wave's stored results; Conflict (409) before the analysis has been run."""
    stored = db.session.scalar(select(AnalysisResult).where(AnalysisResult.wave_id == wave.id))
    if stored is None:
        raise Conflict(f"调查 “{wave.slug}” 还没有分析结果", code="no_results")
    return stored


def waves_with_results(waves: list[Wave]) -> set[int]:
    ids = [w.id for w in waves]
    if not ids:
        return set()
    return set(db.session.scalars(select(AnalysisResult.wave_id).where(AnalysisResult.wave_id.in_(ids))))


def visible_codes(user: User) -> set[str] | None:
    """Codes of the units the account may see; None when it sees the whole tree."""
    if user.scope is None:
        return None
    return set(db.session.scalars(select(Unit.code).where(unit_clause(user))))


def scoped_units(user: User, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The unit objects of a stored result (docs/formats.md) that the account may see."""
    codes = visible_codes(user)
    return [u for u in payload["units"] if codes is None or u["code"] in codes]


def scoped_interview_list(user: User, wave: Wave, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The 约谈名单 entries of the account's units, with each unit's name, kind and parent
    (from the results) and its case, if one has been opened."""
    units = {u["code"]: u for u in scoped_units(user, payload)}
    cases = {
        code: case
        for code, case in db.session.execute(
            select(Unit.code, InterviewCase).join(Unit, InterviewCase.unit_id == Unit.id).where(InterviewCase.wave_id == wave.id)
        )
    }
    entries = []
    for entry in payload.get("interview_list") or ():
        unit = units.get(entry["code"])
        if unit is None:
            continue
        case = cases.get(entry["code"])
        entries.append(
            {
                **entry,
                "name": unit["name"],
                "kind": unit["kind"],
                "parent_code": unit["parent_code"],
                "case": None if case is None else {"id": case.id, "status": case.status},
            }
        )
    return entries


def account_standing(user: User, payload: dict[str, Any]) -> dict[str, Any] | None:
    """For a token scoped below the wave's top unit: its own row among its peers (the others' name,
    composite, place and grade only) and the top unit's headline (reports.model.standing); None
    for a token that sees the whole wave or whose unit has no peers in it."""
    if user.scope is None:
        return None
    from analysis import WaveResult
    from reports.model import standing

    found = standing(WaveResult.from_dict(payload), user.scope.code)
    return None if found is None else found.to_dict()


def unit_result(user: User, payload: dict[str, Any], code: str) -> dict[str, Any]:
    """One unit's result object; NotFound outside the scope or outside the wave."""
    unit = db.session.scalar(select(Unit).where(Unit.code == code))
    if unit is not None and sees_unit(user, unit):
        for u in payload["units"]:
            if u["code"] == code:
                return u
    raise NotFound(f"单位 “{code}” 不存在或不在此次调查范围内")


def visible_cases(user: User, wave: Wave | None = None, status: str | None = None) -> list[InterviewCase]:
    """约谈 cases of the account's units, by wave (newest first), then unit code."""
    query = (
        select(InterviewCase)
        .join(Unit, InterviewCase.unit_id == Unit.id)
        .join(Wave, InterviewCase.wave_id == Wave.id)
        .where(unit_clause(user), wave_clause(user))
        .options(selectinload(InterviewCase.rounds))
        .order_by(Wave.period_start.desc(), Wave.slug, Unit.code)
    )
    if wave is not None:
        query = query.where(InterviewCase.wave_id == wave.id)
    if status is not None:
        if status not in CASE_STATUSES:
            raise PinganError(f"案件状态 “{status}” 无效,应为 {', '.join(CASE_STATUSES)} 之一", code="bad_status")
        query = query.where(InterviewCase.status == status)
    return list(db.session.scalars(query))


def visible_case(user: User, case_id: int) -> InterviewCase:
    case = db.session.get(InterviewCase, case_id)
    if case is None or not sees_case(user, case):
        raise NotFound(f"约谈案件 {case_id} 不存在")
    return case
