"""The per-process caches, all in this one module (issue 12, "One house").

Each cache below is bounded (past `max_entries` the least recently used entry is dropped), safe to
share between the threads of a worker, and keyed by content: a key names what its value is made
from — the questionnaire's content, a row's id together with its version stamp, the URL a QR code
encodes, every number a chart draws — so a replaced row, another database or a re-run analysis makes
another key, and a stale value is never served; it only ages out. The exceptions are what can only
be known by reading it — a wave's places (`PLACES`), a wave's status as a resident's GET sees it
(`WAVE_STATUS`), the newest board of a scope (`BOARD_LINKS`) —: each is kept for its `ttl` seconds.

Keys made from database rows start with `app_scope(app)`, a token of the application instance:
tests build many apps in one process, each on its own database, whose ids repeat.

Hand-written rather than taken from cachetools: its caches are not thread-safe either and its
`cached` decorator keys on the function's arguments, whereas these keys are the content, apart from
the arguments (a version id and the session) that produce the value. An OrderedDict under a lock
is all an LRU needs. Pure Python: no Flask, no database.

Not here, on purpose: memos of pure functions that cannot go stale, in analysis/ (which imports
nothing of the product) — `analysis.integrity._t_quantile` (a t quantile), `analysis.packing.packer`
(keyed by the spec itself, compared by content) — and `admin.accounts._dummy_hash` (one value
made once).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

V = TypeVar("V")
_MISSING = object()


@dataclass(frozen=True)
class CacheStats:
    name: str
    entries: int
    max_entries: int
    hits: int
    misses: int


class BoundedCache:
    """A thread-safe LRU map of at most `max_entries` entries, each kept at most `ttl` seconds
    (None: until it is the least recently used one and the cache is full)."""

    def __init__(self, name: str, max_entries: int, ttl: float | None = None,
                 timer: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError(f"{name}: max_entries must be at least 1")
        self.name = name
        self.max_entries = max_entries
        self.ttl = ttl
        self._timer = timer
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()  # key → (expiry, value)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            found = self._entries.get(key, _MISSING)
            if found is not _MISSING:
                expiry, value = found
                if expiry > self._timer():
                    self._entries.move_to_end(key)
                    self.hits += 1
                    return value
                del self._entries[key]
            self.misses += 1
            return default

    def put(self, key: Hashable, value: V) -> V:
        expiry = float("inf") if self.ttl is None else self._timer() + self.ttl
        with self._lock:
            self._entries[key] = (expiry, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def get_or_make(self, key: Hashable, make: Callable[[], V]) -> V:
        """The value under `key`, made by `make()` and kept when missing. `make` runs outside the
        lock (a chart takes a second): two threads may both make it, and since the key is the
        content, both make the same value."""
        value = self.get(key, _MISSING)
        if value is _MISSING:
            value = self.put(key, make())
        return value

    def get_or_make_for(self, obj: Any, make: Callable[[], V]) -> V:
        """The value made from `obj` (a frozen object: a QuestionnaireSpec), keyed by the object's
        identity instead of its content: hashing a spec walks every item and option (11 µs for the
        demo's 11 items), which the resident POST would pay several times. The entry holds `obj`
        itself, so its id cannot be reused by another object while the entry lives, and a hit is
        checked with `is`; an equal spec rebuilt elsewhere only makes a second entry."""
        key = id(obj)
        found = self.get(key, _MISSING)
        if found is not _MISSING and found[0] is obj:
            return found[1]
        return self.put(key, (obj, make()))[1]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            found = self._entries.get(key)
            return found is not None and found[0] > self._timer()

    def stats(self) -> CacheStats:
        return CacheStats(self.name, len(self._entries), self.max_entries, self.hits, self.misses)


_ALL: dict[str, BoundedCache] = {}


def _cache(name: str, max_entries: int, ttl: float | None = None) -> BoundedCache:
    if name in _ALL:
        raise ValueError(f"cache {name!r} declared twice")
    _ALL[name] = made = BoundedCache(name, max_entries, ttl)
    return made


def all_caches() -> list[BoundedCache]:
    return list(_ALL.values())


def app_scope(app: Any) -> str:
    """A token of this application instance (and so of its database), the first part of every key
    made from database rows."""
    scope = app.extensions.get("caches.scope")
    if scope is None:  # not setdefault(…, uuid4()): that would draw a uuid on every call
        scope = app.extensions.setdefault("caches.scope", uuid.uuid4().hex)
    return scope


# -- the caches ---------------------------------------------------------------------------------
# A questionnaire version as a frozen spec (survey.links.questionnaire_spec):
# key (app scope, version id, the row's created_at). A version a wave uses never changes.
SPECS = _cache("questionnaire_specs", 64)
# The wave's places, unit code → Place (survey.links.place): key (app scope, wave id); kept PLACE_TTL
# seconds, since units are renamed and imported in place (a renamed unit shows its new name within that time).
PLACE_TTL = 60.0
PLACES = _cache("places", 100, ttl=PLACE_TTL)
# Resident link tokens whose signature was verified (survey.links._token_payload): key the token
# and the signing keys, value its payload. Only valid tokens are kept: one per village link and mode.
LINK_TOKENS = _cache("link_tokens", 4096)
# The resident's form class of a spec (survey.forms.form_class): key the spec itself (compared by content).
FORM_CLASSES = _cache("form_classes", 64)
# What the resident POST derives from a questionnaire, made once per spec object and keyed by its
# identity (BoundedCache.get_or_make_for; the specs themselves come from SPECS): the posted sheet's
# checker (survey.forms.sheet_checker) and the intake's packer and flag rules (survey.intake).
SHEET_CHECKERS = _cache("sheet_checkers", 64)
INTAKE_PLANS = _cache("intake_plans", 64)
# The questions of a blank resident form as HTML (survey.views.blank_questions): key (spec, language).
BLANK_QUESTIONS = _cache("blank_questions", 128)
# A resident's whole blank form page but its ticket (survey.views.blank_page): key the app, the
# Place (its names and questionnaire version: what the page shows), the link's token and mode,
# the language and the type size. About 9 KB a page; a city's villages × 2 languages × 2 sizes.
BLANK_PAGES = _cache("blank_pages", 1024)
# The residents' thank-you, 您已提交 and screened-out pages (survey.views._page): key the app, the
# template, the Place, the link's token, language, type size and the board link the page offers.
RESIDENT_PAGES = _cache("resident_pages", 1024)
# A wave's status as a resident's GET reads it (survey.links.wave_status): key the app and the
# wave's id; a POST always reads it from the database, and survey.waves clears this on a change.
WAVE_STATUS_TTL = 5.0
WAVE_STATUS = _cache("wave_status", 256, ttl=WAVE_STATUS_TTL)
# The URL of the newest published board of a scope (the public home page when there is none yet),
# linked from the residents' thank-you page (survey.views._board_url): key the app, the scope unit's
# id and the script root; a board published since shows within BOARD_LINK_TTL seconds.
BOARD_LINK_TTL = 60.0
BOARD_LINKS = _cache("board_links", 256, ttl=BOARD_LINK_TTL)
# The results page's charts (jobs.charts.level_charts, in front of their files): key the sha256 of
# every number, name and colour drawn.
RESULT_CHARTS = _cache("result_charts", 32)
# QR symbols and their PNGs (survey.qr): key the URL (and the PNG's scale). A PNG is 1–3 kB.
QR_SYMBOLS = _cache("qr_symbols", 4096)
QR_PNGS = _cache("qr_pngs", 4096)
