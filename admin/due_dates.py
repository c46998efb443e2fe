"""Due dates of 约谈 cases, counted from the day the list was issued (docs/method.md "Due dates").

- 约谈: within N days of issuing — `interview_due = issued_on + N`, N from the wave
  (`waves.interview_days`, editable on the wave page) or the INTERVIEW_DUE_DAYS setting;
- 整改: by the deadline of the 整改通知书 (`deadline`, set by the office);
- 复查: after that deadline (the office's 待办 lists it from the day after, admin.todo).

The overdue rule that reads these dates is models.interviews.is_overdue / overdue_clause.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app, has_app_context
from sqlalchemy import select

import audit
import policy
from admin.errors import FieldError
from clock import today
from errors import Forbidden
from extensions import db
from models import InterviewCase, User, Wave

DEFAULT_INTERVIEW_DAYS = 15  # when neither the wave nor the setting says
MAX_INTERVIEW_DAYS = 365


def setting_days() -> int:
    """INTERVIEW_DUE_DAYS from the configuration (app.py), else the default."""
    if has_app_context():
        return int(current_app.config.get("INTERVIEW_DUE_DAYS") or DEFAULT_INTERVIEW_DAYS)
    return DEFAULT_INTERVIEW_DAYS


def interview_days(wave: Wave) -> int:
    """N: the days a unit's 约谈 is due within, after its case was issued."""
    return wave.interview_days if wave.interview_days is not None else setting_days()


def interview_due(wave: Wave, issued_on: date) -> date:
    return issued_on + timedelta(days=interview_days(wave))


def stamp_issue(case: InterviewCase, wave: Wave, on: date | None = None) -> None:
    """Mark the case issued today (or `on`), due N days later: at creation and on reinstatement."""
    case.issued_on = on or today()
    case.interview_due = interview_due(wave, case.issued_on)


@dataclass(frozen=True)
class DaysChange:
    days: int
    inherited: bool  # True: the wave follows the setting again
    moved: int  # cases still waiting for their 约谈 whose due date moved


def set_interview_days(user: User, wave: Wave, days: int | None) -> DaysChange:
    """Set the wave's N (None: follow the INTERVIEW_DUE_DAYS setting). Cases of the wave still
    `scheduled` get their due date counted again from their issue date; cases past the 约谈 keep
    theirs. Audited as `wave.interview_days`."""
    policy.require(user, "read", wave)
    if not policy.sets_due_dates(user, wave):
        raise Forbidden("只有负责本次调查约谈的创建办或管理员可以修改约谈期限")
    if days is not None and not 1 <= days <= MAX_INTERVIEW_DAYS:
        raise FieldError("interview_days", f"约谈期限应为 1 到 {MAX_INTERVIEW_DAYS} 之间的天数")
    before = {"interview_days": wave.interview_days, "effective": interview_days(wave)}
    moved = 0
    try:
        wave.interview_days = days
        waiting = db.session.scalars(
            select(InterviewCase).where(InterviewCase.wave_id == wave.id, InterviewCase.status == "scheduled",
                                        InterviewCase.issued_on.is_not(None))
        )
        for case in waiting:
            due = interview_due(wave, case.issued_on)
            if case.interview_due != due:
                case.interview_due = due
                moved += 1
        audit.record("wave.interview_days", "wave", wave.slug, before,
                     {"interview_days": days, "effective": interview_days(wave), "cases_moved": moved})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return DaysChange(interview_days(wave), days is None, moved)
