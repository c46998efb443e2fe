"""The audit log: who changed what, when, with the state before and after."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.types import JSONType, Timestamp, utcnow


class AuditEntry(db.Model):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(64))  # username, or "cli" for commands
    action: Mapped[str] = mapped_column(String(64))  # e.g. "wave.open", "units.import"
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict | None] = mapped_column(JSONType)
    after: Mapped[dict | None] = mapped_column(JSONType)
    # The materialised path of the unit the entry is about (a unit, a wave's scope, a case's or a
    # response's unit, an account's scope), filled by audit.record; None for what lies in no
    # unit's subtree (questionnaires, unscoped accounts). A scoped admin reads its subtree only.
    unit_path: Mapped[str | None] = mapped_column(String(1024), index=True)

    user = relationship("User")
