"""Importing responses collected elsewhere (paper, phone, door to door): docs/formats.md.

A file of any size is read, checked and written as a stream: rows are checked as they are
read and written `CHUNK` at a time, all inside one transaction, so the import stays
all-or-nothing while memory holds one chunk, never the file. A duplicate `response_id` is
caught by the table's unique constraint on (wave, response_key), which sees both the rows
stored before and those written earlier in the same transaction; only when it fires is the
file read again, to say which row and why.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError

import audit
from analysis.packing import packer
from analysis.spec import Item
from clock import LOCAL_TZ
from errors import Conflict, FileProblem
from extensions import db
from models import Response, Unit, Wave
from models.types import utcnow
from models.waves import MODE_LABELS, RESPONSE_MODES
from survey.csvfiles import CsvRows, Row
from survey.integrity import answer_sheet_checker
from survey.waves import get_wave

FIXED_COLUMNS = ("response_id", "unit_code", "psu", "submitted_at")
OPTIONAL_COLUMNS = ("mode",)
YEARS = (2000, 2099)  # a submitted_at outside these years is refused
RESPONSE_ID = re.compile(r"^[^\s]{1,64}$")
CHUNK = 5000  # rows per INSERT batch: large enough to amortise round trips, small enough to hold
IN_BATCH = 1000  # response_ids per `IN (…)` when looking a chunk up again after a failed write


@dataclass(frozen=True)
class ResponseImportSummary:
    wave: str
    imported: int
    by_mode: dict[str, int]
    flagged: int = 0  # rows that earned answer-sheet flags (they wait in the review queue)
    by_unit: dict[str, int] = field(default_factory=dict)  # unit code → rows
    preview: tuple[dict[str, Any], ...] = ()  # the first rows as they will be stored (dry run)

    def __str__(self) -> str:
        modes = "，".join(f"{MODE_LABELS.get(m, m)} {n}" for m, n in sorted(self.by_mode.items()))
        return f"调查 {self.wave}:导入 {self.imported} 份答卷({modes})"


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 date or date-time (also with / separators); a naive time is Beijing time."""
    value = datetime.fromisoformat(text.replace("/", "-"))
    return value if value.tzinfo else value.replace(tzinfo=LOCAL_TZ)


def scope_units(wave: Wave, within: Any = None) -> dict[str, int]:
    """code → id for every unit a response of this wave may be attached to (and, given a
    WHERE clause on Unit `within`, that the importing account may reach)."""
    query = select(Unit.code, Unit.id).where(wave.scope.subtree_clause())
    if within is not None:
        query = query.where(within)
    return dict(db.session.execute(query).all())


class _RowChecker:
    """Turns one row of a responses file into the values of one `responses` row, or a FileProblem."""

    def __init__(self, wave: Wave, header: tuple[str, ...], file_name: str, within: Any = None) -> None:
        spec = wave.questionnaire_version.to_spec()
        items = {it.key: it for it in spec.items}
        for i, col in enumerate(header, start=1):
            if col not in FIXED_COLUMNS and col not in OPTIONAL_COLUMNS and col not in items:
                raise FileProblem(file_name, 1, i, f"列 “{col}” 不是问卷 {spec.slug} 第 {spec.version} 版的题目")
        self.wave_id = wave.id
        self.scope = f"{wave.scope.name} {wave.scope.code}"
        self.items = [items[c] for c in header if c in items]
        # Option codes as sets: a million rows × a dozen items is too many linear searches.
        self.codes = {it.key: frozenset(o.code for o in it.options) for it in self.items if it.is_choice}
        self.units = scope_units(wave, within)
        self.all_units = scope_units(wave) if within is not None else self.units
        self.sheet_flags = answer_sheet_checker(spec)
        self.packer = packer(spec)  # the answers packed for the analysis (models.responses.answer_columns)
        self.conditional = [it for it in self.items if it.show_if is not None]

    def __call__(self, row: Row) -> dict[str, Any]:
        v = row.values
        rid = v["response_id"]
        if not RESPONSE_ID.match(rid):
            raise row.problem("response_id", "response_id 不能为空、不能含空格,最长 64 位")
        code = v["unit_code"]
        unit_id = self.units.get(code)
        if unit_id is None:
            if code in self.all_units:
                raise row.problem("unit_code", f"单位 “{code}” 不在您的管辖范围之内")
            if db.session.scalar(select(Unit.id).where(Unit.code == code)) is not None:
                raise row.problem("unit_code", f"单位 “{code}” 不在本次调查的范围({self.scope})之内")
            raise row.problem("unit_code", f"单位代码 “{code}” 不存在")
        psu = v["psu"] or None
        if psu is not None and len(psu) > 64:
            raise row.problem("psu", "psu 最长 64 个字符")
        submitted = None
        if v["submitted_at"]:
            try:
                submitted = parse_timestamp(v["submitted_at"])
            except ValueError:
                raise row.problem("submitted_at", f"时间 “{v['submitted_at']}” 无法识别,应为 2026-07-15 或 2026-07-15 09:30") from None
            # A typing error, and near year 1 or 9999 one that would not survive the conversion
            # to UTC when the response is read back.
            if not YEARS[0] <= submitted.year <= YEARS[1]:
                raise row.problem("submitted_at", f"时间 “{v['submitted_at']}” 不在 {YEARS[0]}–{YEARS[1]} 年之间")
        mode = v.get("mode") or "paper"
        if mode not in RESPONSE_MODES:
            raise row.problem("mode", f"方式 “{mode}” 无效，应为 {'、'.join(f'{m}（{MODE_LABELS[m]}）' for m in RESPONSE_MODES)} 之一")
        answers: dict[str, str | list[str]] = {}
        for item in self.items:
            value = v[item.key]
            if value == "":
                continue
            codes = self.codes.get(item.key)
            if item.multiple is not None:
                answers[item.key] = self._multiple(row, item, value)
                continue
            if codes is not None:
                if value not in codes:
                    listed = "、".join(o.code for o in item.options)
                    raise row.problem(item.key, f"“{value}” 不是题目 {item.key} 的选项代码(可选:{listed})")
            elif len(value) > item.max_length:
                raise row.problem(item.key, f"文字超过 {item.max_length} 字的上限")
            answers[item.key] = value
        for item in self.conditional:
            if item.key in answers and not item.applies(answers):
                cond = item.show_if
                given = answers.get(cond.item)
                now = f"本行答的是 “{given}”" if given else "本行没有回答该题"
                raise row.problem(
                    item.key,
                    f"题目 {item.key} 只在题目 {cond.item} 答 {'、'.join(cond.codes)} 时回答;{now},本题应留空",
                )
        flags = self.sheet_flags(answers)
        return {
            "wave_id": self.wave_id,
            "unit_id": unit_id,
            "response_key": rid,
            "psu": psu,
            "mode": mode,
            "answers": answers,
            "answer_codes": self.packer.pack(answers),
            "answer_texts": self.packer.texts(answers),
            "submitted_at": submitted,
            "flags": flags,
            "review_status": "flagged" if flags else "clean",
        }

    def _multiple(self, row: Row, item: Item, value: str) -> list[str]:
        """The codes of a `multiple` answer, "a;b" (docs/formats.md), in the order given."""
        codes = self.codes[item.key]
        chosen: list[str] = []
        for part in value.split(";"):
            code = part.strip()
            if code == "":
                continue
            if code not in codes:
                listed = "、".join(o.code for o in item.options)
                raise row.problem(item.key, f"“{code}” 不是题目 {item.key} 的选项代码(可选:{listed},多选用 ; 分隔)")
            if code in chosen:
                raise row.problem(item.key, f"选项 “{code}” 在题目 {item.key} 中重复")
            chosen.append(code)
        if len(chosen) > item.multiple:
            raise row.problem(item.key, f"题目 {item.key} 最多选 {item.multiple} 项,本行选了 {len(chosen)} 项")
        return chosen


# The columns an imported row fills, in COPY order; the others stay NULL (no device, no timing).
COPY_COLUMNS = (
    "wave_id", "unit_id", "response_key", "psu", "mode", "answers", "answer_codes", "answer_texts", "submitted_at",
    "flags", "review_status", "created_at",
)
COPY = f"COPY responses ({', '.join(COPY_COLUMNS)}) FROM STDIN"


def _insert(records: list[dict[str, Any]]) -> None:
    """Write one chunk inside the session's transaction; IntegrityError if a constraint refuses it.

    SQLite: one executemany through SQLAlchemy Core (not the ORM's bulk insert, which splits a
    chunk into a statement per run of rows with the same NULL columns). PostgreSQL: COPY, several
    times faster than any INSERT form here (one row per statement in psycopg's pipelined
    executemany; multi-row VALUES spends its time converting the long query in Python).
    """
    if db.session.get_bind().dialect.name != "postgresql":
        db.session.execute(insert(Response.__table__), records)
        return
    import psycopg  # PostgreSQL only

    now = utcnow()
    connection = db.session.connection().connection.driver_connection
    try:
        with connection.cursor() as cursor, cursor.copy(COPY) as copy:
            for r in records:
                copy.write_row((
                    r["wave_id"], r["unit_id"], r["response_key"], r["psu"], r["mode"],
                    json.dumps(r["answers"], ensure_ascii=False), r["answer_codes"], r["answer_texts"],
                    r["submitted_at"], json.dumps(r["flags"]),
                    r["review_status"], now,
                ))
    except psycopg.Error as e:  # as SQLAlchemy would raise it: IntegrityError, DataError, …
        raise DBAPIError.instance(COPY, None, e, psycopg.Error) from None


class _Chunk:
    """Checked rows waiting to be written, at most CHUNK of them."""

    def __init__(self, wave_id: int, path: Path, column: int) -> None:
        self.wave_id, self.path, self.column = wave_id, path, column
        self.records: list[dict[str, Any]] = []
        self.lines: dict[str, int] = {}  # response_id → line, for the rows in `records` (file order)

    def add(self, row: Row, record: dict[str, Any]) -> None:
        rid = record["response_key"]
        if rid in self.lines:  # the constraint would catch it too, but here the line is at hand
            problem = row.problem("response_id", f"response_id “{rid}” 与第 {self.lines[rid]} 行重复")
            self.write()  # an earlier row may clash with a stored one: it is the first bad row
            raise problem
        self.records.append(record)
        self.lines[rid] = row.line

    def write(self) -> None:
        """Write the chunk; on a duplicate response_id, roll back and raise the FileProblem."""
        if not self.records:
            return
        try:
            _insert(self.records)
        except IntegrityError as e:
            db.session.rollback()
            problem = self._duplicate()
            if problem is None:
                raise Conflict(f"导入失败,没有保存任何答卷:数据库拒绝了写入({e.orig})") from None
            raise problem from None
        self.records.clear()
        self.lines.clear()

    def _duplicate(self) -> FileProblem | None:
        """After a failed write, rolled back: the chunk's first row whose response_id was stored
        before the import, or appears on an earlier line of the file."""
        keys = list(self.lines)
        stored: set[str] = set()
        for start in range(0, len(keys), IN_BATCH):
            stored.update(db.session.scalars(select(Response.response_key).where(
                Response.wave_id == self.wave_id, Response.response_key.in_(keys[start : start + IN_BATCH]))))
        first = next(iter(self.lines.values()))
        earlier: dict[str, int] = {}
        with CsvRows(self.path, FIXED_COLUMNS, OPTIONAL_COLUMNS, extra=True) as rows:
            for row in rows:
                if row.line >= first:
                    break
                rid = row.values["response_id"]
                if rid in self.lines and rid not in earlier:
                    earlier[rid] = row.line
        name = self.path.name
        for rid, line in self.lines.items():
            if rid in stored:
                return FileProblem(name, line, self.column, f"response_id “{rid}” 已经导入过这次调查")
            if rid in earlier:
                return FileProblem(name, line, self.column, f"response_id “{rid}” 与第 {earlier[rid]} 行重复")
        return None


def import_responses(wave_slug: str, path: str | Path, *, dry_run: bool = False, preview: int = 0,
                     within: Any = None, source: str | None = None) -> ResponseImportSummary:
    """Check and store every row of the file in one transaction: all of them, or none and a
    FileProblem naming the first bad row.

    `dry_run`: check and write everything, then roll back (the console's preview: the same
    checks, duplicates against stored sheets included), returning the first `preview` rows as
    they would be stored. `within`: a WHERE clause on Unit limiting the units rows may name (a
    county account's subtree). `source`: the file name for the audit entry (an upload's own)."""
    wave = get_wave(wave_slug)
    if wave.status == "published":
        raise Conflict(f"调查 “{wave.slug}” 已发布,不能再导入答卷")
    slug, path = wave.slug, Path(path)
    imported, flagged, by_mode, by_unit = 0, 0, dict.fromkeys(RESPONSE_MODES, 0), {}
    shown: list[dict[str, Any]] = []
    try:
        with CsvRows(path, FIXED_COLUMNS, OPTIONAL_COLUMNS, extra=True) as rows:
            check = _RowChecker(wave, rows.header, rows.name, within)
            codes = {uid: code for code, uid in check.units.items()}
            chunk = _Chunk(wave.id, path, rows.header.index("response_id") + 1)
            for row in rows:
                try:
                    record = check(row)
                except FileProblem:
                    chunk.write()  # a duplicate among the rows before this one is reported first
                    raise
                chunk.add(row, record)
                imported += 1
                flagged += bool(record["flags"])
                by_mode[record["mode"]] += 1
                unit_code = codes[record["unit_id"]]
                by_unit[unit_code] = by_unit.get(unit_code, 0) + 1
                if len(shown) < preview:
                    stored = {k: v for k, v in record.items() if k not in ("answer_codes", "answer_texts")}
                    shown.append({**stored, "line": row.line, "unit_code": unit_code})
                if len(chunk.records) >= CHUNK:
                    chunk.write()
            chunk.write()
        by_mode = {m: n for m, n in by_mode.items() if n}
        if dry_run:
            db.session.rollback()
        else:
            summary = {"file": source or path.name, "imported": imported, "by_mode": by_mode}
            audit.record("responses.import", "wave", slug, None, summary)
            db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return ResponseImportSummary(wave=slug, imported=imported, by_mode=by_mode, flagged=flagged,
                                 by_unit=by_unit, preview=tuple(shown))
