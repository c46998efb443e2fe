"""The read API (/api/v1): waves, results per unit, interview lists and 约谈 cases as JSON.

Every route but the OpenAPI document needs `Authorization: Bearer <token>`, a personal
token made on /admin/tokens; it acts with its owner's role and scope (`policy`, the one access policy), so a
county's token sees its own subtree only. Read-only, so the blueprint is exempt from CSRF
(there is no cookie session to ride on: the token travels in a header). Rate-limited per token
(API_RATE_LIMIT), per client IP for requests without a valid token.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, request

from errors import Forbidden, PinganError
from policy import can
from extensions import hashed_remote_address, limiter
from models import ApiToken, User

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PUBLIC_ENDPOINTS = frozenset({"api.openapi"})
REALM = 'Bearer realm="pingan-api"'


class Unauthorized(PinganError):
    status = 401

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, code)


def bearer_secret() -> str | None:
    """The token of an `Authorization: Bearer …` header, if there is one."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else None


def current_token() -> ApiToken | None:
    """The request's live token, looked up once per request."""
    if "api_token" not in g:
        from api.tokens import find_token

        secret = bearer_secret()
        g.api_token = find_token(secret) if secret else None
    return g.api_token


def api_user() -> User:
    """The account the request's token acts for (set by `authenticate`)."""
    return g.api_user


def rate_key() -> str:
    """Limits count per token; requests without a valid token count against their IP."""
    token = current_token()
    return f"token:{token.id}" if token is not None else f"ip:{hashed_remote_address()}"


limiter.shared_limit(
    lambda: current_app.config["API_RATE_LIMIT"], scope="api", key_func=rate_key
)(bp)


@bp.before_request
def authenticate() -> None:
    """401 without a live bearer token; 403 if the owner's role may not read."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    if bearer_secret() is None:
        raise Unauthorized("缺少 API 令牌:请在请求头中加入 “Authorization: Bearer 令牌”", "token_missing")
    token = current_token()
    if token is None:
        raise Unauthorized("API 令牌无效、已吊销,或其账号已停用", "token_invalid")
    if not can(token.user, "read"):
        raise Forbidden("此令牌所属账号没有读取数据的权限")
    from api.tokens import touch

    touch(token)
    g.api_user = token.user


@bp.after_request
def headers(response):
    """Answers are per-token: never cached by a proxy; a 401 names the scheme (RFC 6750)."""
    if request.endpoint in PUBLIC_ENDPOINTS and response.status_code == 200:
        response.headers["Cache-Control"] = "public, max-age=300"
    else:
        response.headers["Cache-Control"] = "no-store"
    if response.status_code == 401:
        error = ', error="invalid_token"' if bearer_secret() else ""
        response.headers["WWW-Authenticate"] = REALM + error
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


from api import views  # noqa: E402,F401  (the routes)
