"""The issuing office as documents name it (公文 habits, docs/formats.md "Documents").

Settings (app config, from the environment): OFFICE_NAME, DOC_NUMBER_PREFIX, NOTICE_CC,
NOTICE_CONTACT, NOTICE_PHONE. `{scope}` in a setting stands for the wave's scope (安澜市, 青石县), so one
installation names the city's office on the city's documents and a county's office on the county's.
A bare office name without a place (社会治安综合治理委员会办公室) gets the scope's name in front: a
document never carries the bare name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import current_app

DEFAULT_OFFICE = "{scope}社会治安综合治理委员会办公室"
DEFAULT_DOC_PREFIX = "{scope}综治办"
DEFAULT_CC = "{scope}委政法委"
_PLACE = re.compile(r"[省市县区州旗盟乡镇]")


def _fill(setting: str, scope_name: str) -> str:
    return setting.replace("{scope}", scope_name).strip()


def issuer(scope_name: str, setting: str | None = None) -> str:
    """The office's full name for a wave of `scope_name`: 安澜市社会治安综合治理委员会办公室."""
    name = _fill(setting if setting is not None else current_app.config.get("OFFICE_NAME") or DEFAULT_OFFICE, scope_name)
    return name if _PLACE.search(name) or name.startswith(scope_name) else scope_name + name


@dataclass(frozen=True)
class Letterhead:
    """What a notice carries besides its text: the issuer, 文号 prefix, 抄送, 联系人 and 电话."""

    office: str
    doc_prefix: str  # 发文机关代字: 安澜市综治办 → 安澜市综治办〔2026〕Q3-001号
    cc: str  # 抄送
    contact: str  # 联系人 ('' : a blank line to fill in by hand)
    phone: str  # 联系电话

    def doc_number(self, number: str) -> str:
        """The 文号 of a notice numbered 2026Q3-001 in its wave: 安澜市综治办〔2026〕Q3-001号."""
        year, rest = (number[:4], number[4:].lstrip("-")) if number[:4].isdigit() else ("", number)
        return f"{self.doc_prefix}〔{year}〕{rest}号" if year else f"{self.doc_prefix}{rest}号"


def letterhead(scope_name: str) -> Letterhead:
    cfg = current_app.config
    return Letterhead(
        office=issuer(scope_name),
        doc_prefix=_fill(cfg.get("DOC_NUMBER_PREFIX") or DEFAULT_DOC_PREFIX, scope_name),
        cc=_fill(cfg.get("NOTICE_CC") if cfg.get("NOTICE_CC") is not None else DEFAULT_CC, scope_name),
        contact=_fill(cfg.get("NOTICE_CONTACT") or "", scope_name),
        phone=(cfg.get("NOTICE_PHONE") or "").strip(),
    )
