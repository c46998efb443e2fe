"""A wave: one run of a questionnaire over a scope for one period."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.types import Timestamp, utcnow

WAVE_STATUSES = ("draft", "open", "closed", "published")
STATUS_LABELS = {"draft": "草稿", "open": "进行中", "closed": "已结束", "published": "已发布"}
RESPONSE_MODES = ("qr", "door", "phone", "paper")
# How staff read a response's mode, everywhere (review, progress, reports, exports): never the code.
MODE_LABELS = {"qr": "扫码", "door": "入户", "phone": "电话", "paper": "纸质"}


def mode_label(mode: str | None) -> str:
    """扫码 / 入户 / 电话 / 纸质 for a stored mode code (an unknown code is shown as it is)."""
    return MODE_LABELS.get(mode or "", mode or "—")


class Wave(db.Model):
    __tablename__ = "waves"
    __table_args__ = (
        UniqueConstraint("series", "scope_unit_id", "period"),
        CheckConstraint(f"status IN {WAVE_STATUSES!r}", name="status"),
        CheckConstraint("target_n > 0", name="target_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    # What people read on every page and document (安澜市2026年第四季度公众安全感调查); the slug
    # stays in links and file names only. survey.waves.default_title makes the first one.
    title: Mapped[str] = mapped_column(String(200))
    questionnaire_version_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_versions.id"), index=True)
    scope_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    series: Mapped[str] = mapped_column(String(64), index=True)
    period: Mapped[str] = mapped_column(String(8))  # 2026M07, 2026Q3, 2026H2, 2026
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    # The days residents are asked (within the period), printed on posters; None: the whole period.
    collection_start: Mapped[date | None] = mapped_column(Date)
    collection_end: Mapped[date | None] = mapped_column(Date)
    target_n: Mapped[int] = mapped_column(Integer, default=100)  # responses wanted per unit
    # 约谈 due this many days after a case is issued (docs/method.md "Due dates"); None: the
    # INTERVIEW_DUE_DAYS setting.
    interview_days: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="draft")
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column(Timestamp)
    closed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    published_at: Mapped[datetime | None] = mapped_column(Timestamp)

    questionnaire_version = relationship("QuestionnaireVersion")
    scope = relationship("Unit")

    @property
    def collection_dates(self) -> tuple[date, date]:
        """The first and last day of collection: the set dates, else the period's."""
        return (self.collection_start or self.period_start, self.collection_end or self.period_end)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    def __repr__(self) -> str:
        return f"<Wave {self.slug} {self.status}>"
