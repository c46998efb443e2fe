"""Cells of the CSV and XLSX files the product writes, safe to open in Excel, WPS or LibreOffice.

A spreadsheet program reads a text cell that starts with = + - or @ as a formula, and so (after
trimming) one that starts with a tab or a carriage return: `=HYPERLINK("http://…","点此")` in a
unit name, a questionnaire label or a resident's answer would become a live link or a call to
another program the moment an office opens the file ("CSV injection", OWASP). Such text gets
a leading apostrophe, which every one of these programs shows as text and never evaluates.
Numbers stay numbers: a change of -0.52 is written as the number it is.

Every writer passes its cells through `safe_cell` (or `safe_row`, `safe_workbook`), so the rule
lives in one place.
"""

from __future__ import annotations

from typing import Any, Iterable

# OWASP, "CSV Injection": the characters that make a cell a formula; and their fullwidth forms
# (＝ ＋ － ＠), which a Chinese input method types and which spreadsheet programs with East Asian
# input settings turn into = + - @ as they read the cell.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def safe_cell(value: Any) -> Any:
    """`value` as it should be written: text that a spreadsheet would evaluate gets a leading
    apostrophe; numbers, booleans, dates, None and harmless text are returned unchanged.

    Idempotent: a neutralised value starts with an apostrophe and is left alone the next time.
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    """A CSV row (or XLSX row) with every cell through `safe_cell`."""
    return [safe_cell(v) for v in values]


def safe_workbook(workbook: Any) -> None:
    """Pass every cell of an openpyxl workbook through `safe_cell`, in place, just before saving.

    openpyxl stores a string that starts with "=" as a formula (data_type "f"); assigning the
    neutralised text makes it a plain string again. Styles and number formats are kept.
    """
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                value = cell.value
                if isinstance(value, str) and value.startswith(FORMULA_START):
                    cell.value = safe_cell(value)
