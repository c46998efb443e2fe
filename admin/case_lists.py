"""The cases list and 重点管理 as long lists (admin/listing.py): search, county and town, sorting,
XLSX; each page is one service call (`cases_page`, `key_page`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from admin import listing
from admin.cases import CaseCounts, CaseFilter, case_counts, key_management, list_cases
from admin.waves import get_wave
from clock import today
from errors import NotFound
from models import InterviewCase, User, Wave
from models.interviews import CASE_STATUS_LABELS, CASE_STATUSES, REASON_LABELS, is_overdue

CASE_SORTS = {
    "unit": listing.Sort("单位名称", lambda c: c.unit.name),
    "status": listing.Sort("状态", lambda c: c.status),
    "deadline": listing.Sort("整改时限（早的在前）", lambda c: c.deadline),
    "rank": listing.Sort("倒数名次", lambda c: c.rank),
}


@dataclass(frozen=True)
class CaseList:
    cases: list[InterviewCase]
    query: listing.ListQuery
    places: listing.Choices


def case_list(user: User, found: list[InterviewCase], args) -> CaseList:
    """`found` (admin.cases.list_cases) searched, filtered by county and town, and sorted."""
    query = listing.ListQuery.from_args(args, CASE_SORTS)
    places = listing.choices(user, query, present=[c.unit for c in found])
    return CaseList(listing.apply(found, query, lambda c: c.unit, CASE_SORTS), query, places)


@dataclass(frozen=True)
class CasesPage:
    shown: CaseList
    status: str | None  # a status, "open", or None for all
    overdue: bool
    wave: Wave | None
    counts: CaseCounts
    today: date

    @property
    def cases(self) -> list[InterviewCase]:
        return self.shown.cases


def cases_page(user: User, args) -> CasesPage:
    """/admin/cases: the account's cases (?status=open|<status>, ?overdue=1, ?wave=<slug>), searched,
    filtered and sorted (?q=&county=&town=&sort=), with the counts per status. NotFound for a
    status that does not exist or a wave the account does not see."""
    status = args.get("status") or None
    if status not in (None, "open", *CASE_STATUSES):
        raise NotFound("没有这种案件状态")
    wave = get_wave(user, args["wave"]) if args.get("wave") else None
    overdue = args.get("overdue") == "1"
    on = today()
    found = list_cases(user, CaseFilter(status=status, overdue=overdue, wave=wave), on)
    return CasesPage(case_list(user, found, args), status, overdue, wave, case_counts(user, on), on)


def cases_xlsx(page: CasesPage) -> bytes:
    """The cases as shown on the page, one row each."""
    shown, today = page.shown, page.today
    header = ["单位代码", "单位名称", "上级", "调查", "原因", "倒数名次", "状态", "逾期", "约谈日期", "整改时限", "责任人"]
    rows = [
        (c.unit.code, c.unit.name, c.unit.parent.name if c.unit.parent is not None else "", c.wave.slug,
         REASON_LABELS.get(c.reason, c.reason), c.rank, CASE_STATUS_LABELS.get(c.status, c.status),
         "是" if is_overdue(c, today) else "", c.held_on or c.scheduled_for, c.deadline, c.responsible or "")
        for c in shown.cases
    ]
    return listing.xlsx("约谈案件", header, rows)


KEY_SORTS = {
    "unit": listing.Sort("单位名称", lambda k: k.unit.name),
    "latest": listing.Sort("最近纳入的期间（近的在前）", lambda k: k.latest.period_start, reverse=True),
}


@dataclass(frozen=True)
class KeyList:
    units: list  # admin.cases.KeyUnit
    query: listing.ListQuery
    places: listing.Choices


def key_list(user: User, found: list, args) -> KeyList:
    """重点管理 (admin.cases.key_management) searched, filtered by county and town, and sorted."""
    query = listing.ListQuery.from_args(args, KEY_SORTS)
    places = listing.choices(user, query, present=[k.unit for k in found])
    return KeyList(listing.apply(found, query, lambda k: k.unit, KEY_SORTS), query, places)


def key_page(user: User, args) -> KeyList:
    """/admin/key-management: the units in 重点管理 within the account's scope, as a long list."""
    return key_list(user, key_management(user), args)


def key_xlsx(shown: KeyList) -> bytes:
    header = ["单位代码", "单位名称", "纳入重点管理的期间", "期间", "调查", "综合指数", "等次", "倒数名次", "约谈名单", "案件状态"]
    rows = []
    for k in shown.units:
        periods = "、".join(w.period for w in k.escalated_in)
        for h in k.history:
            rank = f"{h.unit.rank} / {h.unit.group_size}" if h.unit is not None and h.unit.rank else ""
            rows.append((k.unit.code, k.unit.name, periods, h.wave.period, h.wave.title,
                         round(h.unit.composite.estimate, 2) if h.unit is not None and h.unit.composite.estimate is not None else None,
                         (h.unit.grade or "") if h.unit is not None else "", rank,
                         REASON_LABELS.get(h.entry.reason, h.entry.reason) if h.entry else "未列入",
                         CASE_STATUS_LABELS.get(h.case.status, h.case.status) if h.case else ""))
    return listing.xlsx("重点管理", header, rows)
