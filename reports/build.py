"""`build_report(wave, kind)`: one report of a wave as PDF bytes, for the CLI and the admin console.

    from reports.build import build_report, report_filename
    pdf = build_report(wave, "quarterly")            # PinganError (Conflict) when the wave has no results
    name = report_filename(wave, "quarterly")        # 2026Q3-city-quarterly.pdf
"""

from __future__ import annotations

from datetime import date
from typing import Callable

from errors import PinganError
from models import Unit, Wave
from reports import data as report_data
from reports.render import cycle_collection_paused, html_to_pdf, render_board_html, render_interviews_html, render_quarterly_html

KINDS = ("quarterly", "interviews", "board", "posters")
KIND_LABELS = {
    "quarterly": "测评报告",
    "interviews": "约谈名单及约谈通知书",
    "board": "测评结果公示",
    "posters": "扫码测评海报及入户卡片",
}


def _renderer(kind: str) -> Callable[[report_data.ReportData], str]:
    if kind == "posters":
        from reports.posters import render_posters_html

        return render_posters_html
    return {
        "quarterly": render_quarterly_html,
        "interviews": render_interviews_html,
        "board": render_board_html,
    }[kind]


Progress = Callable[[int, str], None]


def _quiet(percent: int, step: str) -> None:
    pass


def render_html(wave: Wave, kind: str, today: date | None = None, within: Unit | None = None,
                unit: str | None = None, progress: Progress = _quiet) -> str:
    """The HTML that `build_report` prints (useful for previews)."""
    if kind not in KINDS:
        raise PinganError(f"报告类型 “{kind}” 无效,应为 {'、'.join(KINDS)} 之一", code="bad_kind")
    progress(10, "读取数据")
    data = report_data.load(wave, kind, today, within=within, unit=unit)
    progress(30, "排版")
    return _renderer(kind)(data)


def build_report(wave: Wave, kind: str, today: date | None = None, within: Unit | None = None,
                 unit: str | None = None, progress: Progress = _quiet) -> bytes:
    """The PDF of report `kind` for `wave`, dated `today` (default: today in Beijing); `within` a
    unit of the wave's scope: that unit's part of the wave only (reports.data.load); `unit`: one
    unit's document (posters: its poster and card sheet; interviews: its notice). `progress(percent,
    step)` hears how far the build got (the background job shows it, docs/jobs.md).

    Conflict (code `no_results`) when the wave has not been analysed, except for posters.
    """
    with cycle_collection_paused():
        html = render_html(wave, kind, today, within, unit, progress)
        progress(60, "生成 PDF")
        if kind == "posters":
            from reports.posters import impose_cards, qr_fetch

            return html_to_pdf(html, fetch=qr_fetch, finisher=impose_cards)
        return html_to_pdf(html)


def report_filename(wave: Wave, kind: str, within: Unit | None = None, unit: str | None = None) -> str:
    """A download name: <wave slug>-<kind>.pdf, or <wave slug>-<unit code>-<kind>.pdf within a unit
    or for one unit's document."""
    if unit is not None:
        return f"{wave.slug}-{unit}-{kind}.pdf"
    if within is not None and within.id != wave.scope_unit_id:
        return f"{wave.slug}-{within.code}-{kind}.pdf"
    return f"{wave.slug}-{kind}.pdf"
