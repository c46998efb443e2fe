"""Background jobs (docs/jobs.md): one row per analysis run or document build, whatever queue runs it.

The queue (Huey) only carries the job's id; this row is the truth the console reads: what was asked
(`kind`, `inputs`), the fingerprint of everything the result depends on, how far it got, where the
file is, and what went wrong, in Chinese. One row per fingerprint: asking twice for the same
document with the same inputs finds the same job, so nothing is built twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.types import JSONType, Timestamp, utcnow

JOB_KINDS = ("analysis", "quarterly", "interviews", "board", "posters", "xlsx", "qr_zip", "answer_sheets")
JOB_STATUSES = ("queued", "running", "done", "failed")
STATUS_LABELS = {"queued": "排队中", "running": "正在进行", "done": "已完成", "failed": "失败"}


class Job(db.Model):
    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(f"kind IN {JOB_KINDS!r}", name="kind"),
        CheckConstraint(f"status IN {JOB_STATUSES!r}", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    inputs: Mapped[dict] = mapped_column(JSONType)  # wave slug, unit, scope, date, weight cap …
    # sha256 of the inputs and of the state they are read from (results, wave, units …): one job per value
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    wave_id: Mapped[int | None] = mapped_column(ForeignKey("waves.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    progress: Mapped[int] = mapped_column(Integer, default=0)  # percent
    step: Mapped[str | None] = mapped_column(String(100))  # what it is doing, in Chinese
    result_path: Mapped[str | None] = mapped_column(String(1024))  # relative to the jobs folder
    filename: Mapped[str | None] = mapped_column(String(255))  # the download name
    summary: Mapped[str | None] = mapped_column(Text)  # what a finished job says (分析完成:…)
    error: Mapped[str | None] = mapped_column(Text)  # in Chinese
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(255))  # host:pid of the worker running it
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_by_name: Mapped[str] = mapped_column(String(64), default="cli")
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(Timestamp)
    heartbeat_at: Mapped[datetime | None] = mapped_column(Timestamp)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)

    wave = relationship("Wave")
    requested_by = relationship("User")

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")
