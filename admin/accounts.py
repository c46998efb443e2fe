"""Office accounts: creating them, signing in (with the lock per account and source), their
sessions and passwords.

Every session cookie names the account as "id:generation" (`User.get_id`); `end_sessions` bumps the
generation, so every cookie issued before stops working at once (signing out, a password change or
reset, deactivation). See docs/security.md, "Sessions and sign-in".
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re
import secrets
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import delete, func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

import audit
from admin.errors import FieldError
from errors import Conflict, PinganError
from extensions import db
from models import ApiToken, LoginFailure, Unit, User
from models.accounts import COLLECTOR_SCOPE_KINDS, ROLES
from models.types import utcnow

USERNAME = re.compile(r"^[A-Za-z0-9_.-]{2,64}$")
MIN_PASSWORD = 10


WRONG = "用户名或密码不正确"
INITIAL_PASSWORD_FILE = "admin-password.txt"  # in instance/: the demo's first admin password (demo.seed)
MAX_PASSWORD = 256


def load_user(user_id: str) -> User | None:
    """Flask-Login's loader: the signed-in account, if it still exists, is active, and the cookie's
    session generation is the account's current one (an older cookie has been ended)."""
    ident, _, generation = user_id.partition(":")
    if not (ident.isdigit() and generation.isdigit()):
        return None  # a cookie from before session generations: ended
    user = db.session.get(User, int(ident))
    if user is None or not user.active or (user.session_generation or 0) != int(generation):
        return None
    return user


class LoginRefused(PinganError):
    """Wrong credentials, a locked or a disabled account: the login page answers 401."""

    status = 401

    def __init__(self, message: str) -> None:
        super().__init__(message, "login_refused")


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the username is unknown, so that a wrong username costs as much
    time as a wrong password and the response time does not tell which one it was."""
    return generate_password_hash(secrets.token_hex(16), method="scrypt")


def source_hash(address: str | None) -> str:
    """A keyed hash (HMAC-SHA256 with the secret key) of the client address: the lock's "source",
    kept without the address itself."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"login-source:{address or ''}".encode(), hashlib.sha256).hexdigest()


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:  # SQLite returns naive UTC
        return moment.replace(tzinfo=utcnow().tzinfo)
    return moment


def _insert(table):
    """INSERT … ON CONFLICT for this database (SQLite ≥ 3.24 and PostgreSQL both have it)."""
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def _count_failure(user: User, source: str, now: datetime) -> int:
    """One more wrong password for (account, source), counted by the database itself so that
    parallel attempts cannot lose a count; returns the count since this source's last lock."""
    # A lock that has run out starts the count afresh (one statement: parallel requests agree).
    db.session.execute(
        update(LoginFailure)
        .where(LoginFailure.user_id == user.id, LoginFailure.source_hash == source, LoginFailure.locked_until <= now)
        .values(failures=0, locked_until=None)
    )
    stmt = _insert(LoginFailure).values(user_id=user.id, source_hash=source, failures=1, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=["user_id", "source_hash"],
        set_={"failures": LoginFailure.failures + 1, "updated_at": now},
    ).returning(LoginFailure.failures)
    count = db.session.execute(stmt).scalar_one()
    db.session.execute(update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1))
    return count


def authenticate(username: str, password: str, address: str | None) -> User:
    """The account for these credentials from this client address, or LoginRefused.

    After LOGIN_MAX_FAILURES wrong passwords from one source (a keyed hash of the address) the
    account is locked for that source for LOGIN_LOCK_MINUTES, whatever password comes next from
    it; other sources (the owner's office) are not locked out by a stranger. Without the right
    password every refusal reads the same (unknown account, wrong password, locked, deactivated)
    and costs one scrypt check; only the right password learns that the account is locked or
    deactivated.
    """
    config = current_app.config
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        check_password_hash(_dummy_hash(), password)
        raise LoginRefused(WRONG)
    source = source_hash(address)
    now = utcnow()
    if not check_password_hash(user.password_hash, password):
        count = _count_failure(user, source, now)
        if count == config["LOGIN_MAX_FAILURES"]:  # exactly one of any number of parallel attempts sees this
            until = now + timedelta(minutes=config["LOGIN_LOCK_MINUTES"])
            db.session.execute(
                update(LoginFailure)
                .where(LoginFailure.user_id == user.id, LoginFailure.source_hash == source)
                .values(locked_until=until)
            )
            db.session.execute(update(User).where(User.id == user.id).values(failed_logins=0, locked_until=until))
            audit.record("user.lock", "user", user.username, None, {"locked_until": until.isoformat(), "source": source[:12]})
        db.session.commit()
        raise LoginRefused(WRONG)
    locked_until = _aware(
        db.session.scalar(
            select(LoginFailure.locked_until).where(LoginFailure.user_id == user.id, LoginFailure.source_hash == source)
        )
    )
    if locked_until is not None and locked_until > now:
        minutes = max(1, int((locked_until - now).total_seconds() // 60) + 1)
        raise LoginRefused(f"密码错误次数过多,账号已锁定,请 {minutes} 分钟后再试")
    if not user.active:
        raise LoginRefused("该账号已停用,请联系管理员")
    db.session.execute(delete(LoginFailure).where(LoginFailure.user_id == user.id, LoginFailure.source_hash == source))
    user.failed_logins = 0
    user.locked_until = db.session.scalar(
        select(func.max(LoginFailure.locked_until)).where(LoginFailure.user_id == user.id, LoginFailure.locked_until > now)
    )
    user.last_login_at = now
    db.session.commit()
    return user


def clear_locks(user: User) -> None:
    """End every lock and count of the account (admin unlock, a new password); the caller commits."""
    db.session.execute(delete(LoginFailure).where(LoginFailure.user_id == user.id))
    user.locked_until = None
    user.failed_logins = 0


def end_sessions(user: User) -> None:
    """End every session of the account: each cookie names the old generation (the caller commits)."""
    db.session.execute(update(User).where(User.id == user.id).values(session_generation=User.session_generation + 1))
    db.session.refresh(user, ["session_generation"])


def sign_out(user: User) -> None:
    """Signing out ends every session of the account, copies of this cookie included; committed."""
    end_sessions(user)
    db.session.commit()


def revoke_tokens(user: User, reason: str) -> int:
    """Revoke every live API token of the account, audited; returns how many (the caller commits)."""
    tokens = list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))))
    now = utcnow()
    for token in tokens:
        token.revoked_at = now
    if tokens:
        audit.record(
            "api_token.revoke_all", "user", user.username, {"live_tokens": len(tokens)}, {"live_tokens": 0, "reason": reason}
        )
    return len(tokens)


def initial_password_file() -> Path:
    """Where `demo` (make run) keeps the first admin password: instance/admin-password.txt."""
    return Path(current_app.instance_path) / INITIAL_PASSWORD_FILE


def forget_initial_password(user: User, old_hash: str) -> bool:
    """Delete the initial admin password file if it holds this account's old password (now replaced)."""
    path = initial_password_file()
    try:
        saved = path.read_text(encoding="utf-8").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return False
    if saved and check_password_hash(old_hash, saved):
        os.remove(path)
        return True
    return False


def change_own_password(user: User, current: str, new: str, repeat: str) -> None:
    """The account's own new password: the current one is checked, the new one is given twice.
    Every other session of the account ends (the caller signs this one in again)."""
    if not check_password_hash(user.password_hash, current or ""):
        raise FieldError("current_password", "当前密码不正确")
    if len(new or "") < MIN_PASSWORD:
        raise FieldError("new_password", f"新密码至少 {MIN_PASSWORD} 位")
    if len(new) > MAX_PASSWORD:
        raise FieldError("new_password", f"新密码最多 {MAX_PASSWORD} 位")
    if new != repeat:
        raise FieldError("repeat_password", "两次输入的新密码不一致")
    if new == current:
        raise FieldError("new_password", "新密码不能与当前密码相同")
    old_hash = user.password_hash
    user.password_hash = generate_password_hash(new, method="scrypt")
    end_sessions(user)
    audit.record("user.password_change", "user", user.username, None, {"sessions_ended": True})
    db.session.commit()
    forget_initial_password(user, old_hash)


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
    if role == "collector" and (scope is None or scope.kind not in COLLECTOR_SCOPE_KINDS):
        raise PinganError("网格员账号必须用 --scope 指定所辖乡镇（街道）、村（社区）或网格")
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
