"""Paper sheets in the console: upload a responses file (CSV or XLSX) with a preview before it is
stored, and key sheets by hand with an optional second keying. Work: admin.paper, survey.paper."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from admin import bp, paper, waves
from admin.access import permission_required
from admin.formflow import attempt
from admin.forms import ActionForm, ConfirmUploadForm, ResponsesUploadForm
from errors import PinganError
from models.waves import MODE_LABELS, RESPONSE_MODES



def _upload_page(wave, form, error=None, status=200, staged=None):
    return render_template(
        "admin/responses_upload.html", wave=wave, form=form, error=error, staged=staged,
        confirm=ConfirmUploadForm(), cancel=ActionForm(), mode_labels=MODE_LABELS, modes=RESPONSE_MODES,
        items=wave.questionnaire_version.to_spec().items,
    ), status


@bp.get("/waves/<wave_slug>/responses/upload")
@permission_required("responses.enter")
def responses_upload(wave_slug: str):
    return _upload_page(waves.get_wave(current_user, wave_slug), ResponsesUploadForm())


@bp.post("/waves/<wave_slug>/responses/upload")
@permission_required("responses.enter")
def responses_upload_check(wave_slug: str):
    """Step 1: check the whole file and show what will be stored; nothing is stored yet."""
    wave = waves.get_wave(current_user, wave_slug)
    form = ResponsesUploadForm()
    outcome = attempt(form, lambda: paper.stage_upload(current_user, wave, form.file.data))
    if not outcome:
        return _upload_page(wave, form, outcome.error, outcome.status)
    return _upload_page(wave, ResponsesUploadForm(), staged=outcome.value)


@bp.post("/waves/<wave_slug>/responses/upload/confirm")
@permission_required("responses.enter")
def responses_upload_confirm(wave_slug: str):
    """Step 2: store the checked file, all rows or none."""
    wave = waves.get_wave(current_user, wave_slug)
    form = ConfirmUploadForm()
    outcome = attempt(form, lambda: paper.confirm_upload(current_user, wave, form.token.data))
    if not outcome:
        return _upload_page(wave, ResponsesUploadForm(), outcome.error, outcome.status)
    flash(f"{outcome.value}。")
    return redirect(url_for("admin.wave", wave_slug=wave.slug))


@bp.post("/waves/<wave_slug>/responses/upload/cancel")
@permission_required("responses.enter")
def responses_upload_cancel(wave_slug: str):
    wave = waves.get_wave(current_user, wave_slug)
    if ActionForm().validate():
        paper.discard_staged()
        flash("已取消,文件未导入。")
    return redirect(url_for("admin.responses_upload", wave_slug=wave.slug))


# -- keying sheets by hand -------------------------------------------------------------------------


def _entry_page(wave, second: bool, typed: dict | None = None, errors: dict | None = None, error: str | None = None,
                status: int = 200):
    from survey.paper import field_name, recent_sheets

    differ, latest = recent_sheets(current_user, wave)
    return render_template(
        "admin/paper_entry.html", wave=wave, second=second, typed=typed or {}, errors=errors or {}, error=error,
        items=wave.questionnaire_version.to_spec().items, field_name=field_name, differ=differ, latest=latest,
        form=ActionForm(), units=paper.entry_units(current_user, wave),
    ), status


@bp.get("/waves/<wave_slug>/paper")
@permission_required("responses.enter")
def paper_entry(wave_slug: str):
    """Key a paper sheet: sheet number, unit, then each item's code, Enter to the next field."""
    second = request.args.get("second") == "1"
    return _entry_page(waves.get_wave(current_user, wave_slug), second)


@bp.post("/waves/<wave_slug>/paper")
@permission_required("responses.enter")
def paper_entry_save(wave_slug: str):
    from survey.paper import EntryErrors

    wave = waves.get_wave(current_user, wave_slug)
    second = request.form.get("second") == "1"
    typed = {k: v for k, v in request.form.items() if k != "csrf_token"}
    if not ActionForm().validate():
        return _entry_page(wave, second, typed, error="页面已过期,请刷新页面后重试", status=400)
    try:
        sheet = paper.key_sheet(current_user, wave, second, typed)
    except EntryErrors as e:
        return _entry_page(wave, second, typed, e.errors, e.message, e.status)
    except PinganError as e:
        return _entry_page(wave, second, typed, error=e.message, status=e.status)
    if sheet.status == "differs":
        flash(f"答卷 {sheet.sheet_no} 两次录入不一致,请核对原始答卷后处理。")
        return redirect(url_for("admin.paper_sheet", wave_slug=wave.slug, no=sheet.sheet_no))
    flash(f"答卷 {sheet.sheet_no} 已保存({sheet.status_label})。" + (" 有答题标记,进入答卷审核。" if sheet.response.flags else ""))
    return redirect(url_for("admin.paper_entry", wave_slug=wave.slug, second="1" if second else None))


@bp.route("/waves/<wave_slug>/paper/sheet", methods=["GET", "POST"])
@permission_required("responses.enter")
def paper_sheet(wave_slug: str):
    """One keyed sheet (?no=…); with differences between its two keyings, choose which is right for each."""
    from survey.paper import EntryErrors

    wave = waves.get_wave(current_user, wave_slug)
    sheet_no = request.args.get("no", "")
    if not sheet_no:
        return redirect(url_for("admin.paper_entry", wave_slug=wave.slug))
    error, errors, status = None, {}, 200
    if request.method == "POST":
        if not ActionForm().validate():
            error, status = "页面已过期,请刷新页面后重试", 400
        else:
            try:
                paper.resolve_sheet(current_user, wave, sheet_no, dict(request.form))
                flash(f"答卷 {sheet_no} 的不一致已处理,答卷已按所选内容更新。")
                return redirect(url_for("admin.paper_entry", wave_slug=wave.slug, second="1"))
            except EntryErrors as e:
                error, errors, status = e.message, e.errors, e.status
            except PinganError as e:
                error, status = e.message, e.status
    sheet, diffs = paper.sheet_page(current_user, wave, sheet_no)
    return render_template("admin/paper_sheet.html", wave=wave, sheet=sheet, diffs=diffs, errors=errors, error=error,
                           form=ActionForm()), status
