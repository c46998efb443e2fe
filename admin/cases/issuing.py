"""Issuing a wave's interview list: the preview the office reviews (with its exclusions) and the
issue itself, which creates, refreshes, reinstates and withdraws cases (admin/cases/__init__.py)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

import audit
import policy
from admin import due_dates
from admin.cases.queries import wave_cases
from analysis import InterviewEntry, UnitResult
from errors import Conflict, PinganError
from extensions import db
from models import InterviewCase, Unit, User, Wave
from models.interviews import case_state
from policy import sees_unit
from reports import model as report_model
from survey.results import wave_result

# -- issuing the list ----------------------------------------------------------------------------


@dataclass
class IssueSummary:
    created: int = 0
    refreshed: int = 0
    reinstated: int = 0
    withdrawn: int = 0
    unchanged: int = 0
    progressed_off_list: int = 0  # cases past `scheduled` whose unit is no longer listed: kept as they are
    excluded: int = 0  # units the office took off the list, each with its reason

    def __str__(self) -> str:
        parts = [f"新建 {self.created} 件"]
        if self.refreshed:
            parts.append(f"按最新名单更新 {self.refreshed} 件")
        if self.reinstated:
            parts.append(f"恢复 {self.reinstated} 件")
        if self.withdrawn:
            parts.append(f"撤销 {self.withdrawn} 件(已不在名单中或已撤下)")
        if self.unchanged:
            parts.append(f"未变 {self.unchanged} 件")
        if self.excluded:
            parts.append(f"撤下 {self.excluded} 个单位(理由已记入审计日志)")
        if self.progressed_off_list:
            parts.append(f"{self.progressed_off_list} 件已在办理、不在最新名单中,保持原样")
        return "约谈名单已下发：" + ",".join(parts)


class ExclusionError(PinganError):
    """An exclusion the office cannot make: unknown code, not on the list, or no reason (422).
    `unit_code` names the line it concerns, for the console to show it there."""

    status = 422

    def __init__(self, message: str, unit_code: str | None = None) -> None:
        super().__init__(message, code="bad_exclusion")
        self.unit_code = unit_code


REASON_LIMIT = 1000
# What issuing does to each line (IssueLine.action) and to each case no longer listed.
ACTION_LABELS = {
    "create": "新建案件",
    "reinstate": "恢复案件",
    "refresh": "按最新名单更新",
    "unchanged": "已下发,不变",
    "exclude": "撤下,不下发",
    "withdraw": "撤下,撤销已下发的案件",
}


@dataclass(frozen=True)
class IssueLine:
    """One line of the computed list as the office reviews it before issuing."""

    entry: InterviewEntry
    unit: UnitResult
    line: report_model.Listed  # reports.model's line: 倒数第 k, 位次区间, the note
    case: InterviewCase | None
    action: str  # ACTION_LABELS
    excluded_reason: str | None = None

    @property
    def action_label(self) -> str:
        return ACTION_LABELS[self.action]


@dataclass(frozen=True)
class Withdrawal:
    """A case of the wave whose unit is no longer on the computed list."""

    case: InterviewCase
    withdrawn: bool  # True: `scheduled`, issuing withdraws it; False: progressed, kept as it is


@dataclass(frozen=True)
class IssuePreview:
    """What issuing would do, before it acts (docs/method.md "Issuing"): the lines of the computed
    list with their numbers and notes, the exclusions, and the diff against the cases already issued."""

    wave: Wave
    bottom_n: int
    lines: tuple[IssueLine, ...]
    off_list: tuple[Withdrawal, ...]  # cases whose unit left the list after a re-analysis
    exclusions: dict[str, str]

    def _count(self, *actions: str) -> int:
        return sum(1 for x in self.lines if x.action in actions)

    @property
    def to_create(self) -> int:
        return self._count("create", "reinstate")

    @property
    def to_refresh(self) -> int:
        return self._count("refresh")

    @property
    def unchanged(self) -> int:
        return self._count("unchanged")

    @property
    def excluded(self) -> int:
        return self._count("exclude", "withdraw")

    @property
    def to_withdraw(self) -> int:
        """Cases issuing withdraws: of excluded units and of units no longer listed."""
        return self._count("withdraw") + sum(1 for w in self.off_list if w.withdrawn)

    @property
    def kept_off_list(self) -> int:
        return sum(1 for w in self.off_list if not w.withdrawn)

    @property
    def changes(self) -> bool:
        return bool(self.to_create or self.to_refresh or self.to_withdraw)


def _facts(entry: InterviewEntry) -> tuple[str, int | None, str | None]:
    return entry.reason, entry.rank, entry.escalation


def _sees(user: User | None, unit: Unit) -> bool:
    """The command line (user None) issues for the whole wave."""
    return user is None or sees_unit(user, unit)


def _clean_exclusions(exclusions: dict[str, str] | None, listed: dict[str, InterviewEntry], known: set[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for code, reason in (exclusions or {}).items():
        code = (code or "").strip()
        if code not in known:
            raise ExclusionError(f"单位代码 “{code}” 不存在", code)
        if code not in listed:
            raise ExclusionError(f"单位 {code} 不在本期约谈名单中,无需撤下", code)
        reason = (reason or "").strip()
        if not reason:
            raise ExclusionError(f"撤下单位 {code} 须写明理由", code)
        if len(reason) > REASON_LIMIT:
            raise ExclusionError(f"撤下单位 {code} 的理由最多 {REASON_LIMIT} 字", code)
        out[code] = reason
    return out


def preview_issue(wave: Wave, user: User | None, exclusions: dict[str, str] | None = None) -> IssuePreview:
    """What `issue_interview_list(wave, user, exclusions)` would do, without doing it. `user` None:
    the command line, the whole wave; an account issues the part of the list within its scope.
    ExclusionError (422) for an unknown code, a unit not on the list, or a missing reason."""
    if user is not None:  # only an account whose scope covers the wave issues its list (policy.py)
        policy.require(user, "cases.issue", wave, "约谈名单由发出本期调查的创建办下发")
    if wave.status not in ("closed", "published"):
        raise Conflict(f"“{wave.title}” 尚未结束(当前:{wave.status_label}),结束并运行分析后才能下发约谈名单", code="wave_not_closed")
    result = wave_result(wave)  # Conflict when not analysed
    groups = report_model.peer_groups(result)  # the one peer-group model: titles, 倒数第 k, 位次区间, notes
    lines = report_model.interview_list(result, groups, wave.period)
    codes = [x.entry.code for x in lines] + [code for code in (exclusions or {})]
    units = {u.code: u for u in db.session.scalars(select(Unit).where(Unit.code.in_(codes)))} if codes else {}
    visible = [x for x in lines if x.entry.code in units and _sees(user, units[x.entry.code])]
    listed = {x.entry.code: x.entry for x in visible}
    known = {code for code, u in units.items() if _sees(user, u)}
    excluded = _clean_exclusions(exclusions, listed, known)
    existing = {c.unit.code: c for c in wave_cases(wave).values() if _sees(user, c.unit)}
    out = []
    for x in visible:
        code, case = x.entry.code, existing.get(x.entry.code)
        if code in excluded:
            if case is not None and case.status not in ("scheduled", "withdrawn"):
                raise ExclusionError(f"{x.unit.name}({code})的约谈已在办理(当前:{case.status_label}),不能撤下", code)
            action = "withdraw" if case is not None and case.status == "scheduled" else "exclude"
        elif case is None:
            action = "create"
        elif case.status == "withdrawn":
            action = "reinstate"
        elif case.status == "scheduled" and (case.reason, case.rank, case.escalation) != _facts(x.entry):
            action = "refresh"
        else:
            action = "unchanged"
        out.append(IssueLine(x.entry, x.unit, x, case, action, excluded.get(code)))
    off = tuple(
        Withdrawal(case, case.status == "scheduled")
        for code, case in existing.items()
        if code not in listed and case.status != "withdrawn"
    )
    return IssuePreview(wave, result_bottom_n(wave), tuple(out), off, excluded)


def result_bottom_n(wave: Wave) -> int:
    return wave.questionnaire_version.to_spec().ranking.bottom_n


def issue_interview_list(
    wave: Wave,
    user: User | None,
    exclusions: dict[str, str] | None = None,
    confirm_withdrawals: int | None = None,
) -> IssueSummary:
    """Issue the wave's computed interview list (the part within the account's scope; the whole
    list for the command line, `user` None) minus `exclusions` (unit code → the written reason):
    one case per listed unit; see the module docstring for what issuing again does.

    Nothing is withdrawn silently: when issuing would withdraw cases, `confirm_withdrawals` must
    equal their number as the preview showed it (Conflict otherwise, and nothing is stored).
    Every case change, every exclusion with its reason and the issue itself are audited."""
    preview = preview_issue(wave, user, exclusions)
    if preview.to_withdraw and confirm_withdrawals != preview.to_withdraw:
        raise Conflict(
            f"下发将撤销 {preview.to_withdraw} 件已下发的约谈案件,请先预览名单的变化并确认后再下发",
            code="confirm_withdrawals",
        )
    summary = IssueSummary()
    try:
        for x in preview.lines:
            entry, case = x.entry, x.case
            if x.action == "create":
                case = InterviewCase(wave=wave, unit=db.session.scalar(select(Unit).where(Unit.code == entry.code)),
                                     reason=entry.reason, rank=entry.rank, escalation=entry.escalation, status="scheduled")
                due_dates.stamp_issue(case, wave)  # 约谈 due N days from today (docs/method.md "Due dates")
                db.session.add(case)
                db.session.flush()
                audit.record("case.issue", "case", case.id, None, case_state(case))
                summary.created += 1
            elif x.action == "reinstate":
                before = case_state(case)
                case.status = "scheduled"
                case.reason, case.rank, case.escalation = _facts(entry)
                due_dates.stamp_issue(case, wave)
                audit.record("case.reinstate", "case", case.id, before, case_state(case))
                summary.reinstated += 1
            elif x.action == "refresh":
                before = case_state(case)
                case.reason, case.rank, case.escalation = _facts(entry)
                audit.record("case.refresh", "case", case.id, before, case_state(case))
                summary.refreshed += 1
            elif x.action in ("exclude", "withdraw"):
                if x.action == "withdraw":
                    before = case_state(case)
                    case.status = "withdrawn"
                    audit.record("case.withdraw", "case", case.id, before, {**case_state(case), "exclusion_reason": x.excluded_reason})
                    summary.withdrawn += 1
                audit.record("interviews.exclude", "unit", entry.code, {"reason": entry.reason, "rank": entry.rank},
                             {"wave": wave.slug, "exclusion_reason": x.excluded_reason})
                summary.excluded += 1
            else:
                summary.unchanged += 1
        for w in preview.off_list:
            if w.withdrawn:
                before = case_state(w.case)
                w.case.status = "withdrawn"
                audit.record("case.withdraw", "case", w.case.id, before, case_state(w.case))
                summary.withdrawn += 1
            else:
                summary.progressed_off_list += 1
        audit.record("interviews.issue", "wave", wave.slug, None, {
            "created": summary.created, "refreshed": summary.refreshed, "reinstated": summary.reinstated,
            "withdrawn": summary.withdrawn, "unchanged": summary.unchanged,
            "progressed_off_list": summary.progressed_off_list,
            "excluded": preview.exclusions,
            "scope": user.scope.code if user is not None and user.scope is not None else None,
        })
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return summary
