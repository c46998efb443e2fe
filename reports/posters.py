"""The QR posters (one A4 per unit residents answer for) and the door-to-door cut-out cards.

The links, short codes and QR symbols come from `survey.links` and `survey.qr`; this module
only lays them out. Posters carry the `qr` link; the cards carry the `door` link, so that
the responses of door-to-door work are recorded as such.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from flask import render_template

from reports.data import PosterUnit, ReportData
from reports.render import common_context
from survey.qr import qr_png

CARDS_PER_SHEET = 10  # 2 × 5 cards of 90 × 52 mm on an A4 sheet


@dataclass(frozen=True)
class PosterPage:
    unit: PosterUnit
    qr: str  # data: URI of the poster's QR code
    door_qr: str  # data: URI of the cards' QR code


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def poster_pages(units: tuple[PosterUnit, ...]) -> list[PosterPage]:
    """The QR codes as PNG (10 px a module, printed without smoothing): the ten identical codes
    of a card sheet are then one image in the PDF, drawn ten times, where an SVG code would be
    parsed and drawn ten times over."""
    return [PosterPage(u, _data_uri(qr_png(u.url)), _data_uri(qr_png(u.door_url))) for u in units]


def render_posters_html(data: ReportData) -> str:
    """All posters first (one page each), then one sheet of door cards per unit."""
    return render_template(
        "reports/posters.html",
        **common_context(data),
        pages=poster_pages(data.posters),
        entry_url=data.entry_url,
        cards=range(CARDS_PER_SHEET),
    )
