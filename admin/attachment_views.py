"""A case's files: the list on the case page, uploading one, downloading one (admin.attachments)."""

from __future__ import annotations

import io

from flask import flash, redirect, send_file, url_for
from flask_login import current_user

import policy
from admin import attachments, bp, cases
from admin.access import permission_required
from admin.formflow import attempt
from admin.todo_forms import AttachmentForm
from models.attachments import ATTACHMENT_KIND_LABELS


@bp.context_processor
def _attachment_helpers() -> dict:
    return {
        "case_attachments": attachments.list_attachments,
        "attachment_kinds": policy.attachment_kinds,
        "attachment_kind_labels": ATTACHMENT_KIND_LABELS,
        "attachment_form": AttachmentForm,
        "attachment_limit": lambda: attachments._size_text(attachments.max_bytes()),
    }


@bp.post("/cases/<int:case_id>/attachments")
@permission_required("cases.manage")
def case_attach(case_id: int):
    from admin.case_views import _case_page  # the case page, with the message above its forms

    found = cases.get_case(current_user, case_id)
    form = AttachmentForm()
    outcome = attempt(form, lambda: attachments.attach(current_user, found, form.kind.data, form.file.data.filename, form.file.data.stream))
    if outcome:
        flash(f"已上传“{outcome.value.filename}”({outcome.value.kind_label})。")
        return redirect(url_for("admin.case", case_id=found.id) + "#attachments")
    message = form.file.errors[0] if form.file.errors else outcome.error
    return _case_page(found.id, error=message, status=outcome.status)


@bp.get("/cases/<int:case_id>/attachments/<int:attachment_id>")
@permission_required("read")
def case_attachment(case_id: int, attachment_id: int):
    found = cases.get_case(current_user, case_id)
    download = attachments.get_download(current_user, found, attachment_id)
    # read whole (at most ATTACHMENT_MAX_BYTES): no open file is left behind the response
    response = send_file(io.BytesIO(download.path.read_bytes()), mimetype=download.content_type, as_attachment=True,
                         download_name=download.filename, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
