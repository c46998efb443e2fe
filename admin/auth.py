"""Signing in and out, and changing one's own password (the services are in admin.accounts)."""

from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from admin import bp
from admin.accounts import MAX_PASSWORD, LoginRefused, authenticate, change_own_password, end_sessions
from admin.formflow import attempt
from admin.forms import ConsoleForm
from extensions import db, limiter


class LoginForm(ConsoleForm):
    username = StringField("用户名", validators=[DataRequired(message="请输入用户名"), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired(message="请输入密码"), Length(max=MAX_PASSWORD)])


class PasswordForm(ConsoleForm):
    current_password = PasswordField("当前密码", validators=[DataRequired(message="请输入当前密码"), Length(max=MAX_PASSWORD)], render_kw={"autocomplete": "current-password"})
    new_password = PasswordField("新密码", validators=[DataRequired(message="请输入新密码"), Length(max=MAX_PASSWORD, message=f"新密码最多 {MAX_PASSWORD} 位")], render_kw={"autocomplete": "new-password"})
    repeat_password = PasswordField("再次输入新密码", validators=[DataRequired(message="请再次输入新密码"), Length(max=MAX_PASSWORD)], render_kw={"autocomplete": "new-password"})


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
    end_sessions(current_user._get_current_object())
    db.session.commit()
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
