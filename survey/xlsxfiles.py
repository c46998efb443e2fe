"""Spreadsheets (XLSX) as the CSV the importers read (docs/formats.md "XLSX"): the first sheet,
row for row, so that a CSV line number is the spreadsheet's row number and a column number its
column (A = 1). The importers then report problems exactly as for a CSV file.

- A cell's line breaks become spaces (a CSV record would otherwise span lines and shift every
  later line number).
- Whole numbers stored as numbers (1.0) are written as 1; dates and times in ISO form
  (2026-07-15 09:30:00); empty cells as empty text.
- Empty columns at the end of the header row, and empty cells beyond it, are dropped.
"""

from __future__ import annotations

import csv
import re
import zipfile
from datetime import date, datetime, time
from pathlib import Path

from errors import FileProblem

MAX_ROWS = 2_000_000  # beyond Excel's 1,048,576: any larger sheet is not a spreadsheet of answers
_BREAKS = re.compile(r"\r\n|\r|\n")


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return _BREAKS.sub(" ", str(value))


def xlsx_to_csv(source: str | Path, target: str | Path) -> Path:
    """Write the first sheet of the XLSX `source` as UTF-8 CSV to `target` (its file name is the
    one problems will name); a FileProblem when it is not a readable XLSX."""
    from openpyxl import load_workbook

    source, target = Path(source), Path(target)
    try:
        book = load_workbook(source, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError):
        raise FileProblem(source.name, None, None, "无法读取这个 Excel 文件:请确认是 .xlsx 格式(不是 .xls),或另存为“CSV UTF-8”后上传") from None
    try:
        sheet = book.worksheets[0]
        with open(target, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            width = None
            for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                if number > MAX_ROWS:
                    raise FileProblem(source.name, number, None, f"表格超过 {MAX_ROWS} 行")
                cells = [_text(v) for v in row]
                if width is None:
                    while cells and not cells[-1].strip():
                        cells.pop()
                    width = len(cells)
                else:
                    cells += [""] * (width - len(cells))
                    extra = cells[width:]
                    cells = cells[:width] + (extra if any(c.strip() for c in extra) else [])
                    while len(cells) > width and not cells[-1].strip():
                        cells.pop()
                writer.writerow(cells)
    finally:
        book.close()
    return target
