"""Survey periods: 2026M07 (month), 2026Q3 (quarter), 2026H2 (half-year), 2026 (year)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

_PERIOD = re.compile(r"^(?P<year>\d{4})(?:M(?P<month>\d{2})|Q(?P<quarter>[1-4])|H(?P<half>[12]))?$")
_QUARTERS = "一二三四"


@dataclass(frozen=True)
class Period:
    code: str
    start: date
    end: date
    label: str  # 2026年第三季度


def parse_period(code: str) -> Period:
    """Parse a period code; ValueError with a Chinese message when it is malformed."""
    m = _PERIOD.match(code.strip())
    if not m or not 2000 <= int(m["year"]) <= 2100:
        raise ValueError(f"期间 “{code}” 格式不对,应为 2026M07(月)、2026Q3(季度)、2026H2(半年)或 2026(年)")
    year = int(m["year"])
    if m["month"]:
        month = int(m["month"])
        if not 1 <= month <= 12:
            raise ValueError(f"期间 “{code}” 的月份应在 01 到 12 之间")
        first, last, label = month, month, f"{year}年{month}月"
    elif m["quarter"]:
        q = int(m["quarter"])
        first, last, label = 3 * q - 2, 3 * q, f"{year}年第{_QUARTERS[q - 1]}季度"
    elif m["half"]:
        h = int(m["half"])
        first, last, label = 6 * h - 5, 6 * h, f"{year}年{'上' if h == 1 else '下'}半年"
    else:
        first, last, label = 1, 12, f"{year}年"
    end = date(year, last, calendar.monthrange(year, last)[1])
    return Period(code=code.strip(), start=date(year, first, 1), end=end, label=label)
