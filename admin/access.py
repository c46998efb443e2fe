"""The console's view decorator over the one access policy (policy.py).

Who may do what, and over which units, is decided in `policy` alone — for the console, the
API and the command line. This module only turns "the signed-in account's role does not hold
the verb" into a 403 before a view runs; every view then checks its objects with
`policy.require` / `policy.check_*`, which answer 404 outside the account's scope.
"""

from __future__ import annotations

from functools import wraps
from typing import Callable

from flask_login import current_user

import policy
from errors import Forbidden


def permission_required(permission: str) -> Callable:
    """A view decorator: 403 unless the signed-in account may do `permission` at all
    (policy.can without a target: its role holds the verb, and the verb is not one only an
    unscoped account holds)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not policy.can(current_user, permission):
                raise Forbidden("您没有权限访问此页面。")
            return view(*args, **kwargs)

        return wrapped

    return decorator
