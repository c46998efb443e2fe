"""The published 公示 boards: which waves the public may see, and what each board shows.

Only a published wave has a board; any other slug (unknown, draft, open, closed) is the
same Chinese 404, so the public cannot tell an unpublished wave from one that does not exist.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

import clock
from errors import NotFound
from extensions import db
from jobs.service import request_board
from models import Job, Wave
from reports import data as report_data
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


def board_page(slug: str) -> dict[str, Any]:
    """The template context of /board/<slug>."""
    wave = published_wave(slug)
    data = report_data.load(wave, "board", publication_date(wave))
    return {"wave": wave, "info": data.info, "spec": data.spec, **helpers(), **board_context(data.result, data.spec)}


def board_pdf(slug: str) -> Job:
    """The printed board of a published wave, dated the day it was published: a background job,
    built once per state of the results and units (docs/jobs.md), never in the request."""
    wave = published_wave(slug)
    return request_board(wave, publication_date(wave))
