"""Signing in: hashed passwords, lockout, sessions, the login-required guard, `user create`."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from extensions import db
from models import AuditEntry, LoginFailure, User
from models.types import utcnow
from tests.conftest import DATA, csrf_token

PASSWORD = "correct-horse-battery"


@pytest.fixture
def accounts(runner):
    assert runner.invoke(args=["units", "import", str(DATA / "units.csv")]).exit_code == 0
    for args in (["alice", "--role", "admin"], ["shiqiao", "--role", "county", "--scope", "619902"]):
        result = runner.invoke(args=["user", "create", *args, "--password", PASSWORD])
        assert result.exit_code == 0, result.output
    return runner


def login(client, username, password, next_url=None):
    page = client.get("/admin/login")
    url = "/admin/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"csrf_token": csrf_token(page.get_data(as_text=True)), "username": username, "password": password})


def test_passwords_are_stored_hashed_with_scrypt(accounts):
    user = db.session.scalar(select(User).where(User.username == "alice"))
    assert user.password_hash.startswith("scrypt:") and PASSWORD not in user.password_hash


def test_sign_in_and_out(accounts, client):
    assert client.get("/admin/").status_code == 302
    response = login(client, "alice", PASSWORD)
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/")
    assert client.get("/admin/").status_code == 200
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/admin/").get_data(as_text=True)
    assert client.post("/admin/logout", data={}).status_code == 400  # no CSRF token
    assert client.post("/admin/logout", data={"csrf_token": csrf_token(page)}).status_code == 302
    assert client.get("/admin/").status_code == 302


def test_wrong_credentials_say_the_same_thing(accounts, client):
    for username in ("alice", "nobody"):
        response = login(client, username, "wrong-password")
        assert response.status_code == 401 and "用户名或密码不正确" in response.get_data(as_text=True)


def test_lockout_after_repeated_failures_refuses_even_the_right_password(accounts, client, app):
    for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        assert "用户名或密码不正确" in login(client, "alice", "wrong").get_data(as_text=True)
    assert "用户名或密码不正确" in login(client, "alice", "wrong").get_data(as_text=True)  # the lock is not told
    locked = login(client, "alice", PASSWORD)
    assert locked.status_code == 401 and "已锁定" in locked.get_data(as_text=True)  # only to the right password
    assert db.session.scalars(select(AuditEntry.action).where(AuditEntry.action == "user.lock")).all() == ["user.lock"]
    db.session.execute(update(LoginFailure).values(locked_until=utcnow() - timedelta(seconds=1)))  # the lock has run out
    db.session.commit()
    assert login(client, "alice", PASSWORD).status_code == 302


def test_a_deactivated_account_cannot_sign_in(accounts, client):
    user = db.session.scalar(select(User).where(User.username == "alice"))
    user.active = False
    db.session.commit()
    assert "已停用" in login(client, "alice", PASSWORD).get_data(as_text=True)


@pytest.mark.parametrize("target, expected", [("/admin/", "/admin/"), ("//evil.example/", "/admin/"), ("https://evil.example/", "/admin/")])
def test_next_only_follows_paths_on_this_site(accounts, client, target, expected):
    response = login(client, "alice", PASSWORD, next_url=target)
    assert response.headers["Location"] == expected


def test_login_without_csrf_is_refused(accounts, client):
    response = client.post("/admin/login", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302


def test_user_create_cli(accounts, runner):
    result = runner.invoke(args=["user", "create", "--role", "county", "--scope", "619901"])
    assert result.exit_code == 0 and "county-619901" in result.output and "密码:" in result.output
    user = db.session.scalar(select(User).where(User.username == "county-619901"))
    assert user.role == "county" and user.scope.code == "619901"
    for args, words in (
        (["x1", "--role", "county"], "必须用 --scope"),
        (["x2", "--role", "office", "--scope", "nope"], "不存在"),
        (["alice", "--role", "admin"], "已存在"),
        (["x3", "--role", "admin", "--password", "short"], "至少"),
    ):
        result = runner.invoke(args=["user", "create", *args])
        assert result.exit_code != 0 and words in result.output, result.output
