"""/admin/tokens: a signed-in account makes and revokes its own API tokens.

A new token is shown once, on the page that answers the POST (never flashed: the session
cookie is signed, not encrypted), and only its SHA-256 is kept (`api.tokens`).
"""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from admin import bp
from admin.access import permission_required
from admin.forms import RevokeForm, TokenForm
from api.tokens import create_token, revoke_token, user_tokens
from errors import PinganError


def _page(form: TokenForm, secret: str | None = None, error: str | None = None, status: int = 200):
    page = render_template(
        "admin/tokens.html", form=form, revoke_form=RevokeForm(), tokens=user_tokens(current_user),
        secret=secret, error=error,
    )
    return page, status, {"Cache-Control": "no-store"}


@bp.get("/tokens")
@permission_required("api.tokens")
def tokens():
    """The account's tokens and the form for a new one."""
    return _page(TokenForm())


@bp.post("/tokens")
@permission_required("api.tokens")
def token_create():
    """Make a token and show it, this once."""
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    try:
        _token, secret = create_token(current_user, form.name.data)
    except PinganError as e:
        return _page(form, error=e.message, status=e.status)
    return _page(TokenForm(formdata=None), secret=secret, status=201)


@bp.post("/tokens/<int:token_id>/revoke")
@permission_required("api.tokens")
def token_revoke(token_id: int):
    """Revoke one of the account's own tokens (404 for anyone else's)."""
    if not RevokeForm().validate_on_submit():
        return _page(TokenForm(), error="请求已过期,请刷新页面后重试", status=400)
    token = revoke_token(current_user, token_id)
    flash(f"令牌 “{token.name}” 已吊销,使用它的程序将无法再访问接口")
    return redirect(url_for("admin.tokens"))
