"""/admin/tokens: each account makes and revokes its own API tokens; a token is shown once."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from api.tokens import MAX_ACTIVE, hash_token
from extensions import db
from models import ApiToken, AuditEntry
from tests.api.routes import session_csrf, sign_in, snapshot, changes


SECRET = re.compile(r"pa_[A-Za-z0-9_-]{43}")


def own_token_ids(world, username: str) -> set[int]:
    db.session.rollback()
    return set(db.session.scalars(select(ApiToken.id).where(ApiToken.user_id == world.user(username).id)))


@pytest.fixture
def county(web, world):
    client = web.test_client()
    sign_in(client, "shiqiao")
    return client


def create(client, name: str):
    return client.post("/admin/tokens", data={"csrf_token": session_csrf(client), "name": name})


@pytest.mark.parametrize("username", ["admin", "shiqiao", "office", "analyst"])
def test_every_role_has_the_page_and_sees_only_its_own_tokens(web, world, username):
    client = web.test_client()
    sign_in(client, username)
    response = client.get("/admin/tokens")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    listed = {int(i) for i in re.findall(r"/admin/tokens/(\d+)/revoke", response.get_data(as_text=True))}
    live = {t.id for t in db.session.scalars(select(ApiToken).where(ApiToken.revoked_at.is_(None)))}
    assert listed == own_token_ids(world, username) & live
    assert "已吊销" in response.get_data(as_text=True)  # the revoked one is listed, without a button
    assert not SECRET.search(response.get_data(as_text=True))


def test_a_new_token_is_shown_once_and_works(web, world, county):
    response = create(county, "周报脚本")
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    secrets = SECRET.findall(response.get_data(as_text=True))
    assert secrets and len(set(secrets)) == 1
    secret = secrets[0]
    assert db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret))).name == "周报脚本"
    assert secret not in county.get("/admin/tokens").get_data(as_text=True)  # never again
    me = web.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json["username"] == "shiqiao"
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "api_token.create").order_by(AuditEntry.id.desc())).first()
    assert entry.actor == "shiqiao" and entry.after["name"] == "周报脚本" and secret not in str(entry.after)


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_a_token_needs_a_sensible_name(world, county, name):
    before = snapshot()
    response = create(county, name)
    assert response.status_code == 400 and not SECRET.search(response.get_data(as_text=True))
    assert not changes(before, snapshot())


def test_at_most_max_active_tokens(world, county):
    have = db.session.scalar(
        select(func.count()).select_from(ApiToken)
        .where(ApiToken.user_id == world.user("shiqiao").id, ApiToken.revoked_at.is_(None))
    )
    for i in range(MAX_ACTIVE - have):
        assert create(county, f"t{i}").status_code == 201
    refused = create(county, "one too many")
    assert refused.status_code == 400 and "最多" in refused.get_data(as_text=True)


def test_revoking_ones_own_token(web, world, county):
    token = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == hash_token(world.tokens["shiqiao"]))
    )
    response = county.post(f"/admin/tokens/{token.id}/revoke", data={"csrf_token": session_csrf(county)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/tokens")
    db.session.refresh(token)
    assert token.revoked_at is not None
    api = web.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {world.tokens['shiqiao']}"})
    assert api.status_code == 401
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "api_token.revoke", AuditEntry.entity_id == str(token.id)))
    # twice is harmless
    assert county.post(f"/admin/tokens/{token.id}/revoke", data={"csrf_token": session_csrf(county)}).status_code == 302


def test_nobody_revokes_anothers_token(web, world):
    admin = web.test_client()
    sign_in(admin, "admin")  # not even the admin: the page is for one's own tokens
    other = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(world.tokens["shiqiao"])))
    before = snapshot()
    response = admin.post(f"/admin/tokens/{other.id}/revoke", data={"csrf_token": session_csrf(admin)})
    assert response.status_code == 404
    assert not changes(before, snapshot())
