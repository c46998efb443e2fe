"""The one clock: stored times are aware UTC, the offices' calendar is Beijing's.

`now()` is the moment to store (models.types.Timestamp columns hand it back as aware UTC on
every database); `today()` is the date an office in Beijing sees, which decides what is overdue
and what a report is dated; `local(t)` is a stored time on Beijing's wall clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    """The current moment, aware, in UTC."""
    return datetime.now(UTC)


def today() -> date:
    """Today in Beijing: the offices' calendar."""
    return datetime.now(LOCAL_TZ).date()


def local(moment: datetime) -> datetime:
    """An aware moment on Beijing's wall clock (a naive one is taken as UTC, as stored)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(LOCAL_TZ)
