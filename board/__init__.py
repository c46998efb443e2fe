"""The public side: the home page and the published 公示 boards."""

from flask import Blueprint

bp = Blueprint("board", __name__)

from board import views  # noqa: E402,F401
