"""The results of a wave as the console shows them: per level and peer group, within the account's
scope, with the interview list and its cases.

Numbers come from the stored analysis (survey.results); nothing is recomputed here. A county
account on a city-wide wave sees the rows of its own subtree (its county's row included, ranked
among the counties) and the part of the interview list that concerns it.
"""

from __future__ import annotations

from dataclasses import dataclass


import caches
import policy
from admin.cases import wave_cases
from admin.waves import covers_wave
from analysis import InterviewEntry, UnitResult, WaveResult
from analysis.spec import QuestionnaireSpec
from jobs import service as jobs
from models import AnalysisResult, InterviewCase, Job, User, Wave
from models.units import KIND_LABELS, KIND_ORDER
from reports import data as report_data, model
from reports.model import PeerGroup
from survey.results import DEFAULT_WEIGHT_CAP, stored_result



@dataclass(frozen=True)
class Level:
    """The peer groups of one kind (reports.model's one peer-group model), within the scope."""

    kind: str
    label: str
    groups: tuple[PeerGroup, ...]

    @property
    def count(self) -> int:
        return sum(len(g.units) for g in self.groups)


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


def levels_of(scoped: WaveResult, full: WaveResult) -> tuple[Level, ...]:
    """The levels of the scoped result: the peer groups of the whole wave (titles and order from
    reports.model) restricted to the units the account sees; the wave's top unit as a level of its own."""
    visible = {u.code for u in scoped.units}
    out = []
    if full.root.code in visible:
        root = full.root
        out.append(Level(root.kind, KIND_LABELS[root.kind], (model.PeerGroup(root.kind, root, KIND_LABELS[root.kind], (root,)),)))
    for section in model.sections(model.scoped_groups(full, visible)):
        out.append(Level(section.kind, section.label, section.groups))
    return tuple(out)


def default_level(levels: tuple[Level, ...]) -> str | None:
    """The first level below the top with ranked units, else the first level."""
    for level in levels:
        if any(u.rank is not None for g in level.groups for u in g.units):
            return level.kind
    return levels[0].kind if levels else None


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
    groups = model.peer_groups(full)
    lines = {x.entry.code: x for x in model.interview_list(full, groups, wave.period)}
    listed_by_kind: dict[str, list[Listed]] = {}
    for entry in scoped.interview_list:
        line = lines.get(entry.code)
        if line is None:  # a unit without respondents (results stored before docs/method.md said so)
            continue
        listed_by_kind.setdefault(line.unit.kind, []).append(
            Listed(entry, line.unit, line.group.title, cases.get(entry.code), line)
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


# Charts drawn for the results page are kept per process (caches.RESULT_CHARTS): matplotlib takes
# 0.3–0.8 s a chart, and the page is opened again and again between two analysis runs
# (bench/console.py, docs/performance.md).


def _charts_key(view: ResultsView) -> tuple:
    """Everything the charts are drawn from (reports.charts.ranked_dot_plot): per group of the level
    within the scope, its title and each unit's code, name, rank, n, colour and composite with its
    interval; the listed units; the grade bands; min_n (which mark an unranked unit gets). A re-run,
    a renamed unit or another scope draws anew."""
    groups = tuple(
        (g.title, tuple((u.code, u.name, u.rank, u.n, u.color, u.composite.estimate, u.composite.ci_low,
                         u.composite.ci_high) for u in g.units))
        for g in view.level.groups
    )
    grades = tuple((g.min, g.label, g.color) for g in view.spec.grades)
    return (groups, view.listed_codes, grades, view.spec.ranking.min_n)


def charts(view: ResultsView) -> list:
    """The composite with its 95% CI per unit of the level shown, on the grade bands
    (reports.charts), the interview list in red; split into charts of at most 42 rows.
    Drawn once per stored analysis, level and scope in each process."""
    if view.level is None:
        return []
    return caches.RESULT_CHARTS.get_or_make(_charts_key(view), lambda: _draw_charts(view))


def _draw_charts(view: ResultsView) -> list:
    from reports.charts import composite_range, dot_plot_blocks, ranked_dot_plot  # matplotlib: loaded on first use

    groups = [(g.title, g.units) for g in view.level.groups]
    x_range = composite_range([u for g in view.level.groups for u in g.units])  # one axis for every panel
    min_n = view.spec.ranking.min_n
    return [ranked_dot_plot(blocks, view.spec.grades, view.listed_codes, x_range, min_n) for blocks in dot_plot_blocks(groups)]


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
