"""Reading the audit log (admin only): newest first, filterable by entity, id, actor and action.

An admin scoped to a county reads the entries about its own subtree only (policy.audit_clause:
units, waves, cases, responses, accounts and tokens inside it); entries about nothing in the
tree — questionnaires, unscoped accounts — only an unscoped admin reads."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

import policy
from extensions import db
from models import AuditEntry, User

PAGE_SIZE = 50


@dataclass(frozen=True)
class AuditFilter:
    entity: str | None = None
    entity_id: str | None = None
    actor: str | None = None
    action: str | None = None  # a prefix: "case" matches case.hold, case.close, ...


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    total: int
    page: int
    pages: int
    entities: list[str]


def _where(query, f: AuditFilter, account: User):
    query = query.where(policy.audit_clause(account))
    if f.entity:
        query = query.where(AuditEntry.entity == f.entity)
    if f.entity_id:
        query = query.where(AuditEntry.entity_id == f.entity_id)
    if f.actor:
        query = query.where(AuditEntry.actor == f.actor)
    if f.action:
        query = query.where(AuditEntry.action.startswith(f.action, autoescape=True))
    return query


def audit_page(account: User, f: AuditFilter, page: int = 1) -> AuditPage:
    """One page of the entries `account` may read (policy.require it holds audit.read)."""
    policy.require(account, "audit.read")
    total = db.session.scalar(_where(select(func.count()).select_from(AuditEntry), f, account))
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    entries = list(
        db.session.scalars(
            _where(select(AuditEntry), f, account).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
        )
    )
    entities = list(db.session.scalars(
        select(AuditEntry.entity).where(policy.audit_clause(account)).distinct().order_by(AuditEntry.entity)
    ))
    return AuditPage(entries, total, page, pages, entities)
