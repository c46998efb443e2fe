"""The queue: one Huey instance and its task `run_job(job_id)` (docs/jobs.md).

A second task, `warm_charts(wave_id)`, draws the results page's charts after an analysis run
(jobs.charts).

Storage: `JOBS_QUEUE_URL` — `redis://host:6379/0` in production (several gunicorn machines, one
queue), otherwise an SQLite file (default jobs-queue.db in the instance folder, INSTANCE_PATH or
instance/; no extra service). The queue carries only job ids: the `jobs` table says what each
job is and how far it got, so a message lost with a killed worker is found again by `recover()`
(on every worker start, and once a minute).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from huey import RedisHuey, SqliteHuey, crontab
from huey.storage import SqliteStorage

log = logging.getLogger(__name__)
# The app's instance folder (app.create_app): INSTANCE_PATH, else instance/ beside the code.
INSTANCE = Path(os.environ.get("INSTANCE_PATH") or Path(__file__).resolve().parents[1] / "instance")
NAME = "pingan"


def make_huey(url: str | None = None):
    """Huey on Redis (redis:// or rediss://) or on an SQLite file (a path, or sqlite:///path)."""
    url = os.environ.get("JOBS_QUEUE_URL", "") if url is None else url
    if url.startswith(("redis://", "rediss://")):
        return RedisHuey(NAME, url=url)
    path = Path(url.removeprefix("sqlite:///") if url else INSTANCE / "jobs-queue.db")
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(NAME, filename=str(path))


huey = make_huey()
_app: Any = None


def bind(app: Any) -> None:
    """The app a worker runs jobs in (create_app calls this; in immediate mode the running app is used)."""
    global _app
    _app = app
    if app.config.get("JOBS_IMMEDIATE"):
        huey.immediate = True


def use_sqlite(path: str) -> None:
    """Put the queue in this SQLite file, not in immediate mode (the tests' real queue)."""
    huey.immediate = False
    huey.storage = SqliteStorage(NAME, filename=str(path))


def _app_for_task():
    from flask import current_app, has_app_context

    if has_app_context():
        return current_app._get_current_object()
    if _app is None:
        raise RuntimeError("no app bound to the queue: run the worker as `huey_consumer worker.huey`")
    return _app


@huey.task(retries=2, retry_delay=5, context=True)
def run_job(job_id: int, task=None) -> None:
    """Run job `job_id` in an app context of its own (jobs.runner.execute); a retry is left to
    Huey only for errors the job itself could not record (the database away, for instance)."""
    from jobs.runner import execute

    with _app_for_task().app_context():
        execute(job_id, retries_left=task.retries if task is not None else 0)


def enqueue(job_id: int) -> None:
    run_job(job_id)


@huey.task()
def warm_charts(wave_id: int) -> None:
    """Draw the results page's charts of a wave just analysed (jobs.charts.warm). Not a job of the
    `jobs` table: nobody waits for it, and when it is lost the page draws what it needs itself."""
    from extensions import db
    from jobs.charts import warm
    from models import Wave

    with _app_for_task().app_context():
        wave = db.session.get(Wave, wave_id)
        if wave is not None:
            warm(wave)


def pending_ids() -> set[int]:
    """Job ids whose message still waits in the queue."""
    out = set()
    for task in huey.pending():
        if getattr(task, "name", "").endswith("run_job") and task.args:
            out.add(int(task.args[0]))
    return out


@huey.on_startup()
def _recover_on_start() -> None:
    try:
        with _app_for_task().app_context():
            from jobs.runner import recover

            recover(on_start=True)
    except Exception:  # a worker starts even when the database is not up yet; the minute task retries
        log.exception("recovering interrupted jobs failed")


@huey.periodic_task(crontab(minute="*"))
def recover_jobs() -> None:
    """Once a minute: requeue jobs whose worker died (on another machine: after its lease ran out)."""
    from jobs.runner import recover

    with _app_for_task().app_context():
        recover()
