"""`analysis export`: the stored results as JSON (DESIGN.md §5), CSV and XLSX."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from analysis import UnitResult, WaveResult
from analysis.spec import QuestionnaireSpec
from models.interviews import ESCALATION_LABELS, REASON_LABELS
from models.units import KIND_LABELS, KIND_ORDER
from reports.cells import safe_row, safe_workbook
from reports.formatting import COLOR_MEANINGS, COLOR_NAMES, FLAG_LABELS, WARNING_LABELS

COLOR_LABELS = {c: f"{COLOR_NAMES[c]}({COLOR_MEANINGS[c]})" for c in COLOR_NAMES}
COLOR_FILLS = {"blue": "D6E4F5", "yellow": "FFF2C2", "red": "F8D0CC"}


def to_json(payload: dict[str, Any]) -> str:
    """The stored JSON object, unrounded, exactly as §5 describes it."""
    return json.dumps(payload, ensure_ascii=False, indent=2)


def _indicator_keys(result: WaveResult) -> list[str]:
    return list(result.root.indicators) if result.units else []


def to_csv(result: WaveResult) -> str:
    """One row per unit; column names are the JSON keys, flattened with `_`. Text that a
    spreadsheet would take for a formula is neutralised (reports.cells)."""
    keys = _indicator_keys(result)
    header = ["code", "name", "kind", "parent_code", "n", "n_eff", "n_flagged"]
    for k in keys:
        header += [f"{k}_{f}" for f in ("estimate", "se", "ci_low", "ci_high", "n")]
    header += ["composite_estimate", "composite_se", "composite_ci_low", "composite_ci_high", "composite_deff"]
    header += ["rank", "group_size", "p_bottom", "grade", "color", "flags", "warnings"]
    header += ["change_estimate", "change_se", "change_ci_low", "change_ci_high", "change_significant"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(safe_row(header))
    for u in result.units:
        row: list[Any] = [u.code, u.name, u.kind, u.parent_code, u.n, u.n_eff, u.n_flagged]
        for k in keys:
            e = u.indicators[k]
            row += [e.estimate, e.se, e.ci_low, e.ci_high, e.n]
        c = u.composite
        row += [c.estimate, c.se, c.ci_low, c.ci_high, c.deff]
        row += [u.rank, u.group_size, u.p_bottom, u.grade, u.color, ";".join(u.flags), ";".join(u.warnings)]
        d = u.change.composite if u.change else None
        row += [d.estimate, d.se, d.ci_low, d.ci_high, d.significant] if d else [None] * 5
        writer.writerow(safe_row("" if v is None else v for v in row))
    return out.getvalue()


def to_xlsx(result: WaveResult, spec: QuestionnaireSpec, title: str) -> bytes:
    """A workbook for people: a summary sheet, one sheet per level, and the 约谈名单."""
    workbook = Workbook()
    summary = workbook.active
    summary.title = "概况"
    root = result.root
    summary.append([title])
    summary["A1"].font = Font(bold=True, size=14)
    summary.append([])
    summary.append(["范围", root.name])
    summary.append(["样本量", root.n])
    summary.append(["综合指数", _round(root.composite.estimate)])
    for ind in spec.indicators:
        summary.append([ind.label, _round(root.indicators[ind.key].estimate)])
    summary.append(["约谈单位数", len(result.interview_list)])
    summary.column_dimensions["A"].width = 16
    summary.column_dimensions["B"].width = 24

    by_kind: dict[str, list[UnitResult]] = {}
    for u in result.units:
        by_kind.setdefault(u.kind, []).append(u)
    for kind in KIND_ORDER:
        if kind in by_kind:
            _level_sheet(workbook, KIND_LABELS[kind], by_kind[kind], spec)
    _interview_sheet(workbook, result)
    safe_workbook(workbook)  # unit names and questionnaire labels are never formulas
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _round(x: float | None, digits: int = 2) -> float | None:
    return None if x is None else round(x, digits)


def _level_sheet(workbook: Workbook, name: str, units: list[UnitResult], spec: QuestionnaireSpec) -> None:
    sheet = workbook.create_sheet(name)
    header = ["单位代码", "单位名称", "上级代码", "样本量", "有效样本量"]
    for ind in spec.indicators:
        header += [ind.label, f"{ind.label}标准误", f"{ind.label}95%下限", f"{ind.label}95%上限"]
    header += ["综合指数", "综合指数标准误", "95%下限", "95%上限", "设计效应", "同组排名(1=最低)", "同组参评数", "居末位概率", "等次", "颜色", "较上期变化", "变化是否显著", "标记", "提示"]
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    # Rank order within each peer group reads like the published tables.
    ordered = sorted(units, key=lambda u: (u.parent_code or "", u.rank is None, u.rank or 0, u.code))
    for u in ordered:
        row: list[Any] = [u.code, u.name, u.parent_code, u.n, _round(u.n_eff, 1)]
        for ind in spec.indicators:
            e = u.indicators[ind.key]
            row += [e.estimate, e.se, e.ci_low, e.ci_high]
        c = u.composite
        d = u.change.composite if u.change else None
        row += [c.estimate, c.se, c.ci_low, c.ci_high, c.deff, u.rank, u.group_size, u.p_bottom, u.grade,
                COLOR_LABELS.get(u.color or "", ""), d.estimate if d else None,
                ("是" if d.significant else "否") if d else None,
                "、".join(FLAG_LABELS.get(f, f) for f in u.flags), "、".join(WARNING_LABELS.get(w, w) for w in u.warnings)]
        sheet.append(row)
        if u.color in COLOR_FILLS:
            fill = PatternFill("solid", fgColor=COLOR_FILLS[u.color])
            sheet.cell(row=sheet.max_row, column=header.index("颜色") + 1).fill = fill
    number_columns = [i + 1 for i, h in enumerate(header) if h not in ("单位代码", "单位名称", "上级代码", "样本量", "同组排名(1=最低)", "同组参评数", "等次", "颜色", "变化是否显著", "标记", "提示")]
    for col in number_columns:
        for (cell,) in sheet.iter_rows(min_row=2, min_col=col, max_col=col):
            cell.number_format = "0.00" if header[col - 1] != "居末位概率" else "0.0%"
    for i, h in enumerate(header, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = 18 if h == "单位名称" else 12
    sheet.freeze_panes = "C2"


def _interview_sheet(workbook: Workbook, result: WaveResult) -> None:
    sheet = workbook.create_sheet("约谈名单")
    sheet.append(["单位代码", "单位名称", "类型", "上级代码", "原因", "同组排名(1=最低)", "综合指数", "处理"])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for entry in result.interview_list:
        u = result.unit(entry.code)
        sheet.append([
            u.code, u.name, KIND_LABELS[u.kind], u.parent_code, REASON_LABELS.get(entry.reason, entry.reason),
            entry.rank, _round(u.composite.estimate), ESCALATION_LABELS.get(entry.escalation or "", "约谈"),
        ])
    for col, width in zip("ABCDEFGH", (14, 20, 10, 14, 10, 10, 10, 10)):
        sheet.column_dimensions[col].width = width
