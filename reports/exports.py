"""`analysis export`: the stored results as JSON (docs/formats.md), CSV and XLSX."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any

from analysis import UnitResult, WaveResult
from analysis.spec import QuestionnaireSpec
from models.interviews import ESCALATION_LABELS
from models.units import KIND_LABELS
from cells import safe_row, safe_workbook
from reports import model
from reports.formatting import COLOR_MEANINGS, COLOR_NAMES, FLAG_LABELS, TERMS, WARNING_LABELS, explain, term

if TYPE_CHECKING:
    from openpyxl import Workbook

COLOR_LABELS = {c: f"{COLOR_NAMES[c]}({COLOR_MEANINGS[c]})" for c in COLOR_NAMES}
COLOR_FILLS = {"blue": "D6E4F5", "yellow": "FFF2C2", "red": "F8D0CC"}


def to_json(payload: dict[str, Any]) -> str:
    """The stored JSON object, unrounded, exactly as §5 describes it."""
    return json.dumps(payload, ensure_ascii=False, indent=2)


def _indicator_keys(result: WaveResult) -> list[str]:
    return list(result.root.indicators) if result.units else []


def to_csv(result: WaveResult) -> str:
    """One row per unit; column names are the JSON keys, flattened with `_`. Text that a
    spreadsheet would take for a formula is neutralised (cells.py)."""
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


def to_xlsx(result: WaveResult, spec: QuestionnaireSpec, title: str, rejected: int | None = None,
            full: WaveResult | None = None) -> bytes:
    """A workbook for people: a summary sheet, one sheet per level, and the 约谈名单. Ranks read as
    everywhere people read them (reports.model): 第 k 名 / 共 G 名 with 1 the best, the rank interval
    in the same order, 倒数第 k on the list; units without respondents have no row. `full`: the whole
    wave's result when `result` is an account's part of it (peer groups keep their titles and places)."""
    from openpyxl import Workbook  # openpyxl: imported on first use, not at app start
    from openpyxl.styles import Font

    workbook = Workbook()
    summary = workbook.active
    summary.title = "概况"
    root = result.root
    sums = model.totals(result, rejected)
    summary.append([title])
    summary["A1"].font = Font(bold=True, size=14)
    summary.append([])
    summary.append(["范围", root.name])
    summary.append(["有效答卷", sums.responses])
    if sums.departments:
        summary.append(["其中辖区居民", sums.residents])
        summary.append(["其中部门", sums.departments])
    if rejected is not None:
        summary.append(["审核剔除", rejected])
    summary.append([f"样本 n（{root.name}，不含部门）" if sums.departments else "样本 n", root.n])
    summary.append(["综合指数", _round(root.composite.estimate)])
    for ind in spec.indicators:
        summary.append([ind.label, _round(root.indicators[ind.key].estimate)])
    groups = model.peer_groups(result) if full is None else model.scoped_groups(full, {u.code for u in result.units})
    listed = model.interview_list(result, groups, "")
    summary.append(["约谈单位数", len(listed)])
    if sums.departments:
        summary.append(["说明", f"{root.name}的指数和样本 n 只含辖区居民；部门单独测评、单独排名，不计入地区合计。"])
    summary.column_dimensions["A"].width = 22
    summary.column_dimensions["B"].width = 24

    if model.has_respondents(root) and all(root.code != u.code for g in groups for u in g.units):
        _level_sheet(workbook, KIND_LABELS[root.kind], [(None, root)], spec)
    for section in model.sections(groups):
        _level_sheet(workbook, section.label, [(g, u) for g in section.groups for u in g.units], spec)
    _interview_sheet(workbook, listed, spec.ranking.bottom_n)
    _terms_sheet(workbook, spec.ranking.bottom_n)
    safe_workbook(workbook)  # unit names and questionnaire labels are never formulas
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _round(x: float | None, digits: int = 2) -> float | None:
    return None if x is None else round(x, digits)


RANK_HEADERS = ("同组名次(1=最高)", "同组参评数", "位次区间(1=最高)")
# Header → the term it shows (reports.formatting.TERMS): the header cell carries the explanation as a
# comment, and the 名词解释 sheet lists them all (the XLSX's footnote).
TERM_HEADERS = {"设计效应": "deff", "位次区间(1=最高)": "rank_interval"}


def _explain_headers(sheet, bottom_n: int) -> None:
    from openpyxl.comments import Comment

    for cell in sheet[1]:
        key = TERM_HEADERS.get(cell.value) or ("p_bottom" if cell.value == term("p_bottom", bottom_n) else None)
        if key:
            cell.comment = Comment(explain(key, bottom_n), "平安测评")


def _terms_sheet(workbook: Workbook, bottom_n: int) -> None:
    from openpyxl.styles import Font

    sheet = workbook.create_sheet("名词解释")
    sheet.append(["名词", "说明"])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for key in TERMS:
        sheet.append([term(key, bottom_n), explain(key, bottom_n)])
    sheet.column_dimensions["A"].width = 16
    sheet.column_dimensions["B"].width = 90


def _level_sheet(workbook: Workbook, name: str, rows: list[tuple[model.PeerGroup | None, UnitResult]], spec: QuestionnaireSpec) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    sheet = workbook.create_sheet(name)
    header = ["单位代码", "单位名称", "同级组", "样本量", "有效样本量"]
    for ind in spec.indicators:
        header += [ind.label, f"{ind.label}标准误", f"{ind.label}95%下限", f"{ind.label}95%上限"]
    header += ["综合指数", "综合指数标准误", "95%下限", "95%上限", "设计效应", *RANK_HEADERS, term("p_bottom", spec.ranking.bottom_n), "等次", "颜色", "较上期变化", "变化是否显著", "标记", "提示"]
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    # Peer groups in the report's order, best first inside each (reports.model).
    for group, u in rows:
        row: list[Any] = [u.code, u.name, group.title if group is not None else "", u.n, _round(u.n_eff, 1)]
        for ind in spec.indicators:
            e = u.indicators[ind.key]
            row += [e.estimate, e.se, e.ci_low, e.ci_high]
        c = u.composite
        d = u.change.composite if u.change else None
        iv = model.place_interval(u)
        row += [c.estimate, c.se, c.ci_low, c.ci_high, c.deff, model.place(u), u.group_size,
                None if iv is None else f"{iv[0]}–{iv[1]}", u.p_bottom, u.grade or ("样本不足" if u.n < spec.ranking.min_n else None),
                COLOR_LABELS.get(u.color or "", ""), d.estimate if d else None,
                ("是" if d.significant else "否") if d else None,
                "、".join(FLAG_LABELS.get(f, f) for f in u.flags), "、".join(WARNING_LABELS.get(w, w) for w in u.warnings)]
        sheet.append(row)
        if u.color in COLOR_FILLS:
            fill = PatternFill("solid", fgColor=COLOR_FILLS[u.color])
            sheet.cell(row=sheet.max_row, column=header.index("颜色") + 1).fill = fill
    text_columns = ("单位代码", "单位名称", "同级组", "样本量", *RANK_HEADERS, "等次", "颜色", "变化是否显著", "标记", "提示")
    number_columns = [i + 1 for i, h in enumerate(header) if h not in text_columns]
    for col in number_columns:
        for (cell,) in sheet.iter_rows(min_row=2, min_col=col, max_col=col):
            cell.number_format = "0.00" if header[col - 1] != term("p_bottom", spec.ranking.bottom_n) else "0.0%"
    for i, h in enumerate(header, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = 18 if h in ("单位名称", "同级组") else 12
    sheet.freeze_panes = "C2"
    _explain_headers(sheet, spec.ranking.bottom_n)


def _interview_sheet(workbook: Workbook, listed: list[model.Listed], bottom_n: int) -> None:
    from openpyxl.styles import Font

    sheet = workbook.create_sheet("约谈名单")
    sheet.append(["单位代码", "单位名称", "类型", "同级组", "原因", "名次", "综合指数", "处理", "位次区间(1=最高)", "说明"])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    _explain_headers(sheet, bottom_n)
    for x in listed:
        u = x.unit
        sheet.append([
            u.code, u.name, KIND_LABELS[u.kind], x.group.title, x.reason_label, x.bottom_text,
            _round(u.composite.estimate), ESCALATION_LABELS.get(x.entry.escalation or "", "约谈"), x.interval.removeprefix("位次区间 ") or None, x.note(bottom_n),
        ])
    for col, width in zip("ABCDEFGHIJ", (14, 20, 10, 20, 10, 18, 10, 14, 14, 30)):
        sheet.column_dimensions[col].width = width

