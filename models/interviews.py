"""约谈 cases: one per unit on a wave's interview list, followed to the 复查 and closure."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ColumnElement, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy import and_, func, or_
from sqlalchemy.orm import Mapped, mapped_column, relationship

import clock
from extensions import db
from models.types import Timestamp, utcnow

# withdrawn: a case still `scheduled` whose unit left the interview list when the analysis was
# re-run and the list issued again (admin.cases.issue_interview_list); a case is never deleted.
CASE_STATUSES = ("scheduled", "held", "rectifying", "rechecked", "closed", "withdrawn")
CASE_STATUS_LABELS = {
    "scheduled": "待约谈",
    "held": "已约谈",
    "rectifying": "整改中",
    "rechecked": "已复查",
    "closed": "已销号",
    "withdrawn": "已撤销",
}
REASON_LABELS = {"bottom_n": "排名靠后", "insufficient_sample": "样本不足"}
ESCALATION_LABELS = {"key_management": "重点管理"}


class InterviewCase(db.Model):
    __tablename__ = "interview_cases"
    __table_args__ = (
        UniqueConstraint("wave_id", "unit_id"),
        CheckConstraint(f"status IN {CASE_STATUSES!r}", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    reason: Mapped[str] = mapped_column(String(24))
    rank: Mapped[int | None] = mapped_column(Integer)
    escalation: Mapped[str | None] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    scheduled_for: Mapped[date | None] = mapped_column(Date)
    held_on: Mapped[date | None] = mapped_column(Date)
    attendees: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    rectification_plan: Mapped[str | None] = mapped_column(Text)
    responsible: Mapped[str | None] = mapped_column(String(100))  # 整改责任人, as on the 整改通知书
    deadline: Mapped[date | None] = mapped_column(Date)
    recheck_on: Mapped[date | None] = mapped_column(Date)
    recheck_result: Mapped[str | None] = mapped_column(Text)
    recheck_passed: Mapped[bool | None] = mapped_column(Boolean)  # 复查通过; False sends the case back to 整改
    closed_on: Mapped[date | None] = mapped_column(Date)
    # Issued (or issued again after a withdrawal) on this Beijing date; the 约谈 is due by
    # interview_due = issued_on + the wave's N days (docs/method.md "Due dates").
    issued_on: Mapped[date | None] = mapped_column(Date)
    interview_due: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)

    wave = relationship("Wave")
    unit = relationship("Unit")

    @property
    def status_label(self) -> str:
        return CASE_STATUS_LABELS[self.status]


# -- the overdue rule: one copy, for the console, the API and the reports --------------------------
# Each open state waits on one date (docs/method.md "Due dates"): a `scheduled` case on its
# interview date (scheduled_for) or, while no date is set, on its 约谈 due date (interview_due:
# N days after it was issued); a `rectifying` case on its rectification deadline. The case is
# overdue from the day after that date (Beijing calendar, clock.today()). `held` and `rechecked`
# wait on the office itself (a notice to issue, a recheck to judge), so no date makes them overdue.


def is_overdue(case: InterviewCase, on: date | None = None) -> bool:
    """Whether the case's binding date passed before `on` (default: today in Beijing)."""
    on = on or clock.today()
    if case.status == "scheduled":
        due = case.scheduled_for if case.scheduled_for is not None else case.interview_due
        return due is not None and due < on
    if case.status == "rectifying":
        return case.deadline is not None and case.deadline < on
    return False


def overdue_clause(on: date) -> ColumnElement[bool]:
    """`is_overdue` as a WHERE clause on InterviewCase (a case with no date at all is never overdue)."""
    return or_(
        and_(InterviewCase.status == "scheduled", func.coalesce(InterviewCase.scheduled_for, InterviewCase.interview_due) < on),
        and_(InterviewCase.status == "rectifying", InterviewCase.deadline < on),
    )


def case_state(case: InterviewCase) -> dict[str, Any]:
    """The case as plain data: what the audit log records, and the base of the API's case object."""

    def iso(d: date | None) -> str | None:
        return None if d is None else d.isoformat()

    return {
        "wave": case.wave.slug,
        "unit": case.unit.code,
        "status": case.status,
        "reason": case.reason,
        "rank": case.rank,
        "escalation": case.escalation,
        "scheduled_for": iso(case.scheduled_for),
        "held_on": iso(case.held_on),
        "attendees": case.attendees,
        "notes": case.notes,
        "rectification_plan": case.rectification_plan,
        "responsible": case.responsible,
        "deadline": iso(case.deadline),
        "recheck_on": iso(case.recheck_on),
        "recheck_result": case.recheck_result,
        "recheck_passed": case.recheck_passed,
        "closed_on": iso(case.closed_on),
        "issued_on": iso(case.issued_on),
        "interview_due": iso(case.interview_due),
    }
