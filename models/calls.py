"""Phone interviews (电话调查): the call list of a wave and every call made from it.

A `CallCase` is one number to call: its unit, an optional quota cell, the number itself
encrypted with Fernet (survey/calls.py, docs/security.md "Phone numbers") and a keyed hash that
refuses the same number twice in a wave. Both are erased when the wave is published. A
`CallAttempt` is one dial with its AAPOR disposition (docs/method.md "Response rates").
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.types import JSONType, Timestamp, utcnow

# One dial's outcome (AAPOR Standard Definitions, telephone): the codes stored, in the order shown.
DISPOSITIONS = ("complete", "partial", "refusal", "non_contact", "busy", "no_answer", "ineligible", "callback")
DISPOSITION_LABELS = {
    "complete": "完成访问",
    "partial": "部分完成",
    "refusal": "拒访",
    "non_contact": "未接触到受访者",
    "busy": "占线",
    "no_answer": "无人接听",
    "ineligible": "不符合条件",
    "callback": "约定回拨",
}
# Outcomes that end a case: the number is not called again.
FINAL = frozenset({"complete", "partial", "refusal", "ineligible"})
CASE_STATUSES = ("open", "closed")


class CallCase(db.Model):
    __tablename__ = "call_cases"
    __table_args__ = (
        UniqueConstraint("wave_id", "number_hash"),
        Index("ix_call_cases_wave_status", "wave_id", "status"),
        CheckConstraint(f"status IN {CASE_STATUSES!r}", name="status"),
        CheckConstraint(f"disposition IN {DISPOSITIONS!r}", name="disposition"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    quota_cell: Mapped[str | None] = mapped_column(String(64))
    # The Fernet token of the number (never the number); NULL once the wave is published.
    number_enc: Mapped[str | None] = mapped_column(Text)
    # HMAC-SHA256 of the number under a key derived from PHONE_NUMBER_KEY; NULL once published.
    number_hash: Mapped[str | None] = mapped_column(String(64))
    line: Mapped[int] = mapped_column(Integer, default=0)  # its line in the imported file: the order of first calls
    status: Mapped[str] = mapped_column(String(8), default="open")
    disposition: Mapped[str | None] = mapped_column(String(12))  # the latest call's
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_call_at: Mapped[datetime | None] = mapped_column(Timestamp)
    callback_at: Mapped[datetime | None] = mapped_column(Timestamp)
    holder_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # the interviewer holding the call
    held_at: Mapped[datetime | None] = mapped_column(Timestamp)
    draft: Mapped[dict | None] = mapped_column(JSONType)  # answers so far of the interview under way
    response_id: Mapped[int | None] = mapped_column(ForeignKey("responses.id"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    wave = relationship("Wave")
    unit = relationship("Unit")
    holder = relationship("User")


class CallAttempt(db.Model):
    __tablename__ = "call_attempts"
    __table_args__ = (CheckConstraint(f"disposition IN {DISPOSITIONS!r}", name="disposition"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("call_cases.id"), index=True)
    interviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    disposition: Mapped[str] = mapped_column(String(12))
    called_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    callback_at: Mapped[datetime | None] = mapped_column(Timestamp)

    case = relationship("CallCase")
    interviewer = relationship("User")
