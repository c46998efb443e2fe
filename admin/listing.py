"""Long lists for staff (progress, cases): search, a filter by county and by town, sorting, and the
same list as XLSX. Everything comes from the query string (?q=&county=&town=&sort=), so a list works
without JavaScript and a filtered list can be bookmarked or exported as it is shown.

The county and town choices are the units of those kinds the account may see (policy.unit_clause);
a code outside them filters nothing in (an empty list), never a unit the account may not see.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import select

import policy
from extensions import db
from models import Unit, User
from models.units import KIND_SORT
from cells import safe_workbook

MAX_Q = 50


@dataclass(frozen=True)
class Sort:
    label: str
    key: Callable[[Any], Any]
    reverse: bool = False


@dataclass(frozen=True)
class ListQuery:
    q: str = ""
    county: str = ""
    town: str = ""
    sort: str = ""

    @classmethod
    def from_args(cls, args, sorts: dict[str, Sort]) -> ListQuery:
        sort = args.get("sort", "")
        return cls(
            q=" ".join((args.get("q") or "").split())[:MAX_Q],
            county=(args.get("county") or "").strip()[:32],
            town=(args.get("town") or "").strip()[:32],
            sort=sort if sort in sorts else "",
        )

    @property
    def active(self) -> bool:
        return bool(self.q or self.county or self.town)

    def params(self) -> dict[str, str]:
        """The non-empty parameters, for links (export, sorting) that keep the list as shown."""
        return {k: v for k, v in (("q", self.q), ("county", self.county), ("town", self.town), ("sort", self.sort)) if v}


@dataclass(frozen=True)
class Choices:
    counties: list[Unit]
    towns: list[Unit]  # within the chosen county when there is one


def choices(user: User, query: ListQuery, within: Unit | None = None, present: Iterable[Unit] | None = None) -> Choices:
    """The counties and towns the account may pick (inside `within`, a wave's scope, when given; only
    those holding one of the `present` units, when given: a list offers no place it does not show)."""
    base = select(Unit).where(policy.unit_clause(user)).order_by(KIND_SORT, Unit.path)
    if within is not None:
        base = base.where(within.subtree_clause())
    counties = list(db.session.scalars(base.where(Unit.kind == "county")))
    towns = base.where(Unit.kind == "town")
    county = next((c for c in counties if c.code == query.county), None)
    if county is not None:
        towns = towns.where(county.subtree_clause())
    towns = list(db.session.scalars(towns))
    if present is not None:
        held = {code for u in present for code in u.path.strip("/").split("/")}
        counties = [c for c in counties if c.code in held]
        towns = [t for t in towns if t.code in held]
    return Choices(counties, towns)


def units_by_code(codes: Iterable[str]) -> dict[str, Unit]:
    codes = list(set(codes))
    if not codes:
        return {}
    return {u.code: u for u in db.session.scalars(select(Unit).where(Unit.code.in_(codes)))}


def matches(unit: Unit | None, query: ListQuery) -> bool:
    """The unit passes the search (name or code) and lies in the chosen county and town."""
    if unit is None:
        return not query.active
    if query.county and f"/{query.county}/" not in unit.path:
        return False
    if query.town and f"/{query.town}/" not in unit.path:
        return False
    if query.q:
        needle = query.q.casefold()
        names = [unit.name, unit.code, unit.parent.name if unit.parent is not None else ""]
        if not any(needle in n.casefold() for n in names):
            return False
    return True


def apply(rows: Sequence[Any], query: ListQuery, unit_of: Callable[[Any], Unit | None], sorts: dict[str, Sort]) -> list[Any]:
    """The rows that match, in the chosen order (the list's own order when none is chosen)."""
    out = [r for r in rows if matches(unit_of(r), query)]
    if query.sort:
        s = sorts[query.sort]
        # None sorts last either way
        out.sort(key=lambda r: (s.key(r) is None, s.key(r) if s.key(r) is not None else 0), reverse=False)
        if s.reverse:
            present = [r for r in out if s.key(r) is not None]
            out = present[::-1] + [r for r in out if s.key(r) is None]
    return out


def xlsx(title: str, header: Sequence[str], rows: Iterable[Sequence[Any]], note: str | None = None) -> bytes:
    """One sheet: the header in bold, the rows, a note under them; cells never formulas (cells.py)."""
    from openpyxl import Workbook  # openpyxl: imported on first use, not at app start
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(list(row))
    if note:
        sheet.append([])
        sheet.append([note])
    for i, h in enumerate(header, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = max(10, min(40, 2 * len(str(h)) + 4))
    sheet.freeze_panes = "A2"
    safe_workbook(book)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
