"""The office console (综治委, 创建办): accounts, waves, review, results and the 约谈 loop.

Every route under /admin requires a signed-in account, except the login page itself;
what an account may see and change is decided in `admin.access`.
"""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from admin import auth, views  # noqa: E402,F401  (login, logout, the login-required guard; the pages)
