"""The public pages: the home page and the published 公示 boards (HTML and PDF)."""

from flask import Response, render_template, request

from board import bp
from board.boards import board_page, board_pdf, board_xlsx, published_waves
from errors import PinganError
from extensions import limiter
from jobs.service import download, stream


@bp.get("/")
def home():
    """The public home page: the published boards, newest first."""
    return render_template("board/home.html", published=published_waves())


@bp.get("/board/<slug>")
def board(slug: str):
    """A published wave's board in blue/yellow/red; 404 for any wave not published."""
    return render_template("board/board.html", **board_page(slug, request.args))


@bp.get("/board/<slug>.xlsx")
@limiter.limit("30 per minute")
def board_spreadsheet(slug: str):
    """The board as shown (search, county, colour, order) as a spreadsheet."""
    data, name = board_xlsx(slug, request.args)
    return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "public, max-age=300",
    })


@bp.get("/board/<slug>.pdf")
@limiter.limit("30 per minute")
def board_download(slug: str):
    """The same board as a PDF, for printing and posting up: the built file, or a page that
    refreshes while the worker prints it (the first request after publishing or a change)."""
    job = board_pdf(slug)
    found = None
    if job.status == "done":
        try:
            found = download(job)
        except PinganError:
            found = None
    if found is None:
        failed = job.status == "failed"
        page = render_template("board/pending.html", slug=slug, failed=failed, refresh=None if failed else 3)
        return page, 503 if failed else 202, {"Cache-Control": "no-store"}
    return Response(stream(found.file), mimetype=found.mimetype, headers={
        "Content-Disposition": f'inline; filename="{found.filename}"',
        "Content-Length": str(found.size),
        "Cache-Control": "public, max-age=300",
    })
