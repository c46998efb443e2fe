"""The report charts, drawn with matplotlib (Agg canvas) in Noto Sans CJK SC.

Each function takes result objects (or plain numbers) and returns a `Chart`: SVG whose
text stays text (`svg.fonttype: none`) in the family 'Noto Sans CJK SC', named explicitly
(matplotlib would otherwise pick the JP face of the .ttc). WeasyPrint then sets the
labels in the same subset font as the report, so the charts are sharp, small, searchable,
and about twice as fast to print as SVG with every glyph drawn as a path.
Matplotlib still lays the text out with that font, so a missing glyph is a warning here
(an error under pytest). Figures are built with `matplotlib.figure.Figure`, never pyplot:
nothing global is kept between charts. The style (RC) is matplotlib's process-wide rcParams,
read while a figure is built and again when it is saved, so charts are drawn one at a time
(`_styled`: a lock around `rc_context`); a chart takes tens of milliseconds, and the threads of a
gunicorn worker would otherwise restore the defaults under each other (DejaVu Sans, glyph paths).
"""

from __future__ import annotations

import base64
import io
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Sequence

from analysis import Estimate, UnitResult
from analysis.spec import Grade
from reports.formatting import COLOR_HEX, COLOR_TINT, GREY

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FONT_FAMILY = "Noto Sans CJK SC"
RC = {
    "font.family": "sans-serif",
    "font.sans-serif": [FONT_FAMILY],
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "legend.fontsize": 7.5,
    "axes.unicode_minus": True,  # U+2212 is in Noto Sans CJK
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#555555",
    "svg.fonttype": "none",
    "text.parse_math": False,  # a unit name or answer label with "$" is text, not TeX
    "svg.hashsalt": "pingan-reports",  # stable element ids: the same results give the same file
}
WIDTH_IN = 6.5  # the text width of an A4 page with 18 mm margins, in inches
ROW_IN = 0.2  # one unit per row in the dot plot
MAX_ROWS = 46  # rows of a dot plot that still fit on one page with its caption
INK = "#222222"
_RENDERING = threading.Lock()
BAND = "#1f5fbf"


@dataclass(frozen=True)
class Chart:
    svg: str
    width_in: float
    height_in: float

    @property
    def data_uri(self) -> str:
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg.encode("utf-8")).decode("ascii")

    @property
    def width_mm(self) -> float:
        return round(self.width_in * 25.4, 1)

    @property
    def height_mm(self) -> float:
        return round(self.height_in * 25.4, 1)


_MPL: SimpleNamespace | None = None  # matplotlib's pieces, once imported


def _matplotlib() -> SimpleNamespace:
    """matplotlib, imported on the first chart (under `_RENDERING`), not when the app starts: it is
    ~0.3 s of CPU that the web's and every CLI command's start would otherwise pay (docs/performance.md).
    The Agg backend is chosen once, here, for the whole process."""
    global _MPL
    if _MPL is None:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import rc_context
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.transforms import blended_transform_factory

        _MPL = SimpleNamespace(
            rc_context=rc_context,
            FigureCanvasAgg=FigureCanvasAgg,
            Figure=Figure,
            blended_transform_factory=blended_transform_factory,
        )
    return _MPL


@contextmanager
def _styled() -> Iterator[SimpleNamespace]:
    """The report style for one chart, built and saved while no other thread changes rcParams;
    yields matplotlib's pieces (`_matplotlib`)."""
    with _RENDERING:
        mpl = _matplotlib()
        with mpl.rc_context(RC):
            yield mpl


def _figure(mpl: SimpleNamespace, width: float, height: float) -> Figure:
    fig = mpl.Figure(figsize=(width, height))
    mpl.FigureCanvasAgg(fig)
    return fig


def _svg(fig: Figure) -> Chart:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    width, height = fig.get_size_inches()
    return Chart(buffer.getvalue(), float(width), float(height))


def _text_width_in(text: str, size_pt: float) -> float:
    """Rough printed width: a CJK character is one em, other characters half."""
    ems = sum(1.0 if ord(c) > 0x2E80 else 0.55 for c in text)
    return ems * size_pt / 72


# ---------------------------------------------------------------- ranked dot plot


@dataclass(frozen=True)
class DotBlock:
    """One peer group (or a part of one) in a dot plot: a heading and its units, best first."""

    title: str
    units: tuple[UnitResult, ...]


def dot_plot_blocks(groups: Sequence[tuple[str, Sequence[UnitResult]]], max_rows: int = MAX_ROWS) -> list[list[DotBlock]]:
    """Pack peer groups into charts of at most `max_rows` rows (a heading takes a row);
    a group too large for one chart is split, its later parts titled (续)."""
    charts: list[list[DotBlock]] = []
    current: list[DotBlock] = []
    used = 0
    for title, units in groups:
        units = tuple(units)
        part = 0
        while units:
            room = max_rows - used - 1
            if room < min(len(units), 3):  # no room for a heading and a few rows: next chart
                charts.append(current)
                current, used = [], 0
                room = max_rows - 1
            take = units[:room]
            current.append(DotBlock(title if part == 0 else f"{title}（续）", take))
            used += len(take) + 1
            units = units[room:]
            part += 1
    if current:
        charts.append(current)
    return charts


LEGEND_IN = 0.3  # the legend row under a dot plot


def composite_range(units: Sequence[UnitResult]) -> tuple[float, float]:
    """The x range of the composite for every panel of one indicator: all the 95% intervals of
    `units` with a margin, at least 10 points wide, inside [0, 100]. Every dot plot of a report
    (and of a results page) uses the same range, so panels can be compared by eye."""
    values = [(u.composite.ci_low, u.composite.ci_high) for u in units
              if u.composite.estimate is not None and u.composite.ci_low is not None]
    lows = [lo for lo, _ in values] or [60.0]
    highs = [hi for _, hi in values] or [100.0]
    x_lo = max(0.0, math.floor(min(lows) - 1.5))
    x_hi = min(100.0, math.ceil(max(highs) + 1.5))
    if x_hi - x_lo < 10:
        x_lo = max(0.0, x_hi - 10)
    return x_lo, x_hi


RANKED, SHORT, UNRANKED = "ranked", "short", "unranked"  # the three marks of a unit in a dot plot
DOT_LABELS = {RANKED: "参加排名", SHORT: "样本不足，不排名", UNRANKED: "不参加排名的类别"}


def dot_mark(u: UnitResult, min_n: int | None) -> str:
    """Which mark a unit gets: ranked; unranked with fewer than `min_n` respondents (样本不足, also
    when `min_n` is not given); or unranked for its kind alone (a village: ranking.kinds), which has
    its grade and must not be shown as short of answers."""
    if u.rank is not None:
        return RANKED
    return SHORT if min_n is None or u.n < min_n else UNRANKED


def ranked_dot_plot(blocks: Sequence[DotBlock], grades: Sequence[Grade], highlight: frozenset[str] = frozenset(),
                    x_range: tuple[float, float] | None = None, min_n: int | None = None) -> Chart:
    """Composite index with its 95% CI per unit, best at the top of each block, on the grade bands.

    Filled dot: ranked; hollow dot: not ranked, under `min_n` (样本不足); hollow diamond: not ranked
    for its kind (a village, say, with enough answers); red bold name: a unit in `highlight` (the
    interview list). `x_range`: the axis shared by every panel (`composite_range` of all the units
    shown); by default the range of this panel's units. A legend names every mark drawn, and no other.
    """
    with _styled() as mpl:
        rows = sum(len(b.units) + 1 for b in blocks)
        names = [u.name for b in blocks for u in b.units]
        label_in = min(2.6, max((_text_width_in(n, 7.5) for n in names), default=1.0) + 0.15)
        height = rows * ROW_IN + 0.55 + LEGEND_IN
        fig = _figure(mpl, WIDTH_IN, height)
        left, right = label_in / WIDTH_IN, 1 - 0.2 / WIDTH_IN
        bottom, top = (0.42 + LEGEND_IN) / height, 1 - 0.13 / height
        ax = fig.add_axes((left, bottom, right - left, top - bottom))

        x_lo, x_hi = x_range or composite_range([u for b in blocks for u in b.units])
        ax.set_xlim(x_lo, x_hi)
        ax.set_ylim(rows - 0.5, -0.5)

        _grade_bands(ax, grades, x_lo, x_hi)

        label = mpl.blended_transform_factory(ax.transAxes, ax.transData)
        y = 0
        series: dict[tuple[str, str], list[tuple[float, float, float, float]]] = {}
        for block in blocks:
            ax.text(-label_in / (right - left) / WIDTH_IN + 0.005, y, block.title, transform=label,
                    ha="left", va="center", fontsize=8, fontweight="bold", color=INK)
            ax.axhline(y + 0.5, color="#cccccc", lw=0.5, zorder=1)
            y += 1
            for u in block.units:
                bottom_unit = u.code in highlight
                ax.text(-0.01, y, u.name, transform=label, ha="right", va="center", fontsize=7.5,
                        fontweight="bold" if bottom_unit else "normal", color="#b71c1c" if bottom_unit else INK)
                c = u.composite
                if c.estimate is None:
                    ax.text(x_lo + 0.2, y, "无有效答卷", va="center", fontsize=7, color="#777777")
                else:
                    lo = c.ci_low if c.ci_low is not None else c.estimate
                    hi = c.ci_high if c.ci_high is not None else c.estimate
                    series.setdefault((u.color or "", dot_mark(u, min_n)), []).append((c.estimate, lo, hi, y))
                y += 1
        # One path for all the interval bars and one marker set per colour: a few SVG elements
        # instead of several per unit, which is what WeasyPrint spends its time drawing.
        bars_x: list[float] = []
        bars_y: list[float] = []
        for pts in series.values():
            for _est, lo, hi, yy in pts:
                bars_x += [lo, hi, math.nan]
                bars_y += [yy, yy, math.nan]
        ax.plot(bars_x, bars_y, color="#333333", lw=0.8, zorder=3, solid_capstyle="butt")
        for (color, mark), pts in series.items():
            hexcolor = COLOR_HEX.get(color, GREY)
            ax.plot([p[0] for p in pts], [p[3] for p in pts], ls="none", zorder=4, **_dot_style(mark, hexcolor))
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.set_xlabel("综合指数（点为估计值，横线为95%置信区间）")
        ax.tick_params(axis="x", length=2)
        _dot_legend(fig, grades, bool(highlight), {mark for _, mark in series})
        return _svg(fig)


def _dot_style(mark: str, hexcolor: str) -> dict:
    if mark == RANKED:
        return {"marker": "o", "ms": 4.6, "mew": 1.0, "mfc": hexcolor, "mec": "#222222"}
    if mark == SHORT:
        return {"marker": "o", "ms": 4.6, "mew": 1.0, "mfc": "white", "mec": hexcolor}
    return {"marker": "D", "ms": 3.8, "mew": 1.0, "mfc": "white", "mec": hexcolor}


def _dot_legend(fig, grades: Sequence[Grade], listed: bool, marks: set[str]) -> None:
    """One legend entry for every mark of the dot plot: the dots drawn, the bar, the name in red, the bands."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Line2D([], [], ls="none", label=DOT_LABELS[m], **_dot_style(m, GREY)) for m in (RANKED, SHORT, UNRANKED)
               if m in marks]
    handles.append(Line2D([], [], color="#333333", lw=0.8, label="95%置信区间"))
    if listed:
        handles.append(Line2D([], [], ls="none", marker="s", ms=4, mfc="#b71c1c", mec="#b71c1c", label="名称红色加粗：列入约谈名单"))
    seen = []
    for g in sorted(grades, key=lambda g: -g.min):
        if g.color not in seen:
            seen.append(g.color)
            handles.append(Patch(color=COLOR_TINT.get(g.color, "#eeeeee"), alpha=0.55, lw=0,
                                 label="、".join(x.label for x in grades if x.color == g.color) + "区间"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=6.5, frameon=False,
               handlelength=1.4, columnspacing=1.0, borderaxespad=0.15)


def _grade_bands(ax, grades: Sequence[Grade], x_lo: float, x_hi: float) -> None:
    """Tint the background by grade colour and name each grade at the top of its band."""
    from matplotlib.transforms import blended_transform_factory  # drawn under `_styled`: already imported

    ordered = sorted(grades, key=lambda g: g.min)
    for i, g in enumerate(ordered):
        start = max(g.min, x_lo)
        end = min(ordered[i + 1].min if i + 1 < len(ordered) else 100.0, x_hi)
        if end <= start:
            continue
        ax.axvspan(start, end, color=COLOR_TINT.get(g.color, "#eeeeee"), alpha=0.55, lw=0, zorder=0)
        if g.min > x_lo:
            ax.axvline(g.min, color="#888888", lw=0.6, ls=(0, (2, 2)), zorder=1)
        if end - start >= 2.5:
            ax.text((start + end) / 2, 1.0, g.label, transform=blended_transform_factory(ax.transData, ax.transAxes),
                    ha="center", va="bottom", fontsize=7, color="#555555")


# ---------------------------------------------------------------- trend


def trend_chart(labels: Sequence[str], composite: Sequence[Estimate], indicators: dict[str, Sequence[Estimate | None]]) -> Chart:
    """The composite over the periods, with its 95% interval as a band (or bars for a single period),
    and the component indicators as thin lines."""
    with _styled() as mpl:
        fig = _figure(mpl, WIDTH_IN, 2.3)
        ax = fig.add_axes((0.08, 0.32, 0.9, 0.6))
        x = list(range(len(labels)))
        est = [e.estimate for e in composite]
        lo = [e.ci_low if e.ci_low is not None else e.estimate for e in composite]
        hi = [e.ci_high if e.ci_high is not None else e.estimate for e in composite]
        values = [v for v in est + lo + hi if v is not None]
        palette = ["#2e7d32", "#ef6c00", "#6a1b9a", "#00838f"]
        for (name, series), color in zip(indicators.items(), palette):
            pts = [(i, e.estimate) for i, e in enumerate(series) if e is not None and e.estimate is not None]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], color=color, lw=1.0, ls="--", marker="s", ms=3, label=name)
                values += [p[1] for p in pts]
        known = [i for i, v in enumerate(est) if v is not None]
        if len(known) >= 2:
            ax.fill_between(known, [lo[i] for i in known], [hi[i] for i in known], color=BAND, alpha=0.15, lw=0,
                            label="综合指数95%置信区间")
        ax.errorbar(known, [est[i] for i in known], yerr=[[est[i] - lo[i] for i in known], [hi[i] - est[i] for i in known]],
                    color=BAND, lw=1.8, marker="o", ms=5, capsize=3, label="综合指数")
        for i in known:
            ax.annotate(f"{est[i]:.2f}", (i, hi[i]), textcoords="offset points", xytext=(0, 4), ha="center",
                        fontsize=7.5, color=BAND, fontweight="bold")
        if values:
            span = max(values) - min(values)
            pad = max(1.0, span * 0.15)
            ax.set_ylim(max(0.0, min(values) - pad), min(100.0, max(values) + 2 * pad))
        ax.set_xticks(x, labels)
        ax.set_xlim(-0.5, len(labels) - 0.5)
        ax.set_ylabel("指数")
        ax.grid(axis="y", color="#dddddd", lw=0.5)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=4, frameon=False)
        return _svg(fig)


# ---------------------------------------------------------------- answer distributions


@dataclass(frozen=True)
class OptionShare:
    label: str
    share: float | None  # weighted share among those who answered, 0–1
    count: int
    score: float | None  # None: unscored (说不清, or a question that is not scored)


def _score_color(score: float | None) -> str:
    """100 → blue, 60 → yellow, 0 → red (the board's colours); unscored → grey."""
    if score is None:
        return "#b0b7c3"
    stops = [(0.0, (0xC6, 0x28, 0x28)), (60.0, (0xF2, 0xC2, 0x00)), (100.0, (0x1F, 0x5F, 0xBF))]
    for (s0, c0), (s1, c1) in zip(stops, stops[1:]):
        if score <= s1:
            t = (score - s0) / (s1 - s0)
            return "#" + "".join(f"{round(a + (b - a) * t):02x}" for a, b in zip(c0, c1))
    return "#1f5fbf"


def distribution_chart(options: Sequence[OptionShare], scored: bool) -> Chart:
    """One question: a bar per option (in questionnaire order) with its weighted share and count."""
    with _styled() as mpl:
        width = 3.15
        label_in = min(1.4, max((_text_width_in(o.label, 7.5) for o in options), default=0.6) + 0.12)
        height = len(options) * 0.2 + 0.2
        fig = _figure(mpl, width, height)
        ax = fig.add_axes((label_in / width, 0.08 / height, 1 - label_in / width - 0.02, 1 - 0.16 / height))
        shares = [100 * (o.share or 0.0) for o in options]
        ys = list(range(len(options)))
        colors = [_score_color(o.score) if scored else "#5b7fb3" for o in options]
        ax.barh(ys, shares, color=colors, height=0.68, zorder=2)
        top = max(shares + [1.0])
        for y, o, s in zip(ys, options, shares):
            text = "—" if o.share is None else f"{s:.1f}%({o.count}人)"
            ax.text(s + top * 0.02, y, text, va="center", fontsize=7, color="#333333")
        ax.set_xlim(0, top * 1.45)
        ax.set_ylim(len(options) - 0.5, -0.5)
        ax.set_yticks(ys, [o.label for o in options])
        ax.tick_params(axis="y", length=0)
        ax.set_xticks([])
        ax.spines["bottom"].set_visible(False)
        ax.spines["left"].set_color("#999999")
        return _svg(fig)
