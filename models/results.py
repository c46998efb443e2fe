"""Stored analysis results: one row per wave, replaced as a whole when the analysis is re-run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.types import JSONType, Timestamp, utcnow


class AnalysisResult(db.Model):
    __tablename__ = "analysis_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id"), unique=True)
    computed_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    computed_by: Mapped[str] = mapped_column(String(64))
    weight_cap: Mapped[float] = mapped_column(Float)
    n_responses: Mapped[int] = mapped_column(Integer)  # used in the indices
    n_rejected: Mapped[int] = mapped_column(Integer)  # left out after review
    payload: Mapped[dict] = mapped_column(JSONType)  # `analysis export --format json`, docs/formats.md

    wave = relationship("Wave")
