"""Importing responses collected elsewhere (paper, phone, door to door): DESIGN.md §3."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

import audit
from errors import Conflict, FileProblem
from extensions import db
from models import Response, Unit, Wave
from models.waves import RESPONSE_MODES
from survey.csvfiles import read_rows
from survey.waves import get_wave

FIXED_COLUMNS = ("response_id", "unit_code", "psu", "submitted_at")
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
RESPONSE_ID = re.compile(r"^[^\s]{1,64}$")
CHUNK = 5000


@dataclass(frozen=True)
class ResponseImportSummary:
    wave: str
    imported: int
    by_mode: dict[str, int]

    def __str__(self) -> str:
        modes = ",".join(f"{m} {n}" for m, n in sorted(self.by_mode.items()))
        return f"调查 {self.wave}:导入 {self.imported} 份答卷({modes})"


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 date or date-time (also with / separators); a naive time is Beijing time."""
    value = datetime.fromisoformat(text.replace("/", "-"))
    return value if value.tzinfo else value.replace(tzinfo=LOCAL_TZ)


def scope_units(wave: Wave) -> dict[str, int]:
    """code → id for every unit a response of this wave may be attached to."""
    rows = db.session.execute(select(Unit.code, Unit.id).where(wave.scope.subtree_clause()))
    return dict(rows.all())


def import_responses(wave_slug: str, path: str | Path) -> ResponseImportSummary:
    """Check every row, then store all of them in one transaction (or none)."""
    wave = get_wave(wave_slug)
    if wave.status == "published":
        raise Conflict(f"调查 “{wave.slug}” 已发布,不能再导入答卷")
    spec = wave.questionnaire_version.to_spec()
    items = {it.key: it for it in spec.items}
    header, rows = read_rows(path, FIXED_COLUMNS, ("mode",), extra=True)
    file_name = Path(path).name
    for i, col in enumerate(header, start=1):
        if col not in FIXED_COLUMNS and col != "mode" and col not in items:
            raise FileProblem(file_name, 1, i, f"列 “{col}” 不是问卷 {spec.slug} 第 {spec.version} 版的题目")
    item_columns = [items[c] for c in header if c in items]

    units = scope_units(wave)
    taken = set(db.session.scalars(select(Response.response_key).where(Response.wave_id == wave.id)))
    seen: dict[str, int] = {}
    records = []
    for row in rows:
        v = row.values
        rid = v["response_id"]
        if not RESPONSE_ID.match(rid):
            raise row.problem("response_id", "response_id 不能为空、不能含空格,最长 64 位")
        if rid in seen:
            raise row.problem("response_id", f"response_id “{rid}” 与第 {seen[rid]} 行重复")
        if rid in taken:
            raise row.problem("response_id", f"response_id “{rid}” 已经导入过这次调查")
        seen[rid] = row.line
        code = v["unit_code"]
        if code not in units:
            exists = db.session.scalar(select(Unit.id).where(Unit.code == code)) is not None
            if exists:
                raise row.problem("unit_code", f"单位 “{code}” 不在本次调查的范围({wave.scope.name} {wave.scope.code})之内")
            raise row.problem("unit_code", f"单位代码 “{code}” 不存在")
        psu = v["psu"] or None
        if psu is not None and len(psu) > 64:
            raise row.problem("psu", "psu 最长 64 个字符")
        submitted = None
        if v["submitted_at"]:
            try:
                submitted = parse_timestamp(v["submitted_at"])
            except ValueError:
                raise row.problem("submitted_at", f"时间 “{v['submitted_at']}” 无法识别,应为 2026-07-15 或 2026-07-15 09:30") from None
        mode = v.get("mode") or "paper"
        if mode not in RESPONSE_MODES:
            raise row.problem("mode", f"方式 “{mode}” 无效,应为 {', '.join(RESPONSE_MODES)} 之一")
        answers: dict[str, str] = {}
        for item in item_columns:
            value = v[item.key]
            if value == "":
                continue
            if item.is_choice:
                if item.option(value) is None:
                    codes = "、".join(o.code for o in item.options)
                    raise row.problem(item.key, f"“{value}” 不是题目 {item.key} 的选项代码(可选:{codes})")
            elif len(value) > item.max_length:
                raise row.problem(item.key, f"文字超过 {item.max_length} 字的上限")
            answers[item.key] = value
        records.append(
            {
                "wave_id": wave.id,
                "unit_id": units[code],
                "response_key": rid,
                "psu": psu,
                "mode": mode,
                "answers": answers,
                "submitted_at": submitted,
                "flags": [],
                "review_status": "clean",
            }
        )

    by_mode: dict[str, int] = {}
    for r in records:
        by_mode[r["mode"]] = by_mode.get(r["mode"], 0) + 1
    try:
        for start in range(0, len(records), CHUNK):
            db.session.execute(insert(Response), records[start : start + CHUNK])
        audit.record("responses.import", "wave", wave.slug, None, {"file": file_name, "imported": len(records), "by_mode": by_mode})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return ResponseImportSummary(wave=wave.slug, imported=len(records), by_mode=by_mode)
