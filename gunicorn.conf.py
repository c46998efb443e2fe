"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py "app:create_app()"`.

Every setting can be overridden from the environment (GUNICORN_* below, or gunicorn's own
GUNICORN_CMD_ARGS). Run `flask --app app db upgrade` before starting: the app never creates
tables at import time, so workers cannot race each other over the schema.

Behind nginx (see README, "Deployment"): nginx buffers slow phones on weak networks, so the
workers only ever talk to nginx over loopback; set PROXY_COUNT=1 so that the rate limit and
the integrity flags see the resident's address from X-Forwarded-For.
"""

import gc
import os

_cores = os.cpu_count() or 1

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Threads let a worker overlap its waits on PostgreSQL (a submission makes a handful of round
# trips); processes use the cores. On 2 cores, 4 × 4 and 2 × 8 measured the same within noise,
# 4 × 2 and 6 × 1 worse (bench/load.py; docs/performance.md).
workers = int(os.environ.get("GUNICORN_WORKERS", 2 * _cores))


def _check_rate_limit_storage(n_workers: int, storage: str) -> None:
    """Several workers must share one rate-limit store: with `memory://` each process counts on its own,
    so every limit is multiplied by the number of workers (and the per-device limit means nothing)."""
    if n_workers > 1 and storage.strip().lower().startswith("memory://"):
        raise SystemExit(
            f"平安测评: {n_workers} gunicorn workers need a shared rate-limit store, but RATELIMIT_STORAGE_URI "
            f"is {storage!r} (each worker would keep its own counts). Set RATELIMIT_STORAGE_URI=redis://HOST:6379 "
            "(see docs/security.md), or run one worker: GUNICORN_WORKERS=1."
        )


_check_rate_limit_storage(workers, os.environ.get("RATELIMIT_STORAGE_URI", "memory://"))
threads = int(os.environ.get("GUNICORN_THREADS", 4))
worker_class = "gthread"
# Import the app once in the master: workers fork from it (less memory, fast restarts of a killed
# worker). Database connections are opened lazily in each worker, never shared across a fork.
preload_app = True
keepalive = 5  # seconds; for clients that keep connections open (nginx as configured in the README does not)
timeout = 30  # a worker silent this long is killed and replaced
graceful_timeout = 20
# Recycle workers now and then, so that a slow leak anywhere cannot grow without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 20000))
max_requests_jitter = max_requests // 10
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None  # "-" for stdout; nginx usually logs instead
# No client address, referrer or User-Agent in the access log (gunicorn's default logs all three):
# residents are anonymous, and the app keeps only keyed hashes of those (docs/security.md). The time,
# the request line (no resident data travels in a URL), status, size and duration are enough to run it.
access_log_format = '- %(t)s "%(r)s" %(s)s %(b)s %(M)sms'
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# gunicorn 27's control socket is one path per user (~/.gunicorn/gunicorn.ctl): two servers on a
# host would take it from each other. Nothing here uses it.
control_socket_disable = True
# Residents' requests are small: refuse absurd header blocks before Flask sees them.
limit_request_line = 4094
limit_request_fields = 60
limit_request_field_size = 8190


def on_starting(server):
    """Warn when the app trusts X-Forwarded-For (PROXY_COUNT ≥ 1) but listens beyond loopback:
    anyone who reaches gunicorn directly could then choose the address the rate limits see."""
    if int(os.environ.get("PROXY_COUNT", "0") or 0) >= 1:
        for address in server.cfg.bind:
            host = address.rsplit(":", 1)[0].strip("[]")
            if not (address.startswith("unix:") or host in ("127.0.0.1", "::1", "localhost")):
                server.log.warning(
                    "PROXY_COUNT=%s but gunicorn listens on %s: only the reverse proxy may reach the app "
                    "(README, Deployment)", os.environ.get("PROXY_COUNT"), address,
                )
    # The rate-limit storage check again, with the final settings (a -w on the command line, the app's own config).
    app = server.app.wsgi() if server.cfg.preload_app else None
    if app is not None and "RATELIMIT_STORAGE_URI" not in app.config:
        return  # an app without rate limits (bench/baseline_app.py): nothing to share
    storage = app.config["RATELIMIT_STORAGE_URI"] if app is not None else os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    _check_rate_limit_storage(server.cfg.workers, storage)


def when_ready(server):
    """Move everything the master has made so far (the preloaded app: about 200,000 objects) out of
    the garbage collector's reach, just before the workers are forked (the Python documentation's
    advice for gc.freeze): a worker's full collection then walks only what it made itself (it was
    80 ms of CPU every few thousand requests, docs/performance.md), and the pages holding the
    app stay shared between the workers instead of being copied when the collector touches them."""
    gc.freeze()


def post_fork(server, worker):
    """Drop any database connection the master opened while preloading: a connection
    shared by two processes corrupts both."""
    app = server.app.wsgi()
    sqlalchemy = app.extensions.get("sqlalchemy")
    if sqlalchemy is not None:
        with app.app_context():
            sqlalchemy.engine.dispose(close=False)
