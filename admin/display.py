"""How the console writes numbers, dates and labels (rounding is for people; stored results stay unrounded).

Available in every admin template as `fmt` (admin/__init__.py's context processor).
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from flask import current_app, request

from admin.access import can
from models.interviews import CASE_STATUS_LABELS, ESCALATION_LABELS, REASON_LABELS
from models.responses import FLAG_LABELS as RESPONSE_FLAG_LABELS
from models.units import KIND_LABELS
from models.waves import STATUS_LABELS

DASH = "—"
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
RESULT_FLAG_LABELS = {"insufficient_sample": "样本不足"}
WARNING_LABELS = {
    "merged_category": "人口类别合并",
    "dimension_unanswered": "部分受访者未答人口题",
    "raking_not_converged": "加权未收敛",
    "raking_impossible": "无法加权",
    "trim_not_converged": "截尾未收敛",
    "single_psu_stratum": "单一初级抽样单元",
}
COLOR_MEANINGS = {"blue": "平安", "yellow": "平稳", "red": "不稳定"}
STATUS_COLORS = {"draft": "grey", "open": "green", "closed": "yellow", "published": "blue"}
CASE_COLORS = {"scheduled": "grey", "held": "blue", "rectifying": "yellow", "rechecked": "green", "closed": "done", "withdrawn": "grey"}


def _finite(x) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def num(x, digits: int = 2) -> str:
    return f"{x:.{digits}f}" if _finite(x) else DASH


def ci(e, digits: int = 1) -> str:
    if e is None or not (_finite(e.ci_low) and _finite(e.ci_high)):
        return DASH
    return f"{e.ci_low:.{digits}f}–{e.ci_high:.{digits}f}"


def pct(p, digits: int = 0) -> str:
    return f"{100 * p:.{digits}f}%" if _finite(p) else DASH


def signed(x, digits: int = 1) -> str:
    if not _finite(x):
        return DASH
    text = f"{abs(x):.{digits}f}"
    if float(text) == 0:
        return text
    return ("+" if x > 0 else "−") + text


def cn_date(d: date | None) -> str:
    return DASH if d is None else f"{d.year}年{d.month}月{d.day}日"


def local(t: datetime | None) -> datetime | None:
    if t is None:
        return None
    if t.tzinfo is None:  # SQLite hands back naive UTC
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(LOCAL_TZ)


def when(t: datetime | None) -> str:
    t = local(t)
    return DASH if t is None else f"{t:%Y-%m-%d %H:%M}"


def duration(seconds: float | None) -> str:
    if not _finite(seconds):
        return DASH
    seconds = int(round(seconds))
    return f"{seconds // 60} 分 {seconds % 60} 秒" if seconds >= 60 else f"{seconds} 秒"


def _show(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


def changes(before: dict | None, after: dict | None) -> list[tuple[str, str, str, bool]]:
    """(key, before, after, changed) for every key of either side, in the order first seen."""
    before, after = before or {}, after or {}
    keys = list(dict.fromkeys([*before, *after]))
    return [(k, _show(before.get(k)) if before else "", _show(after.get(k)) if after else "", before.get(k) != after.get(k)) for k in keys]


def context() -> dict:
    """What every admin template gets besides Flask's own."""
    rules = {r.rule for r in current_app.url_map.iter_rules()}
    return {
        "fmt": SimpleNamespace(
            changes=changes, num=num, ci=ci, pct=pct, signed=signed, date=cn_date, when=when, duration=duration,
            kind=KIND_LABELS.get, wave_status=STATUS_LABELS.get, case_status=CASE_STATUS_LABELS.get,
            reason=lambda r: REASON_LABELS.get(r, r), escalation=lambda e: ESCALATION_LABELS.get(e or "", ""),
            flag=lambda f: RESPONSE_FLAG_LABELS.get(f, f), result_flag=lambda f: RESULT_FLAG_LABELS.get(f, f),
            warning=lambda w: WARNING_LABELS.get(w, w), meaning=lambda c: COLOR_MEANINGS.get(c or "", ""),
            status_color=lambda s: STATUS_COLORS.get(s, "grey"), case_color=lambda s: CASE_COLORS.get(s, "grey"),
        ),
        "can": can,
        # The API tokens page is another part of the console; link to it once it exists.
        "tokens_url": request.script_root + "/admin/tokens" if "/admin/tokens" in rules else None,
    }
