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
# recheck_asked: the unit reported its 整改 and asked for 复查 (the office's turn);
# reopened: a closed case the office reopened with a reason, waiting for a new 整改通知.
CASE_STATUSES = ("scheduled", "held", "rectifying", "recheck_asked", "rechecked", "closed", "reopened", "withdrawn")
CASE_STATUS_LABELS = {
    "scheduled": "待约谈",
    "held": "已约谈",
    "rectifying": "整改中",
    "recheck_asked": "待复查",
    "rechecked": "已复查",
    "closed": "已销号",
    "reopened": "已重新打开",
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
    reopen_reason: Mapped[str | None] = mapped_column(Text)  # why the office reopened it after 销号
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)

    wave = relationship("Wave")
    unit = relationship("Unit")
    rounds: Mapped[list["CaseRound"]] = relationship(
        back_populates="case", order_by="CaseRound.number", cascade="all, delete-orphan"
    )

    @property
    def status_label(self) -> str:
        return CASE_STATUS_LABELS[self.status]

    @property
    def current_round(self) -> "CaseRound | None":
        """The latest round of 整改通知 and 复查 (None before the first 整改通知)."""
        return self.rounds[-1] if self.rounds else None


class CaseRound(db.Model):
    """One round of 整改: the office's 整改通知 (what is required, by whom, by when), the unit's
    整改方案 and report, its request for 复查, and the 复查 with its finding. A failed 复查 is
    followed by a new round (a second 整改通知); rounds are never rewritten or deleted.
    The case's own fields (rectification_plan, responsible, deadline, recheck_*) repeat the
    current round, for the overdue rule and the API's case object."""

    __tablename__ = "case_rounds"
    __table_args__ = (UniqueConstraint("case_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("interview_cases.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, … in order
    requirements: Mapped[str] = mapped_column(Text)  # 整改要求, the office's
    responsible: Mapped[str | None] = mapped_column(String(100))  # 整改责任人
    deadline: Mapped[date | None] = mapped_column(Date)  # 整改时限
    notified_on: Mapped[date | None] = mapped_column(Date)  # the day the 整改通知 was sent
    plan: Mapped[str | None] = mapped_column(Text)  # 整改方案, the unit's
    report: Mapped[str | None] = mapped_column(Text)  # the unit's 整改 report
    reported_on: Mapped[date | None] = mapped_column(Date)
    recheck_asked_on: Mapped[date | None] = mapped_column(Date)  # the unit asked for 复查
    recheck_on: Mapped[date | None] = mapped_column(Date)
    recheck_result: Mapped[str | None] = mapped_column(Text)  # what the 复查 found
    passed: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    case = relationship("InterviewCase", back_populates="rounds")

    @property
    def outcome_label(self) -> str:
        return {True: "通过", False: "未通过"}.get(self.passed, "未复查")


def round_state(r: CaseRound) -> dict[str, Any]:
    """One round as plain data (the API's `rounds`, and the audit log of the unit's steps)."""

    def iso(d: date | None) -> str | None:
        return None if d is None else d.isoformat()

    return {
        "number": r.number,
        "requirements": r.requirements,
        "responsible": r.responsible,
        "deadline": iso(r.deadline),
        "notified_on": iso(r.notified_on),
        "plan": r.plan,
        "report": r.report,
        "reported_on": iso(r.reported_on),
        "recheck_asked_on": iso(r.recheck_asked_on),
        "recheck_on": iso(r.recheck_on),
        "recheck_result": r.recheck_result,
        "passed": r.passed,
    }


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
        "reopen_reason": case.reopen_reason,
    }
