"""What a unit should fix, as the console shows it: one unit's result page (its item profile against
its parent's, its top concerns, its trend across the waves of the series), its residents' comments,
and the wave's raw answer sheets as a file.

Every figure is the stored analysis result's (docs/method.md "Item results and key drivers"); this
module only picks and orders. Access: the unit and the wave through `policy` (an account sees the
units of its scope only), and the raw sheets only within the account's scope.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from openpyxl import Workbook
from sqlalchemy import func, select

import clock
import policy
from analysis import Estimate, UnitResult
from analysis.spec import QuestionnaireSpec
from errors import NotFound
from extensions import db
from models import AnalysisResult, Response, Unit, User, Wave
from models.waves import MODE_LABELS
from reports import model
from cells import safe_row, safe_workbook
from survey.results import stored_result
from survey.waves import previous_wave

TREND_WAVES = 6  # this wave and up to five before it, as in the quarterly report
COMMENTS_PAGE = 50
REVIEW_LABELS = {"clean": "正常", "flagged": "待审核", "accepted": "审核通过", "rejected": "审核剔除"}


# -- one unit's result page ------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemRow:
    key: str
    text: str
    estimate: Estimate
    parent: Estimate | None  # the parent's mean score on the same item
    weak: bool  # below the parent beyond sampling error (the stored weak_items)


@dataclass(frozen=True)
class TrendRow:
    period: str
    label: str
    composite: Estimate
    indicators: dict[str, Estimate]
    n: int


@dataclass(frozen=True)
class UnitFindings:
    wave: Wave
    spec: QuestionnaireSpec
    unit: UnitResult
    parent: UnitResult | None  # None for the wave's top unit, or when the account does not see it
    items: tuple[ItemRow, ...]
    concerns: tuple[model.Concern, ...]
    weak_items: tuple[model.WeakItem, ...]
    trend: tuple[TrendRow, ...]  # oldest first, ending with this wave
    n_comments: int


def _unit_of(payload: dict, code: str) -> UnitResult | None:
    """One unit of a stored result, without building the whole result (a city has thousands)."""
    for d in payload.get("units", ()):
        if d.get("code") == code:
            return UnitResult.from_dict(d)
    return None


def unit_findings(user: User, wave: Wave, code: str) -> UnitFindings:
    """The unit's result page; 404 when the unit is outside the account's scope or has no result."""
    unit_row = policy.find_unit(user, code)
    stored = stored_result(wave)
    unit = _unit_of(stored.payload, unit_row.code) if stored is not None else None
    if unit is None or not model.has_respondents(unit):
        raise NotFound("这个单位在本期调查中没有测评结果(没有受访者,或尚未分析)")
    spec = wave.questionnaire_version.to_spec()
    parent = None
    if unit.parent_code is not None:
        parent_row = db.session.scalar(select(Unit).where(Unit.code == unit.parent_code))
        if parent_row is not None and policy.sees_unit(user, parent_row):
            parent = _unit_of(stored.payload, unit.parent_code)
    weak_keys = {w["item"] for w in unit.weak_items or ()}
    items = tuple(
        ItemRow(key, model._item_text(spec, key), e, (parent.items or {}).get(key) if parent else None, key in weak_keys)
        for key, e in (unit.items or {}).items()
    )
    found = model.concerns(unit, spec, top=5)
    return UnitFindings(
        wave=wave,
        spec=spec,
        unit=unit,
        parent=parent,
        items=items,
        concerns=found.top,
        weak_items=found.weak_items,
        trend=unit_trend(wave, unit),
        n_comments=_comments_query(wave, spec, unit_row, "", count=True),
    )


def unit_trend(wave: Wave, unit: UnitResult, waves: int = TREND_WAVES) -> tuple[TrendRow, ...]:
    """The unit's composite and indicators in this wave and the earlier waves of its series and scope
    that were analysed and where it had respondents, oldest first."""

    def row(w: Wave, u: UnitResult) -> TrendRow:
        from survey.periods import parse_period

        return TrendRow(w.period, parse_period(w.period).label, u.composite, u.indicators, u.n)

    rows = [row(wave, unit)]
    earlier = previous_wave(wave)
    while earlier is not None and len(rows) < waves:
        stored: AnalysisResult | None = stored_result(earlier)
        u = _unit_of(stored.payload, unit.code) if stored is not None else None
        if u is not None and model.has_respondents(u):
            rows.append(row(earlier, u))
        earlier = previous_wave(earlier)
    return tuple(reversed(rows))


# -- comments --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommentRow:
    unit_name: str
    submitted_at: datetime | None
    mode: str
    text: str

    @property
    def mode_label(self) -> str:
        return MODE_LABELS.get(self.mode, self.mode)


def _text_keys(spec: QuestionnaireSpec) -> list[str]:
    return [it.key for it in spec.items if not it.is_choice]


def _comments_query(wave: Wave, spec: QuestionnaireSpec, unit: Unit, search: str, count: bool = False):
    """The free-text answers of the unit's domain (the unit and every unit below it) in the wave,
    from sheets used in the results (clean or accepted). Never who wrote them: no id, no device."""
    keys = _text_keys(spec)
    if not keys:
        return 0 if count else []
    text = Response.answers[keys[0]].as_string()
    below = select(Unit.id).where(unit.subtree_clause())
    query = (
        select(Unit.name, Response.submitted_at, Response.mode, text)
        .join(Unit, Response.unit_id == Unit.id)
        .where(Response.wave_id == wave.id, Response.review_status.in_(("clean", "accepted")))
        .where(Response.unit_id.in_(below), text.is_not(None), func.length(func.trim(text)) > 0)
    )
    if search:
        query = query.where(text.contains(search, autoescape=True))
    if count:
        return db.session.scalar(select(func.count()).select_from(query.subquery()))
    return query.order_by(Response.submitted_at.desc().nulls_last(), Response.id.desc())


@dataclass(frozen=True)
class CommentsPage:
    wave: Wave
    unit: Unit
    search: str
    rows: tuple[CommentRow, ...]
    total: int
    page: int
    pages: int


def unit_comments(user: User, wave: Wave, code: str, search: str = "", page: int = 1,
                  per_page: int | None = COMMENTS_PAGE) -> CommentsPage:
    """A page of the unit's comments, newest first, optionally those containing `search`;
    `per_page` None: all of them (the XLSX)."""
    unit = policy.find_unit(user, code)
    spec = wave.questionnaire_version.to_spec()
    search = (search or "").strip()[:100]
    total = _comments_query(wave, spec, unit, search, count=True)
    query = _comments_query(wave, spec, unit, search)
    pages = 1 if per_page is None else max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    if per_page is not None and total:
        query = query.limit(per_page).offset((page - 1) * per_page)
    rows = tuple(CommentRow(*r) for r in db.session.execute(query)) if total else ()
    return CommentsPage(wave, unit, search, rows, total, page, pages)


def comments_xlsx(user: User, wave: Wave, code: str, search: str = "") -> tuple[bytes, str]:
    listing = unit_comments(user, wave, code, search, per_page=None)
    book = Workbook()
    sheet = book.active
    sheet.title = "意见和建议"
    sheet.append([f"{listing.unit.name} {wave.title} 群众意见和建议" + (f"(含“{listing.search}”)" if listing.search else "")])
    sheet.append(["单位", "提交时间(北京时间)", "调查方式", "意见和建议"])
    for r in listing.rows:
        sheet.append([r.unit_name, _local(r.submitted_at), r.mode_label, r.text])
    sheet.column_dimensions["A"].width = 16
    sheet.column_dimensions["B"].width = 20
    sheet.column_dimensions["D"].width = 80
    safe_workbook(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), f"{wave.slug}-{listing.unit.code}-comments.xlsx"


def _local(at: datetime | None) -> str:
    return "" if at is None else clock.local(at).strftime("%Y-%m-%d %H:%M")


# -- the raw answer sheets -------------------------------------------------------------------------


def sheet_columns(spec: QuestionnaireSpec) -> list[tuple[str, str]]:
    """(header, item key or field) of the raw export: the sheet, then every item's codes."""
    return [("答卷编号", "id"), ("单位代码", "unit_code"), ("单位名称", "unit_name"), ("PSU", "psu"),
            ("提交时间", "submitted_at"), ("调查方式", "mode"), ("审核状态", "review_status"), ("标记", "flags")] + [
        (it.key, it.key) for it in spec.items
    ]


def answer_sheets(user: User, wave: Wave):
    """Every answer sheet of the wave within the account's scope, as rows of plain values: codes
    (a `multiple` item's joined by ;), mode, flags and review status. No hashes, no device or
    address keys, no idempotency keys, no personal data beyond what the questionnaire asked."""
    spec = wave.questionnaire_version.to_spec()
    columns = sheet_columns(spec)
    query = (
        select(Response.id, Unit.code, Unit.name, Response.psu, Response.submitted_at, Response.mode,
               Response.review_status, Response.flags, Response.answers)
        .join(Unit, Response.unit_id == Unit.id)
        .where(Response.wave_id == wave.id, policy.unit_clause(user))
        .order_by(Response.id)
    )
    yield [h for h, _ in columns]
    for rid, code, name, psu, at, mode, status, flags, answers in db.session.execute(query):
        fields = {"id": rid, "unit_code": code, "unit_name": name, "psu": psu or "", "submitted_at": _local(at),
                  "mode": MODE_LABELS.get(mode, mode), "review_status": REVIEW_LABELS.get(status, status),
                  "flags": ";".join(flags or ())}
        row = []
        for _, key in columns:
            if key in fields:
                row.append(fields[key])
                continue
            value = (answers or {}).get(key)
            row.append(";".join(value) if isinstance(value, list) else ("" if value is None else value))
        yield row


def answer_sheets_file(user: User, wave: Wave, fmt: str) -> tuple[bytes, str, str]:
    """The raw sheets as CSV (UTF-8 with BOM, for Excel) or XLSX: (data, file name, mimetype)."""
    rows = answer_sheets(user, wave)
    name = f"{wave.slug}-answer-sheets"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        for row in rows:
            writer.writerow(safe_row(row))
        return ("\ufeff" + out.getvalue()).encode("utf-8"), f"{name}.csv", "text/csv; charset=utf-8"
    book = Workbook(write_only=True)
    sheet = book.create_sheet("答卷")
    for row in rows:
        sheet.append(safe_row(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), f"{name}.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
