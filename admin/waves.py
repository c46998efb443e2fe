"""Waves in the console: the ones an account can see, creating and moving them through their
statuses (survey.waves), fieldwork progress within the account's scope (survey.progress), and
the downloads of QR codes (survey.qr) and reports (reports.build).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from sqlalchemy import select

import policy
from admin import listing
from admin.errors import FieldError, beside_fields
from errors import Conflict, NotFound
from policy import check_wave, sees_wave, unit_clause
from extensions import db
from jobs import service as jobs
from models import Job, Questionnaire, Unit, User, Wave
from cells import safe_workbook
from survey.periods import next_period, parse_period
from models.accounts import ROLE_LABELS
from models.units import KIND_LABELS
from models.waves import MODE_LABELS, RESPONSE_MODES
from survey.progress import Breakdown, UnitProgress, breakdown, wave_progress
from survey.calls import WaveRates, wave_rates
from survey.qr import loopback_base
from survey.results import stored_result
from survey.waves import (
    TRANSITIONS, awaiting_review, create_short_links, create_wave, open_siblings, rename_wave, reopen_wave,
    set_collection_dates, transition,
)

BEHIND_SHARE = 0.5  # a collecting unit under half its target is "behind"
# Units a wave may be scoped to: an aggregate whose subtree holds the units that collect.
SCOPE_KINDS = ("city", "county", "town")


def get_wave(user: User, slug: str) -> Wave:
    """The wave, or 404 when it does not exist or lies outside the account's scope."""
    return check_wave(user, db.session.scalar(select(Wave).where(Wave.slug == slug)))


def covers_wave(user: User, wave: Wave) -> bool:
    """The whole wave lies within the account's scope. Whole-wave outputs (the PDF reports, the
    posters) and re-running its analysis need this; a county account on a city-wide wave gets
    its own units' share of the pages, the XLSX and the QR codes instead."""
    return user.scope is None or wave.scope.is_within(user.scope)


def period_label(wave: Wave) -> str:
    return parse_period(wave.period).label


# -- creating and moving -------------------------------------------------------------------------


def questionnaire_choices() -> list[tuple[str, str]]:
    return [
        (q.slug, f"{q.latest.title}({q.slug},第 {q.latest.version} 版)")
        for q in db.session.scalars(select(Questionnaire).order_by(Questionnaire.slug))
        if q.versions
    ]


def scope_choices(user: User) -> list[tuple[str, str]]:
    units = db.session.scalars(
        select(Unit).where(unit_clause(user), Unit.kind.in_(SCOPE_KINDS)).order_by(Unit.path)
    )
    top = user.scope.depth if user.scope else 0
    return [(u.code, ("\u3000" * (u.depth - top)) + f"{u.name}({u.code})") for u in units]


def slug_problem(user: User, slug: str) -> str | None:
    """Why `slug` cannot name a new wave, or None. The new-wave form asks this while it validates,
    so a taken slug is shown at once with the form's other errors."""
    taken = db.session.scalar(select(Wave).where(Wave.slug == slug))
    if taken is None:
        return None
    if not sees_wave(user, taken):
        # Slugs are unique over the whole tree; one taken outside the account's view is refused
        # without saying that it exists (a "已存在" would tell a county what others run).
        return "调查标识不可用，请换一个"
    return f"调查标识 {slug} 已被“{taken.title}”使用,请换一个"


@dataclass(frozen=True)
class WaveCopy:
    """What "copy the last wave" fills in: the same questionnaire, scope, series and target, the
    next period, and the old slug with its period moved on when it holds one."""

    slug: str
    questionnaire: str
    scope: str
    period: str
    series: str
    target_n: int


@dataclass(frozen=True)
class NewWaveForm:
    """What the new-wave form offers: the questionnaires, the scopes within the account's, and the
    values copied from a wave (?copy=SLUG: the next period of that wave) or None."""

    questionnaires: list[tuple[str, str]]
    scopes: list[tuple[str, str]]
    copy: WaveCopy | None


def new_wave_form(user: User, copy_slug: str | None = None) -> NewWaveForm:
    copy = copy_of(user, copy_slug) if copy_slug else None
    return NewWaveForm(questionnaire_choices(), scope_choices(user), copy)


def copy_of(user: User, slug: str) -> WaveCopy:
    wave = policy.require(user, "waves.manage", get_wave(user, slug), "只能复制您管理的调查")
    period = next_period(wave.period)
    new_slug = wave.slug.replace(wave.period, period) if wave.period in wave.slug else ""
    if new_slug and slug_problem(user, new_slug):
        new_slug = ""
    return WaveCopy(new_slug, wave.questionnaire_version.slug, wave.scope.code, period, wave.series or "", wave.target_n)


def create(user: User, slug: str, questionnaire: str, scope_code: str, period: str, series: str | None, target_n: int,
           title: str | None = None) -> Wave:
    """A new draft wave, scoped within the account's subtree (survey.waves.create_wave)."""
    scope = db.session.scalar(select(Unit).where(Unit.code == scope_code))
    if scope is None or (user.scope is not None and not scope.is_within(user.scope)):
        raise FieldError("scope", "请选择您管辖范围内的单位")
    if scope.kind not in SCOPE_KINDS:
        raise FieldError("scope", "调查范围应为市、县(区)或乡镇(街道)")
    problem = slug_problem(user, slug)
    if problem:
        raise FieldError("slug", problem)
    with beside_fields(bad_period="period", bad_title="title", not_found="questionnaire"):
        return create_wave(slug, questionnaire, scope_code, period, series or None, target_n, title=title or None)


def set_collection(user: User, wave: Wave, start, end) -> Wave:
    """The wave's collection dates (survey.waves.set_collection_dates); 403 unless it manages the wave."""
    policy.require(user, "waves.manage", wave)
    with beside_fields(bad_collection_dates="collection_start"):
        return set_collection_dates(wave, start, end)


def rename(user: User, wave: Wave, title: str) -> Wave:
    """A new title for the wave (survey.waves.rename_wave); 403 unless the account manages the wave."""
    policy.require(user, "waves.manage", wave)
    with beside_fields(bad_title="title"):
        return rename_wave(wave, title)


@dataclass(frozen=True)
class Confirmation:
    """What the console asks before an action that is hard to undo: the numbers it changes and
    the warnings, on a page of its own (admin/confirm.html) whose button repeats the request with
    `confirmed=1`. Works without JavaScript."""

    title: str  # 确认结束调查
    lines: tuple[str, ...]
    warnings: tuple[str, ...]
    button: str  # 确认结束调查
    danger: bool = False


def confirmation(user: User, wave: Wave, action: str) -> Confirmation | None:
    """What to confirm before opening, closing or publishing `wave`; None when nothing needs asking
    (opening while no other wave of its series and scope is open). PinganError when the action is
    refused outright: no permission, the wrong status, no results, sheets awaiting review."""
    policy.require(user, "waves.manage", wave)
    source = TRANSITIONS[action][0]
    if wave.status != source:
        transition_refusal(wave, action)
    if action == "open":
        siblings = open_siblings(wave)
        if not siblings:
            return None
        names = "、".join(f"“{w.title}”" for w in siblings)
        return Confirmation(
            "确认开始调查",
            (f"同一系列、同一范围的{names}仍在进行中（{len(siblings)} 期）。",),
            ("两期同时进行时，居民扫到哪一期的二维码，答卷就记入哪一期；建议先结束上一期再开始本期。",),
            "仍然开始调查",
        )
    if action == "close":
        rows = wave_progress(wave)
        top = rows[0]
        behind = sum(1 for r in rows if r.collects and r.share < 0.5)
        collecting = sum(1 for r in rows if r.collects)
        waiting = awaiting_review(wave)
        warnings = []
        if behind:
            warnings.append(f"{behind} 个填报单位（共 {collecting} 个）的答卷不到目标的一半。")
        if waiting:
            warnings.append(f"{waiting} 份答卷待审核；结束后仍可审核，但发布前必须审核完。")
        return Confirmation(
            "确认结束调查",
            (f"目前辖区居民答卷 {top.n} 份，目标 {top.target} 份，完成 {top.share:.0%}。",
             "结束后居民将无法再填写；重新开放须由管理员填写理由。"),
            tuple(warnings),
            "确认结束调查",
            danger=True,
        )
    # publish: refused before anything is asked when it could not go through
    stored = stored_result(wave)
    if stored is None:
        raise Conflict(f"“{wave.title}” 还没有分析结果，请先运行分析再发布", code="no_results")
    waiting = awaiting_review(wave)
    if waiting:
        raise Conflict(f"“{wave.title}” 还有 {waiting} 份答卷待审核，审核完并重新运行分析后才能发布", code="awaiting_review")
    listed = len(stored.payload.get("interview_list") or ())
    return Confirmation(
        "确认发布结果",
        (f"计入指数的答卷 {stored.n_responses} 份，审核剔除 {stored.n_rejected} 份；约谈名单 {listed} 个单位。",
         "发布后结果在公示栏公开，不能再修改，也不能再重新运行分析；居民设备和网络地址的散列值将被清除。"),
        (),
        "确认发布",
        danger=True,
    )


def transition_refusal(wave: Wave, action: str) -> None:
    """Raise the refusal of survey.waves.transition for a wave in the wrong status."""
    transition(wave, action)  # raises Conflict before changing anything


def reopen(user: User, wave: Wave, reason: str) -> Wave:
    """An admin opens a closed wave again, with a reason (survey.waves.reopen_wave, audited)."""
    policy.require(user, "waves.reopen", wave)
    with beside_fields(bad_reason="reason"):
        return reopen_wave(wave, reason)


def change_status(user: User, wave: Wave, action: str) -> Wave:
    """Open, close or publish; 403 unless the whole wave lies within the account's scope."""
    policy.require(user, "waves.manage", wave)
    return transition(wave, action)


# -- progress --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    rows: list[UnitProgress]  # depth counted from the first row
    top: UnitProgress  # the wave's scope, or the account's own unit on a wider wave
    behind: int  # collecting units under half their target

    def to_dict(self) -> dict:
        return {
            "top": self.top.to_dict(),
            "behind": self.behind,
            "rows": [r.to_dict() for r in self.rows],
        }


def progress(user: User, wave: Wave) -> Progress:
    """The wave's progress per unit, only the units the account can see."""
    rows = wave_progress(wave)
    if user.scope is not None and not wave.scope.is_within(user.scope):
        visible = set(db.session.scalars(select(Unit.code).where(unit_clause(user))))
        rows = [r for r in rows if r.code in visible]
    if not rows:
        raise NotFound("该调查没有您所辖范围内的单位")
    base = rows[0].depth
    rows = [r if base == 0 else UnitProgress(**{**r.to_dict(), "depth": r.depth - base}) for r in rows]
    behind = sum(1 for r in rows if r.collects and r.share < BEHIND_SHARE)
    return Progress(rows=rows, top=rows[0], behind=behind)


PROGRESS_SORTS = {
    "share": listing.Sort("完成比例（低的在前）", lambda r: r.share),
    "n": listing.Sort("答卷数（多的在前）", lambda r: r.n, reverse=True),
    "name": listing.Sort("单位名称", lambda r: r.name),
}


@dataclass(frozen=True)
class ProgressList:
    progress: Progress
    rows: list[UnitProgress]  # the rows shown: searched, filtered, sorted
    query: listing.ListQuery
    places: listing.Choices


def progress_list(user: User, wave: Wave, args) -> ProgressList:
    """The wave's progress as a long list: ?q= (name or code), ?county=, ?town=, ?sort= (admin/listing.py)."""
    p = progress(user, wave)
    query = listing.ListQuery.from_args(args, PROGRESS_SORTS)
    units = listing.units_by_code(r.code for r in p.rows) if query.active else {}
    rows = listing.apply(p.rows, query, lambda r: units.get(r.code), PROGRESS_SORTS)
    return ProgressList(p, rows, query, listing.choices(user, query, within=wave.scope))


# -- downloads -------------------------------------------------------------------------------------


def qr_check(user: User, wave: Wave, mode: str = "qr") -> None:
    """Every refusal of the QR download (scope, no unit, a unit without its short code), before
    anything is asked or drawn: the loopback confirmation comes after it."""
    jobs.qr_zip_part(user, wave, mode)


def qr_zip(user: User, wave: Wave, mode: str = "qr") -> Job:
    """The QR codes of the account's collecting units as a zip of PNGs with index.csv
    (survey.qr.qr_zip), built by the worker (docs/jobs.md)."""
    return jobs.request_qr_zip(user, wave, mode)


def report_pdf(user: User, wave: Wave, kind: str, unit: str | None = None) -> Job:
    """Ask for a PDF of the wave as a background job (docs/jobs.md): the whole wave, or the
    account's part of it when the wave reaches beyond its scope (a county prints its own posters,
    cards, notices and report of a city-wide wave), or one unit's posters or notice; 404 for an
    unknown kind."""
    return jobs.request_document(user, wave, kind, unit)


def behind_rows(progress: Progress) -> list[UnitProgress]:
    """The "behind target" filter: collecting units under half their target."""
    return [r for r in progress.rows if r.collects and r.share < BEHIND_SHARE]


def progress_breakdown(user: User, wave: Wave) -> Breakdown:
    """Sheets by channel, by day and by collector, over the units the account can see."""
    return breakdown(wave, unit_clause(user))


@dataclass(frozen=True)
class WavePage:
    """What the wave's page shows besides its forms (admin/wave.html)."""

    progress: Progress
    shown: ProgressList  # the long list: searched, filtered, sorted
    rows: list[UnitProgress]  # the rows listed: `shown`, only those behind target with ?behind=1
    behind_only: bool
    parts: Breakdown
    analysed: bool
    manages: bool  # the account may open, close, publish and rename it
    covers: bool  # the whole wave lies within the account's scope
    phone_rates: WaveRates | None
    period: str
    loopback: str | None  # PUBLIC_BASE_URL points at this machine (survey.qr.loopback_base)


def wave_page(user: User, wave: Wave, args) -> WavePage:
    """The wave's page: progress per unit within the account's scope as a long list (?q=&county=&town=
    &sort=, ?behind=1), the sheets by channel, day and collector, and what the account may do."""
    shown = progress_list(user, wave, args)
    behind_only = args.get("behind") == "1"
    rows = shown.rows
    if behind_only:
        behind = {r.code for r in behind_rows(shown.progress)}
        rows = [r for r in rows if r.code in behind]
    return WavePage(
        progress=shown.progress, shown=shown, rows=rows, behind_only=behind_only,
        parts=progress_breakdown(user, wave), analysed=stored_result(wave) is not None,
        manages=policy.manages_wave(user, wave), covers=covers_wave(user, wave),
        phone_rates=wave_rates(wave, user), period=period_label(wave), loopback=loopback_base(),
    )


def add_short_links(user: User, wave: Wave) -> int:
    """"生成短码": the short codes units added since the wave was created (or opened) still lack
    (survey.waves.create_short_links); 403 unless the account manages the wave. Returns how many
    codes were made (two a unit: QR and door to door)."""
    policy.require(user, "waves.manage", wave)
    return create_short_links(wave)


def progress_xlsx(user: User, wave: Wave, behind_only: bool = False, args=None) -> bytes:
    """The progress page as a workbook: 单位进度 (all units, or those behind target; searched, filtered
    and sorted as on the page: ?q=&county=&town=&sort=, admin/listing.py), 按日, 按渠道, 按采集人."""
    from openpyxl import Workbook  # loaded on first use, as the other exports

    rows = progress(user, wave)
    shown = progress_list(user, wave, args or {}).rows
    behind = {r.code for r in behind_rows(rows)}
    units = [r for r in shown if r.code in behind] if behind_only else shown
    parts = progress_breakdown(user, wave)
    book = Workbook()
    sheet = book.active
    sheet.title = "单位进度"
    sheet.append(["单位代码", "单位", "类型", "层级", "答卷", "目标", "完成率", "待审核", "甄别退出", "落后(不到目标一半)"])
    for r in units:
        sheet.append([r.code, r.name, KIND_LABELS.get(r.kind, r.kind), r.depth, r.n, r.target, round(r.share, 4),
                      r.n_flagged, r.n_screened, "是" if r.collects and r.share < BEHIND_SHARE else ""])
    days = book.create_sheet("按日")
    days.append(["日期(北京时间)", *(MODE_LABELS[m] for m in RESPONSE_MODES), "合计"])
    for day, modes, n in parts.days:
        days.append([day.isoformat(), *(modes.get(m, 0) for m in RESPONSE_MODES), n])
    if parts.undated:
        days.append(["无日期(纸质)", *([0] * len(RESPONSE_MODES)), parts.undated])
    channels = book.create_sheet("按渠道")
    channels.append(["渠道", "答卷"])
    for mode in RESPONSE_MODES:
        channels.append([MODE_LABELS[mode], parts.modes.get(mode, 0)])
    people = book.create_sheet("按采集人")
    people.append(["采集人", "角色", "计入答卷", "其中待审核", "已剔除"])
    for c in parts.collectors:
        people.append([c.name, ROLE_LABELS.get(c.role, c.role), c.n, c.n_flagged, c.n_rejected])
    safe_workbook(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def progress_xlsx_name(wave: Wave, behind_only: bool = False) -> str:
    return f"{wave.slug}-progress{'-behind' if behind_only else ''}.xlsx"
