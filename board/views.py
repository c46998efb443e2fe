from flask import render_template
from sqlalchemy import select

from board import bp
from extensions import db
from models import Wave


@bp.get("/")
def home():
    """The public home page: the published boards, newest first."""
    published = db.session.scalars(
        select(Wave).where(Wave.status == "published").order_by(Wave.period_start.desc())
    ).all()
    return render_template("board/home.html", published=published)
