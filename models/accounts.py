"""Office accounts and their API tokens."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.types import Timestamp, utcnow

ROLES = ("admin", "county", "office", "analyst", "collector", "interviewer")
ROLE_LABELS = {
    "admin": "管理员", "county": "县（区）综治办", "office": "创建办", "analyst": "分析员（只读）",
    "collector": "网格员（入户采集）", "interviewer": "电话访问员",
}
# A collector is scoped to the place it walks: a town, a village or a grid (docs/security.md "Collectors").
COLLECTOR_SCOPE_KINDS = ("town", "village", "grid")


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN {ROLES!r}", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(100))
    # Where the 待办 digest goes (admin.digest); None: no e-mail for this account.
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    scope_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))  # None: the whole tree
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Wrong passwords since the last sign-in, from every source (shown to admins), and the end of the
    # latest lock of any source; the lock itself is per source (LoginFailure, docs/security.md).
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(Timestamp)
    # Part of the id in every session cookie (get_id): bumping it ends every session of the account.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_login_at: Mapped[datetime | None] = mapped_column(Timestamp)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    scope = relationship("Unit")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]

    def get_id(self) -> str:  # Flask-Login: what the session cookie names, checked by admin.accounts.load_user
        return f"{self.id}:{self.session_generation or 0}"


class LoginFailure(db.Model):
    """Wrong passwords for one account from one source (a keyed hash of the client address), and
    that source's lock: a stranger who locks an account locks it for their own address only."""

    __tablename__ = "login_failures"
    __table_args__ = (UniqueConstraint("user_id", "source_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    source_hash: Mapped[str] = mapped_column(String(64))  # HMAC-SHA256 of the client address
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(Timestamp)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class ApiToken(db.Model):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the token; the token is shown once
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(Timestamp)
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp)

    user = relationship("User")
