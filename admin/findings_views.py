"""One unit's result page, its residents' comments, and the wave's raw answer sheets (admin.findings)."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response, abort, render_template, request
from flask_login import current_user

from admin import bp, findings, waves
from admin.access import permission_required
from admin.job_views import job_response

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(data: bytes, name: str, mimetype: str) -> Response:
    return Response(data, mimetype=mimetype, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}", "Cache-Control": "private, no-store",
    })


@bp.get("/waves/<wave_slug>/results/<unit_code>")
@permission_required("read")
def unit_result(wave_slug: str, unit_code: str):
    """The unit's item profile against its parent, its top concerns and its trend."""
    view = findings.unit_findings(current_user, waves.get_wave(current_user, wave_slug), unit_code)
    return render_template("admin/unit_result.html", view=view, wave=view.wave, period=waves.period_label(view.wave))


@bp.get("/waves/<wave_slug>/results/<unit_code>/comments")
@permission_required("read")
def unit_comments(wave_slug: str, unit_code: str):
    listing = findings.unit_comments(current_user, waves.get_wave(current_user, wave_slug), unit_code,
                                     request.args.get("q", ""), request.args.get("page", 1, type=int))
    return render_template("admin/comments.html", listing=listing, wave=listing.wave)


@bp.get("/waves/<wave_slug>/results/<unit_code>/comments.xlsx")
@permission_required("read")
def unit_comments_xlsx(wave_slug: str, unit_code: str):
    data, name = findings.comments_xlsx(current_user, waves.get_wave(current_user, wave_slug), unit_code,
                                        request.args.get("q", ""))
    return _download(data, name, XLSX)


@bp.get("/waves/<wave_slug>/answer-sheets.<fmt>")
@permission_required("read")
def answer_sheets(wave_slug: str, fmt: str):
    """Every answer sheet within the account's scope: codes, mode, flags, review status. The XLSX
    or CSV when built for the current sheets, else its job's page (docs/jobs.md)."""
    if fmt not in ("csv", "xlsx"):
        abort(404)
    return job_response(findings.answer_sheets_file(current_user, waves.get_wave(current_user, wave_slug), fmt))
