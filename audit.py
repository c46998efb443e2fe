"""Recording changes in the audit log, inside the caller's transaction.

Every entry carries the path of the unit it is about (`unit_path`), so that an admin scoped
to a county reads its own subtree's entries only (policy.sees_entry). `record` finds that unit
from what the entry names — a unit by code, a wave (its scope) by slug, a case or a response
(its unit) by id, an account (its scope) by username, an API token (its owner's scope) — or
takes it from `unit=`. The path is read when the entry is written to the database, so a unit
created or moved in the same transaction is recorded where it ends up.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator

from flask import has_request_context
from flask_login import current_user
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from extensions import db
from models import ApiToken, AuditEntry, InterviewCase, Response, Unit, User, Wave


_ACTING: ContextVar[tuple[int | None, str] | None] = ContextVar("audit_acting", default=None)


def actor() -> tuple[int | None, str]:
    """The signed-in user; in a background job, the account that asked for it (`acting_as`);
    else the command line."""
    acting = _ACTING.get()
    if acting is not None:
        return acting
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user.id, current_user.username
    return None, "cli"


@contextmanager
def acting_as(user_id: int | None, name: str) -> Iterator[None]:
    """Record what happens inside as done by this account (a job runs for whoever asked for it)."""
    token = _ACTING.set((user_id, name))
    try:
        yield
    finally:
        _ACTING.reset(token)


def record(
    action: str,
    entity: str,
    entity_id: Any = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    unit: Unit | None = None,
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
    about = unit if unit is not None else unit_of(entity, entry.entity_id)
    if about is not None:
        entry.unit_path = about.path or None
        db.session.info.setdefault(_PENDING, []).append((entry, about))
    db.session.add(entry)
    return entry


def unit_of(entity: str, entity_id: str | None) -> Unit | None:
    """The unit an entry about `entity` `entity_id` is about; None for what lies in no unit."""
    if entity_id is None:
        return None
    with db.session.no_autoflush:
        if entity == "unit":
            pending = [u for u in db.session.new if isinstance(u, Unit) and u.code == entity_id]
            return pending[0] if pending else db.session.scalar(select(Unit).where(Unit.code == entity_id))
        if entity == "wave":
            wave = db.session.scalar(select(Wave).where(Wave.slug == entity_id))
            return wave.scope if wave is not None else None
        if entity == "user":
            user = db.session.scalar(select(User).where(User.username == entity_id))
            return user.scope if user is not None else None
        if entity in ("case", "response", "api_token") and entity_id.isdigit():
            model = {"case": InterviewCase, "response": Response, "api_token": ApiToken}[entity]
            found = db.session.get(model, int(entity_id))
            if found is None:
                return None
            return found.user.scope if entity == "api_token" else found.unit
    return None


_PENDING = "audit_unit_paths"


@event.listens_for(Session, "before_flush")
def _fill_unit_paths(session: Session, flush_context, instances) -> None:
    """Read each new entry's unit path as it is written (an imported unit gets its path late)."""
    for entry, unit in session.info.get(_PENDING, ()):
        path = unit.path or None
        if entry.unit_path != path:
            entry.unit_path = path


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _forget_pending(session: Session, *args) -> None:
    session.info.pop(_PENDING, None)
