"""Office accounts: creating them and checking their passwords."""

from __future__ import annotations

import re
import secrets

from sqlalchemy import select
from werkzeug.security import generate_password_hash

import audit
from errors import Conflict, PinganError
from extensions import db
from models import Unit, User
from models.accounts import ROLES

USERNAME = re.compile(r"^[A-Za-z0-9_.-]{2,64}$")
MIN_PASSWORD = 10


def load_user(user_id: str) -> User | None:
    """Flask-Login's loader: the signed-in account, if it still exists and is active."""
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


def new_password() -> str:
    """A random password that reads out over the phone without ambiguity."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(14))


def create_user(username: str, password: str, role: str, scope_code: str | None = None, display_name: str | None = None) -> User:
    """A new account; `county` accounts must be scoped to a unit (their subtree)."""
    if not USERNAME.match(username):
        raise PinganError("用户名只能用字母、数字、点、- 和 _,2 到 64 位")
    if role not in ROLES:
        raise PinganError(f"角色 “{role}” 无效,应为 {', '.join(ROLES)} 之一")
    if len(password) < MIN_PASSWORD:
        raise PinganError(f"密码至少 {MIN_PASSWORD} 位")
    scope = None
    if scope_code:
        scope = db.session.scalar(select(Unit).where(Unit.code == scope_code))
        if scope is None:
            raise PinganError(f"单位 “{scope_code}” 不存在")
    elif role == "county":
        raise PinganError("县(区)账号必须用 --scope 指定所辖单位")
    if db.session.scalar(select(User.id).where(User.username == username)):
        raise Conflict(f"用户名 “{username}” 已存在")
    user = User(
        username=username,
        display_name=display_name,
        password_hash=generate_password_hash(password, method="scrypt"),
        role=role,
        scope=scope,
    )
    db.session.add(user)
    db.session.flush()
    audit.record("user.create", "user", username, None, {"role": role, "scope": scope_code})
    db.session.commit()
    return user
