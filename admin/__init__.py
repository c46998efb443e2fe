"""The office console (综治委, 创建办): accounts, waves, review, results and the 约谈 loop.

Every route under /admin requires a signed-in account, except the login page itself;
what an account may see and change is decided in `admin.access`. Views live in the
`*_views` modules and call one service function each (admin.units, admin.waves, admin.review,
admin.results, admin.cases, admin.users, admin.auditlog).
"""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.context_processor
def _display_helpers() -> dict:
    from admin.display import context

    return context()


from admin import auth, views  # noqa: E402,F401  (login, logout, the login-required guard; the dashboard)
from admin import (  # noqa: E402,F401  (the pages)
    audit_views,
    call_views,
    paper_views,
    case_views,
    collect_views,
    findings_views,
    job_views,
    questionnaire_views,
    result_views,
    review_views,
    unit_views,
    user_views,
    wave_views,
)
from admin import token_views  # noqa: E402,F401  (/admin/tokens: each account's own API tokens)
from admin import due_date_views  # noqa: E402,F401  (a wave's 约谈 due days)
from admin import attachment_views  # noqa: E402,F401  (a case's files)
from admin import todo_views  # noqa: E402,F401  (/admin/todo: what the account must do next)
