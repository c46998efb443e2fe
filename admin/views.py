"""The dashboard."""

from __future__ import annotations

from flask import redirect, render_template, url_for
from flask_login import current_user

import policy
from admin import bp
from admin.dashboard import dashboard
from errors import Forbidden


@bp.get("/")
def index():
    """The account's waves (status, fieldwork, analysis) and its open and overdue cases; a 网格员
    or a phone interviewer, who reads none of that, goes to its own page (入户采集, 电话调查)."""
    if not policy.can(current_user, "read"):
        if policy.can(current_user, "responses.collect"):
            return redirect(url_for("admin.collect_home"))
        if policy.can(current_user, "calls.take"):
            return redirect(url_for("admin.calls_desk"))
        raise Forbidden("您没有权限访问此页面。")
    return render_template("admin/index.html", board=dashboard(current_user))
