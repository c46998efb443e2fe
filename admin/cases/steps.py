"""The state machine of a 约谈 case: which step may follow which state, and the steps themselves
(see admin/cases/__init__.py for the whole loop)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import audit
from admin.errors import FieldError
from clock import today
from errors import Conflict
from extensions import db
from models import InterviewCase
from models.interviews import CASE_STATUS_LABELS, case_state

OPEN_STATUSES = ("scheduled", "held", "rectifying", "rechecked")
TEXT_LIMIT = 5000


@dataclass(frozen=True)
class Step:
    label: str
    sources: tuple[str, ...]
    target: str


STEPS: dict[str, Step] = {
    "schedule": Step("安排约谈时间", ("scheduled",), "scheduled"),
    "hold": Step("登记约谈", ("scheduled",), "held"),
    "rectify": Step("下发整改通知", ("held", "rechecked"), "rectifying"),
    "recheck": Step("登记复查", ("rectifying",), "rechecked"),
    "close": Step("销号", ("rechecked",), "closed"),
}


def allowed(case: InterviewCase, action: str) -> bool:
    """Whether `action` may follow the case's current state."""
    step = STEPS[action]
    if case.status not in step.sources:
        return False
    if action == "rectify" and case.status == "rechecked":
        return case.recheck_passed is False  # 复查未通过:重新整改
    if action == "close":
        return case.recheck_passed is True
    return True


def next_actions(case: InterviewCase) -> list[str]:
    return [a for a in STEPS if allowed(case, a)]


# -- the steps -----------------------------------------------------------------------------------


def refusal(case: InterviewCase, action: str) -> str | None:
    """Why `action` may not follow the case's current state, or None when it may."""
    if allowed(case, action):
        return None
    if action == "close" and case.status == "rechecked":
        return "复查未通过,不能销号;请重新下发整改通知"
    if action == "rectify" and case.status == "rechecked":
        return "复查已通过,无需重新整改;可以销号"
    return f"该案件当前状态为“{CASE_STATUS_LABELS[case.status]}”,不能{STEPS[action].label}"


def _require(case: InterviewCase, action: str) -> None:
    message = refusal(case, action)
    if message is not None:
        raise Conflict(message, code="bad_status")


def _text(field_name: str, value: str | None, what: str, limit: int = TEXT_LIMIT) -> str:
    value = (value or "").strip()
    if not value:
        raise FieldError(field_name, f"请填写{what}")
    if len(value) > limit:
        raise FieldError(field_name, f"{what}最多 {limit} 字")
    return value


def _not_future(field_name: str, value: date | None, what: str, on: date) -> date:
    if value is None:
        raise FieldError(field_name, f"请填写{what}")
    if value > on:
        raise FieldError(field_name, f"{what}不能晚于今天({on.isoformat()})")
    return value


def _apply(case: InterviewCase, action: str, change) -> InterviewCase:
    """Check the step, apply `change`, move to the step's target, audit, commit."""
    _require(case, action)
    before = case_state(case)
    try:
        change()
        case.status = STEPS[action].target
        audit.record(f"case.{action}", "case", case.id, before, case_state(case))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return case


def schedule(case: InterviewCase, when: date | None, on: date | None = None) -> InterviewCase:
    """Set or move the date of the interview (约谈时间)."""
    _require(case, "schedule")
    on = on or today()
    if when is None:
        raise FieldError("scheduled_for", "请填写约谈日期")
    if when < on:
        raise FieldError("scheduled_for", f"约谈日期不能早于今天({on.isoformat()});已经约谈的,请直接登记约谈")

    def change():
        case.scheduled_for = when

    return _apply(case, "schedule", change)


def hold(case: InterviewCase, held_on: date | None, attendees: str | None, notes: str | None, on: date | None = None) -> InterviewCase:
    """The interview took place: when, who attended, what was said and agreed."""
    _require(case, "hold")
    on = on or today()
    held_on = _not_future("held_on", held_on, "约谈日期", on)
    if held_on < case.wave.period_start:
        raise FieldError("held_on", f"约谈日期不能早于本期调查开始({case.wave.period_start.isoformat()})")
    attendees = _text("attendees", attendees, "参加人员", 1000)
    notes = _text("notes", notes, "约谈记录")

    def change():
        case.held_on, case.attendees, case.notes = held_on, attendees, notes

    return _apply(case, "hold", change)


def rectify(case: InterviewCase, plan: str | None, responsible: str | None, deadline: date | None) -> InterviewCase:
    """The 整改通知书: what is to be rectified, by whom, by when. After a failed 复查, a new round."""
    _require(case, "rectify")
    plan = _text("rectification_plan", plan, "整改要求")
    responsible = _text("responsible", responsible, "整改责任人", 100)
    if deadline is None:
        raise FieldError("deadline", "请填写整改时限")
    after = case.recheck_on if case.status == "rechecked" else case.held_on
    if after is not None and deadline <= after:
        what = "复查日期" if case.status == "rechecked" else "约谈日期"
        raise FieldError("deadline", f"整改时限应晚于{what}({after.isoformat()})")

    def change():
        case.rectification_plan, case.responsible, case.deadline = plan, responsible, deadline
        # A new round after a failed 复查: the old 复查 stays in the case's history (the audit log).
        case.recheck_on, case.recheck_result, case.recheck_passed = None, None, None

    return _apply(case, "rectify", change)


def recheck(case: InterviewCase, recheck_on: date | None, passed: bool | None, result: str | None, on: date | None = None) -> InterviewCase:
    """The 复查: when, what was found, and whether the rectification passed."""
    _require(case, "recheck")
    recheck_on = _not_future("recheck_on", recheck_on, "复查日期", on or today())
    if case.held_on is not None and recheck_on < case.held_on:
        raise FieldError("recheck_on", f"复查日期不能早于约谈日期({case.held_on.isoformat()})")
    if passed is None:
        raise FieldError("passed", "请选择复查是否通过")
    result = _text("recheck_result", result, "复查结果")

    def change():
        case.recheck_on, case.recheck_result, case.recheck_passed = recheck_on, result, passed

    return _apply(case, "recheck", change)


def close(case: InterviewCase, closed_on: date | None, on: date | None = None) -> InterviewCase:
    """销号 after a passed 复查."""
    _require(case, "close")
    closed_on = _not_future("closed_on", closed_on, "销号日期", on or today())
    if case.recheck_on is not None and closed_on < case.recheck_on:
        raise FieldError("closed_on", f"销号日期不能早于复查日期({case.recheck_on.isoformat()})")

    def change():
        case.closed_on = closed_on

    return _apply(case, "close", change)
