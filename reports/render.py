"""HTML for every report kind (Jinja, autoescaped) and PDF from HTML (WeasyPrint).

`render_*_html(data)` take the `ReportData` of `reports.data.load` and return the HTML
that `html_to_pdf` prints. They need a Flask app context (the templates live in the
app's template folder) but never touch the database.
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable, Iterator, Sequence

from flask import has_request_context, render_template

from analysis import WaveResult
from analysis.spec import QuestionnaireSpec
from models.units import KIND_LABELS, KIND_ORDER
from reports import charts, formatting
from models.waves import MODE_LABELS
from reports.data import RECHECK_DAYS, ReportData
from reports.formatting import WARNING_LABELS
from reports.model import (
    Section,
    concerns,
    concerns_chapter,
    interval_text,
    totals,
    grade_rows,
    headlines,
    interview_list,
    findings,
    listed_by_group,
    peer_groups,
    sections,
)

FMT = SimpleNamespace(**formatting.FILTERS)
COLORS = SimpleNamespace(
    hex=formatting.COLOR_HEX,
    text=formatting.COLOR_TEXT,
    tint=formatting.COLOR_TINT,
    names=formatting.COLOR_NAMES,
    meanings=formatting.COLOR_MEANINGS,
)


def helpers() -> dict[str, Any]:
    """The formatting functions (`f.num`, `f.ci`, …) and colours every report template uses."""
    return {"f": FMT, "colors": COLORS}


def common_context(data: ReportData) -> dict[str, Any]:
    """What every report template gets: the wave, its questionnaire, the helpers, and the ranked unit
    kinds in words ('县（区）、乡镇（街道）、部门'), for the sentences that say who can be listed."""
    ranked_kinds = "、".join(KIND_LABELS.get(k, k) for k in data.spec.ranking.kinds)
    return {"info": data.info, "spec": data.spec, "ranked_kinds": ranked_kinds, **helpers()}


@dataclass(frozen=True)
class Figure:
    number: int
    caption: str
    chart: charts.Chart


@dataclass(frozen=True)
class QuestionFigure:
    key: str
    text: str
    chart: charts.Chart
    n: int


def _dot_figures(secs: Sequence[Section], spec: QuestionnaireSpec, first_number: int, listed: frozenset[str]) -> list[Figure]:
    figures = []
    number = first_number
    x_range = charts.composite_range([u for s in secs for u in s.units])  # one axis for every panel
    for s in secs:
        parts = charts.dot_plot_blocks([(g.title, g.units) for g in s.groups])
        for i, blocks in enumerate(parts, start=1):
            suffix = f"(之{i})" if len(parts) > 1 else ""
            figures.append(
                Figure(number, f"{s.label}综合指数及95%置信区间{suffix}",
                       charts.ranked_dot_plot(blocks, spec.grades, listed, x_range, spec.ranking.min_n))
            )
            number += 1
    return figures


def _question_figures(result: WaveResult, spec: QuestionnaireSpec) -> list[QuestionFigure]:
    out = []
    for item in spec.items:
        dist = result.distributions.get(item.key)
        if not item.is_choice or not dist:
            continue
        options = [
            charts.OptionShare(o.label, (dist.get(o.code) or {}).get("share"), int((dist.get(o.code) or {}).get("count") or 0), o.score)
            for o in item.options
        ]
        n = sum(o.count for o in options)
        out.append(QuestionFigure(item.key, item.text, charts.distribution_chart(options, item.is_scored), n))
    return out


def _trend_figure(data: ReportData, number: int) -> Figure:
    spec = data.spec
    weighted = [ind for ind in spec.indicators if ind.weight]
    points = data.trend
    chart = charts.trend_chart(
        [p.short_label for p in points],
        [p.root.composite for p in points],
        {ind.label: [p.root.indicators.get(ind.key) for p in points] for ind in weighted},
    )
    first = points[0].label
    caption = f"{data.info.scope_name}综合指数变化趋势（{first}至{points[-1].label}）" if len(points) > 1 else (
        f"{data.info.scope_name}综合指数（本系列尚无往期结果）"
    )
    return Figure(number, caption, chart)


def render_quarterly_html(data: ReportData) -> str:
    """The committee's quarterly report: cover, summary, ranked tables, charts, interview list, comments, method."""
    result = data.result
    assert result is not None, "the quarterly report needs results"
    spec = data.spec
    groups = peer_groups(result)
    secs = sections(groups)
    listed = interview_list(result, groups, data.info.period)
    trend = _trend_figure(data, 1)
    dots = _dot_figures(secs, spec, 2, frozenset(x.entry.code for x in listed))
    questions = _question_figures(result, spec)
    listed_codes = {x.entry.code: x for x in listed}
    return render_template(
        "reports/quarterly.html",
        **common_context(data),
        result=result,
        root=result.root,
        headlines=headlines(result, spec),
        findings=findings(result, spec, secs, listed),
        grade_rows=grade_rows(secs, spec),
        sections=secs,
        listed=listed,
        listed_groups=listed_by_group(listed),
        listed_codes=listed_codes,
        trend=trend,
        dot_figures=dots,
        question_figures=questions,
        question_figure_start=len(dots) + 2,
        concern_areas=concerns_chapter(result, spec),
        weighted_indicators=[ind for ind in spec.indicators if ind.weight],
        composite_weights=spec.composite_weights,
        comments=data.comments,
        mode_labels=MODE_LABELS,
        warning_labels=WARNING_LABELS,
        unit_warnings=[(u, w) for u in result.units for w in u.warnings],
        counts_by_kind=_counts_by_kind(groups),
        recheck_days=RECHECK_DAYS,
        totals=totals(result, data.info.n_rejected),
        interval=interval_text,
        phone_rates=data.phone_rates,
    )


def _counts_by_kind(groups) -> list[tuple[str, int]]:
    """Units with results (respondents) per kind."""
    counts: dict[str, int] = {}
    for g in groups:
        counts[g.kind] = counts.get(g.kind, 0) + len(g.units)
    return [(KIND_LABELS[k], counts[k]) for k in KIND_ORDER if k in counts]


def render_interviews_html(data: ReportData) -> str:
    """The 约谈名单 and one 约谈通知书 per listed unit."""
    result = data.result
    assert result is not None, "the interview notices need results"
    groups = peer_groups(result)
    listed = interview_list(result, groups, data.info.period)
    if data.unit is not None:  # one unit's notice, without the list
        listed = [x for x in listed if x.entry.code == data.unit]
    return render_template(
        "reports/interviews.html",
        **common_context(data),
        result=result,
        listed=listed,
        single=data.unit is not None,
        unit_comments=data.unit_comments,
        notice_dates=data.notice_dates,
        recheck_days=RECHECK_DAYS,
        weighted_indicators=[ind for ind in data.spec.indicators if ind.weight],
        concerns=concerns,
    )


def board_context(result: WaveResult, spec: QuestionnaireSpec) -> dict[str, Any]:
    """What the 公示 board shows, for the PDF and for the web page alike."""
    groups = peer_groups(result)  # units without respondents are not on the board
    units = [u for g in groups for u in g.units]
    return {
        "root": result.root,
        "totals": totals(result),
        "sections": sections(groups),
        "color_counts": {c: sum(1 for u in units if u.color == c and u.n >= spec.ranking.min_n) for c in ("blue", "yellow", "red")},
        "grades": spec.grades,
    }


def render_board_html(data: ReportData) -> str:
    """The public 公示 board (blue/yellow/red), for print."""
    assert data.result is not None, "the board needs results"
    return render_template("reports/board.html", **common_context(data), **board_context(data.result, data.spec))


_GC_LOCK = threading.Lock()
_gc_paused = {"builds": 0, "by_us": False}


@contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """Python's cycle collector off while a document is built (reports.build.build_report), one
    collection after.

    Matplotlib and WeasyPrint allocate hundreds of thousands of objects (boxes, styles, PDF
    operators), and the collector runs every 700 allocations, walking the young objects each time
    and, every so often, all of them: a fifth of a build's CPU time or more (docs/performance.md
    "Issue 17"). Nothing a build makes needs collecting before it ends, so the collector waits until then;
    the peak memory of a build hardly grows (docs/performance.md). It is the whole process's
    collector: while two threads build, it stays off until the last one is done. So, as for loading a
    wave (survey.results.bulk_loading), never inside a request: only the worker and the CLI build
    documents in production, and a job run inside a request (Huey's immediate mode, the tests) builds
    with the collector as it is, so the web process never switches it off."""
    if has_request_context():
        yield
        return
    with _GC_LOCK:
        if _gc_paused["builds"] == 0:
            _gc_paused["by_us"] = gc.isenabled()
            gc.disable()
        _gc_paused["builds"] += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _gc_paused["builds"] -= 1
            last = _gc_paused["builds"] == 0 and _gc_paused["by_us"]
            if last:
                gc.enable()
        if last:
            gc.collect(0)  # what the build made is all in the youngest generation, still uncollected


def html_to_pdf(html: str, fetch: Callable[[str], bytes | None] | None = None,
                finisher: Callable[[Any, Any], None] | None = None) -> bytes:
    """Print HTML to PDF. Only data: URLs are fetched (charts and QR codes are embedded), and the
    URLs `fetch` answers (bytes of an image held in memory; None: not one of its URLs); a resource
    that cannot be read stops the build rather than leaving a hole in the page. `finisher(document,
    pdf)` may change the PDF (pydyf) before it is written (reports.posters.impose_cards)."""
    from weasyprint import HTML, URLFetcher
    from weasyprint.urls import URLFetcherResponse

    class Fetcher(URLFetcher):
        def fetch(self, url, headers=None):
            body = fetch(url) if fetch is not None else None
            if body is not None:
                return URLFetcherResponse(url, body, {"Content-Type": "image/png"})
            return super().fetch(url, headers)

    fetcher = Fetcher(allowed_protocols={"data"}, fail_on_errors=True)
    return HTML(string=html, url_fetcher=fetcher).write_pdf(finisher=finisher)
