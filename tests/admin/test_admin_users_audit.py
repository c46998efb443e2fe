"""Accounts (create, deactivate, reactivate, unlock, new password) and the audit log, for admins only."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from extensions import db
from models import AuditEntry, User
from models.types import utcnow
from tests.admin.console import (  # noqa: F401  (fixtures)
    PASSWORD,
    city,
    city_template,
    client_for,
    field_error,
    isolated,
    post,
    text,
    user,
)
from tests.conftest import csrf_token


def fresh(username: str) -> User:
    db.session.expire_all()
    return user(username)


def shown_password(response) -> str:
    return re.search(r'<code class="secret" id="password">([^<]+)</code>', response.get_data(as_text=True)).group(1)


def can_sign_in(app, username: str, password: str) -> bool:
    client = isolated(app).test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    return client.post("/admin/login", data={"csrf_token": csrf_token(page), "username": username, "password": password}).status_code == 302


def test_an_admin_creates_an_account_whose_password_is_shown_once(city):
    admin = client_for(city, "admin")
    response = post(admin, "/admin/users/new", {"username": "nanhe", "display_name": "南河县综治办", "role": "county", "scope": "510703"})
    assert response.status_code == 200 and "只显示这一次" in text(response)
    password = shown_password(response)
    created = fresh("nanhe")
    assert (created.role, created.scope.code, created.display_name) == ("county", "510703", "南河县综治办")
    assert created.password_hash.startswith("scrypt:") and password not in created.password_hash
    assert can_sign_in(city, "nanhe", password)
    assert password not in text(admin.get("/admin/users"))


@pytest.mark.parametrize("data, field, message", [
    ({"username": "x y", "role": "office"}, "username", "只能用字母"),
    ({"username": "admin", "role": "office"}, "username", "已存在"),
    ({"username": "county2", "role": "county", "scope": ""}, "scope", "县（区）账号必须指定所辖单位"),
    ({"username": "odd", "role": "office", "scope": "999"}, "scope", "请选择列表中的单位"),
    ({"username": "odd", "role": "emperor"}, "role", "不是有效的选择"),
])
def test_bad_account_input_is_shown_beside_its_field(city, data, field, message):
    admin = client_for(city, "admin")
    response = post(admin, "/admin/users/new", {"display_name": "", "scope": "", **data})
    assert response.status_code == 422
    assert message in (field_error(response, field) or "")
    assert db.session.scalar(select(User).where(User.username.in_(["x y", "county2", "odd"]))) is None


def test_deactivate_reactivate_unlock_and_reset_a_password(city):
    admin = client_for(city, "admin")
    west = fresh("west")
    assert post(admin, f"/admin/users/{west.id}/deactivate").status_code == 302
    assert fresh("west").active is False and not can_sign_in(city, "west", PASSWORD)
    assert post(admin, f"/admin/users/{west.id}/activate").status_code == 302
    assert can_sign_in(city, "west", PASSWORD)

    for _ in range(city.config["LOGIN_MAX_FAILURES"]):  # locked for this source (every test client's)
        assert not can_sign_in(city, "west", "wrong-password")
    assert not can_sign_in(city, "west", PASSWORD)
    assert "已锁定" in text(admin.get("/admin/users"))
    assert post(admin, f"/admin/users/{west.id}/unlock").status_code == 302
    assert fresh("west").locked_until is None and can_sign_in(city, "west", PASSWORD)
    nothing = post(admin, f"/admin/users/{west.id}/unlock")
    assert nothing.status_code == 409 and "没有被锁定" in text(nothing)

    reset = post(admin, f"/admin/users/{west.id}/password")
    new = shown_password(reset)
    assert not can_sign_in(city, "west", PASSWORD) and can_sign_in(city, "west", new)
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "user", AuditEntry.entity_id == "west", AuditEntry.actor == "admin").order_by(AuditEntry.id)).all()
    assert actions == ["user.deactivate", "user.activate", "user.unlock", "user.password_reset"]


def test_an_admin_cannot_lock_itself_out(city):
    admin = client_for(city, "admin")
    me = fresh("admin")
    response = post(admin, f"/admin/users/{me.id}/deactivate")
    assert response.status_code == 409 and "不能停用自己" in text(response) and fresh("admin").active
    assert post(admin, "/admin/users/999999/deactivate").status_code == 404


def test_a_deactivated_account_loses_its_session(city):
    west = client_for(city, "west")
    assert west.get("/admin/").status_code == 200
    post(client_for(city, "admin"), f"/admin/users/{fresh('west').id}/deactivate")
    assert west.get("/admin/").status_code == 302


def test_the_audit_log_shows_who_what_when_before_and_after_filtered_by_entity(city):
    admin = client_for(city, "admin")
    post(admin, f"/admin/users/{fresh('west').id}/deactivate")
    page = admin.get("/admin/audit?entity=user&entity_id=west")
    body = entries(page)
    assert page.status_code == 200 and "账号已停用" in body and "账号已创建" in body and "调查已开始" not in body
    assert "启用 是 → 否" in body  # before and after, side by side, in Chinese
    assert "user.deactivate" not in text(page) and "active" not in body  # no internal codes
    waves = entries(admin.get("/admin/audit?entity=wave"))
    assert "调查已开始" in waves and "结果已发布" in waves and "账号已创建" not in waves
    assert "调查已结束" in entries(admin.get("/admin/audit?action=wave.c"))


def entries(page) -> str:
    """The audit page's table (not the filter's list of every action)."""
    return text(page).split("变更（前 → 后）", 1)[1]


@pytest.mark.parametrize("username", ["east", "office", "analyst"])
def test_accounts_and_the_audit_log_are_for_admins_only(city, username):
    client = client_for(city, username)
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin/audit").status_code == 403
    assert post(client, "/admin/users/new", {"username": "sneaky", "role": "admin"}).status_code == 403
    assert post(client, f"/admin/users/{fresh('west').id}/deactivate").status_code == 403
    assert fresh("west").active and user("sneaky") is None
    assert "审计日志" not in text(client.get("/admin/"))
