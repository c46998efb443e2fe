"""What built files are kept, and for how long (docs/jobs.md, "Clean-up").

A document is one file per state of the data (jobs.state): a change to the results, the wave or the
units gives a new fingerprint and a new file, and the old one is no longer what the console offers.
So:

- `supersede(job)`: when a job's file is built, the files of the other finished jobs of the same
  document — the same kind, wave and inputs, whatever date was printed on it — are deleted, and
  those jobs say so (their page offers no download; asking for that state again builds it again).
  The results page's charts of a wave are swept the same way once a run's charts are drawn
  (jobs.charts.sweep).
- `prune(older_than)`: `flask --app app jobs prune [--older-than DAYS]`, from a daily timer, deletes
  what is no longer in use and was last written more than DAYS ago: files no job refers to (the
  jobs of an older schema, a build whose worker was killed before it recorded it, `.tmp` leftovers),
  files of a document superseded while its newer build was still running, and chart files of
  results that are gone. In use, whatever their age: the newest file of each document, the file of
  a job that waits or runs (a restarted worker finds it and does not build it twice), the charts of
  every wave's current results.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from extensions import db
from jobs.service import files_dir
from models import Job

log = logging.getLogger(__name__)
SUPERSEDED = "已由更新的文件取代"  # the `step` of a job whose file a newer build replaced


def document(job: Job) -> str:
    """What a job's file is a version of: its kind, wave and inputs, less the date printed on it."""
    inputs = {k: v for k, v in (job.inputs or {}).items() if k != "date"}
    return json.dumps([job.kind, job.wave_id, inputs], sort_keys=True, ensure_ascii=False, default=str)


def _remove(path: Path) -> int:
    """Delete a file; its size (0 when it was gone already)."""
    try:
        size = path.stat().st_size
        path.unlink()
    except FileNotFoundError:
        return 0
    return size


def _mark_superseded(job: Job) -> int:
    size = _remove(files_dir() / job.result_path)
    job.result_path, job.step = None, SUPERSEDED
    return size


def supersede(job: Job) -> list[int]:
    """Delete the files of the other finished jobs of `job`'s document (just built: the newest
    state of the data); the ids of those jobs. A download already under way keeps reading the file
    it opened (jobs.service.download opens it before sending)."""
    if job.kind == "analysis" or job.result_path is None:
        return []
    key = document(job)
    older = [other for other in db.session.scalars(
        select(Job).where(Job.kind == job.kind, Job.wave_id == job.wave_id, Job.id != job.id,
                          Job.status == "done", Job.result_path.is_not(None))
    ) if document(other) == key and other.result_path != job.result_path]
    for other in older:
        _mark_superseded(other)
    db.session.commit()
    return [other.id for other in older]


@dataclass
class Pruned:
    files: list[str] = field(default_factory=list)  # relative to the jobs folder
    bytes: int = 0
    jobs: list[int] = field(default_factory=list)  # finished jobs whose file went


def in_use() -> set[str]:
    """The job files in use: the newest finished file of each document, and the file a job that
    waits or runs will find (named by its fingerprint, whatever the extension)."""
    newest: dict[str, Job] = {}
    keep: set[str] = set()
    for job in db.session.scalars(select(Job).where(Job.kind != "analysis").order_by(Job.id)):
        if job.status in ("queued", "running"):
            keep.add(job.fingerprint)
        elif job.status == "done" and job.result_path is not None:
            best = newest.get(document(job))
            if best is None or (job.finished_at, job.id) > (best.finished_at, best.id):
                newest[document(job)] = job
    return keep | {job.result_path for job in newest.values()}


def prune(older_than: timedelta) -> Pruned:
    """Delete the job files and charts no longer in use that were last written more than
    `older_than` ago (see the module's docstring)."""
    from jobs.charts import current_charts

    folder = files_dir()
    cutoff = time.time() - older_than.total_seconds()
    keep = in_use()
    out = Pruned()
    superseded = {job.result_path: job for job in db.session.scalars(
        select(Job).where(Job.status == "done", Job.result_path.is_not(None)))}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.stat().st_mtime > cutoff:
            continue
        name = path.name
        stem = name.lstrip(".").split(".", 1)[0]  # `.{name}.{pid}.tmp` as the worker writes it
        if name in keep or (not name.startswith(".") and stem in keep):
            continue
        out.bytes += _remove(path)
        out.files.append(name)
        if name in superseded:
            _mark_superseded(superseded[name])
            out.jobs.append(superseded[name].id)
    db.session.commit()
    charts = folder / "charts"
    if charts.is_dir():
        current = current_charts()
        for path in sorted(charts.iterdir()):
            if path.is_file() and path.stat().st_mtime <= cutoff and path.stem not in current:
                out.bytes += _remove(path)
                out.files.append(f"charts/{path.name}")
    if out.files:
        log.info("pruned %d files (%d bytes) from %s", len(out.files), out.bytes, folder)
    return out

