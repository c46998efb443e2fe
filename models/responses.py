"""Responses. The answers of one response live in one JSON column, so that a wave of
a million responses loads as a million rows, not ten million; beside it the same choice answers as
fixed-width bytes and the free texts alone, which the analysis reads (analysis.packing)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from analysis.packing import Packer, packer
from analysis.spec import QuestionnaireSpec
from extensions import db
from models.types import JSONType, Timestamp, utcnow
from models.waves import RESPONSE_MODES

REVIEW_STATUSES = ("clean", "flagged", "accepted", "rejected")
FLAG_LABELS = {
    "speeder": "答题过快",
    "burst": "同一网络短时间内集中提交",
    "repeat_device": "同一设备重复提交",
    "straight_line": "满意度题目答案完全一致",
    "all_maximum": "所有题目均选最高分",
    "collector_pace": "网格员一小时内提交过多",
}


class Response(db.Model):
    __tablename__ = "responses"
    __table_args__ = (
        UniqueConstraint("wave_id", "response_key"),
        UniqueConstraint("wave_id", "idempotency_key"),
        Index("ix_responses_wave_unit", "wave_id", "unit_id"),
        # One response per device per wave; imports (no device) are NULL, which never collide.
        UniqueConstraint("wave_id", "device_hash"),
        Index("ix_responses_wave_ip_time", "wave_id", "ip_hash", "submitted_at"),
        CheckConstraint(f"mode IN {RESPONSE_MODES!r}", name="mode"),
        CheckConstraint(f"review_status IN {REVIEW_STATUSES!r}", name="review_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    response_key: Mapped[str] = mapped_column(String(64))  # response_id of an import, or a generated id
    psu: Mapped[str | None] = mapped_column(String(64))  # None: the respondent is its own PSU
    mode: Mapped[str] = mapped_column(String(8), default="paper")
    answers: Mapped[dict] = mapped_column(JSONType)  # item key → option code or free text
    # The same answers for the analysis: choice answers packed (analysis.packing; None: not packed, the
    # loader reads `answers`), free texts alone as JSON (None: none). Written with `answers`, always
    # through `answer_columns`.
    answer_codes: Mapped[bytes | None] = mapped_column(LargeBinary)
    answer_texts: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None] = mapped_column(Timestamp)  # None: a paper form without a date
    started_at: Mapped[datetime | None] = mapped_column(Timestamp)
    duration_s: Mapped[float | None] = mapped_column(Float)  # measured by the server, never by the client
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    device_hash: Mapped[str | None] = mapped_column(String(64))
    ip_hash: Mapped[str | None] = mapped_column(String(64))  # HMAC of the IP with the secret key; no raw IP kept
    # HMAC of the User-Agent: with ip_hash, spots a second response from a phone whose cookies were cleared.
    ua_hash: Mapped[str | None] = mapped_column(String(64))
    flags: Mapped[list] = mapped_column(JSONType, default=list)
    review_status: Mapped[str] = mapped_column(String(10), default="clean")
    # The questionnaire ended early (an item's `screen_out` codes): counted in progress, never in results.
    screened_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The 网格员 account that filled a door-to-door sheet for a resident (mode "door"); None otherwise.
    collector_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # The interviewer who held a phone interview (mode phone).
    interviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    review_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    wave = relationship("Wave")
    unit = relationship("Unit")
    reviewed_by = relationship("User", foreign_keys=[reviewed_by_id])
    collector = relationship("User", foreign_keys=[collector_id])
    interviewer = relationship("User", foreign_keys=[interviewer_id])


def answer_columns(spec: QuestionnaireSpec, answers: dict, packed_by: Packer | None = None) -> dict:
    """`answers` and the two columns packed from it, to be stored together: every writer of a response's
    answers (insert or change) passes them through here, so the packed form never falls behind.
    `packed_by`: `packer(spec)`, when the caller holds it already (the resident POST: looking it up
    hashes the whole spec)."""
    p = packed_by or packer(spec)
    return {"answers": answers, "answer_codes": p.pack(answers), "answer_texts": p.texts(answers)}
