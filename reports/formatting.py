"""How numbers, dates and labels read in the reports (rounding is for people; JSON stays unrounded).

Index values carry two decimals (as in the XLSX export), confidence bounds and changes one,
probabilities whole percents. A missing value is an em dash.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

import clock
from analysis import Difference, Estimate

DASH = "—"
COLOR_NAMES = {"blue": "蓝", "yellow": "黄", "red": "红"}
COLOR_MEANINGS = {"blue": "平安", "yellow": "平稳", "red": "不稳定"}
# Print colours of the 公示 board; yellow carries dark text.
COLOR_HEX = {"blue": "#1f5fbf", "yellow": "#f2c200", "red": "#c62828"}
COLOR_TEXT = {"blue": "#ffffff", "yellow": "#1a1a1a", "red": "#ffffff"}
COLOR_TINT = {"blue": "#dce8f8", "yellow": "#fff3c4", "red": "#f9d6d5"}
GREY = "#9e9e9e"
FLAG_LABELS = {"insufficient_sample": "样本不足"}
# The analysis' warning codes (analysis/wave.py, analysis/weights.py) in plain words.
WARNING_LABELS = {
    "merged_category": "人口类别合并",
    "dimension_unanswered": "部分受访者未答人口题",
    "raking_not_converged": "加权未收敛",
    "raking_impossible": "无法加权",
    "trim_not_converged": "截尾未收敛",
    "single_psu_stratum": "单一初级抽样单元",
    "composite_missing": "无法计算综合指数",
}

# Terms a clerk meets in results, lists and exports, each with the one line that explains it: shown
# on hover in the console (<abbr title>), as a footnote in the PDFs and in the XLSX (docs/method.md).
TERMS = {
    "p_bottom": ("末{n}名概率", "考虑抽样误差后，该单位排在本组最后 {n} 名的可能性；越高越可能确属落后。"),
    "deff": ("设计效应", "加权和整群抽样使估计的误差比同样份数的简单随机抽样大几倍；例如 2 表示有效样本只相当于实际份数的一半。"),
    "rank_interval": ("位次区间", "考虑抽样误差后，名次有 95% 把握所在的范围（第 1 名为最高）。"),
}


def term(key: str, n: int = 3) -> str:
    """The label of a term, '末3名概率' (n: the ranking's bottom_n)."""
    return TERMS[key][0].format(n=n)


def explain(key: str, n: int = 3) -> str:
    """The one line that explains a term."""
    return TERMS[key][1].format(n=n)


def footnote(keys: tuple[str, ...], n: int = 3) -> str:
    """'注：末3名概率：……；设计效应：……' for a table's foot."""
    return "注：" + "".join(f"{term(k, n)}：{explain(k, n)}" for k in keys)


def _points(x: float) -> str:
    return f"{x:g}"


def grade_bands(grades) -> list[tuple[Any, str]]:
    """(grade, its band in words), best first: '90 分及以上', '80 至 90 分（含 80 分）', '低于 70 分' —
    never '≥0' (each grade holds from its `min` up to the next one's)."""
    ordered = sorted(grades, key=lambda g: -g.min)
    out = []
    for i, g in enumerate(ordered):
        upper = ordered[i - 1].min if i else None
        if upper is None:
            out.append((g, f"{_points(g.min)} 分及以上"))
        elif i == len(ordered) - 1:
            out.append((g, f"低于 {_points(upper)} 分"))
        else:
            out.append((g, f"{_points(g.min)} 至 {_points(upper)} 分（含 {_points(g.min)} 分）"))
    return out


def grade_legend(grades) -> list[str]:
    """The board legend: '优秀：90 分及以上', …, '不合格：低于 70 分'."""
    return [f"{g.label}：{band}" for g, band in grade_bands(grades)]


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def num(x: float | None, digits: int = 2) -> str:
    """83.648 → '83.65'; None → '—'."""
    return f"{x:.{digits}f}" if _finite(x) else DASH


def ci(e: Estimate | None, digits: int = 1) -> str:
    """The 95% interval as '83.0–84.3'."""
    if e is None or not (_finite(e.ci_low) and _finite(e.ci_high)):
        return DASH
    return f"{e.ci_low:.{digits}f}–{e.ci_high:.{digits}f}"


def pct(p: float | None, digits: int = 0) -> str:
    """0.853 → '85%'; None → '—'."""
    return f"{100 * p:.{digits}f}%" if _finite(p) else DASH


def signed(x: float | None, digits: int = 1) -> str:
    """+2.5 / −1.3 / 0.0, with a true minus sign."""
    if not _finite(x):
        return DASH
    text = f"{abs(x):.{digits}f}"
    if float(text) == 0:
        return text
    return ("+" if x > 0 else "−") + text


def change(d: Difference | None, digits: int = 1) -> str:
    """'+2.5*' when the 95% interval of the change excludes 0, '+0.4' otherwise; '—' with no previous wave."""
    if d is None:
        return DASH
    return signed(d.estimate, digits) + ("*" if d.significant else "")


def change_words(d: Difference | None) -> str:
    """A change in words: '上升 2.5（显著）', '下降 0.4（不显著）'."""
    if d is None:
        return "无上期数据"
    direction = "上升" if d.estimate > 0 else "下降" if d.estimate < 0 else "持平"
    size = "" if direction == "持平" else f" {abs(d.estimate):.1f}"
    return f"{direction}{size}（{'显著' if d.significant else '不显著'}）"


def cn_date(d: date | None) -> str:
    """2026-10-05 → '2026年10月5日'."""
    return DASH if d is None else f"{d.year}年{d.month}月{d.day}日"


def cn_datetime(t: datetime | None) -> str:
    """A stored UTC time in Beijing time: '2026年10月5日 14:03'."""
    if t is None:
        return DASH
    t = clock.local(t)
    return f"{cn_date(t.date())} {t:%H:%M}"


def count(n: int | None) -> str:
    return DASH if n is None else str(n)


def flags(codes: tuple[str, ...] | list[str]) -> str:
    return "、".join(FLAG_LABELS.get(c, c) for c in codes)


FILTERS = {
    "num": num,
    "ci": ci,
    "pct": pct,
    "signed": signed,
    "change": change,
    "change_words": change_words,
    "cn_date": cn_date,
    "cn_datetime": cn_datetime,
    "count": count,
    "flags": flags,
    "term": term,
    "grade_legend": grade_legend,
    "grade_bands": grade_bands,
    "explain": explain,
    "footnote": footnote,
}
