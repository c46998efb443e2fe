"""待办: what each account must do next, by its role and scope (docs/method.md "待办").

- The office that issues a wave's list (policy.issues_cases_of): its cases to schedule (安排约谈),
  to hold (登记约谈, once the date came), to notify (下发整改通知: after the 约谈, or after a failed
  复查), to recheck (复查: the 整改 deadline passed) and to close (销号: 复查 passed).
- The unit's side (policy.answers_for: a county account for the cases of units in its scope):
  the 约谈 it is to attend, its 整改方案 to submit, and the 整改 to report by the deadline.
- Whoever reviews answer sheets (policy.can(…, "responses.review", wave)): each wave not yet
  published with sheets awaiting review in its scope.

The dashboard shows each group's count, which is the length of that group's list: both come
from `todo_list`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select

import policy
from admin.cases import CaseFilter, list_cases
from clock import today
from extensions import db
from models import InterviewCase, Response, Unit, User, Wave
from models.interviews import is_overdue


@dataclass(frozen=True)
class TodoItem:
    title: str  # the unit (or the wave) it is about
    detail: str  # what to do, in a sentence
    url_endpoint: str
    url_args: dict
    due: date | None = None
    overdue: bool = False
    case: InterviewCase | None = None
    wave: Wave | None = None
    count: int | None = None  # sheets awaiting review


@dataclass
class TodoGroup:
    key: str
    title: str
    items: list[TodoItem] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.items)

    @property
    def overdue(self) -> int:
        return sum(1 for i in self.items if i.overdue)


# The groups in the order the page shows them.
GROUPS = (
    ("schedule", "安排约谈"),
    ("hold", "登记约谈"),
    ("notify", "下发整改通知"),
    ("recheck", "复查"),
    ("close", "销号"),
    ("attend", "参加约谈"),
    ("plan", "提交整改方案"),
    ("report", "报告整改情况"),
    ("review", "审核答卷"),
)


@dataclass(frozen=True)
class Todo:
    groups: list[TodoGroup]

    @property
    def total(self) -> int:
        return sum(g.count for g in self.groups)

    @property
    def overdue(self) -> int:
        return sum(g.overdue for g in self.groups)

    def group(self, key: str) -> TodoGroup:
        return next(g for g in self.groups if g.key == key)

    @property
    def nonempty(self) -> list[TodoGroup]:
        return [g for g in self.groups if g.items]


def _unit_title(case: InterviewCase) -> str:
    parent = case.unit.parent.name + " · " if case.unit.parent is not None and case.unit.kind != "county" else ""
    return f"{parent}{case.unit.name}"


def _case_item(case: InterviewCase, detail: str, due: date | None, on: date, overdue: bool | None = None) -> TodoItem:
    late = is_overdue(case, on) if overdue is None else overdue
    return TodoItem(_unit_title(case), detail, "admin.case", {"case_id": case.id}, due, late, case=case, wave=case.wave)


def _office_step(case: InterviewCase, on: date) -> tuple[str, TodoItem] | None:
    """The office's next step on one of its cases, if one is due now."""
    if case.status == "scheduled" and case.scheduled_for is None:
        due = f"，应于 {case.interview_due} 前约谈" if case.interview_due else ""
        return "schedule", _case_item(case, f"尚未安排约谈日期{due}", case.interview_due, on)
    if case.status == "scheduled" and case.scheduled_for <= on:
        return "hold", _case_item(case, f"约谈日期 {case.scheduled_for} 已到，约谈后登记", case.scheduled_for, on)
    if case.status == "held":
        return "notify", _case_item(case, f"{case.held_on} 已约谈，请下发整改通知书", None, on)
    if case.status == "rechecked" and case.recheck_passed is False:
        return "notify", _case_item(case, f"{case.recheck_on} 复查未通过，请重新下发整改通知", None, on)
    if case.status == "reopened":
        return "notify", _case_item(case, "案件已重新打开，请重新下发整改通知", None, on)
    if case.status == "recheck_asked":
        return "recheck", _case_item(case, "整改单位已申请复查，请复查", case.deadline, on, overdue=False)
    if case.status == "rectifying" and case.deadline is not None and case.deadline < on:
        return "recheck", _case_item(case, f"整改时限 {case.deadline} 已过，请复查", case.deadline, on)
    if case.status == "rechecked" and case.recheck_passed:
        return "close", _case_item(case, f"{case.recheck_on} 复查通过，可以销号", None, on)
    return None


def _unit_step(case: InterviewCase, on: date) -> tuple[str, TodoItem] | None:
    """The unit's next step on a case about it, if one is due."""
    if case.status == "scheduled" and case.scheduled_for is not None and case.scheduled_for >= on:
        return "attend", _case_item(case, f"{case.scheduled_for} 参加约谈", case.scheduled_for, on, overdue=False)
    if case.status == "rectifying":
        when = f"整改时限 {case.deadline}" if case.deadline else "整改"
        current = case.current_round
        if current is not None and not current.plan:
            return "plan", _case_item(case, f"{when}，请先提交整改方案", case.deadline, on)
        return "report", _case_item(case, f"{when}，请书面报告整改情况、申请复查", case.deadline, on)
    return None


def review_items(user: User) -> list[TodoItem]:
    """Waves not yet published with sheets awaiting review within the account's scope."""
    waves = [w for w in policy.visible_waves(user) if w.status in ("open", "closed") and policy.can(user, "responses.review", w)]
    if not waves:
        return []
    counts = dict(db.session.execute(
        select(Response.wave_id, func.count())
        .join(Unit, Response.unit_id == Unit.id)
        .where(Response.wave_id.in_([w.id for w in waves]), Response.review_status == "flagged", policy.unit_clause(user))
        .group_by(Response.wave_id)
    ).all())
    return [
        TodoItem(wave.title, f"{counts[wave.id]} 份答卷待审核", "admin.review_queue", {"wave_slug": wave.slug}, wave=wave, count=counts[wave.id])
        for wave in waves if counts.get(wave.id)
    ]


def todo_list(user: User, on: date | None = None) -> Todo:
    """The account's 待办, grouped; each group oldest due date first (undated last)."""
    on = on or today()
    groups = {key: TodoGroup(key, title) for key, title in GROUPS}
    if policy.can(user, "read"):
        for case in list_cases(user, CaseFilter(status="open"), on):
            if policy.issues_cases_of(user, case.wave):
                found = _office_step(case, on)
            elif policy.answers_for(user, case):
                found = _unit_step(case, on)
            else:
                found = None
            if found is not None:
                groups[found[0]].items.append(found[1])
        groups["review"].items.extend(review_items(user))
    for group in groups.values():
        group.items.sort(key=lambda i: (i.due is None, i.due or on))
    return Todo([groups[key] for key, _ in GROUPS])
