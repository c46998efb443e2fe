"""Reading 约谈 cases: one case, the lists and counts of an account, a wave's cases, a case's
audit trail and where its unit stands in the wave's results."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from admin.cases.steps import OPEN_STATUSES, check_step, next_actions, waiting_on
from analysis import UnitResult, WaveResult
from clock import today
from extensions import db
from models import AnalysisResult, AuditEntry, InterviewCase, Unit, User, Wave
from models.interviews import is_overdue, overdue_clause
from models.units import KIND_SORT
from policy import check_case, unit_clause, wave_clause

# -- reading -----------------------------------------------------------------------------------


def get_case(user: User, case_id: int) -> InterviewCase:
    """The case, or 404 unless both its unit and its wave are visible to the account (policy)."""
    return check_case(user, db.session.get(InterviewCase, case_id))


def case_for_step(user: User, case_id: int, action: str) -> InterviewCase:
    """The case for one of its steps: 404 unless the account sees it, 403 when separation of duties
    gives the step to another account (policy), 409 when the case's state does not allow it —
    whatever the form holds."""
    case = get_case(user, case_id)
    check_step(case, action, user)
    return case


@dataclass(frozen=True)
class CaseFilter:
    status: str | None = None  # a status, "open", or None for all
    overdue: bool = False
    wave: Wave | None = None


def list_cases(user: User, filters: CaseFilter = CaseFilter(), on: date | None = None) -> list[InterviewCase]:
    """The account's cases, newest wave first, then by unit."""
    query = (
        select(InterviewCase)
        .join(Unit, InterviewCase.unit_id == Unit.id)
        .join(Wave, InterviewCase.wave_id == Wave.id)
        .where(unit_clause(user), wave_clause(user))
        .options(joinedload(InterviewCase.unit).joinedload(Unit.parent), joinedload(InterviewCase.wave))
        .order_by(Wave.period_start.desc(), Wave.slug, KIND_SORT, Unit.path)
    )
    if filters.status == "open":
        query = query.where(InterviewCase.status.in_(OPEN_STATUSES))
    elif filters.status:
        query = query.where(InterviewCase.status == filters.status)
    if filters.overdue:
        query = query.where(overdue_clause(on or today()))
    if filters.wave is not None:
        query = query.where(InterviewCase.wave_id == filters.wave.id)
    return list(db.session.scalars(query))


@dataclass(frozen=True)
class CaseCounts:
    open: int
    overdue: int
    by_status: dict[str, int]


def case_counts(user: User, on: date | None = None) -> CaseCounts:
    seen = InterviewCase.wave_id.in_(select(Wave.id).where(wave_clause(user)))
    base = select(func.count()).select_from(InterviewCase).join(Unit, InterviewCase.unit_id == Unit.id).where(unit_clause(user), seen)
    by_status = dict(
        db.session.execute(
            select(InterviewCase.status, func.count())
            .join(Unit, InterviewCase.unit_id == Unit.id)
            .where(unit_clause(user), seen)
            .group_by(InterviewCase.status)
        ).all()
    )
    overdue = db.session.scalar(base.where(overdue_clause(on or today())))
    return CaseCounts(open=sum(by_status.get(s, 0) for s in OPEN_STATUSES), overdue=overdue, by_status=by_status)


def wave_cases(wave: Wave) -> dict[str, InterviewCase]:
    """unit code → the wave's case of that unit."""
    rows = db.session.scalars(
        select(InterviewCase).where(InterviewCase.wave_id == wave.id).options(joinedload(InterviewCase.unit))
    )
    return {c.unit.code: c for c in rows}


def case_history(case: InterviewCase) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "case", AuditEntry.entity_id == str(case.id)).order_by(AuditEntry.at, AuditEntry.id)
        )
    )


@dataclass(frozen=True)
class Standing:
    """Where the case's unit stands in its wave's current results."""

    unit: UnitResult
    on_list: bool


def standing(case: InterviewCase) -> Standing | None:
    """The unit's results in the wave's stored analysis (None when there is none), and whether
    it is still on the wave's current interview list."""
    stored = db.session.scalar(select(AnalysisResult).where(AnalysisResult.wave_id == case.wave_id))
    if stored is None:
        return None
    result = WaveResult.from_dict(stored.payload)
    found = next((u for u in result.units if u.code == case.unit.code), None)
    if found is None:
        return None
    return Standing(found, any(e.code == case.unit.code for e in result.interview_list))


@dataclass(frozen=True)
class CasePage:
    """What the case page shows (admin/case.html)."""

    case: InterviewCase
    actions: list[str]  # the steps this account may take now
    history: list[AuditEntry]
    overdue: bool
    standing: Standing | None
    waiting: str | None  # whose turn it is, in words
    today: date


def case_page(user: User, case_id: int) -> CasePage:
    """The case (404 unless the account sees it) with its next steps, history and standing."""
    case = get_case(user, case_id)
    on = today()
    return CasePage(case, next_actions(case, user), case_history(case), is_overdue(case, on), standing(case),
                    waiting_on(case), on)
