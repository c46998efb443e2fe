"""Personal API tokens: created by their owner, shown once, kept only as a SHA-256 hash.

A token is `pa_` + 32 random bytes (secrets.token_urlsafe, 43 characters): far too many
to guess, so a plain SHA-256 (no salt, no slow hash) is enough and lets a request find its
token with one indexed look-up of `ApiToken.token_hash`. A token acts with its owner's role
and scope; it stops working when it is revoked or the owner's account is deactivated.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import func, select

import audit
from errors import NotFound, PinganError
from extensions import db
from models import ApiToken, User
from models.types import utcnow

PREFIX = "pa_"
MAX_NAME = 100
MAX_ACTIVE = 20  # per account: enough for every script an office runs, few enough to review
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often, not on every request


def hash_token(secret: str) -> str:
    """SHA-256 of the token, hex: what the database keeps."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def user_tokens(user: User) -> list[ApiToken]:
    """The account's tokens, newest first, revoked ones included."""
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())))


def create_token(user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for `user`; returns the row and the secret, which is never stored or shown again."""
    name = (name or "").strip()
    if not name:
        raise PinganError("请给令牌起个名字(例如用途或脚本名)", code="token_name")
    if len(name) > MAX_NAME:
        raise PinganError(f"令牌名称最多 {MAX_NAME} 个字", code="token_name")
    active = db.session.scalar(
        select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    )
    if active >= MAX_ACTIVE:
        raise PinganError(f"每个账号最多 {MAX_ACTIVE} 个有效令牌,请先吊销不用的令牌", code="too_many_tokens")
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=hash_token(secret))
    db.session.add(token)
    db.session.flush()
    audit.record("api_token.create", "api_token", token.id, None, {"user": user.username, "name": name})
    db.session.commit()
    return token, secret


def revoke_token(user: User, token_id: int) -> ApiToken:
    """Revoke one of `user`'s own tokens; NotFound for anyone else's (or none). Revoking twice is a no-op."""
    token = db.session.scalar(select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id))
    if token is None:
        raise NotFound("令牌不存在")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(
            "api_token.revoke", "api_token", token.id, {"user": user.username, "name": token.name, "revoked": False},
            {"user": user.username, "name": token.name, "revoked": True},
        )
        db.session.commit()
    return token


def find_token(secret: str) -> ApiToken | None:
    """The live token for this secret: not revoked, its owner active. None otherwise."""
    if not secret.startswith(PREFIX) or len(secret) > 200 or not secret.isascii():  # a token is URL-safe ASCII
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    return token


def touch(token: ApiToken) -> None:
    """Record the use; at most once per TOUCH_EVERY, so a busy script does not write on every call."""
    now = utcnow()
    last = token.last_used_at
    if last is None or now - last >= TOUCH_EVERY:
        token.last_used_at = now
        db.session.commit()
