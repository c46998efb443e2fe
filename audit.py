"""Recording changes in the audit log, inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from flask import has_request_context
from flask_login import current_user

from extensions import db
from models import AuditEntry


def actor() -> tuple[int | None, str]:
    """The signed-in user, or the command line."""
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user.id, current_user.username
    return None, "cli"


def record(
    action: str,
    entity: str,
    entity_id: Any = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to the session; it commits, or rolls back, with the change it describes."""
    user_id, name = actor()
    entry = AuditEntry(
        user_id=user_id,
        actor=name,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        before=before,
        after=after,
    )
    db.session.add(entry)
    return entry
