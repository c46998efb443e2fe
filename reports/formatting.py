"""How numbers, dates and labels read in the reports (rounding is for people; JSON stays unrounded).

Index values carry two decimals (as in the XLSX export), confidence bounds and changes one,
probabilities whole percents. A missing value is an em dash.
"""

from __future__ import annotations

import math
from datetime import date, datetime

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
    """A change in words: '上升 2.5(显著)', '下降 0.4(不显著)'."""
    if d is None:
        return "无上期数据"
    direction = "上升" if d.estimate > 0 else "下降" if d.estimate < 0 else "持平"
    size = "" if direction == "持平" else f" {abs(d.estimate):.1f}"
    return f"{direction}{size}({'显著' if d.significant else '不显著'})"


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
}
