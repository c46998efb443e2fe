"""Signing in and out, and changing one's own password: the views (the services are in
admin.accounts, the forms in admin.forms)."""

from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from admin import bp
from admin.accounts import LoginRefused, authenticate, change_own_password, sign_out
from admin.formflow import attempt
from admin.forms import LoginForm, PasswordForm
from extensions import limiter


@bp.before_request
def require_login():
    """Everything under /admin needs a signed-in account, except signing in."""
    if request.endpoint in ("admin.login",) or current_user.is_authenticated:
        return None
    return redirect(url_for("admin.login", next=request.full_path if request.method == "GET" else None))


def _sign_in(user) -> None:
    """A fresh session for `user`: nothing from before (a planted cookie, a pre-login CSRF token) survives."""
    session.clear()
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)  # Flask-WTF's per-request copy
    login_user(user)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            user = authenticate(form.username.data.strip(), form.password.data, request.remote_addr)
        except LoginRefused as refused:
            error = refused.message
        else:
            _sign_in(user)
            return redirect(_safe_next(request.args.get("next")) or url_for("admin.index"))
    status = 401 if error else 422 if form.errors else 200  # 422: a field left empty or not text
    return render_template("admin/login.html", form=form, error=error), status


@bp.post("/logout")
@login_required
def logout():
    """Sign out everywhere: every session of the account ends, copies of this cookie included."""
    sign_out(current_user._get_current_object())
    logout_user()
    session.clear()
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)
    flash("已退出登录")
    return redirect(url_for("admin.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def own_password():
    """Change one's own password: the current one, the new one twice. Other sessions end."""
    form = PasswordForm()
    outcome = None
    if form.is_submitted():
        user = current_user._get_current_object()
        outcome = attempt(form, lambda: change_own_password(user, form.current_password.data, form.new_password.data, form.repeat_password.data))
        if outcome:
            _sign_in(user)  # this session goes on, under the new generation
            flash("密码已修改,其他设备上的登录已全部退出")
            return redirect(url_for("admin.index"))
    status = outcome.status if outcome is not None else 200
    error = outcome.error if outcome is not None else None
    return render_template("admin/password.html", form=form, error=error), status, {"Cache-Control": "no-store"}


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site (never //host, a full URL, or anything with a control character:
    CR/LF would split the Location header) is followed after signing in."""
    if not target or any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in target) or "\\" in target:
        return None
    if target.startswith("/admin") and not target.startswith("//"):
        return target
    return None
