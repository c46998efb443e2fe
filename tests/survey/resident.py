"""Helpers for the resident-side tests: a wave open to answers, its links, the form's hidden fields."""

from __future__ import annotations

import html
import re
import time

from flask.testing import FlaskClient
from itsdangerous import TimestampSigner
from sqlalchemy import select

from extensions import db
from models import Response, Unit, Wave
from survey.intake import TICKET_SALT
from survey.links import make_token
from tests.survey.helpers import setup_wave

WAVE = "2026Q3-city"
VILLAGE = "619901001001"  # 江滨社区, in 江滨街道，临江区
# A complete, unremarkable answer sheet: mixed scores, so that no answer-sheet flag applies.
ANSWERS = {
    "safety": "B",
    "night_safety": "C",
    "sat_police": "A",
    "sat_justice": "X",
    "sat_mediation": "B",
    "sat_prevention": "C",
    "victim": "N",
    "sex": "F",
    "age_group": "60+",
    "comment": "希望多安排夜间巡逻。",
}


class ResidentClient(FlaskClient):
    """Each request in an app context of its own, as in production.

    The tests keep an app context open to look at the database; without this, every request
    would share its `g` (where Flask-WTF caches the CSRF token and Flask-Babel the locale)
    and its database session with the test and with each other.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def make_resident_app(make_app, **config):
    app = make_app(**config)
    app.test_client_class = ResidentClient
    return app


def resident_app_fixture(make_app):
    """An app with an open wave over the test units; timing flags off unless a test turns them on.

    A test module takes it as `resident_app = pytest.fixture(resident_app_fixture, name="resident_app")`.
    """
    app = make_resident_app(make_app, SPEEDER_SECONDS=0)
    with app.app_context():
        setup_wave(app.test_cli_runner())
        yield app
        db.session.remove()
        db.engine.dispose()


def open_wave_app(make_app, **config):
    """Like `resident_app`, with other config; the caller pops the context with `close_app`."""
    app = make_resident_app(make_app, **config)
    ctx = app.app_context()
    ctx.push()
    setup_wave(app.test_cli_runner())
    return app, ctx


def close_app(ctx) -> None:
    db.session.remove()
    db.engine.dispose()
    ctx.pop()


def wave(slug: str = WAVE) -> Wave:
    return db.session.scalar(select(Wave).where(Wave.slug == slug))


def unit(code: str) -> Unit:
    return db.session.scalar(select(Unit).where(Unit.code == code))


def link(unit_code: str = VILLAGE, mode: str = "qr", slug: str = WAVE) -> str:
    return f"/s/{make_token(wave(slug), unit(unit_code), mode)}"


def hidden_fields(page: str) -> dict[str, str]:
    """The ticket of the questionnaire form in `page` (its only token: no session CSRF token)."""
    fields = {}
    for name in ("ticket",):
        m = re.search(rf'name="{name}" value="([^"]*)"', page)
        assert m, f"no {name} in the page"
        fields[name] = html.unescape(m.group(1))
    return fields


def form_data(answers: dict[str, str], hidden: dict[str, str]) -> dict[str, str]:
    return {**hidden, **{f"q_{k}": v for k, v in answers.items()}}


def answer(client, path: str, answers: dict[str, str] | None = None, **kwargs):
    """Open the form and send `answers` (default: ANSWERS) with its hidden fields."""
    page = client.get(path, **kwargs)
    assert page.status_code == 200, page.get_data(as_text=True)[:500]
    data = form_data(ANSWERS if answers is None else answers, hidden_fields(page.get_data(as_text=True)))
    return client.post(path, data=data, **kwargs)


def backdated_ticket(app, wave_id: int, seconds: float, key: str = "11111111-2222-4333-8444-555555555555") -> str:
    """A ticket signed as if the form had been served `seconds` ago."""

    class Earlier(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time() - seconds)

    return Earlier(app.config["SECRET_KEY"], salt=TICKET_SALT).sign(f"{wave_id}:{key}").decode()


def responses() -> list[Response]:
    db.session.expire_all()
    return list(db.session.scalars(select(Response).order_by(Response.id)))
