"""Questionnaires: the list, one version, the resident's preview, and the YAML upload."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from admin import bp, questionnaire_editor, questionnaires
from admin.access import permission_required
from admin.formflow import attempt
from admin.forms import ConsoleForm, QuestionnaireUploadForm

OUTCOMES = {"created": "已导入", "replaced": "已替换(该版本尚未被调查使用)", "unchanged": "内容未变"}


@bp.get("/questionnaires")
@permission_required("read")
def questionnaires_list():
    return render_template("admin/questionnaires.html", questionnaires=questionnaires.all_questionnaires())


@bp.route("/questionnaires/upload", methods=["GET", "POST"])
@permission_required("questionnaires.manage")
def questionnaire_upload():
    """Load a questionnaire YAML; a bad file is named with its line and column. Questionnaires
    are shared by every scope: only an unscoped admin loads them (policy.GLOBAL_VERBS)."""
    form = QuestionnaireUploadForm()
    outcome = None
    if form.is_submitted():
        outcome = attempt(form, lambda: questionnaires.upload(form.file.data))
        if outcome:
            version, what = outcome.value
            flash(f"问卷 {version.slug} 第 {version.version} 版:{OUTCOMES[what]}")
            return redirect(url_for("admin.questionnaire", questionnaire_slug=version.slug, version=version.version))
    status = outcome.status if outcome is not None else 200
    return render_template("admin/questionnaire_upload.html", form=form, error=outcome.error if outcome is not None else None), status


@bp.get("/questionnaires/<questionnaire_slug>/<int:version>")
@permission_required("read")
def questionnaire(questionnaire_slug: str, version: int):
    found = questionnaires.get_version(questionnaire_slug, version)
    return render_template(
        "admin/questionnaire.html", version=found, spec=found.to_spec(), waves=questionnaires.waves_using(current_user, found)
    )


@bp.get("/questionnaires/<questionnaire_slug>/<int:version>/preview")
@permission_required("read")
def questionnaire_preview(questionnaire_slug: str, version: int):
    """The resident's page itself. The CSP sandbox (no allow-forms) stops the form from submitting,
    framed in the console or opened on its own."""
    html = questionnaires.preview_html(questionnaires.get_version(questionnaire_slug, version))
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = "sandbox allow-scripts allow-same-origin"
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.route("/questionnaires/<questionnaire_slug>/<int:version>/edit", methods=["GET", "POST"])
@permission_required("questionnaires.manage")
def questionnaire_edit(questionnaire_slug: str, version: int):
    """Edit texts, add options, reorder: saved as the next version (admin.questionnaire_editor)."""
    found = questionnaires.get_version(questionnaire_slug, version)
    form = ConsoleForm()  # the CSRF token; the fields are read by the editor
    outcome = None
    if form.is_submitted():
        outcome = attempt(form, lambda: questionnaire_editor.save_edit(found, request.form))
        if outcome:
            saved = outcome.value
            flash(f"问卷 {saved.slug} 已保存为第 {saved.version} 版(第 {found.version} 版不变)")
            return redirect(url_for("admin.questionnaire", questionnaire_slug=saved.slug, version=saved.version))
    status = outcome.status if outcome is not None else 200
    return render_template(
        "admin/questionnaire_edit.html", version=found, spec=found.to_spec(), form=form,
        values=request.form if outcome is not None else None, error=outcome.error if outcome is not None else None,
    ), status
