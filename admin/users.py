"""Managing office accounts from the console (admin only): list, create, deactivate and
reactivate, unlock, and a new password. Accounts are never deleted; every change is audited.

An admin scoped to a county is that county's admin (policy): it lists and changes only the
accounts whose scope lies inside its own — an unscoped account lies outside every scoped admin
and answers 404 — and creates accounts only with a non-empty scope inside its own."""

from __future__ import annotations

from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

import audit
import policy
from admin.accounts import clear_locks, create_user, end_sessions, forget_initial_password, new_password, revoke_tokens
from admin.errors import FieldError
from errors import Conflict, NotFound
from extensions import db
from models import Unit, User
from models.accounts import COLLECTOR_SCOPE_KINDS


def list_users(by: User) -> list[User]:
    """The accounts `by` manages: all of them for an unscoped admin, else those scoped inside its scope."""
    policy.require(by, "users.manage")
    return list(db.session.scalars(
        select(User).where(policy.user_clause(by)).order_by(User.active.desc(), User.role, User.username)
    ))


def get_user(by: User, user_id: int) -> User:
    """The account, if `by` may manage it; NotFound when it does not exist or lies outside."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("账号不存在")
    return policy.require(by, "users.manage", user)


def scope_choices(by: User) -> list[tuple[str, str]]:
    units = db.session.scalars(
        select(Unit).where(Unit.kind.in_(("city", "county", "town", "village", "grid")), policy.unit_clause(by)).order_by(Unit.path)
    )
    top = by.scope.depth if by.scope is not None else 0
    return [(u.code, ("\u3000" * (u.depth - top)) + f"{u.name}({u.code})") for u in units]


def check_grant(by: User, role: str, scope_code: str | None) -> None:
    """FieldError unless `by` may create an account of `role` over `scope_code` (policy: a scoped
    admin grants only non-empty scopes inside its own; a unit outside is named as unknown)."""
    scope = db.session.scalar(select(Unit).where(Unit.code == scope_code)) if scope_code else None
    if scope_code and (scope is None or not policy.visible(by, scope)):
        raise FieldError("scope", "请选择您管辖范围内的单位")
    if not policy.can(by, "users.manage", User(role=role, scope=scope)):
        raise FieldError("scope", "请选择您管辖范围内的单位:您只能创建管辖范围内的账号,所辖单位不能为空(全部单位)")


def create(by: User, username: str, role: str, scope_code: str | None, display_name: str | None) -> tuple[User, str]:
    """A new account with a generated password, shown once to the admin."""
    check_grant(by, role, scope_code or None)
    if role == "collector":
        scope = db.session.scalar(select(Unit).where(Unit.code == scope_code)) if scope_code else None
        if scope is None or scope.kind not in COLLECTOR_SCOPE_KINDS:
            raise FieldError("scope", "网格员账号的所辖单位应为乡镇（街道）、村（社区）或网格")
    taken = db.session.scalar(select(User).where(User.username == username.strip()))
    if taken is not None and not policy.visible(by, taken):
        # usernames are unique over the whole tree: one taken outside is not named as existing
        raise FieldError("username", "用户名不可用，请换一个", "taken")
    password = new_password()
    try:
        user = create_user(username.strip(), password, role, scope_code or None, (display_name or "").strip() or None)
    except Conflict as e:  # the username is taken; everything else the form has checked
        raise FieldError("username", e.message, "taken") from None
    return user, password


def _state(user: User) -> dict:
    return {
        "active": user.active,
        "locked_until": user.locked_until.isoformat() if user.locked_until else None,
        "failed_logins": user.failed_logins,
    }


def set_active(user: User, active: bool, by: User) -> User:
    """Deactivate (the account can no longer sign in; its sessions end) or reactivate."""
    if user.active == active:
        raise Conflict(f"账号 {user.username} 已经是{'启用' if active else '停用'}状态")
    if not active and user.id == by.id:
        raise Conflict("不能停用自己正在使用的账号")
    if not active and user.role == "admin" and user.scope_unit_id is None:
        others = db.session.scalar(
            select(func.count()).select_from(User).where(User.role == "admin", User.active.is_(True), User.scope_unit_id.is_(None), User.id != user.id)
        )
        if not others:
            raise Conflict("这是最后一个全市范围的管理员账号,不能停用")
    before = _state(user)
    user.active = active
    if not active:  # every session and API token ends now; reactivating revives neither
        end_sessions(user)
        revoke_tokens(user, "deactivated")
    audit.record("user.activate" if active else "user.deactivate", "user", user.username, before, _state(user))
    db.session.commit()
    return user


def unlock(user: User) -> User:
    """End a lockout after repeated wrong passwords."""
    if user.locked_until is None and not user.failed_logins:
        raise Conflict(f"账号 {user.username} 没有被锁定")
    before = _state(user)
    clear_locks(user)
    audit.record("user.unlock", "user", user.username, before, _state(user))
    db.session.commit()
    return user


def reset_password(user: User) -> str:
    """A new random password (shown once); the old one stops working, any lock ends, and so do
    every session and API token of the account."""
    password = new_password()
    before = _state(user)
    old_hash = user.password_hash
    clear_locks(user)  # login_failures before users, the order sign-in takes its locks in (PostgreSQL)
    user.password_hash = generate_password_hash(password, method="scrypt")
    end_sessions(user)
    revoke_tokens(user, "password_reset")
    audit.record("user.password_reset", "user", user.username, before, _state(user))
    db.session.commit()
    forget_initial_password(user, old_hash)
    return password
