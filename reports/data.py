"""What a report needs from the database, gathered once into plain frozen objects.

The rest of `reports` renders these objects and never queries: the stored results of
the wave (`survey.results.wave_result`), the stored results of the earlier waves of the
same series and scope (for the trend), a few residents' comments, and the dates of any
约谈 cases the office has already scheduled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from analysis import UnitResult, WaveResult
from analysis.spec import QuestionnaireSpec
import clock
from errors import Conflict, NotFound
from extensions import db
from models import AnalysisResult, InterviewCase, Response, Unit, Wave
from models.waves import MODE_LABELS
from reports.model import subtree
from survey.calls import WaveRates, wave_rates
from survey.offices import Letterhead, issuer, letterhead
from survey.periods import parse_period
from survey.results import stored_result, wave_result
from survey.waves import previous_wave

TREND_PERIODS = 6  # the current wave and up to five before it
RECHECK_DAYS = 30  # 复查: 30 days after the date of the notice, unless the office set a date on the case
COMMENTS_IN_REPORT = 40
COMMENTS_PER_NOTICE = 3  # the notice is one page: the concerns above them say more
_QUARTERS = "一二三四"


@dataclass(frozen=True)
class WaveInfo:
    """The wave as the report names it."""

    slug: str
    title: str  # the questionnaire's title
    scope_code: str
    scope_name: str
    series: str
    period: str  # 2026Q3
    period_label: str  # 2026年第三季度
    period_start: date
    period_end: date
    status: str
    office: str  # the issuing office (config OFFICE_NAME)
    issued_on: date  # the date printed on the report
    computed_at: datetime | None = None
    n_responses: int | None = None  # used in the indices
    n_rejected: int | None = None  # left out after review
    modes: dict[str, int] = field(default_factory=dict)  # responses used, by how they were collected
    wave_title: str = ""  # the wave's own title (Wave.title), editable in the console
    collection_start: date | None = None  # the days residents are asked (posters); None: the period
    collection_end: date | None = None
    letterhead: Letterhead | None = None  # 文号 prefix, 抄送, 联系人/电话 (survey.offices)

    @property
    def heading(self) -> str:
        """The wave's title: 安澜市2026年第三季度公众安全感和群众满意度调查 unless the office renamed it."""
        return self.wave_title or f"{self.scope_name}{self.period_label}{self.title}"


@dataclass(frozen=True)
class TrendPoint:
    """The root of one wave of the series: its period and headline estimates."""

    period: str
    label: str  # 2026年第三季度
    short_label: str  # 2026年\n三季度
    root: UnitResult


@dataclass(frozen=True)
class Comment:
    unit_code: str
    unit_name: str
    text: str


@dataclass(frozen=True)
class NoticeDates:
    """What one 约谈通知书 fills in from the unit's 约谈 case, when the office has opened one:
    the interview date, the rectification deadline, the person responsible and the plan; the 复查
    date is the case's, or by rule RECHECK_DAYS after the notice. Blank lines are printed for the rest."""

    interview_on: date | None
    deadline: date | None
    recheck_on: date
    recheck_by_rule: bool
    responsible: str | None = None  # 整改责任人
    plan: str | None = None  # the unit's 整改方案 of the current round, once it has handed it in
    requirements: str | None = None  # the office's 整改要求 of the current round (整改通知)


@dataclass(frozen=True)
class PosterUnit:
    """One unit residents answer for, with its two links: the poster's (qr) and the door card's (door)."""

    code: str
    name: str
    place: str  # the units above it, 安澜市 澜江区 滨江街道
    url: str
    short_code: str  # ABC-DEF
    door_url: str
    door_code: str


@dataclass(frozen=True)
class ReportData:
    info: WaveInfo
    spec: QuestionnaireSpec
    result: WaveResult | None = None
    trend: tuple[TrendPoint, ...] = ()  # oldest first, ending with this wave
    comments: tuple[Comment, ...] = ()  # a sample for the quarterly report
    unit_comments: dict[str, tuple[Comment, ...]] = field(default_factory=dict)  # listed unit → its residents' words
    notice_dates: dict[str, NoticeDates] = field(default_factory=dict)
    posters: tuple[PosterUnit, ...] = ()
    entry_url: str = ""  # where a resident types a short code, e.g. pingan.example.cn/s
    unit: str | None = None  # one unit's document: its poster and cards, or its notice
    phone_rates: WaveRates | None = None  # AAPOR rates of the wave's phone interviews (quarterly appendix)


def short_period_label(code: str) -> str:
    """A two-line axis label: '2026年\\n三季度', '2026年\\n7月', '2026年\\n下半年', '2026年'."""
    p = parse_period(code)
    year = p.start.year
    if "Q" in code:
        return f"{year}年\n{_QUARTERS[int(code[-1]) - 1]}季度"
    if "M" in code:
        return f"{year}年\n{p.start.month}月"
    if "H" in code:
        return f"{year}年\n{'上' if code.endswith('1') else '下'}半年"
    return f"{year}年"


def _in_subtree(query, within: Unit | None):
    """`query` over Response restricted to the responses of `within`'s subtree (None: all)."""
    if within is None:
        return query
    return query.where(Response.unit_id.in_(select(Unit.id).where(within.subtree_clause()).correlate(None)))


def wave_info(wave: Wave, issued_on: date | None = None, with_modes: bool = False,
              stored: AnalysisResult | None = None, within: Unit | None = None) -> WaveInfo:
    """The wave as the report names it; `with_modes` also counts the responses used by mode
    (one grouped query over the wave's responses: the quarterly report's method appendix only).
    `stored`: the wave's stored results when the caller has them already. `within`: a unit inside
    the wave's scope whose part of the wave is printed (a county's own copy): the report names it
    as its scope, the wave's title followed by its name, and counts only its responses."""
    stored = stored or stored_result(wave)
    if within is not None and within.id == wave.scope.id:
        within = None
    modes: dict[str, int] = {}
    if with_modes:
        modes = dict(
            db.session.execute(
                _in_subtree(select(Response.mode, func.count())
                            .where(Response.wave_id == wave.id, Response.review_status != "rejected"), within)
                .group_by(Response.mode)
            ).all()
        )
    n_rejected = stored.n_rejected if stored else None
    if within is not None and stored is not None:
        n_rejected = db.session.scalar(_in_subtree(
            select(func.count()).select_from(Response)
            .where(Response.wave_id == wave.id, Response.review_status == "rejected"), within))
    scope = within or wave.scope
    return WaveInfo(
        slug=wave.slug,
        wave_title=wave.title if within is None else f"{wave.title}（{within.name}）",
        title=wave.questionnaire_version.title,
        scope_code=scope.code,
        scope_name=scope.name,
        series=wave.series,
        period=wave.period,
        period_label=parse_period(wave.period).label,
        period_start=wave.period_start,
        period_end=wave.period_end,
        collection_start=wave.collection_dates[0],
        collection_end=wave.collection_dates[1],
        status=wave.status,
        office=issuer(wave.scope.name),
        letterhead=letterhead(wave.scope.name),
        issued_on=issued_on or clock.today(),
        computed_at=stored.computed_at if stored else None,
        n_responses=stored.n_responses if stored else None,
        n_rejected=n_rejected,
        modes={m: modes[m] for m in MODE_LABELS if modes.get(m)},
    )


def trend(wave: Wave, result: WaveResult, periods: int = TREND_PERIODS) -> tuple[TrendPoint, ...]:
    """This wave and the earlier waves of its series and scope that have stored results, oldest
    first: the headline of `result`'s root (the wave's scope, or the unit a report is printed within)."""
    points = [TrendPoint(wave.period, parse_period(wave.period).label, short_period_label(wave.period), result.root)]
    earlier = previous_wave(wave)
    while earlier is not None and len(points) < periods:
        stored = stored_result(earlier)
        root = None
        if stored is not None:
            try:
                root = WaveResult.from_dict(stored.payload).unit(result.root.code)
            except KeyError:  # the unit was not part of that wave
                root = None
        if root is not None:
            points.append(
                TrendPoint(earlier.period, parse_period(earlier.period).label, short_period_label(earlier.period), root)
            )
        earlier = previous_wave(earlier)
    return tuple(reversed(points))


def _comment_query(wave: Wave, spec: QuestionnaireSpec):
    """(unit code, unit name, text) of the free-text answers of reviewed-clean or accepted responses."""
    keys = [it.key for it in spec.items if not it.is_choice]
    if not keys:
        return None
    text = Response.answers[keys[0]].as_string()
    query = (
        select(Unit.code, Unit.name, text)
        .join(Unit, Response.unit_id == Unit.id)
        .where(Response.wave_id == wave.id, Response.review_status.in_(("clean", "accepted")))
        .where(text.is_not(None), func.length(func.trim(text)) > 0)
    )
    return query


def comments(wave: Wave, spec: QuestionnaireSpec, limit: int = COMMENTS_IN_REPORT,
             within: Unit | None = None) -> tuple[Comment, ...]:
    """The latest `limit` comments of the wave (the first free-text item), newest first; only those
    from `within`'s subtree when given."""
    query = _comment_query(wave, spec)
    if query is None:
        return ()
    if within is not None:
        query = query.where(Unit.path.startswith(within.path, autoescape=True))
    rows = db.session.execute(query.order_by(Response.submitted_at.desc().nulls_last(), Response.id.desc()).limit(limit))
    return tuple(Comment(code, name, value.strip()) for code, name, value in rows)


def unit_comments(wave: Wave, spec: QuestionnaireSpec, codes: list[str], limit: int = COMMENTS_PER_NOTICE) -> dict[str, tuple[Comment, ...]]:
    """For each unit, the latest `limit` comments from residents of its domain: the unit and every
    unit below it, departments excepted (they are never part of a geographic unit, docs/method.md)."""
    query = _comment_query(wave, spec)
    if query is None or not codes:
        return {}
    out: dict[str, tuple[Comment, ...]] = {}
    units = {code: (path, kind) for code, path, kind in db.session.execute(
        select(Unit.code, Unit.path, Unit.kind).where(Unit.code.in_(codes))
    )}
    for code in codes:
        path, kind = units[code]
        domain = query.where(Unit.path.startswith(path, autoescape=True))
        if kind != "department":
            domain = domain.where(Unit.kind != "department")
        rows = db.session.execute(
            domain.order_by(Response.submitted_at.desc().nulls_last(), Response.id.desc()).limit(limit)
        )
        out[code] = tuple(Comment(c, n, v.strip()) for c, n, v in rows)
    return out


def _round_text(case: InterviewCase | None, field: str) -> str | None:
    current = case.current_round if case is not None else None
    return (getattr(current, field) or "").strip() or None if current is not None else None


def notice_dates(wave: Wave, codes: list[str], issued_on: date) -> dict[str, NoticeDates]:
    """The dates of each listed unit's notice: from its 约谈 case when the office has set them."""
    cases = {
        case.unit.code: case
        for case in db.session.scalars(
            select(InterviewCase).where(InterviewCase.wave_id == wave.id, InterviewCase.status != "withdrawn")
        )
    }
    out = {}
    for code in codes:
        case = cases.get(code)
        recheck = case.recheck_on if case is not None else None
        out[code] = NoticeDates(
            interview_on=case.scheduled_for if case is not None else None,
            deadline=case.deadline if case is not None else None,
            recheck_on=recheck or issued_on + timedelta(days=RECHECK_DAYS),
            recheck_by_rule=recheck is None,
            responsible=(case.responsible or None) if case is not None else None,
            plan=_round_text(case, "plan"),
            requirements=_round_text(case, "requirements"),
        )
    return out


def poster_units(wave: Wave, within: Unit | None = None, unit: str | None = None) -> tuple[PosterUnit, ...]:
    """Every unit of the wave that residents answer for (survey.qr.collection_units), with its
    signed links and short codes for both modes (codes are created on first use and kept); only
    those of `within`'s subtree when given; `unit`: that one unit only (NotFound when residents do
    not answer for it in this wave)."""
    from survey.links import format_code, link_url, short_codes
    from survey.qr import collection_units, public_base_url

    if wave.status in ("closed", "published"):
        raise Conflict(f"“{wave.title}” 已结束，扫码海报和入户卡片已不能再用", code="wave_ended")
    units = collection_units(wave)
    if within is not None:
        units = [u for u in units if u.is_within(within)]
    if unit is not None:
        units = [u for u in units if u.code == unit]
        if not units:
            raise NotFound(f"单位 {unit} 不是“{wave.title}”的填报单位，没有扫码海报", code="not_collecting")
    if not units:
        raise Conflict(f"“{wave.title}” 的范围内没有可填报的单位（乡镇、村社区、网格或部门）", code="no_units")
    base = public_base_url()
    qr_codes = short_codes(wave, units, "qr")
    door_codes = short_codes(wave, units, "door")
    names = dict(db.session.execute(select(Unit.code, Unit.name).where(wave.scope.subtree_clause())).all())
    out = []
    for unit in units:
        above = [c for c in unit.path.strip("/").split("/")[:-1] if c in names]
        out.append(
            PosterUnit(
                code=unit.code,
                name=unit.name,
                place=" ".join(names[c] for c in above),
                url=link_url(base, wave, unit, "qr"),
                short_code=format_code(qr_codes[unit.id]),
                door_url=link_url(base, wave, unit, "door"),
                door_code=format_code(door_codes[unit.id]),
            )
        )
    return tuple(out)


def entry_url() -> str:
    """The short-code page as printed: the public address without its scheme, plus /s."""
    from survey.qr import public_base_url

    base = public_base_url()
    return base.split("://", 1)[1] + "/s"


def load(wave: Wave, kind: str, issued_on: date | None = None, within: Unit | None = None,
         unit: str | None = None) -> ReportData:
    """Everything report `kind` shows; Conflict (no results) for every kind but posters.
    `unit`: one unit's document (posters: its poster and cards; interviews: its notice).

    `within`: a unit of the wave's scope (a county on a city-wide wave) — the report covers its
    subtree only: its units, their ranks as the wave computed them, its part of the interview list,
    its residents' comments, its posters (reports.model.subtree)."""
    if within is not None and not within.is_within(wave.scope):
        raise Conflict(f"{within.name}不在“{wave.title}”的范围内", code="not_in_scope")
    if within is not None and within.id == wave.scope.id:
        within = None
    stored = stored_result(wave)
    info = wave_info(wave, issued_on, with_modes=kind == "quarterly", stored=stored, within=within)
    spec = wave.questionnaire_version.to_spec()
    if kind == "posters":
        return ReportData(info, spec, posters=poster_units(wave, within, unit), entry_url=entry_url(), unit=unit)
    result = WaveResult.from_dict(stored.payload) if stored is not None else wave_result(wave)  # Conflict if none
    if within is not None:
        try:
            result = subtree(result, within.code)
        except KeyError:
            raise Conflict(f"“{wave.title}”的结果中没有{within.name}", code="not_in_results") from None
    if kind == "interviews" and unit is not None:
        if all(e.code != unit for e in result.interview_list):
            raise Conflict(f"单位 {unit} 不在“{wave.title}”的约谈名单上，没有约谈通知书", code="not_listed")
        return ReportData(
            info, spec, result,
            unit_comments=unit_comments(wave, spec, [unit]),
            notice_dates=notice_dates(wave, [unit], info.issued_on),
            unit=unit,
        )
    if kind == "quarterly":
        # within a unit: the rates of its own units' numbers (survey.calls reads the scope of the
        # account it is given; e stays the whole wave's)
        rates = wave_rates(wave) if within is None else wave_rates(wave, SimpleNamespace(scope=within))
        return ReportData(info, spec, result, trend=trend(wave, result), comments=comments(wave, spec, within=within),
                          phone_rates=rates)
    if kind == "interviews":
        codes = [e.code for e in result.interview_list]
        return ReportData(
            info, spec, result,
            unit_comments=unit_comments(wave, spec, codes),
            notice_dates=notice_dates(wave, codes, info.issued_on),
        )
    return ReportData(info, spec, result)


def scoped_result(result: WaveResult, scope: Unit | None) -> WaveResult:
    """The result restricted to the units of `scope`'s subtree (the whole result for no scope):
    an account's part of a wave, for its pages and its XLSX. NotFound when none of them is in it."""
    if scope is None:
        return result
    visible = set(db.session.scalars(select(Unit.code).where(scope.subtree_clause())))
    units = tuple(u for u in result.units if u.code in visible)
    if not units:
        raise NotFound("此次调查没有您管辖范围内的单位")
    return WaveResult(
        units=units,
        interview_list=tuple(e for e in result.interview_list if e.code in visible),
        distributions=result.distributions if units[0].code == result.root.code else {},
        warnings=result.warnings,
        params=result.params,
    )
