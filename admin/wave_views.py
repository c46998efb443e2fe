"""Waves: the list, creating one, one wave with its live progress, status changes, and downloads."""

from __future__ import annotations

from flask import Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from admin import bp, waves
from admin.access import permission_required
import policy
from admin.formflow import attempt
from admin.job_views import job_response
from admin.forms import ActionForm, ReopenForm, WaveCollectionForm, WaveForm, WaveTitleForm, choices
from errors import PinganError
from models.accounts import ROLE_LABELS
from models.waves import MODE_LABELS
from survey.qr import loopback_base
from survey.waves import ACTION_LABELS

PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _loopback_confirmation(wave, what: str):
    """A poster or QR download while PUBLIC_BASE_URL points at this machine: a red warning and an
    explicit "download anyway" (?loopback=1), never a loopback address printed silently."""
    base = loopback_base()
    if base is None or request.args.get("loopback") == "1":
        return None
    return render_template(
        "admin/loopback.html", wave=wave, what=what, base=base,
        anyway=url_for(request.endpoint, **request.view_args, **request.args.to_dict(), loopback="1"),
    )  # 200: a page asking, not a failure


@bp.get("/waves")
@permission_required("read")
def waves_list():
    return render_template("admin/waves.html", waves=policy.visible_waves(current_user))


@bp.route("/waves/new", methods=["GET", "POST"])
@permission_required("waves.manage")
def wave_new():
    offered = waves.new_wave_form(current_user, request.args.get("copy") if request.method == "GET" else None)
    copy = offered.copy
    form = WaveForm(data=vars(copy) if copy else None)
    form.questionnaire.choices = choices(offered.questionnaires)
    form.scope.choices = choices(offered.scopes)
    form.slug_problem = lambda slug: waves.slug_problem(current_user, slug)  # asked while the form validates
    outcome = None
    if form.is_submitted():
        outcome = attempt(form, lambda: waves.create(
            current_user, form.slug.data.strip(), form.questionnaire.data, form.scope.data,
            form.period.data.strip(), (form.series.data or "").strip(), form.target_n.data,
            (form.title.data or "").strip() or None,
        ))
        if outcome:
            flash(f"已创建调查“{outcome.value.title}”(草稿)。确认无误后点“开始调查”。")
            return redirect(url_for("admin.wave", wave_slug=outcome.value.slug))
    status = outcome.status if outcome is not None else 200
    return render_template("admin/wave_new.html", form=form, copy_of=request.args.get("copy") if copy else None,
                           error=outcome.error if outcome is not None else None), status


def _wave_page(wave, error: str | None = None, status: int = 200, title_form=None, reopen_form=None,
               collection_form=None):
    page = waves.wave_page(current_user, wave, request.args)  # ?q=&county=&town=&sort= (admin/listing.py), ?behind=1
    return render_template(
        "admin/wave.html",
        wave=wave,
        progress=page.progress,
        rows=page.rows,
        shown=page.shown,
        progress_sorts=waves.PROGRESS_SORTS,
        behind_only=page.behind_only,
        parts=page.parts,
        loopback=page.loopback,
        mode_labels=MODE_LABELS,
        role_labels=ROLE_LABELS,
        analysed=page.analysed,
        manages=page.manages,
        covers=page.covers,
        phone_rates=page.phone_rates,
        period=page.period,
        form=ActionForm(),
        title_form=title_form or WaveTitleForm(formdata=None, data={"title": wave.title}),
        reopen_form=reopen_form or ReopenForm(formdata=None),
        collection_form=collection_form or WaveCollectionForm(formdata=None, data={
            "collection_start": wave.collection_start, "collection_end": wave.collection_end}),
        error=error,
    ), status


@bp.get("/waves/<wave_slug>")
@permission_required("read")
def wave(wave_slug: str):
    """The wave: status and actions, progress per unit against target (refreshed every 15 s while open)."""
    return _wave_page(waves.get_wave(current_user, wave_slug))


@bp.get("/waves/<wave_slug>/progress.xlsx")
@permission_required("read")
def wave_progress_xlsx(wave_slug: str):
    """The progress per unit (?behind=1: the units behind target only), by day, by channel and by collector."""
    wave = waves.get_wave(current_user, wave_slug)
    behind_only = request.args.get("behind") == "1"
    return _download(waves.progress_xlsx(current_user, wave, behind_only, request.args), waves.progress_xlsx_name(wave, behind_only), XLSX)


@bp.get("/waves/<wave_slug>/progress.json")
@permission_required("read")
def wave_progress_json(wave_slug: str):
    wave = waves.get_wave(current_user, wave_slug)
    return jsonify(status=wave.status, **waves.progress(current_user, wave).to_dict())


def confirm_page(wave, confirm, action: str, back: str, hidden: dict | None = None):
    """The page that asks before an action that is hard to undo (admin.waves.Confirmation)."""
    return render_template("admin/confirm.html", wave=wave, confirm=confirm, action=action, back=back, hidden=hidden or {})


def _transition(wave_slug: str, action: str):
    wave = waves.get_wave(current_user, wave_slug)
    form = ActionForm()
    if not form.validate():
        abort(400)
    try:
        if request.form.get("confirmed") != "1":
            confirm = waves.confirmation(current_user, wave, action)
            if confirm is not None:
                return confirm_page(wave, confirm, url_for(f"admin.wave_{action}", wave_slug=wave.slug),
                                    url_for("admin.wave", wave_slug=wave.slug))
        waves.change_status(current_user, wave, action)
    except PinganError as e:
        return _wave_page(wave, error=e.message, status=e.status)
    flash(f"“{wave.title}”已{ACTION_LABELS[action]}。")
    return redirect(url_for("admin.wave", wave_slug=wave.slug))


@bp.post("/waves/<wave_slug>/open")
@permission_required("waves.manage")
def wave_open(wave_slug: str):
    return _transition(wave_slug, "open")


@bp.post("/waves/<wave_slug>/close")
@permission_required("waves.manage")
def wave_close(wave_slug: str):
    return _transition(wave_slug, "close")


@bp.post("/waves/<wave_slug>/publish")
@permission_required("waves.manage")
def wave_publish(wave_slug: str):
    return _transition(wave_slug, "publish")


@bp.post("/waves/<wave_slug>/reopen")
@permission_required("waves.reopen")
def wave_reopen(wave_slug: str):
    """An admin opens a closed wave again, with a reason kept in the audit log."""
    wave = waves.get_wave(current_user, wave_slug)
    form = ReopenForm()
    outcome = attempt(form, lambda: waves.reopen(current_user, wave, form.reason.data))
    if outcome:
        flash(f"“{wave.title}”已重新开放，居民可以继续填写。")
        return redirect(url_for("admin.wave", wave_slug=wave.slug))
    return _wave_page(wave, error=outcome.error, status=outcome.status, reopen_form=form)


@bp.post("/waves/<wave_slug>/title")
@permission_required("waves.manage")
def wave_title(wave_slug: str):
    """Rename the wave: the title every page and document shows (the slug stays in links)."""
    wave = waves.get_wave(current_user, wave_slug)
    form = WaveTitleForm()
    outcome = attempt(form, lambda: waves.rename(current_user, wave, form.title.data))
    if outcome:
        flash(f"调查名称已改为“{wave.title}”。")
        return redirect(url_for("admin.wave", wave_slug=wave.slug))
    return _wave_page(wave, error=outcome.error, status=outcome.status, title_form=form)


@bp.post("/waves/<wave_slug>/collection")
@permission_required("waves.manage")
def wave_collection(wave_slug: str):
    """The days residents are asked, printed on the posters (empty: the whole period)."""
    wave = waves.get_wave(current_user, wave_slug)
    form = WaveCollectionForm()
    outcome = attempt(form, lambda: waves.set_collection(current_user, wave, form.collection_start.data,
                                                        form.collection_end.data))
    if outcome:
        start, end = wave.collection_dates
        flash(f"收集时间已设为 {start} 至 {end}。")
        return redirect(url_for("admin.wave", wave_slug=wave.slug))
    return _wave_page(wave, error=outcome.error, status=outcome.status, collection_form=form)


@bp.post("/waves/<wave_slug>/short-links")
@permission_required("waves.manage")
def wave_short_links(wave_slug: str):
    """"生成短码": the short codes units added since the wave was created (or opened) still lack."""
    wave = waves.get_wave(current_user, wave_slug)
    if not ActionForm().validate():
        abort(400)
    try:
        created = waves.add_short_links(current_user, wave)
    except PinganError as e:
        return _wave_page(wave, error=e.message, status=e.status)
    flash(f"已为 {created // 2} 个单位生成短码。" if created else "所有填报单位都已有短码。")
    return redirect(url_for("admin.wave", wave_slug=wave.slug))


def _download(data: bytes, name: str, mimetype: str) -> Response:
    return Response(data, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, no-store",
    })


@bp.get("/waves/<wave_slug>/qr.zip")
@permission_required("read")
def wave_qr(wave_slug: str):
    """A zip of one QR PNG per collecting unit in the account's scope, with index.csv (?mode=door:
    door-to-door cards), built by a background job like the posters (docs/jobs.md)."""
    wave = waves.get_wave(current_user, wave_slug)
    mode = request.args.get("mode", "qr")
    if mode not in ("qr", "door"):
        abort(404)
    waves.qr_check(current_user, wave, mode)  # every refusal first (scope, short codes); nothing asked yet
    confirm = _loopback_confirmation(wave, "入户卡片二维码" if mode == "door" else "二维码")
    if confirm is not None:
        return confirm
    return job_response(waves.qr_zip(current_user, wave, mode))  # the file when built, else its job's page


@bp.get("/waves/<wave_slug>/reports/<kind>.pdf")
@permission_required("read")
def wave_report(wave_slug: str, kind: str):
    """A report of the wave as PDF (quarterly, interviews, board or posters; the account's part of
    it when the wave reaches beyond its scope; ?unit=CODE: one unit's posters and cards, or its
    notice), built by a background job: the file when it is built for the current data, else the
    job's page (docs/jobs.md)."""
    wave = waves.get_wave(current_user, wave_slug)
    job = waves.report_pdf(current_user, wave, kind, request.args.get("unit") or None)  # every refusal first
    if kind == "posters":
        confirm = _loopback_confirmation(wave, "扫码海报和入户卡片")
        if confirm is not None:
            return confirm
    return job_response(job)
