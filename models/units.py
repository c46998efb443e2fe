"""Administrative units (city → county → town → village → grid, and departments) and their population."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.types import Timestamp, utcnow

UNIT_KINDS = ("city", "county", "town", "village", "grid", "department")
# The one order of kinds every list reads in, top down: the city, counties, towns, villages, grids,
# and departments last (KIND_SORT is the same order in SQL, for ORDER BY).
KIND_ORDER = UNIT_KINDS
KIND_RANK = {kind: i for i, kind in enumerate(KIND_ORDER)}
KIND_LABELS = {
    "city": "市",
    "county": "县（区）",
    "town": "乡镇（街道）",
    "village": "村（社区）",
    "grid": "网格",
    "department": "部门",
}


class Unit(db.Model):
    __tablename__ = "units"
    __table_args__ = (CheckConstraint(f"kind IN {UNIT_KINDS!r}", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    # Materialised path of codes, "/610900/610902/", so a subtree is one indexed prefix query.
    path: Mapped[str] = mapped_column(String(1024), index=True)
    depth: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)

    parent: Mapped[Unit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Unit]] = relationship(back_populates="parent", order_by="Unit.code")
    margins: Mapped[list[PopulationMargin]] = relationship(
        back_populates="unit", cascade="all, delete-orphan", order_by="PopulationMargin.id"
    )

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    @property
    def parent_code(self) -> str | None:
        return self.parent.code if self.parent else None

    def is_within(self, other: Unit) -> bool:
        """True when this unit is `other` or lies below it."""
        return self.path.startswith(other.path)

    def subtree_clause(self):
        """A WHERE clause selecting this unit and every unit below it."""
        return Unit.path.startswith(self.path, autoescape=True)

    def subtree(self) -> list[Unit]:
        return list(db.session.scalars(select(Unit).where(self.subtree_clause()).order_by(Unit.depth, Unit.code)))

    def __repr__(self) -> str:
        return f"<Unit {self.code} {self.name}>"


class PopulationMargin(db.Model):
    """One cell of a raking margin: how many people of `category` on `dimension` live in the unit."""

    __tablename__ = "population_margins"
    __table_args__ = (
        UniqueConstraint("unit_id", "dimension", "category"),
        CheckConstraint("count >= 0", name="count_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    dimension: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(32))
    count: Mapped[int] = mapped_column(Integer)

    unit: Mapped[Unit] = relationship(back_populates="margins")


KIND_SORT = sql_case(KIND_RANK, value=Unit.kind, else_=len(KIND_ORDER))
