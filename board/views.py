"""The public pages: the home page and the published 公示 boards (HTML and PDF)."""

from flask import Response, render_template

from board import bp
from board.boards import board_page, board_pdf, published_waves
from extensions import limiter


@bp.get("/")
def home():
    """The public home page: the published boards, newest first."""
    return render_template("board/home.html", published=published_waves())


@bp.get("/board/<slug>")
def board(slug: str):
    """A published wave's board in blue/yellow/red; 404 for any wave not published."""
    return render_template("board/board.html", **board_page(slug))


@bp.get("/board/<slug>.pdf")
@limiter.limit("10 per minute")  # each PDF is printed on request: a second or two of CPU
def board_download(slug: str):
    """The same board as a PDF, for printing and posting up."""
    pdf = board_pdf(slug)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{slug}-board.pdf"', "Cache-Control": "public, max-age=300"},
    )
