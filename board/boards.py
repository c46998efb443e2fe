"""The published 公示 boards: which waves the public may see, and what each board shows.

Only a published wave has a board; any other slug (unknown, draft, open, closed) is the
same Chinese 404, so the public cannot tell an unpublished wave from one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Mapping

from sqlalchemy import select

import clock
from errors import NotFound
from extensions import db
from jobs.service import request_board
from models import Job, Wave
from cells import safe_workbook
from reports import data as report_data
from reports.model import Section
from reports.render import board_context, helpers

NOT_PUBLISHED = "未找到已公示的测评结果,请检查网址是否完整。"


def published_waves() -> list[Wave]:
    """Published waves, newest period first."""
    return list(
        db.session.scalars(select(Wave).where(Wave.status == "published").order_by(Wave.period_start.desc(), Wave.slug))
    )


def published_wave(slug: str) -> Wave:
    """The published wave with this slug; NotFound (404, Chinese) otherwise."""
    wave = db.session.scalar(select(Wave).where(Wave.slug == slug, Wave.status == "published"))
    if wave is None:
        raise NotFound(NOT_PUBLISHED, "board_not_found")
    return wave


def publication_date(wave: Wave) -> date:
    """The day the wave was published, in Beijing time (the date printed on its board)."""
    if wave.published_at is None:
        return clock.today()
    return clock.local(wave.published_at).date()


COLOR_CHOICES = {"blue": "蓝色", "yellow": "黄色", "red": "红色", "none": "样本不足"}
ORDERS = {"": "按组内名次", "low": "综合指数从低到高"}


@dataclass(frozen=True)
class BoardQuery:
    """What a reader picked on a long board: a name to find, a county, a colour, an order. From the
    query string only, so a filtered board works without JavaScript and can be shared as a link."""

    q: str = ""
    county: str = ""
    color: str = ""
    order: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> BoardQuery:
        color, order = args.get("color", ""), args.get("order", "")
        return cls(
            q=" ".join((args.get("q") or "").split())[:50],
            county=(args.get("county") or "").strip()[:32],
            color=color if color in COLOR_CHOICES else "",
            order=order if order in ORDERS else "",
        )

    @property
    def active(self) -> bool:
        return bool(self.q or self.county or self.color or self.order)

    def params(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v}


def _color(unit, min_n: int) -> str:
    return (unit.color if unit.n >= min_n else None) or "none"


def filter_sections(sections: list[Section], result, min_n: int, query: BoardQuery) -> list[Section]:
    """The board's sections with only the units that match, groups left empty dropped. A unit keeps
    its place and group size from the results (a filter never renumbers anybody)."""
    if not query.active:
        return sections
    parent = {u.code: u.parent_code for u in result.units}

    def under(code: str, county: str) -> bool:
        while code is not None:
            if code == county:
                return True
            code = parent.get(code)
        return False

    def keep(u) -> bool:
        if query.q and query.q.casefold() not in u.name.casefold():
            return False
        if query.county and not under(u.code, query.county):
            return False
        return not query.color or _color(u, min_n) == query.color

    out = []
    for s in sections:
        groups = []
        for g in s.groups:
            units = tuple(u for u in g.units if keep(u))
            if query.order == "low":
                units = tuple(sorted(units, key=lambda u: (u.composite.estimate is None, u.composite.estimate or 0)))
            if units:
                groups.append(replace(g, units=units))
        if groups:
            out.append(replace(s, groups=tuple(groups)))
    return out


def board_page(slug: str, args: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The template context of /board/<slug>, filtered by the reader's choices (`args`)."""
    wave = published_wave(slug)
    data = report_data.load(wave, "board", publication_date(wave))
    context = board_context(data.result, data.spec)
    query = BoardQuery.from_args(args or {})
    shown = filter_sections(context["sections"], data.result, data.spec.ranking.min_n, query)
    counties = [u for u in data.result.units if u.kind == "county" and u.n > 0]
    return {"wave": wave, "info": data.info, "spec": data.spec, **helpers(), **context, "sections": shown,
            "query": query, "counties": counties, "color_choices": COLOR_CHOICES, "orders": ORDERS,
            "n_shown": sum(len(g.units) for s in shown for g in s.groups)}


def board_xlsx(slug: str, args: Mapping[str, str] | None = None) -> tuple[bytes, str]:
    """The board as shown (the same filters and order) as one XLSX sheet: public figures only."""
    import io

    from openpyxl import Workbook

    page = board_page(slug, args)
    min_n = page["spec"].ranking.min_n
    book = Workbook()
    sheet = book.active
    sheet.title = "公示"
    sheet.append([f"{page['info'].scope_name}{page['info'].period_label}平安建设测评结果公示"])
    sheet.append(["类别", "分组", "单位", "综合指数", "等次", "颜色", "组内名次", "组内参加排名单位数"])
    for s in page["sections"]:
        for g in s.groups:
            for u in g.units:
                place = g.place(u)
                sheet.append([s.label, g.title, u.name,
                              None if u.composite.estimate is None else round(u.composite.estimate, 2),
                              "样本不足" if u.n < min_n else (u.grade or "未评定"),
                              COLOR_CHOICES[_color(u, min_n)] if u.n >= min_n else "",
                              place, u.group_size if place is not None else None])
    safe_workbook(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), f"{slug}-board.xlsx"


def board_pdf(slug: str) -> Job:
    """The printed board of a published wave, dated the day it was published: a background job,
    built once per state of the results and units (docs/jobs.md), never in the request."""
    wave = published_wave(slug)
    return request_board(wave, publication_date(wave))
