"""Helpers of the 网格员 tests: a wave open over the test units, collector accounts, filling a sheet."""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from extensions import db
from models import Response
from tests.admin.console import IsolatedClient
from tests.conftest import csrf_token
from tests.survey.helpers import setup_wave
from tests.survey.resident import ANSWERS, VILLAGE, WAVE

PASSWORD = "correct-horse-battery"
OTHER_VILLAGE = "619901001002"  # 滨河社区, same town as VILLAGE
FAR_VILLAGE = "619902001001"  # 东岭村, another county
TOWN = "619901001"  # 江滨街道


def invoke(runner, *args: str):
    result = runner.invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result


def collector_world(app, *collectors: tuple[str, str]) -> None:
    """The test units with an open wave, an admin, and collector accounts (username, scope)."""
    runner = app.test_cli_runner()
    setup_wave(runner)
    invoke(runner, "user", "create", "admin", "--role", "admin", "--password", PASSWORD)
    for username, scope in collectors:
        invoke(runner, "user", "create", username, "--role", "collector", "--scope", scope, "--password", PASSWORD)


def signed_in(app, username: str):
    app.test_client_class = IsolatedClient
    client = app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    response = client.post("/admin/login", data={"csrf_token": csrf_token(page), "username": username, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def sheet_url(unit: str = VILLAGE, wave: str = WAVE) -> str:
    return f"/admin/collect/{wave}/{unit}"


def hidden(page: str, name: str) -> str:
    m = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert m, f"no {name} in page"
    return html.unescape(m.group(1))


def blank_sheet(client, unit: str = VILLAGE) -> dict[str, str]:
    """The hidden fields of a fresh sheet (GET), to post answers with."""
    response = client.get(sheet_url(unit))
    assert response.status_code == 200, response.get_data(as_text=True)
    page = response.get_data(as_text=True)
    form = page[page.index('id="survey"'):]
    return {"csrf_token": hidden(form, "csrf_token"), "ticket": hidden(form, "ticket")}


def fill(client, answers: dict | None = None, unit: str = VILLAGE, fields: dict | None = None):
    fields = fields or blank_sheet(client, unit)
    data = {**fields, **{f"q_{k}": v for k, v in (ANSWERS if answers is None else answers).items()}}
    return client.post(sheet_url(unit), data=data)


def door_sheets() -> list[Response]:
    db.session.expire_all()
    return list(db.session.scalars(select(Response).where(Response.mode == "door").order_by(Response.id)))
