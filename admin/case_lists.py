"""The cases list as a long list (admin/listing.py): search, county and town, sorting, XLSX."""

from __future__ import annotations

from dataclasses import dataclass

from admin import listing
from models import InterviewCase, User
from models.interviews import CASE_STATUS_LABELS, REASON_LABELS, is_overdue

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


def cases_xlsx(shown: CaseList, today) -> bytes:
    header = ["单位代码", "单位名称", "上级", "调查", "原因", "倒数名次", "状态", "逾期", "约谈日期", "整改时限", "责任人"]
    rows = [
        (c.unit.code, c.unit.name, c.unit.parent.name if c.unit.parent is not None else "", c.wave.slug,
         REASON_LABELS.get(c.reason, c.reason), c.rank, CASE_STATUS_LABELS.get(c.status, c.status),
         "是" if is_overdue(c, today) else "", c.held_on or c.scheduled_for, c.deadline, c.responsible or "")
        for c in shown.cases
    ]
    return listing.xlsx("约谈案件", header, rows)
