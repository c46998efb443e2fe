"""/api/v1: bearer tokens, the scope of a token's account, the JSON it answers, the rate limit."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from api.tokens import hash_token
from extensions import db, limiter
from models import ApiToken, AuditEntry, InterviewCase
from tests.api.routes import sign_in
from tests.api.world import CITY, OTHER, OWN, load_rows


def get(client, url: str, token: str | None):
    return client.get(url, headers={"Authorization": f"Bearer {token}"} if token else {})


@pytest.fixture
def api(web, world):
    """get(url, as_=username) → the response, with that account's token."""
    client = web.test_client()
    return lambda url, as_="admin": get(client, url, world.tokens[as_])


# --- tokens --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "header, code",
    [
        (None, "token_missing"),
        ("Bearer", "token_missing"),
        ("Basic YWRtaW46cGFzc3dvcmQ=", "token_missing"),
        ("Bearer pa_not-a-real-token", "token_invalid"),
        ("Bearer " + "x" * 5000, "token_invalid"),
    ],
)
def test_no_or_bad_token_is_401_json_in_chinese(web, world, header, code):
    response = web.test_client().get("/api/v1/waves", headers={"Authorization": header} if header else {})
    assert response.status_code == 401 and response.is_json
    assert response.json["error"]["code"] == code
    assert "令牌" in response.json["error"]["message"]
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="pingan-api"')
    assert response.headers["Cache-Control"] == "no-store"


def test_a_revoked_token_is_401(web, world):
    response = get(web.test_client(), "/api/v1/waves", world.revoked["shiqiao"])
    assert response.status_code == 401 and response.json["error"]["code"] == "token_invalid"
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_deactivated_accounts_token_is_401(web, world):
    world.user("shiqiao").active = False
    db.session.commit()
    assert get(web.test_client(), "/api/v1/waves", world.tokens["shiqiao"]).status_code == 401


def test_the_scheme_name_is_case_insensitive(web, world):
    response = web.test_client().get("/api/v1/me", headers={"Authorization": f"bearer {world.tokens['analyst']}"})
    assert response.status_code == 200 and response.json["role"] == "analyst"


def test_a_signed_in_session_is_no_api_credential(web, world):
    """The API reads the bearer header only: a console session cookie opens nothing."""
    client = web.test_client()
    sign_in(client, "admin")
    assert client.get("/admin/tokens").status_code == 200
    assert client.get("/api/v1/waves").status_code == 401


def test_tokens_are_stored_as_sha256_only(world):
    secret = world.tokens["admin"]
    stored = db.session.scalars(select(ApiToken.token_hash)).all()
    assert hash_token(secret) in stored and len(hash_token(secret)) == 64
    assert not any(secret in h for h in stored)
    audited = [str(e.before) + str(e.after) for e in db.session.scalars(select(AuditEntry))]
    assert any("api_token" in a or "脚本" in a for a in audited) and not any(secret in a for a in audited)


def test_use_is_recorded_in_last_used_at(api, world):
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(world.tokens["office"])))
    assert token.last_used_at is None
    assert api("/api/v1/me", as_="office").status_code == 200
    db.session.refresh(token)
    assert token.last_used_at is not None


def test_me_names_the_account_and_scope(api):
    assert api("/api/v1/me", as_="shiqiao").json == {
        "username": "shiqiao", "display_name": None, "role": "county",
        "scope": {"code": OWN, "name": "石桥县", "kind": "county"},
    }
    assert api("/api/v1/me").json["scope"] is None


# --- waves ---------------------------------------------------------------------------------

def test_waves_are_those_the_account_may_see(api):
    everyone = {w["slug"] for w in api("/api/v1/waves").json["waves"]}
    assert everyone == {"2026Q2-city", "2026Q3-city", "2026Q3-linjiang", "2026Q3-shiqiao", "2026Q4-city"}
    county = api("/api/v1/waves", as_="shiqiao").json["waves"]
    assert {w["slug"] for w in county} == {"2026Q2-city", "2026Q3-city", "2026Q3-shiqiao", "2026Q4-city"}
    city = next(w for w in county if w["slug"] == "2026Q3-city")
    assert city["scope"] == {"code": CITY, "name": "安澜市", "kind": "city"}
    assert city["status"] == "closed" and city["has_results"] is True and city["period"] == "2026Q3"
    assert next(w for w in county if w["slug"] == "2026Q4-city")["has_results"] is False


def test_one_wave_and_404_outside_the_scope(api):
    assert api("/api/v1/waves/2026Q3-shiqiao", as_="shiqiao").json["scope"]["code"] == OWN
    for slug in ("2026Q3-linjiang", "no-such-wave"):
        response = api(f"/api/v1/waves/{slug}", as_="shiqiao")
        assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    # the same answer whether the wave exists elsewhere or not at all
    assert api("/api/v1/waves/2026Q3-linjiang", as_="shiqiao").json["error"]["message"].replace("2026Q3-linjiang", "X") == \
        api("/api/v1/waves/no-such-wave", as_="shiqiao").json["error"]["message"].replace("no-such-wave", "X")


# --- results -------------------------------------------------------------------------------

def _stored(world, slug: str) -> dict:
    from survey.results import stored_result

    return stored_result(world.wave(slug)).payload


def test_results_have_the_shape_of_the_export_for_an_admin(api, world):
    body = api("/api/v1/waves/2026Q3-city/results").json
    stored = _stored(world, "2026Q3-city")
    assert set(body) == {"wave", "period", "series", "computed_at", "units", "interview_list", "standing"}
    assert body["standing"] is None  # the whole wave: no peers to place it among (tests/admin/test_county.py)
    assert (body["wave"], body["period"], body["series"]) == ("2026Q3-city", "2026Q3", "safety")
    assert body["units"] == stored["units"]  # unrounded, every unit, the root first
    assert [e["code"] for e in body["interview_list"]] == [e["code"] for e in stored["interview_list"]]
    first = body["interview_list"][0]
    assert {k: first[k] for k in ("code", "reason", "rank", "rank_ci", "escalation")} == stored["interview_list"][0]
    ranked = [u for u in body["units"] if u["rank"] is not None]
    assert ranked and all(u["rank_ci"][0] <= u["rank"] <= u["rank_ci"][1] for u in ranked)  # rank_ci passes through
    assert first["case"]["status"] == "scheduled"
    # 2026Q2's list was computed but never issued, so nobody is escalated (docs/method.md, "Interview list").
    assert all(e["escalation"] is None for e in body["interview_list"])


def test_a_county_gets_only_its_units_of_a_city_wide_wave(api, world):
    body = api("/api/v1/waves/2026Q3-city/results", as_="shiqiao").json
    codes = {u["code"] for u in body["units"]}
    assert codes == {u.code for u in world.unit(OWN).subtree()} & {u["code"] for u in _stored(world, "2026Q3-city")["units"]}
    assert CITY not in codes and all(c.startswith(OWN) for c in codes)
    assert body["interview_list"] and all(e["code"].startswith(OWN) for e in body["interview_list"])
    own = {u["code"]: u for u in _stored(world, "2026Q3-city")["units"]}
    assert all(u == own[u["code"]] for u in body["units"])  # the county's rows themselves are untouched


def test_results_before_the_analysis_are_409(api):
    response = api("/api/v1/waves/2026Q4-city/results", as_="shiqiao")
    assert response.status_code == 409 and response.json["error"]["code"] == "no_results"
    assert api("/api/v1/waves/2026Q4-city/interview-list").status_code == 409
    assert api(f"/api/v1/waves/2026Q4-city/units/{OWN}").status_code == 409


def test_one_unit(api, world):
    body = api(f"/api/v1/waves/2026Q3-city/units/{OWN}002", as_="shiqiao").json
    assert body["unit"]["code"] == f"{OWN}002" and body["unit"]["name"] == "青石乡"
    assert body["interview"]["reason"] == "insufficient_sample" and body["interview"]["rank"] is None
    assert api(f"/api/v1/waves/2026Q3-city/units/{OWN}001001", as_="shiqiao").json["unit"]["kind"] == "village"
    for url, who in (
        (f"/api/v1/waves/2026Q3-city/units/{OTHER}001", "shiqiao"),  # the other county's town, in a wave it may see
        (f"/api/v1/waves/2026Q3-city/units/{CITY}", "shiqiao"),  # the city's aggregate
        (f"/api/v1/waves/2026Q3-shiqiao/units/{OTHER}001", "admin"),  # a unit outside the wave
        ("/api/v1/waves/2026Q3-city/units/000000", "admin"),
    ):
        assert api(url, as_=who).status_code == 404, url


def test_interview_list(api, world):
    body = api("/api/v1/waves/2026Q3-city/interview-list", as_="shiqiao").json
    entries = {e["code"]: e for e in body["interview_list"]}
    assert set(entries) == {e["code"] for e in _stored(world, "2026Q3-city")["interview_list"] if e["code"].startswith(OWN)}
    case = db.session.scalar(
        select(InterviewCase).where(InterviewCase.wave_id == world.wave("2026Q3-city").id,
                                    InterviewCase.unit_id == world.unit(f"{OWN}002").id)
    )
    assert entries[f"{OWN}002"]["name"] == "青石乡"
    assert entries[f"{OWN}002"]["case"] == {"id": case.id, "status": "scheduled"}
    assert all(e["case"] is not None for e in entries.values())
    assert api("/api/v1/waves/2026Q3-linjiang/interview-list", as_="shiqiao").status_code == 404


# --- cases ---------------------------------------------------------------------------------

def test_cases_are_those_of_the_accounts_units(api, world):
    everyone = api("/api/v1/cases").json["cases"]
    county = api("/api/v1/cases", as_="shiqiao").json["cases"]
    assert len(county) < len(everyone)
    assert county and all(c["unit"]["code"].startswith(OWN) for c in county)
    assert {c["wave"] for c in county} == {"2026Q3-city", "2026Q3-shiqiao"}
    only = api("/api/v1/cases?wave=2026Q3-shiqiao&status=scheduled", as_="shiqiao").json["cases"]
    assert only and {c["wave"] for c in only} == {"2026Q3-shiqiao"}
    assert api("/api/v1/cases?status=closed", as_="shiqiao").json["cases"] == []
    assert api("/api/v1/cases?status=nonsense").status_code == 400
    assert api("/api/v1/cases?wave=2026Q3-linjiang", as_="shiqiao").status_code == 404


def test_one_case_and_overdue(api, world):
    from datetime import date

    case = world.case_in("2026Q3-city", OWN)
    case.status, case.deadline, case.responsible = "rectifying", date(2026, 1, 31), "张三"
    db.session.commit()
    body = api(f"/api/v1/cases/{case.id}", as_="shiqiao").json
    assert body["status"] == "rectifying" and body["overdue"] is True and body["responsible"] == "张三"
    assert body["unit"]["code"].startswith(OWN) and body["deadline"] == "2026-01-31"
    other = world.case_in("2026Q3-city", OTHER)
    assert api(f"/api/v1/cases/{other.id}", as_="shiqiao").status_code == 404
    assert api(f"/api/v1/cases/{other.id}", as_="linjiang").status_code == 200
    assert api("/api/v1/cases/999999").status_code == 404


# --- headers and limits --------------------------------------------------------------------

def test_answers_are_never_cached_but_the_document_may_be(api, web):
    assert api("/api/v1/waves").headers["Cache-Control"] == "no-store"
    assert web.test_client().get("/api/v1/openapi.json").headers["Cache-Control"].startswith("public")


def test_unknown_api_paths_and_methods_answer_json(web, world):
    client = web.test_client()
    assert client.get("/api/v1/nothing-here").json["error"]["code"] == "404"
    response = client.post("/api/v1/waves", headers={"Authorization": f"Bearer {world.tokens['admin']}"})
    assert response.status_code == 405 and response.is_json


def test_the_rate_limit_counts_per_token(make_app, world_rows):
    world, rows = world_rows
    app = make_app(RATELIMIT_ENABLED=True, API_RATE_LIMIT="3 per minute")
    with app.app_context():
        load_rows(rows)
    limiter.reset()
    try:
        client = app.test_client()
        statuses = [get(client, "/api/v1/me", world.tokens["office"]).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = get(client, "/api/v1/me", world.tokens["office"])
        assert limited.is_json and limited.json["error"]["code"] == "429" and "Retry-After" in limited.headers
        assert get(client, "/api/v1/me", world.tokens["analyst"]).status_code == 200  # another token, its own count
        # without a valid token the count is per client IP, however the made-up tokens vary
        guesses = [get(client, "/api/v1/me", f"pa_guess-{i}").status_code for i in range(4)]
        assert guesses == [401, 401, 401, 429]
    finally:
        limiter.reset()
        with app.app_context():
            db.engine.dispose()
