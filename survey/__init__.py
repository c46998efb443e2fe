"""Units, questionnaires, waves, QR links, the resident form and response intake.

`bp` is the residents' blueprint: /s (type a short code) and /s/<token> (the questionnaire).
"""

from flask import Blueprint

bp = Blueprint("survey", __name__)

from survey import views  # noqa: E402,F401
