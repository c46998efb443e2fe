"""Shared helpers of the console tests: the reference city, office accounts, signing in, posting forms.

The reference city is tests/fixtures/analysis (示例市, 510700): three counties, eleven towns, six
villages, departments, and two quarterly waves of real-looking answers. Loaded through the CLI,
as an office would, it gives ranked peer groups, units under min_n, and 重点管理 escalations.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select, update

from flask.testing import FlaskClient

from extensions import db
from models import Response, User, Wave
from tests.conftest import built_once, csrf_token, use_built

FIXTURES = Path(__file__).parents[1] / "fixtures" / "analysis"
PASSWORD = "correct-horse-battery"
CITY, EAST, WEST, SOUTH = "510700", "510701", "510702", "510703"  # 示例市，东城区，西山县，南河县
Q2, Q3 = "2026Q2-city", "2026Q3-city"
# username, role, scope
ACCOUNTS = (
    ("admin", "admin", None),
    ("east", "county", EAST),
    ("west", "county", WEST),
    ("office", "office", None),
    ("analyst", "analyst", None),
)


def invoke(runner, *args: str):
    result = runner.invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result


def load_city(runner) -> None:
    invoke(runner, "units", "import", str(FIXTURES / "units.csv"), "--population", str(FIXTURES / "population.csv"))
    invoke(runner, "questionnaire", "load", str(FIXTURES / "questionnaire.yaml"))


def make_accounts(runner) -> None:
    for username, role, scope in ACCOUNTS:
        invoke(runner, "user", "create", username, "--role", role, "--password", PASSWORD, *(["--scope", scope] if scope else []))


def load_wave(runner, slug: str, period: str, file: str, analyse: bool = True, close: bool = True) -> None:
    invoke(runner, "wave", "create", "--slug", slug, "--questionnaire", "safety", "--scope", CITY, "--period", period)
    invoke(runner, "wave", "open", slug)
    invoke(runner, "responses", "import", "--wave", slug, str(FIXTURES / file))
    # Imports flag straight-lined sheets (issue 15); the reference city starts clean, so that each
    # test sets the flags it reviews.
    db.session.execute(update(Response).where(Response.wave_id == db.session.scalar(
        select(Wave.id).where(Wave.slug == slug))).values(review_status="clean", flags=[]))
    db.session.commit()
    if close:
        invoke(runner, "wave", "close", slug)
    if analyse:
        invoke(runner, "analysis", "run", "--wave", slug)


def reference_city(runner, q3_analysed: bool = True) -> None:
    """Units, accounts, 2026Q2 (analysed and published) and 2026Q3 (closed, analysed unless told)."""
    load_city(runner)
    make_accounts(runner)
    load_wave(runner, Q2, "2026Q2", "responses_w1.csv")
    invoke(runner, "wave", "publish", Q2)
    load_wave(runner, Q3, "2026Q3", "responses_w2.csv", analyse=q3_analysed)


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in an app context of its own, as on a server.

    The tests hold an app context to query the database; without this, every request would
    share its `g` — Flask-Login's cached user and Flask-WTF's CSRF token included — so a second
    signed-in client would act as the first."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def isolated(app):
    app.test_client_class = IsolatedClient
    return app


@pytest.fixture(scope="session")
def city_template(database_template, tmp_path_factory):
    """The reference city loaded once on SQLite (see tests.conftest.built_once)."""
    return built_once(database_template, tmp_path_factory, "city", lambda app: reference_city(app.test_cli_runner()))


@pytest.fixture
def city(city_template, database, make_app):
    """An app (inside its app context) on this test's own copy of the reference city."""
    use_built(city_template, database)
    app = isolated(make_app())
    with app.app_context():
        if city_template is None:
            reference_city(app.test_cli_runner())
        yield app
        db.session.remove()
        db.engine.dispose()


def client_for(app, username: str):
    """A test client signed in as `username` (each request in its own app context)."""
    client = isolated(app).test_client()
    sign_in(client, username)
    return client


def wave(slug: str) -> Wave:
    db.session.expire_all()
    return db.session.scalar(select(Wave).where(Wave.slug == slug))


def user(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def sign_in(client, username: str, password: str = PASSWORD) -> None:
    page = client.get("/admin/login").get_data(as_text=True)
    response = client.post("/admin/login", data={"csrf_token": csrf_token(page), "username": username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)


def token(client) -> str:
    """A CSRF token of this client's session (any console page carries one, in the logout form)."""
    return csrf_token(client.get("/admin/").get_data(as_text=True))


def post(client, url: str, data: dict | None = None, **kwargs):
    """POST a console form with this session's CSRF token."""
    return client.post(url, data={"csrf_token": token(client), **(data or {})}, **kwargs)


def text(response) -> str:
    """The page's text without tags and with collapsed white space, for phrase checks."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def field_error(response, field: str) -> str | None:
    """The message shown beside a form field, or None."""
    m = re.search(rf'<p class="field-error" id="{re.escape(field)}-error">([^<]*)</p>', response.get_data(as_text=True))
    return m.group(1) if m else None
