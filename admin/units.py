"""Units in the console: importing the CSVs (survey.units.import_units), the tree an account
can see, and one unit with its population margins."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

import policy
from admin.uploads import saved, values_in_range
from extensions import db
from models import InterviewCase, Item, PopulationMargin, Unit, User, Wave
from survey.units import ImportSummary, import_units, units_template_csv


def import_uploads(user: User, units_file: FileStorage, population_file: FileStorage | None) -> ImportSummary:
    """Import an uploaded units.csv (and population.csv): all or nothing, FileProblem on a bad row.
    A scoped admin imports and moves units inside its subtree only: every row's unit and its new
    parent must lie there (policy, survey.units.import_units `scope`)."""
    policy.require(user, "units.manage")
    with saved((units_file, "units.csv"), (population_file, "population.csv")) as (units_path, population_path):
        with values_in_range():
            return import_units(units_path, population_path, scope=user.scope)


def template_csv() -> bytes:
    """The units import template (survey.units.units_template_csv)."""
    return units_template_csv()


@dataclass
class Node:
    unit: Unit
    population: int | None
    children: list[Node] = field(default_factory=list)

    @property
    def size(self) -> int:
        return 1 + sum(c.size for c in self.children)


def tree(user: User) -> list[Node]:
    """The account's units as a forest (one root per top unit), children in code order, each
    with its population (the total of its first margin dimension, if it has margins)."""
    units = list(db.session.scalars(select(Unit).where(policy.unit_clause(user)).order_by(Unit.path)))
    totals = _populations([u.id for u in units])
    nodes = {u.id: Node(u, totals.get(u.id)) for u in units}
    roots = []
    for u in units:
        parent = nodes.get(u.parent_id) if u.parent_id is not None else None
        (parent.children if parent else roots).append(nodes[u.id])
    return roots


def _populations(unit_ids: list[int]) -> dict[int, int]:
    """unit id → population: every dimension of a unit has the same total (checked on import)."""
    rows = db.session.execute(
        select(PopulationMargin.unit_id, PopulationMargin.dimension, func.sum(PopulationMargin.count))
        .group_by(PopulationMargin.unit_id, PopulationMargin.dimension)
    ).all()
    wanted = set(unit_ids)
    return {unit_id: int(total) for unit_id, _dim, total in rows if unit_id in wanted}


@dataclass(frozen=True)
class MarginRow:
    category: str
    label: str  # the option's label in the newest questionnaire asking for this dimension
    count: int
    share: float


@dataclass(frozen=True)
class Dimension:
    name: str
    label: str
    total: int
    rows: tuple[MarginRow, ...]


@dataclass(frozen=True)
class UnitDetail:
    unit: Unit
    ancestors: list[Unit]  # from the top of the account's scope down to the parent
    children: list[Unit]
    dimensions: list[Dimension]
    waves: list[Wave]
    cases: list[InterviewCase]


def _dimension_labels(dimension: str) -> tuple[str, dict[str, str]]:
    """The question text and option labels of the newest questionnaire item with this `dimension`."""
    item = db.session.scalar(
        select(Item).where(Item.dimension == dimension).order_by(Item.version_id.desc()).limit(1)
    )
    if item is None:
        return dimension, {}
    return item.text, {o.code: o.label for o in item.options}


def get_unit(user: User, code: str) -> Unit:
    return policy.find_unit(user, code)


def unit_detail(user: User, code: str) -> UnitDetail:
    unit = get_unit(user, code)
    ancestors = []
    parent = unit.parent
    while parent is not None and (user.scope is None or parent.is_within(user.scope)):
        ancestors.insert(0, parent)
        parent = parent.parent
    cells: dict[str, list[PopulationMargin]] = defaultdict(list)
    for m in unit.margins:
        cells[m.dimension].append(m)
    dimensions = []
    for name, margins in cells.items():
        title, labels = _dimension_labels(name)
        total = sum(m.count for m in margins)
        rows = tuple(MarginRow(m.category, labels.get(m.category, m.category), m.count, m.count / total if total else 0.0) for m in margins)
        dimensions.append(Dimension(name, title, total, rows))
    waves = [
        w for w in db.session.scalars(select(Wave).order_by(Wave.period_start.desc()))
        if unit.is_within(w.scope) and policy.sees_wave(user, w)
    ]
    cases = [
        c for c in db.session.scalars(
            select(InterviewCase).join(Wave).where(InterviewCase.unit_id == unit.id).order_by(Wave.period_start.desc())
        )
        if policy.sees_case(user, c)
    ]
    return UnitDetail(unit, ancestors, list(unit.children), dimensions, waves, cases)
