"""The per-process caches (caches.py): bounded, thread-safe, keyed by content."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

import caches
from caches import BoundedCache
from extensions import db
from models import QuestionnaireVersion, Unit
from survey.links import questionnaire_spec, read_token
from tests.survey.resident import VILLAGE, link, resident_app_fixture, unit, wave

resident_app = pytest.fixture(resident_app_fixture, name="resident_app")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_least_recently_used_entry_goes_first():
    cache = BoundedCache("t", 2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "b" is now the least recently used
    cache.put("c", 3)
    assert len(cache) == 2 and "b" not in cache and cache.get("a") == 1 and cache.get("c") == 3
    assert cache.get("b", "gone") == "gone"
    assert (cache.stats().hits, cache.stats().misses) == (3, 1)


def test_an_entry_lives_ttl_seconds():
    clock = Clock()
    cache = BoundedCache("t", 10, ttl=60, timer=clock)
    cache.put("k", "v")
    clock.now += 59.9
    assert cache.get("k") == "v"
    clock.now += 0.2
    assert cache.get("k") is None and "k" not in cache and len(cache) == 0


def test_get_or_make_makes_a_value_once():
    cache = BoundedCache("t", 4)
    made = []
    for _ in range(3):
        assert cache.get_or_make("k", lambda: made.append(1) or "v") == "v"
    assert made == [1]


def test_threads_share_a_cache_and_it_stays_bounded():
    cache = BoundedCache("t", 50)
    errors = []

    def work(offset: int) -> None:
        try:
            for i in range(2000):
                key = (offset * 7 + i) % 120
                assert cache.get_or_make(key, lambda: key * 2) == key * 2
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(cache) == 50


def test_every_cache_is_declared_once_and_bounded():
    names = [c.name for c in caches.all_caches()]
    assert len(names) == len(set(names)) and {"questionnaire_specs", "places", "blank_questions",
                                              "form_classes", "result_charts", "qr_symbols", "qr_pngs"} <= set(names)
    assert all(c.max_entries <= 4096 for c in caches.all_caches())
    with pytest.raises(ValueError):
        caches._cache("places", 1)
    with pytest.raises(ValueError):
        BoundedCache("t", 0)


def test_a_replaced_questionnaire_row_is_never_served_stale(resident_app):
    """The spec is keyed by the version row's id and created_at: the same id written again (SQLite
    reuses a deleted row's id; another test database repeats ids) is another key."""
    version_id = wave().questionnaire_version_id
    before = questionnaire_spec(version_id)
    assert questionnaire_spec(version_id) is before  # kept
    stamp = db.session.scalar(select(QuestionnaireVersion.created_at).where(QuestionnaireVersion.id == version_id))
    db.session.execute(
        update(QuestionnaireVersion).where(QuestionnaireVersion.id == version_id)
        .values(title="换过的问卷", created_at=stamp + timedelta(seconds=1))
    )
    db.session.commit()
    db.session.expire_all()
    assert before.title != "换过的问卷" and questionnaire_spec(version_id).title == "换过的问卷"


def test_another_app_does_not_read_this_apps_places(resident_app, make_app):
    """Places are kept for a while by wave id; the key starts with the app's scope, so an app on
    another database (the same ids, other rows) never sees them."""
    path = link(VILLAGE)
    token = path.rsplit("/", 1)[1]
    assert read_token(token).place.unit_name == unit(VILLAGE).name  # cached for this app
    db.session.execute(update(Unit).where(Unit.code == VILLAGE).values(name="改名社区"))
    db.session.commit()
    assert read_token(token).place.unit_name != "改名社区"  # within the time to live: as read
    other = make_app()
    assert caches.app_scope(other) != caches.app_scope(resident_app)
    with other.app_context():
        assert read_token(token).place.unit_name == "改名社区"
        db.session.remove()
        db.engine.dispose()
