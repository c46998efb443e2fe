"""The dashboard."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from admin import bp
from admin.access import permission_required
from admin.dashboard import dashboard


@bp.get("/")
@permission_required("read")
def index():
    """The account's waves (status, fieldwork, analysis) and its open and overdue cases."""
    return render_template("admin/index.html", board=dashboard(current_user))
