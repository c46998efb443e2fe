"""Files attached to a 约谈 case: the unit's 整改报告, photos and scans, the office's signed 约谈记录.

The row records what the file is and who uploaded it when; the bytes live on disk under
ATTACHMENTS_DIR (default instance/attachments/) with a random stored name (admin.attachments).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.types import Timestamp, utcnow

# What a file is: who may upload each kind is decided in admin.attachments (KIND_VERBS).
ATTACHMENT_KINDS = ("report", "photo", "scan", "interview_record", "other")
ATTACHMENT_KIND_LABELS = {
    "report": "整改报告",
    "photo": "照片",
    "scan": "扫描件",
    "interview_record": "约谈记录（签字）",
    "other": "其他材料",
}


class CaseAttachment(db.Model):
    __tablename__ = "case_attachments"
    __table_args__ = (
        CheckConstraint(f"kind IN {ATTACHMENT_KINDS!r}", name="kind"),
        CheckConstraint("size > 0", name="size_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("interview_cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    filename: Mapped[str] = mapped_column(String(255))  # the uploader's name for it, shown and offered on download
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)  # random; the file's name on disk
    content_type: Mapped[str] = mapped_column(String(100))  # from the content, never from the name
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    case = relationship("InterviewCase")
    uploaded_by = relationship("User")

    @property
    def kind_label(self) -> str:
        return ATTACHMENT_KIND_LABELS[self.kind]
