"""Short codes: six characters a resident can type at /s when a printed QR code cannot be scanned."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.types import Timestamp, utcnow

LINK_MODES = ("qr", "door")  # a poster (qr) or a door-to-door card (door); both are the resident's own phone


class ShortLink(db.Model):
    """One typable code per (wave, unit, mode); it stands for the signed link /s/<token>."""

    __tablename__ = "short_links"
    __table_args__ = (
        UniqueConstraint("wave_id", "unit_id", "mode"),
        CheckConstraint(f"mode IN {LINK_MODES!r}", name="mode"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    mode: Mapped[str] = mapped_column(String(8), default="qr")
    code: Mapped[str] = mapped_column(String(8), unique=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    wave = relationship("Wave")
    unit = relationship("Unit")
