"""Route-wide security: every /admin and /api/v1 route of `app.url_map`, every method.

- nobody signed in (and no valid API token) is refused everywhere but the login page and
  the OpenAPI document, and nothing changes;
- a county account (石桥县) cannot read or change another county's (临江区) units, waves,
  responses, results, cases, accounts or tokens: every route with such a parameter is tried
  with the other county's object → 403/404, nothing changes, and its names never show;
- every page and API answer a county account can open — a city-wide wave's above all —
  carries no name of a unit outside its county;
- the lockout: per account, across clients, reset by a success.

Routes come from the running app, so routes added later are covered without editing this
file; a URL parameter the fillers do not know fails the test (tests/api/routes.py).
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import select, update

from extensions import db
from models import AuditEntry, LoginFailure, User
from models.types import utcnow
from tests.api.routes import (
    FILLERS,
    PUBLIC,
    SCOPED_PARAMS,
    STATE_CHANGING,
    Route,
    body_text,
    by_id,
    changes,
    fill,
    pick_kind,
    routes,
    rows_changed_outside,
    send,
    session_csrf,
    sign_in,
    snapshot,
    table_rows,
    unknown_params,
    url_for_route,
)
from tests.api.world import OTHER, OWN, PASSWORD, site, web, world, world_rows  # noqa: F401  (fixtures)
from tests.conftest import csrf_token

ALL = routes()
INTERVIEWER_ONLY = ("/admin/calls",)
GUARDED = [r for r in ALL if (r.rule, r.method) not in PUBLIC]
GETS = [r for r in GUARDED if r.method == "GET"]


def _cross_county_cases() -> list:
    """(route, foreign parameters): each county-bound parameter foreign on its own, then all at once."""
    cases = []
    for route in GUARDED:
        scoped = [p for p in route.params if p in SCOPED_PARAMS]
        unknown = [p for p in route.params if p not in FILLERS]
        if unknown:  # fails in the test, with the reason
            cases.append(pytest.param(route, (), id=f"{route.id} [unknown {','.join(unknown)}]"))
            continue
        for p in scoped:
            cases.append(pytest.param(route, (p,), id=f"{route.id} [{p}]"))
        if scoped:
            cases.append(pytest.param(route, ("*",), id=f"{route.id} [all foreign]"))
    return cases


CROSS = _cross_county_cases()


def _leak_cases() -> list:
    """(GET route, wave): routes of a wave for the city-wide waves (analysed and open) and the county's own."""
    cases = []
    for route in GETS:
        waves = ("2026Q3-city", "2026Q4-city", "2026Q3-shiqiao") if "wave_slug" in route.params else (None,)
        cases += [pytest.param(route, w, id=f"{route.id}" + (f" [{w}]" if w else "")) for w in waves]
    return cases


LEAKS = _leak_cases()
# Query strings a county might try on any page: filters naming the other county's objects, and
# the levels of a results table above or beside its own.
FOREIGN_QUERIES = (
    {"wave": "2026Q3-linjiang", "unit": f"{OTHER}001", "unit_code": f"{OTHER}001", "scope": OTHER, "county": OTHER,
     "parent": OTHER, "code": f"{OTHER}001", "entity_id": f"{OTHER}001"},
    {"level": "county"}, {"level": "town"}, {"level": "village"}, {"level": "department"}, {"level": "city"},
    {"queue": "all"}, {"status": "open"},
)
CITY_WAVES = ("2026Q2-city", "2026Q3-city", "2026Q4-city")  # cases not yet issued; analysed; open


def _own_write_cases() -> list:
    """(state-changing /admin route, wave): routes of a wave for each city-wide wave and the county's own."""
    cases = []
    for route in GUARDED:
        if route.is_api or route.method not in STATE_CHANGING:
            continue
        waves = (*CITY_WAVES, "2026Q3-shiqiao") if "wave_slug" in route.params else (None,)
        cases += [pytest.param(route, w, id=f"{route.id}" + (f" [{w}]" if w else "")) for w in waves]
    return cases


OWN_WRITES = _own_write_cases()


def _as_county(web, world, route: Route):
    """A client acting for the 石桥县 account: signed in for /admin, its token for /api/v1."""
    client = web.test_client()
    if not route.is_api:
        sign_in(client, "shiqiao")
    return client, (world.tokens["shiqiao"] if route.is_api else None)


def test_the_route_list_is_not_empty():
    """The enumeration itself works: both blueprints are there."""
    rules = {r.rule for r in ALL}
    assert "/admin/" in rules and "/api/v1/waves" in rules and "/admin/tokens" in rules


def test_every_url_parameter_can_be_filled():
    """One place that lists every parameter name the fillers do not know, route by route."""
    unknown = {r.id: [p for p in r.params if p not in FILLERS] for r in ALL}
    unknown = {k: v for k, v in unknown.items() if v}
    assert not unknown, f"teach tests/api/routes.py FILLERS these parameters (or rename them by the conventions): {unknown}"


# --- nobody signed in -------------------------------------------------------------------------

@pytest.mark.parametrize("route", **by_id(GUARDED))
def test_anonymous_is_refused_and_changes_nothing(route, web, world):
    """/admin: a redirect to the login page (or 401/403), never 200; /api/v1: 401 JSON, without
    a token and with a revoked or made-up one. State-changing requests carry a valid CSRF
    token, so that it is the login guard, not the CSRF check, that refuses them."""
    client = web.test_client()
    url = url_for_route(web, route, fill(route, world))
    csrf = session_csrf(client) if route.method in STATE_CHANGING else None
    before = snapshot()
    if route.is_api:
        for token in (None, world.revoked["admin"], "pa_made-up-token", "not-even-the-format"):
            response = send(client, route.method, url, csrf=csrf, token=token)
            assert response.status_code == 401, f"{route.id} with token {token!r}: {response.status_code}"
            assert response.is_json and response.json["error"]["message"], route.id
            assert "Bearer" in response.headers.get("WWW-Authenticate", "")
    else:
        response = send(client, route.method, url, csrf=csrf)
        assert response.status_code in (302, 303, 401, 403), f"{route.id}: {response.status_code} without signing in"
        if response.status_code in (302, 303):
            assert response.headers["Location"].split("?")[0].endswith("/admin/login"), response.headers["Location"]
    assert not changes(before, snapshot()), f"{route.id} changed the database without an account"


@pytest.mark.parametrize("rule, method", sorted(PUBLIC))
def test_only_the_login_page_and_the_api_document_answer_anonymously(rule, method, web, world):
    client = web.test_client()
    if method == "GET":
        assert client.get(rule).status_code == 200
    else:  # a wrong password: answered (401 with the form), never a redirect into the console
        data = {"csrf_token": session_csrf(client), "username": "admin", "password": "wrong-password"}
        assert client.post(rule, data=data).status_code == 401


def test_a_deactivated_account_is_signed_out_at_once(web, world):
    client = web.test_client()
    sign_in(client, "shiqiao")
    assert client.get("/admin/").status_code == 200
    world.user("shiqiao").active = False
    db.session.commit()
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


# --- one county against another ----------------------------------------------------------------

@pytest.mark.parametrize("route, foreign", CROSS)
def test_a_county_cannot_reach_another_countys_objects(route, foreign, web, world):
    """石桥县 tries 临江区's object in each county-bound parameter (the others are its own or the
    city-wide wave, which it may open): 403/404, nothing changes, no 临江区 name in the answer."""
    unknown_params(route)
    client, token = _as_county(web, world, route)
    values = fill(route, world, all_foreign=True) if foreign == ("*",) else fill(route, world, foreign=foreign)
    url = url_for_route(web, route, values)
    csrf = session_csrf(client) if route.method in STATE_CHANGING else None
    before = snapshot()
    response = send(client, route.method, url, csrf=csrf, token=token)
    after = snapshot()
    assert response.status_code in (403, 404), f"{route.id} as 石桥县 with 临江区's {foreign}: {url} → {response.status_code}"
    assert not changes(before, after), f"{route.id} as 石桥县 changed 临江区's data: {changes(before, after)}"
    leaked = [name for name in world.names_outside(OWN) if name in body_text(response)]
    assert not leaked, f"{route.id}: the refusal names {leaked}"


@pytest.mark.parametrize("route, wave", OWN_WRITES)
def test_a_county_changes_nothing_outside_its_county(route, wave, web, world):
    """Whatever 石桥县 does with its own objects — above all through a city-wide wave, which it
    may open but which covers 临江区 too (issuing its interview list, re-running its analysis,
    closing or publishing it, reviewing its responses) — no row of 临江区, of the city, or of
    anything shared changes: cases, responses, results, waves, units, accounts, tokens."""
    unknown_params(route)
    client, _ = _as_county(web, world, route)
    url = url_for_route(web, route, fill(route, world, **({"wave_slug": wave} if wave else {})))
    before = table_rows()
    response = send(client, route.method, url, csrf=session_csrf(client))
    outside = rows_changed_outside(before, table_rows(), OWN)
    assert not outside, f"{route.id}: {url} ({response.status_code}) as 石桥县 changed rows outside it: {outside[:10]}"


@pytest.mark.parametrize("route, wave", LEAKS)
def test_a_county_sees_no_name_outside_its_county(route, wave, web, world):
    """Every GET page and API answer the county can open — a city-wide wave's results, progress,
    review queue, interview list, cases, downloads — names no unit outside 石桥县. Pages and
    JSON are asked again with the query strings of FOREIGN_QUERIES (filters that name the other
    county, a higher level of the results), which must not widen what is shown either."""
    unknown_params(route)
    client, token = _as_county(web, world, route)
    given = {"wave_slug": wave} if wave else {}
    kind = pick_kind(web, route, world)
    url = url_for_route(web, route, fill(route, world, **given, **kind))
    response = send(client, "GET", url, token=token)
    assert response.status_code < 500, f"{route.id}: {url} → {response.status_code}, nothing to check"
    names = world.names_outside(OWN)
    leaked = [name for name in names if name in body_text(response)]
    assert not leaked, f"{route.id}: {url} ({response.status_code}) shows 石桥县 the names {leaked}"
    if response.mimetype not in ("text/html", "application/json") or wave not in (None, "2026Q3-city"):
        return  # downloads are fixed by their path; one city-wide wave is enough for the filters
    for query in FOREIGN_QUERIES:
        asked = f"{url}?{urlencode(query)}"
        response = send(client, "GET", asked, token=token)
        assert response.status_code < 500, f"{route.id}: {asked} → {response.status_code}"
        leaked = [name for name in names if name in body_text(response)]
        assert not leaked, f"{route.id}: {asked} ({response.status_code}) shows 石桥县 the names {leaked}"


@pytest.mark.parametrize("route", **by_id(GETS))
def test_every_filled_get_route_opens_for_an_admin(route, web, world):
    """The fillers name real objects: an admin opens every GET route with them (so a 404 in the
    tests above means the scope, not a URL that names nothing), and no route fails with a 500."""
    unknown_params(route)
    client = web.test_client()
    token = None
    if route.is_api:
        token = world.tokens["admin"]
    else:
        sign_in(client, "admin")
    kind = pick_kind(web, route, world)
    url = url_for_route(web, route, fill(route, world, **kind))
    response = send(client, "GET", url, token=token)
    if route.rule.startswith(INTERVIEWER_ONLY):
        # the phone interviewer's desk: only the role `interviewer` takes calls, and a number is
        # shown only to the one holding its call (tests/admin/test_phone.py) — never to an admin
        assert response.status_code == 403, f"{route.id}: {url} → {response.status_code}"
        return
    if route.endpoint == "admin.job_file":
        # the filler's job is queued, not built: its file is "not ready yet" (409), never a 404 or a 500
        assert response.status_code == 409 and "尚未生成" in response.get_data(as_text=True) or response.status_code < 400, (
            f"{route.id}: {url} → {response.status_code}")
        return
    assert response.status_code < 400 or (response.status_code == 409 and route.is_api), f"{route.id}: {url} → {response.status_code}"


# --- the lockout -----------------------------------------------------------------------------

def _login(client, username: str, password: str):
    page = client.get("/admin/login").get_data(as_text=True)
    return client.post("/admin/login", data={"csrf_token": csrf_token(page), "username": username, "password": password})


def test_lockout_counts_failures_from_every_client(web, world):
    """Failures from two browsers (or two attackers) add up on the account."""
    first, second = web.test_client(), web.test_client()
    limit = web.config["LOGIN_MAX_FAILURES"]
    for i in range(limit - 1):
        assert _login(first if i % 2 else second, "shiqiao", "wrong-password").status_code == 401
    # the lock is not told to someone without the password ...
    assert "用户名或密码不正确" in _login(first, "shiqiao", "wrong-password").get_data(as_text=True)
    third = web.test_client()
    locked = _login(third, "shiqiao", PASSWORD)
    assert locked.status_code == 401 and "已锁定" in locked.get_data(as_text=True)
    assert third.get("/admin/").status_code == 302
    # other accounts are not affected
    assert _login(web.test_client(), "linjiang", PASSWORD).status_code == 302


def test_the_lock_lasts_lock_minutes_then_lifts(web, world):
    """The lock stops new sign-ins; the lock ends after LOGIN_LOCK_MINUTES."""
    limit = web.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        _login(web.test_client(), "shiqiao", "wrong-password")
    db.session.rollback()  # see what the requests wrote
    user = world.user("shiqiao")
    locked_until = user.locked_until
    expected = utcnow() + timedelta(minutes=web.config["LOGIN_LOCK_MINUTES"])
    assert abs((locked_until - expected).total_seconds()) < 60
    db.session.execute(update(LoginFailure).values(locked_until=utcnow() - timedelta(seconds=1)))  # run out
    db.session.commit()
    assert _login(web.test_client(), "shiqiao", PASSWORD).status_code == 302


def test_a_success_resets_the_failure_count(web, world):
    limit = web.config["LOGIN_MAX_FAILURES"]
    client = web.test_client()
    for _ in range(limit - 1):
        _login(client, "shiqiao", "wrong-password")
    assert _login(client, "shiqiao", PASSWORD).status_code == 302
    for _ in range(limit - 1):
        assert "用户名或密码不正确" in _login(web.test_client(), "shiqiao", "wrong-password").get_data(as_text=True)
    assert _login(web.test_client(), "shiqiao", PASSWORD).status_code == 302


def test_unknown_usernames_lock_nothing_and_store_nothing(web, world):
    before = snapshot()
    for _ in range(web.config["LOGIN_MAX_FAILURES"] + 1):
        assert _login(web.test_client(), "nobody", "wrong-password").status_code == 401
    assert not changes(before, snapshot())


def test_the_lock_is_audited_once(web, world):
    for _ in range(web.config["LOGIN_MAX_FAILURES"]):
        _login(web.test_client(), "shiqiao", "wrong-password")
    db.session.rollback()  # see what the requests wrote
    assert db.session.scalars(select(AuditEntry.entity_id).where(AuditEntry.action == "user.lock")).all() == ["shiqiao"]
    assert db.session.scalar(select(User.failed_logins).where(User.username == "shiqiao")) == 0  # counting starts afresh


def test_sign_in_is_rate_limited_per_client(make_app, world_rows):
    """Beyond the lockout, LOGIN_RATE_LIMIT caps sign-in attempts per IP over all accounts."""
    from extensions import limiter
    from tests.api.world import load_rows

    app = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    with app.app_context():
        load_rows(world_rows[1])
    limiter.reset()
    client = app.test_client()
    statuses = [_login(client, name, "wrong-password").status_code for name in ("nobody", "ghost", "phantom", "spectre")]
    assert statuses == [401, 401, 401, 429]
    limiter.reset()
    with app.app_context():
        db.engine.dispose()
