"""The state machine of a 约谈 case: which step may follow which state, who may take it, and the
steps themselves (see admin/cases/__init__.py for the whole loop).

    scheduled ─hold─▶ held ─rectify─▶ rectifying ─request_recheck─▶ recheck_asked ─recheck─▶ rechecked ─close─▶ closed
                                 ▲   (plan, report: the unit)  └─────────recheck──────────────▲     │           │
                                 ├──────────────rectify (复查未通过: a new round)──────────────────────┘           │
                                 └──────────────rectify◀── reopened ◀──reopen (with a reason)────────────────────┘

Each step is a verb of policy.py: the office's steps (schedule, hold, rectify = 整改通知, recheck,
close, reopen) and the unit's (plan, report, request_recheck) are never the same account's
(docs/security.md "Separation of duties"). Every 整改通知 opens a round (models.CaseRound); the
rounds keep the whole history, the case's own fields repeat the current round.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import audit
import policy
from admin.errors import FieldError
from clock import today
from errors import Conflict
from extensions import db
from models import CaseRound, InterviewCase
from models.interviews import CASE_STATUS_LABELS, case_state, round_state

OPEN_STATUSES = ("scheduled", "held", "rectifying", "recheck_asked", "rechecked", "reopened")
TEXT_LIMIT = 5000
REASON_LIMIT = 1000


@dataclass(frozen=True)
class Step:
    label: str
    sources: tuple[str, ...]
    target: str
    verb: str  # policy.py's verb for this step
    by_unit: bool = False  # the unit's own step (not the office's)


STEPS: dict[str, Step] = {
    "schedule": Step("安排约谈时间", ("scheduled",), "scheduled", "cases.schedule"),
    "hold": Step("登记约谈", ("scheduled",), "held", "cases.hold"),
    "rectify": Step("下发整改通知", ("held", "rechecked", "reopened"), "rectifying", "cases.notify"),
    "plan": Step("提交整改方案", ("rectifying",), "rectifying", "cases.plan", by_unit=True),
    "report": Step("报告整改情况", ("rectifying",), "rectifying", "cases.report", by_unit=True),
    "request_recheck": Step("申请复查", ("rectifying",), "recheck_asked", "cases.request_recheck", by_unit=True),
    "recheck": Step("登记复查", ("rectifying", "recheck_asked"), "rechecked", "cases.recheck"),
    "close": Step("销号", ("rechecked",), "closed", "cases.close"),
    "reopen": Step("重新打开", ("closed",), "reopened", "cases.reopen"),
}


def allowed(case: InterviewCase, action: str) -> bool:
    """Whether `action` may follow the case's current state (whoever asks)."""
    step = STEPS[action]
    if case.status not in step.sources:
        return False
    if action == "rectify" and case.status == "rechecked":
        return case.recheck_passed is False  # 复查未通过:重新整改
    if action == "close":
        return case.recheck_passed is True
    return True


def may(user: Any, case: InterviewCase, action: str) -> bool:
    """Whether this account may take `action` on the case now: the state allows it, and the
    policy gives the account the step's verb on this case."""
    return allowed(case, action) and policy.can(user, STEPS[action].verb, case)


def next_actions(case: InterviewCase, user: Any = None) -> list[str]:
    """The steps that may follow the case's state; with `user`, only those this account may take."""
    return [a for a in STEPS if (may(user, case, a) if user is not None else allowed(case, a))]


def waiting_on(case: InterviewCase) -> str | None:
    """Whose turn it is, in words (the case page)."""
    if case.status == "rectifying":
        return "整改单位提交整改方案、报告整改情况并申请复查；逾期未申请的，创建办可直接复查"
    if case.status == "recheck_asked":
        return "整改单位已申请复查，等待创建办复查"
    if case.status == "reopened":
        return "案件已重新打开，等待创建办重新下发整改通知"
    return None


# -- the steps -----------------------------------------------------------------------------------


def refusal(case: InterviewCase, action: str) -> str | None:
    """Why `action` may not follow the case's current state, or None when it may."""
    if allowed(case, action):
        return None
    if action == "close" and case.status == "rechecked":
        return "复查未通过，不能销号；请重新下发整改通知"
    if action == "rectify" and case.status == "rechecked":
        return "复查已通过，无需重新整改；可以销号"
    return f"该案件当前状态为“{CASE_STATUS_LABELS[case.status]}”，不能{STEPS[action].label}"


def check_step(case: InterviewCase, action: str, user: Any) -> None:
    """The account may take the step (policy: 403 Forbidden, separation of duties), and the step
    may follow the case's state (409 Conflict)."""
    policy.require(user, STEPS[action].verb, case, _forbidden(case, action))
    message = refusal(case, action)
    if message is not None:
        raise Conflict(message, code="bad_status")


def _forbidden(case: InterviewCase, action: str) -> str:
    step = STEPS[action]
    if step.by_unit:
        return f"{step.label}由被约谈单位（{case.unit.name}）的账号办理"
    return f"{step.label}由发出约谈名单的创建办办理，被约谈单位不能办理本单位的案件"


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
        raise FieldError(field_name, f"{what}不能晚于今天（{on.isoformat()}）")
    return value


def audit_state(case: InterviewCase) -> dict[str, Any]:
    """What the audit log records of a case: its state and its current round (prefixed `round_`)."""
    current = case.current_round
    rounds = {} if current is None else {f"round_{k}": v for k, v in round_state(current).items()}
    return {**case_state(case), **rounds}


def _apply(case: InterviewCase, action: str, user: Any, change) -> InterviewCase:
    """Check the step, apply `change`, move to the step's target, audit, commit."""
    check_step(case, action, user)
    before = audit_state(case)
    try:
        change()
        case.status = STEPS[action].target
        db.session.flush()
        audit.record(f"case.{action}", "case", case.id, before, audit_state(case))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return case


def schedule(case: InterviewCase, user: Any, when: date | None, on: date | None = None) -> InterviewCase:
    """Set or move the date of the interview (约谈时间)."""
    check_step(case, "schedule", user)
    on = on or today()
    if when is None:
        raise FieldError("scheduled_for", "请填写约谈日期")
    if when < on:
        raise FieldError("scheduled_for", f"约谈日期不能早于今天（{on.isoformat()}）；已经约谈的，请直接登记约谈")

    def change():
        case.scheduled_for = when

    return _apply(case, "schedule", user, change)


def hold(case: InterviewCase, user: Any, held_on: date | None, attendees: str | None, notes: str | None,
         on: date | None = None) -> InterviewCase:
    """The interview took place: when, who attended, what was said and agreed."""
    check_step(case, "hold", user)
    on = on or today()
    held_on = _not_future("held_on", held_on, "约谈日期", on)
    if held_on < case.wave.period_start:
        raise FieldError("held_on", f"约谈日期不能早于本期调查开始（{case.wave.period_start.isoformat()}）")
    attendees = _text("attendees", attendees, "参加人员", 1000)
    notes = _text("notes", notes, "约谈记录")

    def change():
        case.held_on, case.attendees, case.notes = held_on, attendees, notes

    return _apply(case, "hold", user, change)


def rectify(case: InterviewCase, user: Any, requirements: str | None, responsible: str | None, deadline: date | None,
            on: date | None = None) -> InterviewCase:
    """The 整改通知书: what is to be rectified (整改要求), by whom, by when. Each one opens a new round:
    the first after the interview, the next after a failed 复查 or a reopening."""
    check_step(case, "rectify", user)
    on = on or today()
    requirements = _text("rectification_plan", requirements, "整改要求")
    responsible = _text("responsible", responsible, "整改责任人", 100)
    if deadline is None:
        raise FieldError("deadline", "请填写整改时限")
    last = case.current_round
    if last is not None and last.recheck_on is not None:
        after, what = last.recheck_on, "上一轮复查日期"
    else:
        after, what = case.held_on, "约谈日期"
    if after is not None and deadline <= after:
        raise FieldError("deadline", f"整改时限应晚于{what}（{after.isoformat()}）")

    def change():
        number = (last.number if last is not None else 0) + 1
        case.rounds.append(CaseRound(number=number, requirements=requirements, responsible=responsible,
                                     deadline=deadline, notified_on=on))
        case.rectification_plan, case.responsible, case.deadline = requirements, responsible, deadline
        case.recheck_on, case.recheck_result, case.recheck_passed = None, None, None

    return _apply(case, "rectify", user, change)


def plan(case: InterviewCase, user: Any, text: str | None) -> InterviewCase:
    """The unit's 整改方案 for the current round (it may revise it until it asks for 复查)."""
    check_step(case, "plan", user)
    text = _text("plan", text, "整改方案")

    def change():
        case.current_round.plan = text

    return _apply(case, "plan", user, change)


def report(case: InterviewCase, user: Any, text: str | None, on: date | None = None) -> InterviewCase:
    """The unit reports in writing what it has rectified (it may add to it until it asks for 复查)."""
    check_step(case, "report", user)
    text = _text("report", text, "整改情况报告")

    def change():
        current = case.current_round
        current.report, current.reported_on = text, on or today()

    return _apply(case, "report", user, change)


def request_recheck(case: InterviewCase, user: Any, on: date | None = None) -> InterviewCase:
    """The unit asks for 复查, once its 整改方案 and its report are in."""
    check_step(case, "request_recheck", user)
    current = case.current_round
    if not current.plan:
        raise Conflict("请先提交整改方案，再申请复查", code="no_plan")
    if not current.report:
        raise Conflict("请先书面报告整改情况，再申请复查", code="no_report")

    def change():
        current.recheck_asked_on = on or today()

    return _apply(case, "request_recheck", user, change)


def recheck(case: InterviewCase, user: Any, recheck_on: date | None, passed: bool | None, result: str | None,
            on: date | None = None) -> InterviewCase:
    """The 复查: when, what was found, and whether the rectification passed. A failed one is
    followed by a new 整改通知 (a new round); the failed round stays as it is."""
    check_step(case, "recheck", user)
    recheck_on = _not_future("recheck_on", recheck_on, "复查日期", on or today())
    current = case.current_round
    since = current.notified_on if current is not None and current.notified_on else case.held_on
    if since is not None and recheck_on < since:
        what = "整改通知日期" if current is not None and current.notified_on else "约谈日期"
        raise FieldError("recheck_on", f"复查日期不能早于{what}（{since.isoformat()}）")
    if passed is None:
        raise FieldError("passed", "请选择复查是否通过")
    result = _text("recheck_result", result, "复查情况")

    def change():
        case.recheck_on, case.recheck_result, case.recheck_passed = recheck_on, result, passed
        if current is not None:
            current.recheck_on, current.recheck_result, current.passed = recheck_on, result, passed

    return _apply(case, "recheck", user, change)


def close(case: InterviewCase, user: Any, closed_on: date | None, confirmed: bool = False,
          on: date | None = None) -> InterviewCase:
    """销号 after a passed 复查: confirmed by the office (it cannot be taken back but by reopening)."""
    check_step(case, "close", user)
    closed_on = _not_future("closed_on", closed_on, "销号日期", on or today())
    if case.recheck_on is not None and closed_on < case.recheck_on:
        raise FieldError("closed_on", f"销号日期不能早于复查日期（{case.recheck_on.isoformat()}）")
    if not confirmed:
        raise FieldError("confirm", "请勾选确认：复查已通过，同意销号")

    def change():
        case.closed_on = closed_on
        case.reopen_reason = None

    return _apply(case, "close", user, change)


def reopen(case: InterviewCase, user: Any, reason: str | None) -> InterviewCase:
    """Reopen a closed case, with the reason (原因) in the audit log and on the case; a new
    整改通知 follows (a new round)."""
    check_step(case, "reopen", user)
    reason = _text("reason", reason, "重新打开的原因", REASON_LIMIT)

    def change():
        case.reopen_reason = reason
        case.closed_on = None

    return _apply(case, "reopen", user, change)
