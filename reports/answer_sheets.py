"""The raw answer sheets of a wave as a file: one row per sheet, the codes of every item, the mode,
the flags and the review status (CSV for any tool, XLSX for Excel). No hashes, no device or address
keys, no idempotency keys, no personal data beyond what the questionnaire asked.

The console asks the worker for either (jobs.service `request_answer_sheets`, an `answer_sheets`
job): openpyxl writes about 10,000 cells a second per core, and even the csv module's file grows
with the wave (0.15 s of CPU for 6,400 sheets), so both are a job's work, not a page's
(docs/jobs.md, "Why the answer sheets' CSV is a job").
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import select

import clock
from analysis.spec import QuestionnaireSpec
from cells import safe_row
from extensions import db
from models import Response, Unit, Wave
from models.waves import MODE_LABELS

REVIEW_LABELS = {"clean": "正常", "flagged": "待审核", "accepted": "审核通过", "rejected": "审核剔除"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def sheet_columns(spec: QuestionnaireSpec) -> list[tuple[str, str]]:
    """(header, item key or field) of the raw export: the sheet, then every item's codes."""
    return [("答卷编号", "id"), ("单位代码", "unit_code"), ("单位名称", "unit_name"), ("PSU", "psu"),
            ("提交时间", "submitted_at"), ("调查方式", "mode"), ("审核状态", "review_status"), ("标记", "flags")] + [
        (it.key, it.key) for it in spec.items
    ]


def _local(at: datetime | None) -> str:
    return "" if at is None else clock.local(at).strftime("%Y-%m-%d %H:%M")


def rows(wave: Wave, within: Unit | None = None) -> Iterator[list]:
    """The header, then every answer sheet of the wave (within the unit `within`, when given) as
    plain values: codes (a `multiple` item's joined by ;), mode, flags and review status."""
    spec = wave.questionnaire_version.to_spec()
    columns = sheet_columns(spec)
    query = (
        select(Response.id, Unit.code, Unit.name, Response.psu, Response.submitted_at, Response.mode,
               Response.review_status, Response.flags, Response.answers)
        .join(Unit, Response.unit_id == Unit.id)
        .where(Response.wave_id == wave.id)
        .order_by(Response.id)
    )
    if within is not None:
        query = query.where(within.subtree_clause())
    yield [h for h, _ in columns]
    for rid, code, name, psu, at, mode, status, flags, answers in db.session.execute(query):
        fields = {"id": rid, "unit_code": code, "unit_name": name, "psu": psu or "", "submitted_at": _local(at),
                  "mode": MODE_LABELS.get(mode, mode), "review_status": REVIEW_LABELS.get(status, status),
                  "flags": ";".join(flags or ())}
        row = []
        for _, key in columns:
            if key in fields:
                row.append(fields[key])
                continue
            value = (answers or {}).get(key)
            row.append(";".join(value) if isinstance(value, list) else ("" if value is None else value))
        yield row


def filename(wave: Wave, within: Unit | None, ext: str) -> str:
    return f"{wave.slug}-answer-sheets.{ext}" if within is None else f"{wave.slug}-{within.code}-answer-sheets.{ext}"


def to_csv(sheets: Iterator[list]) -> bytes:
    """UTF-8 with a BOM (Excel opens it as UTF-8); every cell through cells.safe_row."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in sheets:
        writer.writerow(safe_row(row))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(sheets: Iterator[list]) -> bytes:
    """One sheet 答卷 (openpyxl's write-only mode: rows are streamed from the query, not kept as
    cell objects; no progress is committed while the query's cursor is open)."""
    from openpyxl import Workbook  # openpyxl: imported on first use, not at app start

    book = Workbook(write_only=True)
    sheet = book.create_sheet("答卷")
    for row in sheets:
        sheet.append(safe_row(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
