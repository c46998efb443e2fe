"""Every state-changing route under /admin (POST, PUT, PATCH, DELETE, from `app.url_map`)
refuses a request without a valid CSRF token — 400 from Flask-WTF's check, nothing changed —
even from a signed-in admin, who may do everything. The API blueprint is exempt: it is
read-only (GET only, checked here too) and takes no cookie session."""

from __future__ import annotations

import pytest
from flask_wtf.csrf import CSRFError

from extensions import csrf
from tests.api.routes import (
    STATE_CHANGING,
    by_id,
    changes,
    fill,
    routes,
    send,
    session_csrf,
    sign_in,
    snapshot,
    url_for_route,
)
from tests.api.routes import _token_of
from tests.api.world import site, web, world, world_rows  # noqa: F401  (fixtures)

FORMS = routes(("/admin",), methods=STATE_CHANGING)


@pytest.fixture
def csrf_refusals(monkeypatch) -> list[str]:
    """Each CSRF refusal Flask-WTF raises, so that a 400 is known to come from the CSRF check."""
    refused: list[str] = []
    original = csrf.protect

    def protect(*args, **kwargs):
        try:
            return original(*args, **kwargs)
        except CSRFError as e:
            refused.append(e.description)
            raise

    monkeypatch.setattr(csrf, "protect", protect)
    return refused


def test_there_are_forms_to_check():
    assert any(r.rule == "/admin/logout" for r in FORMS)


@pytest.mark.parametrize("route", **by_id(FORMS))
@pytest.mark.parametrize("token", [None, "forged-token"], ids=["missing", "forged"])
def test_state_changing_routes_refuse_a_missing_or_forged_csrf_token(route, token, web, world, csrf_refusals):
    client = web.test_client()
    sign_in(client, "admin")
    session_csrf(client)  # the session has a token; the request does not send it
    url = url_for_route(web, route, fill(route, world, token_id=_token_of("admin")(world)) if "token_id" in route.params else fill(route, world))
    before = snapshot()
    response = send(client, route.method, url, csrf=token)
    after = snapshot()
    assert response.status_code == 400, f"{route.id} without a valid CSRF token: {response.status_code}"
    assert csrf_refusals, f"{route.id}: 400, but not from the CSRF check (is the route exempt?)"
    assert not changes(before, after), f"{route.id} changed the database without a CSRF token: {changes(before, after)}"


def test_the_api_changes_nothing_so_its_csrf_exemption_is_safe():
    assert {r.method for r in routes(("/api/",))} == {"GET"}
