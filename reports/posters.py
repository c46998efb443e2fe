"""The QR posters (one A4 per unit residents answer for) and the door-to-door cut-out cards.

The links, short codes and QR symbols come from `survey.links` and `survey.qr`; this module
only lays them out. Posters carry the `qr` link; the cards carry the `door` link, so that
the responses of door-to-door work are recorded as such.

A sheet of door cards holds ten copies of the same card. WeasyPrint lays out every box it is
given, so ten cards cost ten times one (five sixths of the posters PDF's CPU time when the ten
cards were in the HTML, docs/performance.md "Issue 17"). The HTML therefore holds each unit's card
once, on a page of its own the size of a card, right after the unit's sheet (which holds the
heading only); `impose_cards`, run by WeasyPrint on the PDF before it is written, turns each
card page into a PDF form XObject, draws it ten times on its sheet with the dashed cutting lines,
and takes the card page out of the page tree. The PDF then has the same pages and text as before
(ten cards a sheet, each with its real text), and the card's content is stored once per unit.
"""

from __future__ import annotations

from dataclasses import dataclass

import pydyf
from flask import render_template

from reports.data import PosterUnit, ReportData
from reports.render import common_context
from survey.qr import qr_png

CARDS_PER_SHEET = 10  # 2 columns × 5 rows of 90 × 52 mm on an A4 sheet
COLUMNS = 2
CARD_MM = (90.0, 52.0)  # width, height of a card
SHEET_MARGIN_MM = (8.5, 15.0)  # top, left margin of a sheet of cards (the CSS @page cards)
SHEET_HEAD_MM = 5.0  # the line above the cards naming the unit
PT_PER_MM = 72 / 25.4
CUT_LINE = (0.6, (1.8, 1.8), 0.533)  # width (pt), dash pattern (pt), grey (#888)


@dataclass(frozen=True)
class PosterPage:
    unit: PosterUnit
    qr: str  # URL of the poster's QR code (qr_url)
    door_qr: str  # URL of the cards' QR code


QR_SCHEME = "pingan-qr"


def qr_url(link: str) -> str:
    """The URL an <img> of the QR of `link` has in the posters' HTML: served from memory by
    `QRFetcher` (survey.qr.qr_png), instead of a data: URI of the PNG in base64, which the HTML
    parser (pure Python) would read character by character, once per poster."""
    return f"{QR_SCHEME}:{link}"


def poster_pages(units: tuple[PosterUnit, ...]) -> list[PosterPage]:
    """The QR codes as PNG (10 px a module, printed without smoothing)."""
    return [PosterPage(u, qr_url(u.url), qr_url(u.door_url)) for u in units]


def render_posters_html(data: ReportData) -> str:
    """All posters first (one page each), then for each unit its sheet of door cards: the sheet's
    heading, then the card on a page of its own (`impose_cards` puts it ten times on the sheet)."""
    return render_template(
        "reports/posters.html",
        **common_context(data),
        pages=poster_pages(data.posters),
        entry_url=data.entry_url,
        card_mm=CARD_MM,
        sheet_margin_mm=SHEET_MARGIN_MM,
        sheet_head_mm=SHEET_HEAD_MM,
    )


def qr_fetch(url: str) -> bytes | None:
    """The PNG behind a `qr_url`, or None for any other URL."""
    if url.startswith(QR_SCHEME + ":"):
        return qr_png(url[len(QR_SCHEME) + 1:])
    return None


def _object(pdf: pydyf.PDF, reference: bytes) -> pydyf.Object:
    return pdf.objects[int(reference.split()[0])]


def _cut_lines(sheet: pydyf.Stream) -> None:
    """The dashed lines along which the cards are cut, in the sheet's top-down coordinates (pt)."""
    width, dash, grey = CUT_LINE
    top, left = (m * PT_PER_MM for m in SHEET_MARGIN_MM)
    top += SHEET_HEAD_MM * PT_PER_MM
    card_w, card_h = (m * PT_PER_MM for m in CARD_MM)
    rows = CARDS_PER_SHEET // COLUMNS
    sheet.push_state()
    sheet.set_line_width(width)
    sheet.set_dash(dash, 0)
    sheet.set_color_rgb(grey, grey, grey, stroke=True)
    for r in range(rows + 1):
        sheet.move_to(left, top + r * card_h)
        sheet.line_to(left + COLUMNS * card_w, top + r * card_h)
    for c in range(COLUMNS + 1):
        sheet.move_to(left + c * card_w, top)
        sheet.line_to(left + c * card_w, top + rows * card_h)
    sheet.stroke()
    sheet.pop_state()


def impose_cards(document, pdf: pydyf.PDF) -> None:
    """WeasyPrint's `finisher`: each page of a card's size (reports/posters.html puts one after each
    sheet) becomes a form XObject drawn CARDS_PER_SHEET times on the page before it, its sheet, and
    leaves the page tree.

    WeasyPrint draws every page in top-down coordinates (`1 0 0 -1 0 H cm` at the start of the
    page's content stream, never restored), so the sheet's stream ends in that space; a form keeps
    the card page's own bottom-up space, hence the flip in each placement. All pages share one
    resources dictionary (fonts, images), which the forms use too."""
    card_w, card_h = (m * PT_PER_MM for m in CARD_MM)
    top, left = (m * PT_PER_MM for m in SHEET_MARGIN_MM)
    top += SHEET_HEAD_MM * PT_PER_MM
    pages = [pdf.objects[n] for n in pdf.pages["Kids"][::3]]
    keep: list[pydyf.Dictionary] = []
    for page in pages:
        x0, y0, x1, y1 = page["MediaBox"]
        if not (keep and abs(x1 - x0 - card_w) < 0.5 and abs(y1 - y0 - card_h) < 0.5):
            keep.append(page)
            continue
        card, sheet = _object(pdf, page["Contents"]), _object(pdf, keep[-1]["Contents"])
        card.extra.update({"Type": "/XObject", "Subtype": "/Form", "BBox": pydyf.Array([x0, y0, x1, y1]),
                           "Resources": page["Resources"]})
        name = f"card{card.number}"
        _object(pdf, page["Resources"])["XObject"][name] = card.reference
        _cut_lines(sheet)
        for k in range(CARDS_PER_SHEET):
            row, col = divmod(k, COLUMNS)
            sheet.push_state()
            sheet.set_matrix(1, 0, 0, -1, left + col * card_w, top + (row + 1) * card_h)
            sheet.draw_x_object(name)
            sheet.pop_state()
        page.clear()  # no longer a page: an empty dictionary that nothing refers to
    pdf.pages["Kids"] = pydyf.Array([x for page in keep for x in (page.number, 0, "R")])
    pdf.pages["Count"] = len(keep)
