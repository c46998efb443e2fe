"""What a worker does with a job (docs/jobs.md).

`execute(job_id)` claims the job (queued → running, in one UPDATE: a second delivery of the same
message finds it claimed and does nothing), builds, writes the file under the job's fingerprint
(write to a temporary name, then rename: a file is there whole or not at all), and records the
outcome. A file already there for the fingerprint is not built again, so a job whose worker died
after writing finishes without a second build. The files of the same document built from an older
state of the data are then deleted (jobs.retention.supersede).

`recover()` finds the jobs a dead worker left: `running` under a process of this machine that no
longer exists (at once), or whose heartbeat is older than LEASE (another machine's), and `queued`
jobs whose message is no longer in the queue; each is queued again.
"""

from __future__ import annotations

import logging
import os
import socket
from contextlib import nullcontext
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

import audit
import clock
from errors import NotFound, PinganError
from extensions import db
from jobs import queue
from jobs.retention import supersede
from jobs.service import files_dir
from models import Job, Unit, Wave

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=10)  # a running job without a heartbeat this long is taken as abandoned
QUEUED_GRACE = timedelta(seconds=30)  # a queued job this old whose message is gone is enqueued again
INTERNAL_ERROR = "生成失败（程序内部错误），已记录日志；请稍后重试，或联系系统管理员"


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _set(job_id: int, **values) -> None:
    db.session.execute(update(Job).where(Job.id == job_id).values(**values))
    db.session.commit()


def _progress(job_id: int):
    def report(percent: int, step: str) -> None:
        _set(job_id, progress=percent, step=step, heartbeat_at=clock.now())
    return report


def execute(job_id: int, retries_left: int = 0) -> None:
    now = clock.now()
    claimed = db.session.execute(
        update(Job).where(Job.id == job_id, Job.status == "queued").values(
            status="running", worker=worker_name(), started_at=now, heartbeat_at=now,
            attempts=Job.attempts + 1, progress=1, step="开始", error=None,
        )
    ).rowcount
    db.session.commit()
    if not claimed:
        return  # done, failed, or running elsewhere
    job = db.session.get(Job, job_id)
    try:
        if job.kind == "analysis":
            summary, filename, result_path = _analysis(job), None, None
        else:
            summary = None
            filename, result_path = _document(job)
    except PinganError as e:
        db.session.rollback()
        _set(job_id, status="failed", error=e.message, step="失败", finished_at=clock.now())
        return
    except Exception:
        db.session.rollback()
        log.exception("job %s (%s) failed", job_id, job.kind)
        if retries_left > 0:
            _set(job_id, status="queued", step="出错，稍后自动重试")
            raise  # Huey retries it
        _set(job_id, status="failed", error=INTERNAL_ERROR, step="失败", finished_at=clock.now())
        return
    _set(job_id, status="done", progress=100, step="完成", summary=summary, filename=filename,
         result_path=result_path, finished_at=clock.now())
    if result_path is not None:
        try:  # the files of the same document built from an older state of the data go
            supersede(db.session.get(Job, job_id))
        except Exception:  # noqa: BLE001 — a file left behind is `flask jobs prune`'s to delete
            db.session.rollback()
            log.exception("deleting the files job %s supersedes failed", job_id)
    if job.kind == "analysis" and current_app.config.get("JOBS_WARM_CHARTS", True):
        try:  # the results page's charts, drawn now rather than on its first view
            queue.warm_charts(job.wave_id)
        except Exception:  # noqa: BLE001 — a chart not drawn now is drawn by the page
            log.exception("drawing the charts of wave %s failed", job.wave_id)


def _wave(job: Job) -> Wave:
    from survey.waves import get_wave

    return get_wave(job.inputs["wave"])


def _analysis(job: Job) -> str:
    from survey.results import bulk_loading, run_analysis

    wave = _wave(job)
    _progress(job.id)(10, "读取答卷并计算")
    # Only the worker's own process (worker.py) pauses the collector while loading; a job run in the
    # web process (Huey's immediate mode) never does.
    loading = bulk_loading() if current_app.config["PAUSE_GC_WHILE_LOADING"] else nullcontext()
    with audit.acting_as(job.requested_by_id, job.requested_by_name), loading:
        stored = run_analysis(wave, float(job.inputs["weight_cap"]))
    return f"分析完成：{stored.n_responses} 份答卷计入指数，剔除 {stored.n_rejected} 份。"


def _document(job: Job) -> tuple[str, str]:
    """Build the file of a document job unless it is there already; (download name, file name)."""
    from datetime import date

    from reports.build import build_report, report_filename

    wave = _wave(job)
    unit = job.inputs.get("unit")
    within = db.session.scalar(select(Unit).where(Unit.code == job.inputs["within"])) if job.inputs.get("within") else None
    scope = None
    if job.inputs.get("scope"):  # a county's part: never the whole wave in its place
        scope = db.session.scalar(select(Unit).where(Unit.code == job.inputs["scope"]))
        if scope is None:
            raise NotFound(f"没有代码为 {job.inputs['scope']} 的单位")
    if job.kind == "answer_sheets":
        from reports import answer_sheets

        ext = job.inputs.get("format", "xlsx")
        name = answer_sheets.filename(wave, scope, ext)
    elif job.kind == "qr_zip":
        from survey import qr

        name, ext = qr.zip_name(wave, job.inputs["mode"], within), "zip"
    elif job.kind == "xlsx":
        name = f"{wave.slug}-results.xlsx" if scope is None else f"{wave.slug}-{scope.code}-results.xlsx"
        ext = "xlsx"
    else:
        name, ext = report_filename(wave, job.kind, within, unit), "pdf"
    path = files_dir() / f"{job.fingerprint}.{ext}"
    if path.is_file():
        return name, path.name  # built before the last worker stopped: not built twice
    progress = _progress(job.id)
    if job.kind == "answer_sheets":
        progress(10, "读取答卷并生成表格")
        write = answer_sheets.to_csv if ext == "csv" else answer_sheets.to_xlsx
        data = write(answer_sheets.rows(wave, scope))
    elif job.kind == "qr_zip":
        progress(10, "生成二维码")
        data = qr.qr_zip(wave, qr.zip_units(wave, within), job.inputs["mode"])
    elif job.kind == "xlsx":
        data = _xlsx(wave, job.inputs.get("scope"), progress)
    else:
        data = build_report(wave, job.kind, date.fromisoformat(job.inputs["date"]), within, unit, progress)
    progress(90, "保存文件")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    db.session.commit()  # what the build created to keep (short codes of new units) is kept
    return name, path.name


def _xlsx(wave: Wave, scope: str | None, progress) -> bytes:
    from analysis import WaveResult
    from reports.data import scoped_result
    from reports.exports import to_xlsx
    from survey.results import stored_result

    progress(10, "读取结果")
    stored = stored_result(wave)
    if stored is None:
        raise PinganError(f"“{wave.title}” 还没有分析结果", code="no_results")
    full = WaveResult.from_dict(stored.payload)
    unit = db.session.scalar(select(Unit).where(Unit.code == scope)) if scope else None
    result = scoped_result(full, unit)
    title = f"{wave.title}测评结果" if scope is None else f"{wave.title}测评结果（{result.root.name}）"
    progress(40, "生成表格")
    return to_xlsx(result, wave.questionnaire_version.to_spec(), title, rejected=stored.n_rejected, full=full)


def _alive(worker: str | None) -> bool:
    """Whether the worker process named host:pid still runs (always True for another machine's)."""
    if not worker or ":" not in worker:
        return False
    host, pid = worker.rsplit(":", 1)
    if host != socket.gethostname():
        return True
    if int(pid) == os.getpid():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(on_start: bool = False) -> list[int]:
    """Queue again what dead workers left; returns the ids queued again."""
    now = clock.now()
    again = []
    for job in db.session.scalars(select(Job).where(Job.status == "running")):
        stale = job.heartbeat_at is None or now - job.heartbeat_at > LEASE
        if stale or not _alive(job.worker):
            job.status, job.step = "queued", "工作进程中断，重新排队"
            again.append(job.id)
    db.session.commit()
    waiting = queue.pending_ids()
    for job in db.session.scalars(select(Job).where(Job.status == "queued")):
        if job.id not in again and job.id not in waiting and (on_start or now - job.created_at > QUEUED_GRACE):
            again.append(job.id)
    for job_id in again:
        queue.enqueue(job_id)
    if again:
        log.warning("jobs queued again after a worker stopped: %s", again)
    return again
