"""Paper sheets keyed in the console (survey/paper.py): who keyed each sheet, the optional second
keying by another account, and how differences were resolved. The sheet's answers live in its
response (mode `paper`); the keyings are kept here to compare them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.types import JSONType, Timestamp, utcnow

SHEET_STATUSES = ("single", "matched", "differs", "resolved")
SHEET_STATUS_LABELS = {"single": "已录入一次", "matched": "二次录入一致", "differs": "二次录入不一致,待处理", "resolved": "不一致已处理"}


class PaperSheet(db.Model):
    __tablename__ = "paper_sheets"
    __table_args__ = (
        UniqueConstraint("wave_id", "sheet_no"),
        CheckConstraint(f"status IN {SHEET_STATUSES!r}", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id"), index=True)
    sheet_no: Mapped[str] = mapped_column(String(32))  # the number printed or written on the sheet
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id"))
    status: Mapped[str] = mapped_column(String(10), default="single")
    first_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    first_unit: Mapped[str] = mapped_column(String(64))
    first_answers: Mapped[dict] = mapped_column(JSONType)
    first_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    second_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    second_unit: Mapped[str | None] = mapped_column(String(64))
    second_answers: Mapped[dict | None] = mapped_column(JSONType)
    second_at: Mapped[datetime | None] = mapped_column(Timestamp)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(Timestamp)

    wave = relationship("Wave")
    response = relationship("Response")
    first_by = relationship("User", foreign_keys=[first_by_id])
    second_by = relationship("User", foreign_keys=[second_by_id])

    @property
    def status_label(self) -> str:
        return SHEET_STATUS_LABELS[self.status]
