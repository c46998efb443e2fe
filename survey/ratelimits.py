"""The resident POST's rate limits, counted in one round trip to the limit store (issue 17).

The limits are the app's (docs/security.md "Village sessions"): SURVEY_RATE_LIMIT per client
address and SURVEY_DEVICE_RATE_LIMIT per device cookie, each a `limits` string such as
"60 per minute; 600 per hour". Counting is Flask-Limiter's default strategy, a fixed window: one
counter per key and limit, which starts with the first hit and expires with its window; a request
over any limit gets 429 with Retry-After (the seconds left of the window that refused it).

Hand-written rather than Flask-Limiter's decorators: Flask-Limiter (and `limits` under it) counts
each limit of each decorator with a storage call of its own, which for the resident POST's four
limits made two to three Redis round trips per POST, and one more for its response headers
(py-spy, docs/performance.md). Neither can count several keys at once, so here one Lua script
increments every counter and reads their time to live: one round trip. The store is the same
(RATELIMIT_STORAGE_URI), and so is the behaviour when Redis does not answer (RATELIMIT_IN_MEMORY_
FALLBACK_ENABLED): the POST is counted per process, and Redis is tried again after
REDIS_RETRY_SECONDS. With `memory://` (one process, the tests) `limits`' own MemoryStorage counts.
The short-code look-ups (/s?code=) keep Flask-Limiter: they are not on the submission's path.
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass

from flask import Flask, current_app
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from werkzeug.exceptions import TooManyRequests

REDIS_RETRY_SECONDS = 5.0
KEY_PREFIX = "pingan-survey"

# KEYS: the counters; ARGV: each counter's window in seconds. Returns count and TTL per counter.
_SCRIPT = """
local out = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('EXPIRE', key, ARGV[i]) end
  out[2 * i - 1] = n
  out[2 * i] = redis.call('TTL', key)
end
return out
"""


@dataclass(frozen=True)
class Counter:
    key: str
    limit: RateLimitItem


class Store:
    """Where one app counts: Redis (one script call per request) or this process's memory.

    Each thread talks to Redis on a connection of its own (redis-py's `single_connection_client`,
    one client per thread): taking a connection from redis-py's shared pool checks it for unread
    data with a non-blocking read first, which made the pool's bookkeeping cost a third of the
    script call's CPU (docs/performance.md). A gunicorn worker has a fixed set of threads, so
    this holds one connection per thread, as the pool would under load."""

    def __init__(self, uri: str) -> None:
        self.memory = MemoryStorage()
        self.redis_uri = uri if uri.startswith(("redis://", "rediss://", "unix://")) else None
        self.redis_down_until = 0.0
        self.lock = threading.Lock()
        self.local = threading.local()

    def redis_script(self):
        """This thread's registered script (a callable of keys and args), made on first use."""
        script = getattr(self.local, "script", None)
        if script is None:
            import redis

            from redis.backoff import NoBackoff
            from redis.retry import Retry

            # Once more on a connection Redis closed (a restart, an idle timeout): the pool found those
            # before sending; a single connection finds out when it reads. A script that ran before
            # its connection dropped is then counted twice: a limit only stricter by one, once.
            # Not on a timeout: a Redis that hangs costs the resident one second, not two.
            client = redis.Redis.from_url(
                self.redis_uri, socket_timeout=1, socket_connect_timeout=1, single_connection_client=True,
                retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
            )
            script = self.local.script = client.register_script(_SCRIPT)
        return script

    def hit(self, counters: list[Counter]) -> list[tuple[int, float]]:
        """Count one hit on every counter; (count, seconds left of its window) each."""
        if self.redis_uri is not None and time.monotonic() >= self.redis_down_until:
            import redis

            try:
                values = self.redis_script()(
                    keys=[c.key for c in counters], args=[c.limit.get_expiry() for c in counters]
                )
            except redis.RedisError as exc:
                with self.lock:
                    self.redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS
                current_app.logger.warning("survey limits: Redis did not answer (%s); counting in this process", exc)
            else:
                return [(int(values[2 * i]), max(1.0, float(values[2 * i + 1]))) for i in range(len(counters))]
        now = time.time()
        out = []
        for c in counters:
            count = self.memory.incr(c.key, c.limit.get_expiry())
            out.append((count, max(1.0, self.memory.get_expiry(c.key) - now)))
        return out


def _store(app: Flask) -> Store:
    store = app.extensions.get("survey_limits")
    if store is None:
        store = app.extensions["survey_limits"] = Store(app.config["RATELIMIT_STORAGE_URI"])
    return store


@functools.lru_cache(maxsize=64)
def _parsed(limits_text: str) -> tuple[RateLimitItem, ...]:
    """A limit string's limits, parsed once (a few configured strings; parsing is regular expressions)."""
    return tuple(parse_many(limits_text))


def _counters(scoped: list[tuple[str, str, str]]) -> list[Counter]:
    """(scope, limit string, key) → one counter per limit of each string."""
    return [
        Counter(limit.key_for(KEY_PREFIX, scope, key), limit)
        for scope, limits_text, key in scoped
        for limit in _parsed(limits_text)
    ]


def check(scoped: list[tuple[str, str, str]]) -> None:
    """Count this request against each (scope, limit string, key); TooManyRequests (429 with
    Retry-After) when any limit is exceeded. Nothing when RATELIMIT_ENABLED is false."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return
    counters = _counters(scoped)
    results = _store(current_app._get_current_object()).hit(counters)
    over = [left for (count, left), c in zip(results, counters) if count > c.limit.amount]
    if over:
        raise TooManyRequests(retry_after=int(max(over) + 0.999))
