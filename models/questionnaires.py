"""Questionnaires, versioned: a version used by a wave never changes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from analysis import spec as qspec
from extensions import db
from models.types import JSONType, Timestamp, utcnow


class Questionnaire(db.Model):
    __tablename__ = "questionnaires"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    versions: Mapped[list[QuestionnaireVersion]] = relationship(
        back_populates="questionnaire", order_by="QuestionnaireVersion.version"
    )

    @property
    def latest(self) -> QuestionnaireVersion:
        return self.versions[-1]


class QuestionnaireVersion(db.Model):
    __tablename__ = "questionnaire_versions"
    __table_args__ = (UniqueConstraint("questionnaire_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    bottom_n: Mapped[int] = mapped_column(Integer)
    min_n: Mapped[int] = mapped_column(Integer)
    # the fewest ranked units a peer group needs to list its bottom_n; the ranked unit kinds
    min_group: Mapped[int | None] = mapped_column(Integer)  # None (rows before 0006): 2 × bottom_n
    ranked_kinds: Mapped[list | None] = mapped_column(JSONType)  # None (rows before 0006): the default
    grades: Mapped[list] = mapped_column(JSONType)  # [{"min", "label", "color"}], highest first
    source: Mapped[str] = mapped_column(Text)  # the YAML as loaded, kept for the record
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    questionnaire: Mapped[Questionnaire] = relationship(back_populates="versions")
    items: Mapped[list[Item]] = relationship(
        back_populates="version", order_by="Item.position", cascade="all, delete-orphan"
    )
    indicators: Mapped[list[Indicator]] = relationship(
        back_populates="version", order_by="Indicator.position", cascade="all, delete-orphan"
    )

    @property
    def slug(self) -> str:
        return self.questionnaire.slug

    @property
    def in_use(self) -> bool:
        from models.waves import Wave

        return db.session.scalar(select(Wave.id).where(Wave.questionnaire_version_id == self.id).limit(1)) is not None

    def to_spec(self) -> qspec.QuestionnaireSpec:
        """Rebuild the frozen spec the analysis and the resident form work from."""
        return qspec.QuestionnaireSpec(
            slug=self.slug,
            title=self.title,
            version=self.version,
            items=tuple(
                qspec.Item(
                    key=it.key,
                    text=it.text,
                    options=tuple(qspec.Option(o.code, o.label, o.score) for o in it.options),
                    dimension=it.dimension,
                    required=it.required,
                    max_length=it.max_length,
                )
                for it in self.items
            ),
            indicators=tuple(
                qspec.Indicator(
                    key=ind.key,
                    label=ind.label,
                    items=tuple(ind.items or ()),
                    share_item=ind.share_item,
                    share_options=tuple(ind.share_options or ()),
                    weight=ind.weight,
                )
                for ind in self.indicators
            ),
            ranking=qspec.Ranking(
                bottom_n=self.bottom_n,
                min_n=self.min_n,
                min_group=self.min_group,
                kinds=tuple(self.ranked_kinds) if self.ranked_kinds is not None else qspec.DEFAULT_RANKED_KINDS,
            ),
            grades=tuple(qspec.Grade(g["min"], g["label"], g["color"]) for g in self.grades),
        )


class Item(db.Model):
    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("version_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_versions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    dimension: Mapped[str | None] = mapped_column(String(64))
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    max_length: Mapped[int] = mapped_column(Integer, default=qspec.DEFAULT_TEXT_LENGTH)

    version: Mapped[QuestionnaireVersion] = relationship(back_populates="items")
    options: Mapped[list[Option]] = relationship(
        back_populates="item", order_by="Option.position", cascade="all, delete-orphan"
    )


class Option(db.Model):
    __tablename__ = "options"
    __table_args__ = (UniqueConstraint("item_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(200))
    score: Mapped[float | None] = mapped_column(Float)  # None: answered, but missing for indices (说不清)

    item: Mapped[Item] = relationship(back_populates="options")


class Indicator(db.Model):
    __tablename__ = "indicators"
    __table_args__ = (UniqueConstraint("version_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_versions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(100))
    items: Mapped[list | None] = mapped_column(JSONType)  # item keys averaged, or None for a share
    share_item: Mapped[str | None] = mapped_column(String(64))
    share_options: Mapped[list | None] = mapped_column(JSONType)
    weight: Mapped[float | None] = mapped_column(Float)  # weight in the composite, before renormalising

    version: Mapped[QuestionnaireVersion] = relationship(back_populates="indicators")
