"""Accounts (admin only): the list, a new account, deactivating, reactivating, unlocking, a new password.
A scoped admin manages the accounts inside its scope only (admin.users, policy)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from admin import bp, users
from admin.access import permission_required
from admin.formflow import attempt
from admin.forms import ActionForm, UserForm, choices
from errors import PinganError


def _users_page(error=None, status=200):
    return render_template("admin/users.html", users=users.list_users(current_user), form=ActionForm(), error=error), status


@bp.get("/users")
@permission_required("users.manage")
def users_list():
    return _users_page()


@bp.route("/users/new", methods=["GET", "POST"])
@permission_required("users.manage")
def user_new():
    form = UserForm()
    unlimited = ("", "全部单位(不限)") if current_user.scope is None else ("", "请选择所辖单位")
    form.scope.choices = choices([unlimited, *users.scope_choices(current_user)])
    outcome = None
    if form.is_submitted():
        outcome = attempt(form, lambda: users.create(current_user, form.username.data, form.role.data, form.scope.data, form.display_name.data))
        if outcome:
            user, password = outcome.value
            # Shown once, in this response only: never put in a flash message or the session.
            return render_template("admin/user_created.html", user=user, password=password, reset=False)
    status = outcome.status if outcome is not None else 200
    return render_template("admin/user_new.html", form=form, error=outcome.error if outcome is not None else None), status


def _account_action(user_id: int, change, done: str):
    user = users.get_user(current_user, user_id)
    if not ActionForm().validate():
        abort(400)
    try:
        change(user)
    except PinganError as e:
        return _users_page(error=e.message, status=e.status)
    flash(done.format(user=user.username))
    return redirect(url_for("admin.users_list"))


@bp.post("/users/<int:user_id>/deactivate")
@permission_required("users.manage")
def user_deactivate(user_id: int):
    return _account_action(user_id, lambda u: users.set_active(u, False, current_user), "账号 {user} 已停用。")


@bp.post("/users/<int:user_id>/activate")
@permission_required("users.manage")
def user_activate(user_id: int):
    return _account_action(user_id, lambda u: users.set_active(u, True, current_user), "账号 {user} 已启用。")


@bp.post("/users/<int:user_id>/unlock")
@permission_required("users.manage")
def user_unlock(user_id: int):
    return _account_action(user_id, users.unlock, "账号 {user} 已解锁。")


@bp.post("/users/<int:user_id>/password")
@permission_required("users.manage")
def user_password(user_id: int):
    """A new random password, shown once."""
    user = users.get_user(current_user, user_id)
    if not ActionForm().validate():
        abort(400)
    return render_template("admin/user_created.html", user=user, password=users.reset_password(user), reset=True)
