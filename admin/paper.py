"""Paper (纸质) sheets in the console: uploading a responses CSV or XLSX with a preview before
anything is stored (survey.responses.import_responses, the CLI's parser and checks), and keying
sheets by hand (survey.paper). docs/formats.md "responses.csv", docs/method.md "Paper entry"."""

from __future__ import annotations

import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from flask import current_app, session
from werkzeug.datastructures import FileStorage

import policy
from admin.uploads import safe_name, values_in_range
from errors import Conflict, PinganError
from models import User, Wave
from survey.responses import ResponseImportSummary, import_responses
from survey.xlsxfiles import xlsx_to_csv

PREVIEW_ROWS = 20
STAGED = "staged_upload"  # the session key naming the file waiting for confirmation
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Staged:
    token: str
    name: str  # the file's own name, as problems and the audit log name it
    summary: ResponseImportSummary


STAGED_HOURS = 12  # a checked file nobody confirmed is removed after this long


def _staging() -> Path:
    root = Path(current_app.instance_path) / "uploads"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _sweep() -> None:
    """Remove checked files that were never confirmed or cancelled (a closed tab)."""
    import time

    cutoff = time.time() - STAGED_HOURS * 3600
    for folder in _staging().iterdir():
        try:
            if folder.is_dir() and _TOKEN.match(folder.name) and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass


def _csv_path(folder: Path, name: str) -> Path:
    """The CSV the importer reads: the upload itself, or its first sheet converted (named as the
    upload, so that problems name the file the user chose)."""
    original = folder / "original" / name
    readable = folder / "csv" / name
    readable.parent.mkdir(exist_ok=True)
    if name.lower().endswith(".xlsx"):
        xlsx_to_csv(original, readable)
    else:
        shutil.copyfile(original, readable)
    return readable


def stage_upload(user: User, wave: Wave, upload: FileStorage) -> Staged:
    """Check the whole file as the import would, store nothing, and keep it for `confirm_upload`;
    a FileProblem (file, line, column) when any row is wrong, and then nothing is kept."""
    policy.require(user, "responses.enter", wave)
    discard_staged()
    _sweep()
    name = safe_name(upload, "responses.csv")
    if not name.lower().endswith((".csv", ".xlsx", ".txt")):
        raise PinganError("请上传 CSV(UTF-8)或 XLSX 文件", code="bad_file", status=422)
    token = secrets.token_hex(16)
    folder = _staging() / token
    (folder / "original").mkdir(parents=True)
    try:
        upload.save(folder / "original" / name)
        with values_in_range():
            summary = import_responses(wave.slug, _csv_path(folder, name), dry_run=True, preview=PREVIEW_ROWS,
                                       within=policy.unit_clause(user))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if summary.imported == 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise PinganError(f"文件 {name} 中没有答卷", code="empty_file", status=422)
    session[STAGED] = {"token": token, "wave": wave.slug, "name": name, "user": user.id}
    return Staged(token, name, summary)


def confirm_upload(user: User, wave: Wave, token: str) -> ResponseImportSummary:
    """Store the staged file (all rows or none, checked again: sheets may have arrived since)."""
    policy.require(user, "responses.enter", wave)
    staged = session.get(STAGED)
    if not _TOKEN.match(token or "") or not staged or staged.get("token") != token or staged.get("wave") != wave.slug \
            or staged.get("user") != user.id:
        raise Conflict("没有等待确认的文件(可能已经导入或已过期),请重新上传", code="no_staged_upload")
    folder = _staging() / token
    try:
        with values_in_range():
            return import_responses(wave.slug, folder / "csv" / staged["name"], within=policy.unit_clause(user),
                                    source=staged["name"])
    finally:
        discard_staged()


def discard_staged() -> None:
    staged = session.pop(STAGED, None)
    if staged and _TOKEN.match(staged.get("token", "")):
        shutil.rmtree(_staging() / staged["token"], ignore_errors=True)


# -- keying by hand ----------------------------------------------------------------------------------


def entry_units(user: User, wave: Wave) -> list[tuple[str, str]]:
    """(code, name) of the collecting units of the wave within the account's scope, for the datalist."""
    from sqlalchemy import select

    from extensions import db
    from models import Unit
    from survey.qr import COLLECTION_KINDS

    rows = db.session.execute(
        select(Unit.code, Unit.name).where(wave.scope.subtree_clause(), policy.unit_clause(user), Unit.kind.in_(COLLECTION_KINDS))
        .order_by(Unit.path)
    )
    return [(c, n) for c, n in rows]


def key_sheet(user: User, wave: Wave, second: bool, typed: dict[str, str]):
    from survey import paper as sheets

    keyer = sheets.key_second if second else sheets.key_first
    return keyer(user, wave, typed.get("sheet_no", ""), typed.get("unit_code", ""), typed)


def sheet_page(user: User, wave: Wave, sheet_no: str):
    from survey import paper as sheets

    policy.require(user, "responses.enter", wave)
    sheet = sheets.get_sheet(user, wave, sheet_no)
    return sheet, sheets.differences(sheet, wave.questionnaire_version.to_spec())


def resolve_sheet(user: User, wave: Wave, sheet_no: str, choices: dict[str, str]):
    from survey import paper as sheets

    return sheets.resolve(user, wave, sheet_no, choices)
