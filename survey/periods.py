"""Survey periods: 2026M07 (month), 2026Q3 (quarter), 2026H2 (half-year), 2026 (year).

`parse_period` is the one parser of the console, the CLI and the imports. Staff may type a period
either as its code or as they say it (docs/formats.md "Periods"):

    2027Q1 = 2027年第一季度 = 2027年一季度 = 2027年第1季度
    2027H1 = 2027年上半年        2027H2 = 2027年下半年
    2027M07 = 2027年7月 = 2027年07月
    2027 = 2027年 = 2027年度 = 2027年全年

Whatever was typed, the stored code is the canonical one (`Period.code`), and people read the label.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from errors import PinganError

_PERIOD = re.compile(r"^(?P<year>\d{4})(?:M(?P<month>\d{2})|Q(?P<quarter>[1-4])|H(?P<half>[12]))?$")
_QUARTERS = "一二三四"
# 2027年第一季度, 2027年一季度, 2027年第1季度, 2027年上半年, 2027年7月, 2027年, 2027年度, 2027年全年
_CHINESE = re.compile(
    r"^(?P<year>\d{4})年(?:"
    r"第?(?P<quarter>[一二三四1-4])季度?"
    r"|(?P<half>[上下])半年"
    r"|(?P<month>\d{1,2}|[一二三四五六七八九十]|十[一二])月份?"
    r"|度|全年)?$"
)
_CN_NUMBERS = {c: i + 1 for i, c in enumerate("一二三四五六七八九十")} | {"十一": 11, "十二": 12}
FORMAT_HINT = "应为 2027年第一季度、2027年上半年、2027年7月、2027年，或 2027Q1、2027H1、2027M07、2027"


class PeriodError(PinganError, ValueError):
    """A period that cannot be read; still a ValueError for callers that catch that."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "bad_period")


@dataclass(frozen=True)
class Period:
    code: str  # canonical: 2026Q3
    start: date
    end: date
    label: str  # 2026年第三季度


def _number(text: str) -> int:
    return int(text) if text.isdigit() else _CN_NUMBERS[text]


def _normalise(text: str) -> str:
    """Full-width digits and letters to ASCII (NFKC), spaces out, the code's letters in upper case."""
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"\s+", "", text).upper()


def parse_period(code: str) -> Period:
    """Parse a period as a code or in Chinese; PeriodError (a ValueError) with a Chinese message when it is malformed."""
    typed = (code or "").strip()
    text = _normalise(typed)
    m = _PERIOD.match(text)
    if m:
        year = int(m["year"])
        month = m["month"]
        if month is not None and not 1 <= int(month) <= 12:
            raise PeriodError(f"期间 “{typed}” 的月份应在 01 到 12 之间")
        quarter = int(m["quarter"]) if m["quarter"] else None
        half = int(m["half"]) if m["half"] else None
        month_n = int(month) if month else None
    else:
        c = _CHINESE.match(text)
        if not c:
            raise PeriodError(f"期间 “{typed}” 格式不对，{FORMAT_HINT}")
        year = int(c["year"])
        quarter = _number(c["quarter"]) if c["quarter"] else None
        half = (1 if c["half"] == "上" else 2) if c["half"] else None
        month_n = _number(c["month"]) if c["month"] else None
        if month_n is not None and not 1 <= month_n <= 12:
            raise PeriodError(f"期间 “{typed}” 的月份应在 1 到 12 之间")
    if not 2000 <= year <= 2100:
        raise PeriodError(f"期间 “{typed}” 的年份应在 2000 到 2100 之间")
    if month_n is not None:
        first, last, label, canonical = month_n, month_n, f"{year}年{month_n}月", f"{year}M{month_n:02d}"
    elif quarter is not None:
        first, last = 3 * quarter - 2, 3 * quarter
        label, canonical = f"{year}年第{_QUARTERS[quarter - 1]}季度", f"{year}Q{quarter}"
    elif half is not None:
        first, last = 6 * half - 5, 6 * half
        label, canonical = f"{year}年{'上' if half == 1 else '下'}半年", f"{year}H{half}"
    else:
        first, last, label, canonical = 1, 12, f"{year}年", str(year)
    end = date(year, last, calendar.monthrange(year, last)[1])
    return Period(code=canonical, start=date(year, first, 1), end=end, label=label)


def period_label(code: str) -> str:
    """The label of a stored period code: 2026Q3 → 2026年第三季度."""
    return parse_period(code).label


def next_period(code: str) -> str:
    """The period of the same length right after `code`: 2026Q4 → 2027Q1, 2026H2 → 2027H1,
    2026M12 → 2027M01, 2026 → 2027 (for "copy the last wave")."""
    p = parse_period(code)
    after = p.end.replace(day=1)
    year, month = (after.year + 1, 1) if after.month == 12 else (after.year, after.month + 1)
    if "Q" in p.code:
        return f"{year}Q{(month - 1) // 3 + 1}"
    if "H" in p.code:
        return f"{year}H{1 if month <= 6 else 2}"
    if "M" in p.code:
        return f"{year}M{month:02d}"
    return str(p.start.year + 1)
