"""The console's pages."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user
from sqlalchemy import select

from admin import bp
from admin.access import sees_wave
from extensions import db
from models import Wave


@bp.get("/")
def index():
    """The dashboard: the waves this account can see, newest period first."""
    waves = [w for w in db.session.scalars(select(Wave).order_by(Wave.period_start.desc(), Wave.slug)) if sees_wave(current_user, w)]
    return render_template("admin/index.html", waves=waves)
