"""Importing the unit tree and its population margins (docs/formats.md).

An import is all-or-nothing: every row is checked before anything is written, and
the writes happen in one transaction. Re-importing the same file changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

import audit
from extensions import db
from models import PopulationMargin, Unit
from models.units import KIND_RANK, UNIT_KINDS
from survey.csvfiles import CsvRows, Row, read_rows

UNIT_COLUMNS = ("code", "name", "kind", "parent_code")
# A clerk's spreadsheet may say 代码,名称,类型,上级代码 and 市, 县, 乡镇 … (docs/formats.md).
UNIT_COLUMN_ALIASES = {"代码": "code", "单位代码": "code", "名称": "name", "单位名称": "name", "类型": "kind", "上级代码": "parent_code",
                       "上级单位代码": "parent_code"}
KIND_ALIASES = {
    "市": "city", "县": "county", "区": "county", "县区": "county", "县(区)": "county", "县（区）": "county",
    "乡镇": "town", "乡": "town", "镇": "town", "街道": "town", "乡镇(街道)": "town", "乡镇（街道）": "town",
    "村": "village", "社区": "village", "村(社区)": "village", "村（社区）": "village",
    "网格": "grid", "部门": "department",
}
TEMPLATE_HEADER = ("代码", "名称", "类型", "上级代码")
TEMPLATE_ROWS = (  # made-up codes and names: the template shows no real unit to anyone
    ("990000", "样例市", "市", ""),
    ("990001", "样例区", "县", "990000"),
    ("990001001", "样例街道", "乡镇", "990001"),
    ("990001001001", "样例社区", "村", "990001001"),
    ("990001001001G01", "样例社区第一网格", "网格", "990001001001"),
    ("990000D01", "样例部门", "部门", "990000"),
)


def units_template_csv() -> bytes:
    """The units file a clerk fills in: Chinese headers and kinds, a few example rows, UTF-8 with a BOM
    (so that Excel opens it in Chinese and saves it back as CSV UTF-8)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(TEMPLATE_HEADER)
    writer.writerows(TEMPLATE_ROWS)
    return ("\ufeff" + out.getvalue()).encode("utf-8")
POPULATION_COLUMNS = ("unit_code", "dimension", "category", "count")
MAX_COUNT = 2**31 - 1
CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
# A unit's parent must be of a higher kind in this order; departments hang off a city or county.
ROOT_KINDS = ("city", "county", "town")


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    margins_replaced: int = 0
    messages: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"单位：新增 {self.created}，更新 {self.updated}，未变 {self.unchanged}"
        if self.margins_replaced:
            text += f";人口数据更新了 {self.margins_replaced} 个单位"
        return text


@dataclass(frozen=True)
class UnitRow:
    row: Row
    code: str
    name: str
    kind: str
    parent_code: str | None


def _parse_unit_rows(path: str | Path) -> list[UnitRow]:
    _, rows = read_rows(path, UNIT_COLUMNS, aliases=UNIT_COLUMN_ALIASES)
    parsed: list[UnitRow] = []
    seen: dict[str, int] = {}
    for row in rows:
        v = row.values
        code, name, kind, parent = v["code"], v["name"], v["kind"], v["parent_code"] or None
        kind = KIND_ALIASES.get(kind, kind)
        if not CODE.match(code):
            raise row.problem("code", f"单位代码 “{code}” 无效:只能用字母、数字、- 和 _,最长 32 位")
        if code in seen:
            raise row.problem("code", f"单位代码 “{code}” 与第 {seen[code]} 行重复")
        seen[code] = row.line
        if not name:
            raise row.problem("name", "单位名称不能为空")
        if len(name) > 100:
            raise row.problem("name", "单位名称不能超过 100 个字")
        row.check_text("name")
        if kind not in UNIT_KINDS:
            raise row.problem("kind", f"类型 “{kind}” 无效，应为 市、县、乡镇、村、网格、部门（或 {', '.join(UNIT_KINDS)}）之一")
        if parent is None and kind not in ROOT_KINDS:
            raise row.problem("parent_code", f"{kind} 类型的单位必须填写上级单位代码 parent_code")
        if parent == code:
            raise row.problem("parent_code", "上级单位不能是自己")
        parsed.append(UnitRow(row, code, name, kind, parent))
    return parsed


def _existing_tree(existing: dict[str, Unit]) -> dict[str, tuple[str, str | None]]:
    """code → (kind, parent_code) of the units already stored, without a query per unit."""
    code_of = {u.id: code for code, u in existing.items()}
    return {code: (u.kind, code_of.get(u.parent_id)) for code, u in existing.items()}


def _check_hierarchy(rows: list[UnitRow], stored: dict[str, tuple[str, str | None]]) -> dict[str, tuple[str, str | None]]:
    """The tree after the import, code → (kind, parent_code); checks parents, kinds and cycles."""
    tree = dict(stored)
    for r in rows:
        tree[r.code] = (r.kind, r.parent_code)
    for r in rows:
        if r.parent_code is None:
            continue
        if r.parent_code not in tree:
            raise r.row.problem("parent_code", f"上级单位 “{r.parent_code}” 不存在(文件里和系统里都没有)")
        parent_kind = tree[r.parent_code][0]
        if r.kind == "department":
            if parent_kind not in ("city", "county"):
                raise r.row.problem("parent_code", f"部门的上级应为市或县(区),而 “{r.parent_code}” 是 {parent_kind}")
        elif parent_kind == "department" or KIND_RANK[parent_kind] >= KIND_RANK[r.kind]:
            raise r.row.problem("parent_code", f"{r.kind} 不能隶属于 {parent_kind}(“{r.parent_code}”)")
    for r in rows:  # a cycle through the file would never reach a root
        seen, code = set(), r.code
        while code is not None:
            if code in seen:
                raise r.row.problem("parent_code", f"上下级关系形成了循环(经过 “{code}”)")
            seen.add(code)
            code = tree[code][1]
    return tree


def _parse_population(path: str | Path, known_units: set[str]) -> dict[str, list[tuple[str, str, int]]]:
    """unit code → [(dimension, category, count)], with every dimension's total checked."""
    cells: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    first_line: dict[tuple[str, str], Row] = {}
    totals: dict[str, dict[str, int]] = defaultdict(dict)
    seen: dict[tuple[str, str, str], int] = {}
    # Read as a stream: a population file for every village of a province is large, and only
    # its cells are kept.
    with CsvRows(path, POPULATION_COLUMNS) as rows:
        for row in rows:
            v = row.values
            unit, dim, cat, count = v["unit_code"], v["dimension"], v["category"], v["count"]
            if unit not in known_units:
                raise row.problem("unit_code", f"单位代码 “{unit}” 不存在")
            if not re.match(r"^[A-Za-z][A-Za-z0-9_]{0,63}$", dim):
                raise row.problem("dimension", f"维度名 “{dim}” 无效:应为问卷中人口题的 dimension 名称,如 sex、age_group")
            if not cat:
                raise row.problem("category", "类别不能为空:应为该人口题的选项代码")
            if len(cat) > 32:
                raise row.problem("category", "类别不能超过 32 个字符:应为该人口题的选项代码")
            if not re.match(r"^\d+$", count):
                raise row.problem("count", f"人数 “{count}” 应为非负整数")
            if len(count) > 10 or int(count) > MAX_COUNT:  # the column is a 32-bit integer everywhere
                raise row.problem("count", f"人数 “{count}” 超出范围(最大 {MAX_COUNT})")
            key = (unit, dim, cat)
            if key in seen:
                raise row.problem("category", f"{unit} 的 {dim}={cat} 与第 {seen[key]} 行重复")
            seen[key] = row.line
            first_line.setdefault((unit, dim), row)
            totals[unit][dim] = totals[unit].get(dim, 0) + int(count)
            cells[unit].append((dim, cat, int(count)))
    for unit, dims in totals.items():
        reference_dim, reference_total = next(iter(dims.items()))
        for dim, total in dims.items():
            if total != reference_total:
                raise first_line[(unit, dim)].problem(
                    "count",
                    f"单位 {unit} 的维度 {dim} 合计 {total} 人,与维度 {reference_dim} 合计 {reference_total} 人不一致",
                )
            if total == 0:
                raise first_line[(unit, dim)].problem("count", f"单位 {unit} 的维度 {dim} 合计为 0")
    return cells


def import_units(units_path: str | Path, population_path: str | Path | None = None, scope: Unit | None = None) -> ImportSummary:
    """Create or update units (and replace the margins of units in the population file).

    `scope`: the acting account's scope unit (policy: an account scoped to a county imports and
    moves units inside its subtree only); None for the whole tree (an unscoped admin, the CLI)."""
    rows = _parse_unit_rows(units_path)
    existing = {u.code: u for u in db.session.scalars(select(Unit))}
    stored = _existing_tree(existing)
    known = set(stored)
    if scope is not None:
        known = _check_scope(rows, existing, scope)
    tree = _check_hierarchy(rows, stored)
    population = _parse_population(population_path, known | {r.code for r in rows}) if population_path else {}

    summary = ImportSummary()
    try:
        by_code = dict(existing)
        # Parents before children, so that every parent exists when its child is written.
        for r in sorted(rows, key=lambda r: _depth(r.code, tree)):
            unit = by_code.get(r.code)
            parent = by_code[r.parent_code] if r.parent_code else None
            if unit is None:
                unit = Unit(code=r.code, name=r.name, kind=r.kind, parent=parent, path="", depth=0)
                db.session.add(unit)
                by_code[r.code] = unit
                summary.created += 1
                audit.record("unit.create", "unit", r.code, None, {"name": r.name, "kind": r.kind, "parent": r.parent_code})
            elif (unit.name, unit.kind, stored[r.code][1]) != (r.name, r.kind, r.parent_code):
                before = {"name": unit.name, "kind": unit.kind, "parent": stored[r.code][1]}
                unit.name, unit.kind, unit.parent = r.name, r.kind, parent
                summary.updated += 1
                audit.record("unit.update", "unit", r.code, before, {"name": r.name, "kind": r.kind, "parent": r.parent_code})
            else:
                summary.unchanged += 1
        _refresh_paths(by_code, tree)
        for code, cells in population.items():
            if _replace_margins(by_code[code], cells):
                summary.margins_replaced += 1
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return summary


def _check_scope(rows: list[UnitRow], existing: dict[str, Unit], scope: Unit) -> set[str]:
    """Every row's unit and its new parent lie in `scope`'s subtree (checked before anything is
    written); returns the codes of the stored units within it. A unit or parent outside is named
    as one the account cannot use, never as existing elsewhere."""
    inside = {code for code, u in existing.items() if u.is_within(scope)}
    in_file = {r.code for r in rows}
    for r in rows:
        unit = existing.get(r.code)
        if unit is not None and r.code not in inside:
            raise r.row.problem("code", f"单位代码 “{r.code}” 不可用:只能导入或修改您管辖范围({scope.name})内的单位")
        if r.code == scope.code:
            if r.parent_code != (scope.parent.code if scope.parent else None):
                raise r.row.problem("parent_code", f"不能移动您的管辖单位 “{scope.code}” 本身:单位只能在您的管辖范围内导入或移动")
            continue
        if r.parent_code is None:
            raise r.row.problem("parent_code", f"请填写上级单位代码:只能在您管辖范围({scope.name})内导入单位")
        if r.parent_code not in inside and r.parent_code not in in_file:
            raise r.row.problem(
                "parent_code", f"上级单位 “{r.parent_code}” 不存在,或不在您的管辖范围({scope.name})内:单位只能导入或移动到管辖范围内"
            )
    return inside


def _depth(code: str, tree: dict[str, tuple[str, str | None]]) -> int:
    depth = 0
    while tree[code][1] is not None:
        code = tree[code][1]
        depth += 1
    return depth


def _refresh_paths(by_code: dict[str, Unit], tree: dict[str, tuple[str, str | None]]) -> None:
    """Recompute path and depth wherever they changed (a moved unit moves its subtree)."""
    paths: dict[str, str] = {}

    def path_of(code: str) -> str:
        if code not in paths:
            parent = tree[code][1]
            paths[code] = (path_of(parent) if parent else "/") + code + "/"
        return paths[code]

    for code, unit in by_code.items():
        path = path_of(code)
        if unit.path != path:
            unit.path, unit.depth = path, path.count("/") - 2


def _replace_margins(unit: Unit, cells: list[tuple[str, str, int]]) -> bool:
    current = sorted((m.dimension, m.category, m.count) for m in unit.margins)
    if current == sorted(cells):
        return False
    audit.record(
        "population.replace", "unit", unit.code,
        {"margins": [list(c) for c in current]}, {"margins": [list(c) for c in cells]},
    )
    unit.margins.clear()
    db.session.flush()  # the old cells go before the new ones meet the unique constraint
    unit.margins.extend(PopulationMargin(dimension=d, category=c, count=n) for d, c, n in cells)
    return True
