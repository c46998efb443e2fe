"""How the console writes numbers, dates and labels (rounding is for people; stored results stay unrounded).

Available in every admin template as `fmt` (admin/__init__.py's context processor).
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from types import SimpleNamespace

from flask import current_app, request

import clock
from admin import audit_text
from policy import can
from models.interviews import CASE_STATUS_LABELS, ESCALATION_LABELS, REASON_LABELS
from models.responses import FLAG_LABELS as RESPONSE_FLAG_LABELS
from models.units import KIND_LABELS
from models.waves import STATUS_LABELS, mode_label
from reports.formatting import COLOR_MEANINGS, DASH, WARNING_LABELS, ci, cn_date, explain, grade_bands, num, pct, signed, term
from reports.formatting import FLAG_LABELS as RESULT_FLAG_LABELS
from reports.model import interval_text, place_text
from survey.periods import period_label

STATUS_COLORS = {"draft": "grey", "open": "green", "closed": "yellow", "published": "blue"}
CASE_COLORS = {"scheduled": "grey", "held": "blue", "rectifying": "yellow", "recheck_asked": "blue", "rechecked": "green", "reopened": "yellow", "closed": "done", "withdrawn": "grey"}


def local(t: datetime | None) -> datetime | None:
    if t is None:
        return None
    return clock.local(t)


def when(t: datetime | None) -> str:
    t = local(t)
    return DASH if t is None else f"{t:%Y-%m-%d %H:%M}"


def duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
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


def _wave_totals(wave):
    from flask_login import current_user

    from admin.results import wave_totals

    return wave_totals(current_user, wave)


def context() -> dict:
    """What every admin template gets besides Flask's own."""
    from admin.review import integrity_lines  # 数据可信度提示 beside a unit (docs/method.md)

    rules = {r.rule for r in current_app.url_map.iter_rules()}
    return {
        "fmt": SimpleNamespace(
            changes=changes, action=audit_text.action_label, entity=audit_text.entity_label,
            entry_changes=lambda e: audit_text.changes(e.entity, e.before, e.after), num=num, ci=ci, pct=pct, signed=signed, date=cn_date, when=when, duration=duration,
            kind=KIND_LABELS.get, mode=mode_label, term=term, explain=explain, grade_bands=grade_bands, place=place_text, interval=interval_text, wave_status=STATUS_LABELS.get, case_status=CASE_STATUS_LABELS.get,
            reason=lambda r: REASON_LABELS.get(r, r), escalation=lambda e: ESCALATION_LABELS.get(e or "", ""),
            flag=lambda f: RESPONSE_FLAG_LABELS.get(f, f), result_flag=lambda f: RESULT_FLAG_LABELS.get(f, f),
            warning=lambda w: WARNING_LABELS.get(w, w), meaning=lambda c: COLOR_MEANINGS.get(c or "", ""),
            integrity=integrity_lines,
            status_color=lambda s: STATUS_COLORS.get(s, "grey"), period=period_label, case_color=lambda s: CASE_COLORS.get(s, "grey"),
        ),
        "can": can,
        "wave_totals": _wave_totals,
        # The API tokens page is another part of the console; link to it once it exists.
        "tokens_url": request.script_root + "/admin/tokens" if "/admin/tokens" in rules else None,
    }
