"""Column types and defaults shared by the models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

from clock import now as utcnow

__all__ = ["JSONType", "Timestamp", "utcnow"]

# JSONB on PostgreSQL (indexable, compact), plain JSON text on SQLite.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class Timestamp(TypeDecorator[datetime]):
    """A moment, stored in UTC and always read back as an aware UTC datetime.

    PostgreSQL keeps `timestamptz` and returns it in the session's zone; SQLite has no zone and
    returns the naive text it stored (and would store an aware non-UTC time on its own wall clock).
    So every value is converted to UTC on the way in (a naive one is taken as UTC) and marked UTC
    on the way out: no caller ever sees a naive or non-UTC time.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
