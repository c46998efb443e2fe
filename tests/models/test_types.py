"""models.types.Timestamp: every stored moment comes back aware and in UTC, on SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import select, text

import clock
from extensions import db
from models import AuditEntry, User

BEIJING = timezone(timedelta(hours=8))


def _entry(at: datetime) -> AuditEntry:
    entry = AuditEntry(at=at, actor="cli", action="test", entity="test")
    db.session.add(entry)
    db.session.commit()
    return entry


def _read_back(entry_id: int) -> datetime:
    db.session.expire_all()  # read the row again, not the object in the session
    return db.session.get(AuditEntry, entry_id).at


def test_an_aware_time_comes_back_aware_utc_and_equal(app):
    moment = datetime(2026, 8, 5, 10, 0, 30, 123456, tzinfo=BEIJING)
    at = _read_back(_entry(moment).id)
    assert at.tzinfo is not None and at.utcoffset() == timedelta(0)
    assert at == moment and (at.hour, at.minute, at.microsecond) == (2, 0, 123456)


def test_a_naive_time_is_taken_as_utc(app):
    at = _read_back(_entry(datetime(2026, 1, 2, 3, 4, 5)).id)
    assert at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC) and at.utcoffset() == timedelta(0)


def test_the_database_holds_utc_and_compares_in_utc(app):
    """The stored value is the UTC moment (SQLite once kept Beijing wall time), so comparisons hold."""
    _entry(datetime(2026, 8, 5, 7, 59, tzinfo=BEIJING))  # 23:59 UTC the day before
    _entry(datetime(2026, 8, 5, 8, 1, tzinfo=BEIJING))  # 00:01 UTC
    cut = datetime(2026, 8, 5, tzinfo=UTC)
    later = db.session.scalars(select(AuditEntry.at).where(AuditEntry.at >= cut)).all()
    assert later == [datetime(2026, 8, 5, 0, 1, tzinfo=UTC)]
    if db.engine.dialect.name == "sqlite":
        raw = db.session.execute(text("SELECT at FROM audit_log ORDER BY id")).scalars().all()
        assert [r[:16] for r in raw] == ["2026-08-04 23:59", "2026-08-05 00:01"]


def test_the_default_is_now_in_utc_and_none_stays_none(app):
    before = clock.now()
    user = User(username="t", password_hash="x", role="admin")
    db.session.add(user)
    db.session.commit()
    db.session.expire_all()
    user = db.session.get(User, user.id)
    assert user.locked_until is None
    assert user.created_at.utcoffset() == timedelta(0) and before - timedelta(seconds=1) <= user.created_at <= clock.now()


def test_clock():
    assert clock.now().utcoffset() == timedelta(0)
    assert clock.local(datetime(2026, 12, 31, 16, 30, tzinfo=UTC)) == datetime(2027, 1, 1, 0, 30, tzinfo=clock.LOCAL_TZ)
    assert clock.local(datetime(2026, 12, 31, 16, 30)).date().isoformat() == "2027-01-01"  # naive = UTC
    assert clock.today() in {(datetime.now(UTC) + timedelta(hours=8)).date(), (clock.now() + timedelta(hours=8)).date()}
