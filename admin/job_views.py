"""Background jobs in the console (docs/jobs.md): a job's page, refreshed without JavaScript
(meta refresh) while it waits or runs, the file once it is built, and the account's recent jobs."""

from __future__ import annotations

from flask import Response, redirect, render_template, url_for
from flask_login import current_user

from admin import bp
from admin.access import permission_required
from jobs import service as jobs
from jobs.retention import SUPERSEDED

REFRESH_SECONDS = 2


def job_response(job, code: int = 303):
    """A finished document's file at once; otherwise the job's page, which refreshes until it is."""
    if jobs.ready(job) and job.kind != "analysis":
        return _send(job)
    return redirect(url_for("admin.job", job_id=job.id), code=code)


def _send(job):
    found = jobs.download(job)
    return Response(jobs.stream(found.file), mimetype=found.mimetype, headers={
        "Content-Disposition": f'attachment; filename="{found.filename}"',  # slugs and codes: ASCII
        "Content-Length": str(found.size),
        "Cache-Control": "private, no-store",
    })


@bp.get("/jobs")
@permission_required("read")
def jobs_list():
    """The account's latest jobs."""
    return render_template("admin/jobs.html", jobs=jobs.recent_jobs(current_user), label=jobs.label,
                           part=jobs.part_label)


@bp.get("/jobs/<int:job_id>")
@permission_required("read")
def job(job_id: int):
    """How far the job got; the file, or the results page, when it is done."""
    found = jobs.get_job(current_user, job_id)
    return render_template(
        "admin/job.html", job=found, label=jobs.label(found), part=jobs.part_label(found), ready=jobs.ready(found),
        refresh=REFRESH_SECONDS if found.active else None, superseded=SUPERSEDED,
    )


@bp.get("/jobs/<int:job_id>/file")
@permission_required("read")
def job_file(job_id: int):
    return _send(jobs.get_job(current_user, job_id))
