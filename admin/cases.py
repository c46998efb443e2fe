"""The 约谈 loop of the creation office (创建办): one case per unit on a wave's interview list,
followed from the interview to the 整改通知书, the 复查 and 销号 (seed 000, §(五)).

States and the steps between them (anything else is refused with a 409):

    scheduled ──hold──▶ held ──rectify──▶ rectifying ──recheck──▶ rechecked ──close──▶ closed
        │ schedule (set or move the date)        ▲                      │ (复查 passed)
        │                                        └──────rectify─────────┘ (复查 failed: 重新整改)
        └──▶ withdrawn (only by re-issuing the list, see below) ──▶ scheduled (back on the list)

- hold: the interview took place (date, attendees, notes);
- rectify: the 整改通知书 — rectification plan, 责任人 and deadline (整改时限);
- recheck: the 复查 — date, result, passed or not; a failed one goes back to rectify with a new deadline;
- close: 销号, only after a passed 复查.

Overdue: a scheduled case whose interview date has passed, or a rectifying case whose
deadline has passed (without a 复查).

Issuing the list (`preview_issue` shows what it would do, `issue_interview_list` does it), first
time or again after the analysis was re-run; the office may take units off the computed list first,
each with a written reason (audited as `interviews.exclude`):
- an entry without a case gets a new `scheduled` case;
- a `scheduled` case of a unit still listed takes the list's current reason, rank and escalation;
- a `scheduled` case whose unit is no longer listed, or was taken off, becomes `withdrawn` (never
  deleted; only when the caller confirms the number of withdrawals the preview showed), and comes
  back to `scheduled` if a later issue lists the unit again;
- a case that has progressed (held or later) is never touched: it keeps its record, and the
  page says when its unit is no longer on the current list.
Every change is audited (entity "case") in the same transaction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

import audit
from policy import check_case, sees_unit, sees_wave, unit_clause, wave_clause
from admin.errors import FieldError
from analysis import InterviewEntry, UnitResult, WaveResult
from clock import today
from errors import Conflict, PinganError
from extensions import db
from models import AnalysisResult, AuditEntry, InterviewCase, Unit, User, Wave
from models.interviews import CASE_STATUS_LABELS, case_state, is_overdue, overdue_clause  # noqa: F401  (is_overdue: for case_views)
from models.units import KIND_SORT
from reports import model as report_model
from survey.results import wave_result

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


# -- reading -----------------------------------------------------------------------------------


def get_case(user: User, case_id: int) -> InterviewCase:
    """The case, or 404 unless both its unit and its wave are visible to the account (policy)."""
    return check_case(user, db.session.get(InterviewCase, case_id))


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
        return "约谈名单已下发:" + ",".join(parts)


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
    if wave.status not in ("closed", "published"):
        raise Conflict(f"调查 “{wave.slug}” 尚未结束(当前:{wave.status_label}),结束并运行分析后才能下发约谈名单", code="wave_not_closed")
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
                db.session.add(case)
                db.session.flush()
                audit.record("case.issue", "case", case.id, None, case_state(case))
                summary.created += 1
            elif x.action == "reinstate":
                before = case_state(case)
                case.status = "scheduled"
                case.reason, case.rank, case.escalation = _facts(entry)
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
