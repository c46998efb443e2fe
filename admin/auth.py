"""Signing in and out, with a lockout after repeated failures."""

from __future__ import annotations

import functools
import secrets
from datetime import timedelta

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

import audit
from admin import bp
from admin.forms import ConsoleForm
from extensions import db, limiter
from models import User
from models.types import utcnow

@functools.cache
def _dummy_hash() -> str:
    """Checked against when the username is unknown, so that a wrong username costs as much
    time as a wrong password and the response time does not tell which one it was."""
    return generate_password_hash(secrets.token_hex(16), method="scrypt")


class LoginForm(ConsoleForm):
    username = StringField("用户名", validators=[DataRequired(message="请输入用户名"), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired(message="请输入密码"), Length(max=256)])


class LoginRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def authenticate(username: str, password: str) -> User:
    """The account for these credentials, or LoginRefused; counts failures and locks.

    After LOGIN_MAX_FAILURES wrong passwords in a row the account is locked for
    LOGIN_LOCK_MINUTES, whatever password comes next (a correct one included).
    """
    config = current_app.config
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        check_password_hash(_dummy_hash(), password)
        raise LoginRefused("用户名或密码不正确")
    now = utcnow()
    locked_until = user.locked_until
    if locked_until is not None and locked_until.tzinfo is None:  # SQLite returns naive UTC
        locked_until = locked_until.replace(tzinfo=now.tzinfo)
    if locked_until is not None and locked_until > now:
        minutes = max(1, int((locked_until - now).total_seconds() // 60) + 1)
        raise LoginRefused(f"密码错误次数过多,账号已锁定,请 {minutes} 分钟后再试")
    if not check_password_hash(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= config["LOGIN_MAX_FAILURES"]:
            user.locked_until = now + timedelta(minutes=config["LOGIN_LOCK_MINUTES"])
            user.failed_logins = 0
            audit.record("user.lock", "user", user.username, None, {"locked_until": user.locked_until.isoformat()})
            db.session.commit()
            raise LoginRefused(f"密码错误次数过多,账号已锁定 {config['LOGIN_LOCK_MINUTES']} 分钟")
        db.session.commit()
        raise LoginRefused("用户名或密码不正确")
    if not user.active:
        raise LoginRefused("该账号已停用,请联系管理员")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    db.session.commit()
    return user


@bp.before_request
def require_login():
    """Everything under /admin needs a signed-in account, except signing in."""
    if request.endpoint in ("admin.login",) or current_user.is_authenticated:
        return None
    return redirect(url_for("admin.login", next=request.full_path if request.method == "GET" else None))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            user = authenticate(form.username.data.strip(), form.password.data)
        except LoginRefused as refused:
            error = refused.message
        else:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")) or url_for("admin.index"))
    status = 401 if error else 422 if form.errors else 200  # 422: a field left empty or not text
    return render_template("admin/login.html", form=form, error=error), status


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash("已退出登录")
    return redirect(url_for("admin.login"))


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site (never //host or a full URL) is followed after signing in."""
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target
    return None
