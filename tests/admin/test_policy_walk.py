"""Route-wide: an admin scoped to one county is that county's admin, on every route.

The world of tests/api/world.py, plus an admin account scoped to 石桥县 (619902) with an API
token. Every /admin and /api/v1 route of `app.url_map`, every method:

- with the other county's (临江区) object in each county-bound parameter, and with an unscoped
  account's id: 403/404, no row changes, and no name outside 石桥县 in the answer;
- with its own objects (and the city-wide waves, which it may open): no row outside 石桥县 —
  the other county's, the city's, an unscoped account, a questionnaire — changes;
- every GET page and API answer it can open names no unit outside 石桥县, also with query
  strings that name the other county; the accounts page and the audit log above all.

Routes come from the running app (tests/api/routes.py), so routes added later are walked too.
"""

from __future__ import annotations

import io
from urllib.parse import urlencode

import pytest
from werkzeug.security import generate_password_hash

from admin.accounts import create_user
from api.tokens import create_token
from extensions import db
from tests.admin.test_security import CROSS, FOREIGN_QUERIES, GUARDED, LEAKS, OWN_WRITES
from tests.api.routes import (
    Route,
    body_text,
    changes,
    fill,
    pick_kind,
    rows_changed_outside,
    send,
    session_csrf,
    sign_in,
    snapshot,
    table_rows,
    unknown_params,
    url_for_route,
)
from tests.api.world import OWN, PASSWORD, site, web, world, world_rows  # noqa: F401  (fixtures)

SCOPED_ADMIN = "shiqiao-admin"
UNSCOPED = ("admin", "office", "analyst")  # accounts of the whole tree: outside every scoped admin
USER_ROUTES = [r for r in GUARDED if "user_id" in r.params]


def hostile_form(rule: str) -> dict:
    """Form values that would really change something outside the county, had the view no
    scope check: a new account of the whole tree (FORM's role=admin, scope=""), and a units.csv
    that re-parents 临江区's village under 石桥县's town (issue 11)."""
    if rule == "/admin/users/new":
        return {"username": "walker"}
    if rule == "/admin/units/import":
        return {"units": (io.BytesIO("code,name,kind,parent_code\n619901001001,江滨社区,village,619902001\n".encode()), "units.csv")}
    return {}


@pytest.fixture
def scoped_admin(world) -> str:
    """An admin scoped to 石桥县 (with the world's cheap password hash); its live API token."""
    user = create_user(SCOPED_ADMIN, PASSWORD, "admin", OWN)
    user.password_hash = generate_password_hash(PASSWORD, method="scrypt:1024:8:1")
    db.session.commit()
    return create_token(user, "脚本")[1]


def _as_scoped_admin(web, route: Route, secret: str):
    client = web.test_client()
    if not route.is_api:
        sign_in(client, SCOPED_ADMIN)
    return client, (secret if route.is_api else None)


def _refused(web, world, route: Route, url: str, secret: str) -> None:
    client, token = _as_scoped_admin(web, route, secret)
    csrf = session_csrf(client) if route.method not in ("GET",) else None
    before = snapshot()
    response = send(client, route.method, url, csrf=csrf, token=token)
    after = snapshot()
    assert response.status_code in (403, 404), f"{route.id} as 石桥县's admin: {url} → {response.status_code}"
    assert not changes(before, after), f"{route.id} as 石桥县's admin changed: {changes(before, after)}"
    leaked = [name for name in world.names_outside(OWN) if name in body_text(response)]
    assert not leaked, f"{route.id}: the refusal names {leaked}"


@pytest.mark.parametrize("route, foreign", CROSS)
def test_a_scoped_admin_cannot_reach_another_countys_objects(route, foreign, web, world, scoped_admin):
    unknown_params(route)
    values = fill(route, world, all_foreign=True) if foreign == ("*",) else fill(route, world, foreign=foreign)
    _refused(web, world, route, url_for_route(web, route, values), scoped_admin)


@pytest.mark.parametrize("username", UNSCOPED)
@pytest.mark.parametrize("route", USER_ROUTES, ids=[r.id for r in USER_ROUTES])
def test_a_scoped_admin_cannot_reach_an_unscoped_account(route, username, web, world, scoped_admin):
    """The city-wide admin's password (issue 11), an unscoped office or analyst account: 404."""
    url = url_for_route(web, route, fill(route, world, user_id=world.user(username).id))
    _refused(web, world, route, url, scoped_admin)


@pytest.mark.parametrize("route, wave", OWN_WRITES)
def test_a_scoped_admin_changes_nothing_outside_its_county(route, wave, web, world, scoped_admin):
    """With the form values of tests/api/routes.FORM (role=admin, an empty scope, …) and its own
    objects: whatever it may do, nothing outside 石桥县 changes — no account of the whole tree
    or of 临江区, no unit re-parented, no questionnaire, no city-wide result."""
    unknown_params(route)
    client, _ = _as_scoped_admin(web, route, scoped_admin)
    url = url_for_route(web, route, fill(route, world, **({"wave_slug": wave} if wave else {})))
    before = table_rows()
    response = send(client, route.method, url, csrf=session_csrf(client), extra=hostile_form(route.rule))
    outside = rows_changed_outside(before, table_rows(), OWN)
    assert not outside, f"{route.id}: {url} ({response.status_code}) as 石桥县's admin changed rows outside it: {outside[:10]}"


@pytest.mark.parametrize("route, wave", LEAKS)
def test_a_scoped_admin_sees_no_name_outside_its_county(route, wave, web, world, scoped_admin):
    unknown_params(route)
    client, token = _as_scoped_admin(web, route, scoped_admin)
    kind = pick_kind(web, route, world)
    url = url_for_route(web, route, fill(route, world, **({"wave_slug": wave} if wave else {}), **kind))
    response = send(client, "GET", url, token=token)
    assert response.status_code < 500, f"{route.id}: {url} → {response.status_code}"
    names = world.names_outside(OWN)
    leaked = [name for name in names if name in body_text(response)]
    assert not leaked, f"{route.id}: {url} ({response.status_code}) shows 石桥县's admin the names {leaked}"
    if response.mimetype not in ("text/html", "application/json") or wave not in (None, "2026Q3-city"):
        return
    for query in FOREIGN_QUERIES:
        asked = f"{url}?{urlencode(query)}"
        response = send(client, "GET", asked, token=token)
        assert response.status_code < 500, f"{route.id}: {asked} → {response.status_code}"
        leaked = [name for name in names if name in body_text(response)]
        assert not leaked, f"{route.id}: {asked} ({response.status_code}) shows 石桥县's admin the names {leaked}"


def test_the_accounts_page_and_the_audit_log_stay_inside_the_county(web, world, scoped_admin):
    """Read as a scoped admin: its county's accounts only; audit entries of its subtree only."""
    client = web.test_client()
    sign_in(client, SCOPED_ADMIN)
    users = body_text(client.get("/admin/users"))
    assert "shiqiao" in users and "linjiang" not in users and ">admin<" not in users
    for query in ("", "?entity=unit", "?entity=wave", "?entity=case", "?entity=user", "?entity=response", "?page=2"):
        response = client.get("/admin/audit" + query)
        assert response.status_code == 200
        body = body_text(response)
        leaked = [name for name in world.names_outside(OWN) if name in body]
        assert not leaked and "2026Q3-linjiang" not in body and "linjiang" not in body, (query, leaked)
    assert "石桥县" in body_text(client.get("/admin/audit?entity=unit"))
