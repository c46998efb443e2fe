"""What a unit should fix, as the console shows it: one unit's result page (its item profile against
its parent's, its top concerns, its trend across the waves of the series), its residents' comments,
and the wave's raw answer sheets as a file.

Every figure is the stored analysis result's (docs/method.md "Item results and key drivers"); this
module only picks and orders. Access: the unit and the wave through `policy` (an account sees the
units of its scope only), and the raw sheets only within the account's scope.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

import clock
import policy
from analysis import Estimate, UnitResult
from analysis.spec import QuestionnaireSpec
from cells import safe_workbook
from errors import NotFound
from extensions import db
from jobs import service as jobs
from models import AnalysisResult, Job, Response, Unit, User, Wave
from models.waves import MODE_LABELS
from reports import model
from survey.results import stored_result
from survey.waves import previous_wave

TREND_WAVES = 6  # this wave and up to five before it, as in the quarterly report
COMMENTS_PAGE = 50


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
    from openpyxl import Workbook  # openpyxl: imported on first use, not at app start

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


def answer_sheets_file(user: User, wave: Wave, fmt: str) -> Job:
    """Every answer sheet within the account's scope as XLSX or CSV (reports.answer_sheets), built
    by the worker (docs/jobs.md) and kept until a sheet changes. The CSV too: it grows with the
    wave (0.15 s of CPU for the demo's 6,400 sheets, some 20 s for a million), which is a job's
    work, not a request's; once built, the link answers with the file at once."""
    return jobs.request_answer_sheets(user, wave, fmt)
