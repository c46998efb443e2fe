"""Asking for a job and reading it back: what the console, the public board and the CLI call.

`request_document`, `request_xlsx`, `request_answer_sheets`, `request_analysis` and
`request_board` check access and the
cheap preconditions (a kind that exists, results to print, a wave still collecting for posters) in
the request, so a refusal is immediate and in Chinese; then they find the job with the same
fingerprint (jobs.state) or create and enqueue one. Nothing here builds anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

import clock
import policy
from errors import Conflict, Forbidden, NotFound
from extensions import db
from jobs import queue
from jobs.state import fingerprint
from models import AnalysisResult, Job, Unit, Wave

DOCUMENT_KINDS = ("quarterly", "interviews", "board", "posters")
PER_UNIT_KINDS = ("posters", "interviews")  # one unit's poster and cards; one unit's notice
KIND_LABELS = {
    "analysis": "运行分析",
    "quarterly": "测评报告（PDF）",
    "interviews": "约谈名单及约谈通知书（PDF）",
    "board": "测评结果公示（PDF）",
    "posters": "扫码海报及入户卡片（PDF）",
    "xlsx": "测评结果（XLSX）",
    "qr_zip": "二维码图片（ZIP）",
    "answer_sheets": "答卷明细",
}
QR_ZIP_LABELS = {"qr": "扫码二维码图片（ZIP）", "door": "入户卡片二维码图片（ZIP）"}  # a `qr_zip` job by its mode
SHEETS_FORMATS = ("xlsx", "csv")  # an `answer_sheets` job's format
MIMETYPES = {"pdf": "application/pdf", "zip": "application/zip", "csv": "text/csv",  # send_file adds "; charset=utf-8" to a text type
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
PUBLIC = "公众"  # who asked for a public board's PDF


def label(job: Job) -> str:
    """What the job builds, as the console names it."""
    inputs = job.inputs or {}
    if job.kind == "qr_zip":
        return QR_ZIP_LABELS.get(inputs.get("mode"), KIND_LABELS["qr_zip"])
    if job.kind == "answer_sheets":
        return f"{KIND_LABELS['answer_sheets']}（{str(inputs.get('format', 'xlsx')).upper()}）"
    return KIND_LABELS[job.kind]


def part_label(job: Job) -> str | None:
    """The part of the wave a job's file covers, when not the whole wave: one unit (its code), or
    a county's part of a city-wide wave (范围 and its code)."""
    inputs = job.inputs or {}
    if inputs.get("unit"):
        return inputs["unit"]
    part = inputs.get("within") or inputs.get("scope")
    return f"范围 {part}" if part else None


def files_dir() -> Path:
    """Where built files are kept, one per fingerprint (JOBS_DIR, default instance/jobs)."""
    path = Path(current_app.config.get("JOBS_DIR") or Path(current_app.instance_path) / "jobs")
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_of(job: Job) -> Path | None:
    """The job's built file, when it is there."""
    if job.result_path is None:
        return None
    path = files_dir() / job.result_path
    return path if path.is_file() else None


def ready(job: Job) -> bool:
    return job.status == "done" and (job.kind == "analysis" or file_of(job) is not None)


# -- access -------------------------------------------------------------------------------------


def _unit_in_wave(wave: Wave, code: str) -> Unit:
    unit = db.session.scalar(select(Unit).where(Unit.code == code))
    if unit is None or not unit.is_within(wave.scope):
        raise NotFound(f"“{wave.title}” 中没有代码为 {code} 的单位")
    return unit


def check_access(account: Any, kind: str, wave: Wave, unit: str | None = None, scope: str | None = None) -> None:
    """The one access rule of a job, for asking for it and for reading it back (policy.py):
    re-running the analysis needs the whole wave within the account's scope; a document of the
    whole wave, too, and one of a part of it (`scope`: a county's part of a city-wide wave), that
    part; one unit's document, that unit."""
    if kind == "analysis":
        policy.require(account, "analysis.run", wave)
        return
    policy.require(account, "read", wave)
    if unit is not None:
        if not policy.within(account, _unit_in_wave(wave, unit)):
            raise NotFound(f"“{wave.title}” 中没有代码为 {unit} 的单位")
    elif scope is not None:
        if not policy.within(account, _unit_in_wave(wave, scope)):
            raise Forbidden("此文件涵盖您管辖范围以外的单位")
    elif not policy.within(account, wave.scope):
        raise Forbidden("此报告涵盖您管辖范围以外的单位")


def part_of(account: Any, wave: Wave) -> str | None:
    """The part of the wave a document printed for this account covers: the whole wave (None) when
    the account's scope holds it, else the account's own unit (a county prints its own posters,
    cards, notices, report and workbook of a city-wide wave; reports.data.load `within`)."""
    if policy.within(account, wave.scope):
        return None
    if not account.scope.is_within(wave.scope):
        raise Forbidden("此报告涵盖您管辖范围以外的单位")
    return account.scope.code


# -- asking for a job -----------------------------------------------------------------------------


def _who(account: Any) -> tuple[int | None, str]:
    if account is None:
        return None, PUBLIC
    if account is policy.SYSTEM:
        return None, "cli"
    return account.id, account.username


def submit(kind: str, inputs: dict[str, Any], wave: Wave | None, account: Any) -> Job:
    """The job with this fingerprint (created and enqueued when there is none; a failed one, or a
    done one whose file has gone, is queued again). Two requests for the same inputs get one job."""
    fp = fingerprint(kind, inputs, wave)
    job = db.session.scalar(select(Job).where(Job.fingerprint == fp))
    if job is None:
        user_id, name = _who(account)
        job = Job(kind=kind, inputs=inputs, fingerprint=fp, wave_id=wave.id if wave is not None else None,
                  status="queued", progress=0, step="排队等待", attempts=0,
                  requested_by_id=user_id, requested_by_name=name)
        db.session.add(job)
        try:
            db.session.commit()
        except IntegrityError:  # the same request at the same moment: theirs is ours
            db.session.rollback()
            return db.session.scalar(select(Job).where(Job.fingerprint == fp))
    elif job.status == "failed" or (job.status == "done" and not ready(job)):
        job.status, job.progress, job.step, job.error, job.finished_at = "queued", 0, "排队等待", None, None
        db.session.commit()
    else:
        return job
    queue.enqueue(job.id)
    db.session.refresh(job)
    return job


def request_document(account: Any, wave: Wave, kind: str, unit: str | None = None,
                     issued_on: date | None = None) -> Job:
    """A PDF of `wave` (quarterly, interviews, board, posters), or one unit's posters or notice."""
    if kind not in DOCUMENT_KINDS or (unit is not None and kind not in PER_UNIT_KINDS):
        raise NotFound("没有这种报告")
    within = None if unit is not None else part_of(account, wave)
    check_access(account, kind, wave, unit, within)
    if kind == "posters":
        if wave.status in ("closed", "published"):
            raise Conflict(f"“{wave.title}” 已结束，扫码海报和入户卡片已不能再用", code="wave_ended")
        _check_short_codes(wave, unit, within)
    else:
        stored = db.session.scalar(select(AnalysisResult).where(AnalysisResult.wave_id == wave.id))
        if stored is None:
            raise Conflict(f"“{wave.title}” 还没有分析结果，请先运行分析", code="no_results")
        if unit is not None and all(e["code"] != unit for e in stored.payload.get("interview_list", ())):
            raise Conflict(f"单位 {unit} 不在“{wave.title}”的约谈名单上，没有约谈通知书", code="not_listed")
    inputs = {"wave": wave.slug, "unit": unit, "within": within, "date": (issued_on or clock.today()).isoformat()}
    return submit(kind, inputs, wave, account)


def _check_short_codes(wave: Wave, unit: str | None, within: str | None) -> None:
    """Posters print short codes: every unit on them must have its two (Conflict, "生成短码", if not)."""
    from survey.links import short_codes
    from survey.qr import collection_units

    units = [u for u in collection_units(wave) if unit is None or u.code == unit]
    if within is not None:
        part = _unit_in_wave(wave, within)
        units = [u for u in units if u.is_within(part)]
    if unit is not None and not units:
        raise NotFound(f"单位 {unit} 不是“{wave.title}”的填报单位，没有扫码海报", code="not_collecting")
    for mode in ("qr", "door"):  # the poster's link and the door cards'
        short_codes(wave, units, mode)


def qr_zip_part(account: Any, wave: Wave, mode: str) -> str | None:
    """The refusals of a QR zip (access; no collecting unit; a unit without its short code of this
    mode), in the request; the part of the wave it holds (None: the whole wave)."""
    from survey.links import short_codes
    from survey.qr import zip_units

    within = part_of(account, wave)
    check_access(account, "posters", wave, None, within)
    units = zip_units(wave, _unit_in_wave(wave, within) if within is not None else None)
    short_codes(wave, units, mode)
    return within


def request_qr_zip(account: Any, wave: Wave, mode: str = "qr") -> Job:
    """The QR codes of the wave's collecting units (the account's part) as PNGs in a zip: a
    `qr_zip` job; it prints what the posters print and depends on the same state (the units, the
    short codes, PUBLIC_BASE_URL: jobs.state)."""
    within = qr_zip_part(account, wave, mode)
    inputs = {"wave": wave.slug, "unit": None, "within": within, "mode": mode}
    return submit("qr_zip", inputs, wave, account)


def request_board(wave: Wave, published_on: date) -> Job:
    """The public board's PDF of a published wave (the board checks that it is published)."""
    return submit("board", {"wave": wave.slug, "unit": None, "within": None, "date": published_on.isoformat()}, wave, None)


def request_xlsx(account: Any, wave: Wave) -> Job:
    """The results workbook: the whole wave, or the account's part of it."""
    policy.require(account, "read", wave)
    if db.session.scalar(select(AnalysisResult.id).where(AnalysisResult.wave_id == wave.id)) is None:
        raise NotFound(f"“{wave.title}” 还没有分析结果")
    scope = None if policy.within(account, wave.scope) else account.scope.code
    return submit("xlsx", {"wave": wave.slug, "scope": scope}, wave, account)


def request_answer_sheets(account: Any, wave: Wave, fmt: str = "xlsx") -> Job:
    """The raw answer sheets as XLSX or CSV (reports.answer_sheets): the whole wave, or the
    account's part of it; rebuilt when a sheet is added, reviewed or resolved (jobs.state)."""
    if fmt not in SHEETS_FORMATS:
        raise NotFound("没有这种格式")
    policy.require(account, "read", wave)
    scope = None if policy.within(account, wave.scope) else account.scope.code
    return submit("answer_sheets", {"wave": wave.slug, "scope": scope, "format": fmt}, wave, account)


def request_analysis(account: Any, wave: Wave, weight_cap: float) -> Job:
    """Re-running the analysis of the whole wave; one job at a time per wave (a second request
    while one waits or runs gets that one)."""
    check_access(account, "analysis", wave)
    if wave.status == "published":
        raise Conflict(f"“{wave.title}” 已发布，结果不能再改动")
    running = db.session.scalar(
        select(Job).where(Job.kind == "analysis", Job.wave_id == wave.id, Job.status.in_(("queued", "running")))
    )
    if running is not None:
        return running
    return submit("analysis", {"wave": wave.slug, "weight_cap": weight_cap}, wave, account)


# -- reading it back --------------------------------------------------------------------------------


def get_job(account: Any, job_id: int) -> Job:
    """A job the account may see: its own, or one it could have asked for itself."""
    job = db.session.get(Job, job_id)
    if job is None or job.wave is None:
        raise NotFound("没有这项任务")
    if account is not policy.SYSTEM and job.requested_by_id is not None and job.requested_by_id == account.id:
        return job
    try:
        check_access(account, job.kind if job.kind != "analysis" else "quarterly", job.wave,
                     job.inputs.get("unit"), job.inputs.get("scope") or job.inputs.get("within"))
    except Forbidden:
        raise NotFound("没有这项任务") from None
    return job


@dataclass(frozen=True)
class Download:
    path: Path
    filename: str
    mimetype: str
    file: BinaryIO  # open: a newer build may delete the path while it is sent (jobs.retention)
    size: int


def download(job: Job) -> Download:
    """The job's file, opened; Conflict while it is not built (or no longer there)."""
    path = file_of(job) if job.status == "done" else None
    if path is None or job.filename is None:
        raise Conflict("文件尚未生成，请稍候")
    try:
        file = path.open("rb")
    except FileNotFoundError:  # deleted since file_of looked: a newer build superseded it
        raise Conflict("文件已更新，请重新下载") from None
    return Download(path, job.filename, MIMETYPES[path.suffix.lstrip(".")], file, os.fstat(file.fileno()).st_size)


def stream(file: BinaryIO, chunk: int = 256 * 1024) -> Iterator[bytes]:
    """An open file in chunks (a poster PDF of a whole city is large), closed when done or dropped."""
    with file:
        while block := file.read(chunk):
            yield block


def recent_jobs(account: Any, limit: int = 30) -> list[Job]:
    """The account's own latest jobs, newest first."""
    if account is policy.SYSTEM:
        return list(db.session.scalars(select(Job).order_by(Job.id.desc()).limit(limit)))
    return list(db.session.scalars(select(Job).where(Job.requested_by_id == account.id).order_by(Job.id.desc()).limit(limit)))
