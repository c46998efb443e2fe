"""Who may do what, and over which units.

Roles (DESIGN.md §6, issue 6):
- admin: everything, over the whole tree (or its scope, if it has one);
- county: its own subtree only — its units, its waves, its responses, results and cases;
- office: the creation office — results, reports and the 约谈 cases;
- analyst: read-only.

An account with a scope unit sees that unit's subtree only; records outside it answer 404,
so that an account cannot even learn what exists elsewhere.
"""

from __future__ import annotations

from functools import wraps
from typing import Callable

from flask import abort
from flask_login import current_user
from sqlalchemy import ColumnElement, true

from models import Unit, User, Wave

# permission → roles that hold it
PERMISSIONS: dict[str, frozenset[str]] = {
    "read": frozenset({"admin", "county", "office", "analyst"}),
    "units.manage": frozenset({"admin"}),
    "questionnaires.manage": frozenset({"admin"}),
    "waves.manage": frozenset({"admin", "county"}),
    "responses.review": frozenset({"admin", "county"}),
    "analysis.run": frozenset({"admin", "county", "office"}),
    "cases.manage": frozenset({"admin", "county", "office"}),
    "users.manage": frozenset({"admin"}),
    "audit.read": frozenset({"admin"}),
    "api.tokens": frozenset({"admin", "county", "office", "analyst"}),
}


def can(user: User, permission: str) -> bool:
    return user.is_authenticated and user.role in PERMISSIONS[permission]


def permission_required(permission: str) -> Callable:
    """A view decorator: 403 unless the signed-in account holds `permission`."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not can(current_user, permission):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def unit_clause(user: User) -> ColumnElement[bool]:
    """A WHERE clause on Unit selecting the units this account may see."""
    return user.scope.subtree_clause() if user.scope is not None else true()


def sees_unit(user: User, unit: Unit) -> bool:
    return user.scope is None or unit.is_within(user.scope)


def check_unit(user: User, unit: Unit | None) -> Unit:
    """The unit, or 404 when it does not exist or lies outside the account's scope."""
    if unit is None or not sees_unit(user, unit):
        abort(404)
    return unit


def sees_wave(user: User, wave: Wave) -> bool:
    """A wave is visible when it covers part of the account's subtree: one scoped inside it,
    or one above it (a city-wide wave, of which a county account sees its own units)."""
    if user.scope is None:
        return True
    return wave.scope.is_within(user.scope) or user.scope.is_within(wave.scope)


def check_wave(user: User, wave: Wave | None) -> Wave:
    if wave is None or not sees_wave(user, wave):
        abort(404)
    return wave


def manages_wave(user: User, wave: Wave) -> bool:
    """Opening, closing and publishing a wave needs the whole of its scope within the account's."""
    return can(user, "waves.manage") and (user.scope is None or wave.scope.is_within(user.scope))
