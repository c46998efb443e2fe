"""The results of a wave as the console shows them: per level and peer group, within the account's
scope, with the interview list and its cases.

Numbers come from the stored analysis (survey.results); nothing is recomputed here. A county
account on a city-wide wave sees the rows of its own subtree (its county's row included, ranked
among the counties) and the part of the interview list that concerns it.
"""

from __future__ import annotations

from dataclasses import dataclass


import policy
from admin.cases import wave_cases
from admin.waves import covers_wave, period_label
from analysis import InterviewEntry, UnitResult, WaveResult
from analysis.spec import QuestionnaireSpec
from jobs import service as jobs
from jobs.charts import level_charts
from models import AnalysisResult, InterviewCase, Job, User, Wave
from models.units import KIND_LABELS, KIND_ORDER
from reports import data as report_data, model
from reports.levels import Level, default_level, levels_of, listed_lines
from survey.results import DEFAULT_WEIGHT_CAP, stored_result



@dataclass(frozen=True)
class Listed:
    """A line of the interview list with its unit's results and its case, if issued."""

    entry: InterviewEntry
    unit: UnitResult
    group_title: str
    case: InterviewCase | None
    line: model.Listed | None = None  # the report's line: 倒数第 k, the rank interval, the note


@dataclass(frozen=True)
class ListedLevel:
    kind: str
    label: str
    lines: tuple[Listed, ...]


@dataclass(frozen=True)
class ResultsView:
    wave: Wave
    stored: AnalysisResult
    spec: QuestionnaireSpec
    result: WaveResult  # within the account's scope; its first unit is `top`
    top: UnitResult
    levels: tuple[Level, ...]
    level: Level | None  # the one shown
    interview: tuple[ListedLevel, ...]
    listed_codes: frozenset[str]
    covers: bool  # the account's scope holds the whole wave
    issued: int  # cases of the wave within the scope (withdrawn ones left out)
    totals: model.Totals | None = None
    standing: model.Standing | None = None  # its own row among its peers and the wave's headline


def scoped_result(result: WaveResult, user: User) -> WaveResult:
    """The result restricted to the units the account can see (the whole result for a full scope)."""
    return report_data.scoped_result(result, user.scope)


def results_view(user: User, wave: Wave, level: str | None = None) -> ResultsView | None:
    """What the results page shows; None when the wave has not been analysed."""
    stored = stored_result(wave)
    if stored is None:
        return None
    full = WaveResult.from_dict(stored.payload)
    scoped = scoped_result(full, user)
    levels = levels_of(scoped, full)
    chosen = level if any(lv.kind == level for lv in levels) else default_level(levels)
    shown = next((lv for lv in levels if lv.kind == chosen), None)
    cases = {code: c for code, c in wave_cases(wave).items() if c.status != "withdrawn"}
    listed_by_kind: dict[str, list[Listed]] = {}
    for line in listed_lines(full, scoped, wave.period):  # none for a unit without respondents
        listed_by_kind.setdefault(line.unit.kind, []).append(
            Listed(line.entry, line.unit, line.group.title, cases.get(line.entry.code), line)
        )
    interview = tuple(ListedLevel(k, KIND_LABELS[k], tuple(listed_by_kind[k])) for k in KIND_ORDER if k in listed_by_kind)
    visible_codes = {u.code for u in scoped.units}
    return ResultsView(
        wave=wave,
        stored=stored,
        spec=wave.questionnaire_version.to_spec(),
        result=scoped,
        top=scoped.units[0],
        levels=levels,
        level=shown,
        interview=interview,
        listed_codes=frozenset(x.entry.code for lv in interview for x in lv.lines),
        covers=covers_wave(user, wave),
        issued=sum(1 for code in cases if code in visible_codes),
        totals=model.totals(scoped, stored.n_rejected),
        standing=account_standing(user, full),
    )


def account_standing(user: User, full: WaveResult) -> model.Standing | None:
    """For an account scoped below the wave's top unit (a county on a city-wide wave): its own row
    among its peers and the top unit's headline (reports.model.standing); None otherwise."""
    if user.scope is None or user.scope.code == full.root.code:
        return None
    return model.standing(full, user.scope.code)


def wave_totals(user: User, wave: Wave) -> model.Totals | None:
    """The totals of the wave's stored analysis within the account's scope (reports.model.totals,
    the one definition the results page, the XLSX and the PDFs print); None when not analysed."""
    stored = stored_result(wave)
    if stored is None:
        return None
    return model.totals(scoped_result(WaveResult.from_dict(stored.payload), user), stored.n_rejected)


@dataclass(frozen=True)
class ResultsPage:
    """What the results page shows besides its forms (admin/results.html)."""

    view: ResultsView | None  # None when the wave has not been analysed
    charts: list
    hints: list  # admin.review.IntegrityHint: units whose answer sheets look unlike their peers'
    covers: bool  # the whole wave lies within the account's scope
    period: str


def results_page(user: User, wave: Wave, level: str | None = None) -> ResultsPage:
    """The results page of one level (?level=town) within the account's scope: the indices, the
    charts, the integrity hints, and whether the account covers the whole wave."""
    from admin.review import integrity_hints

    view = results_view(user, wave, level)
    return ResultsPage(view, charts(view) if view else [], integrity_hints(wave, user) if view else [],
                       covers_wave(user, wave), period_label(wave))


def charts(view: ResultsView) -> list:
    """The composite with its 95% CI per unit of the level shown, on the grade bands
    (reports.charts), the interview list in red; split into charts of at most 42 rows. Drawn by the
    analysis job beforehand and read from their file (jobs.charts); drawn here only when missing."""
    if view.level is None:
        return []
    return level_charts(view.wave.id, view.level, view.spec, view.listed_codes)


def rerun_confirmation(user: User, wave: Wave):
    """What to confirm before re-running an analysis that replaces stored results (admin.waves.
    Confirmation); None for a first run. Refusals (no permission, a published wave) come first."""
    from admin.waves import Confirmation
    from errors import Conflict
    from admin.display import when

    policy.require(user, "analysis.run", wave)
    if wave.status == "published":
        raise Conflict(f"“{wave.title}” 已发布，结果不能再改动")
    stored = stored_result(wave)
    if stored is None:
        return None
    issued = sum(1 for c in wave_cases(wave).values() if c.status != "withdrawn")
    warnings = []
    if issued:
        warnings.append(f"已下发约谈案件 {issued} 件；重新分析后名单如有变化，需要重新下发。")
    return Confirmation(
        "确认重新运行分析",
        (f"现有结果分析于 {when(stored.computed_at)}：{stored.n_responses} 份答卷计入指数，审核剔除 {stored.n_rejected} 份，"
         f"约谈名单 {len(stored.payload.get('interview_list') or ())} 个单位。",
         "重新运行后，指数、排名和约谈名单按当前答卷和审核结论重新计算，替换现有结果（旧结果不保留）。"),
        tuple(warnings),
        "确认重新运行分析",
        danger=True,
    )


def run(user: User, wave: Wave, weight_cap: float = DEFAULT_WEIGHT_CAP) -> Job:
    """Ask for a re-run of the analysis of the whole wave, as a background job (docs/jobs.md);
    403 unless the wave lies within the account's scope, since the stored results of every unit
    are replaced; 409 once the wave is published."""
    return jobs.request_analysis(user, wave, weight_cap)


def xlsx(user: User, wave: Wave) -> Job:
    """The workbook of reports.exports.to_xlsx over the account's units, as a background job."""
    return jobs.request_xlsx(user, wave)
