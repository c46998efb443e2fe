"""Sessions and tokens end when they should, and the sign-in lock holds under parallel attempts
(issue 11; docs/security.md, "Sessions and sign-in"). SQLite by default, PostgreSQL with
TEST_DATABASE_URL."""

from __future__ import annotations

import http.cookiejar
import threading
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from api.tokens import create_token
from extensions import db
from models import ApiToken, AuditEntry, LoginFailure, User
from tests.admin.console import isolated
from tests.browser.server import serve
from tests.conftest import DATA, csrf_token

PASSWORD = "correct-horse-battery"
WRONG = "用户名或密码不正确"


@pytest.fixture
def accounts(app, runner):
    assert runner.invoke(args=["units", "import", str(DATA / "units.csv")]).exit_code == 0
    for args in (["alice", "--role", "admin"], ["bob", "--role", "office"]):
        result = runner.invoke(args=["user", "create", *args, "--password", PASSWORD])
        assert result.exit_code == 0, result.output
    return isolated(app)


def fresh(username: str) -> User:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.username == username))


def sign_in(app, username: str, password: str = PASSWORD, address: str = "127.0.0.1"):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    page = client.get("/admin/login").get_data(as_text=True)
    response = client.post("/admin/login", data={"csrf_token": csrf_token(page), "username": username, "password": password})
    return client, response


def signed_in(app, username: str, password: str = PASSWORD):
    client, response = sign_in(app, username, password)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def post(client, url: str, data: dict | None = None):
    page = client.get("/admin/").get_data(as_text=True)
    return client.post(url, data={"csrf_token": csrf_token(page), **(data or {})})


def copy_of(app, client):
    """A second browser holding a copy of `client`'s session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def api_me(app, secret: str) -> int:
    return app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code


def test_a_copied_cookie_stops_working_at_logout(accounts):
    alice = signed_in(accounts, "alice")
    thief = copy_of(accounts, alice)
    assert thief.get("/admin/").status_code == 200
    assert post(alice, "/admin/logout").status_code == 302
    assert thief.get("/admin/").status_code == 302  # to the login page
    assert alice.get("/admin/").status_code == 302


def test_logout_ends_every_session_of_the_account(accounts):
    office, home = signed_in(accounts, "alice"), signed_in(accounts, "alice")
    bob = signed_in(accounts, "bob")
    assert post(office, "/admin/logout").status_code == 302
    assert home.get("/admin/").status_code == 302
    assert bob.get("/admin/").status_code == 200  # another account is not touched


def test_a_password_reset_ends_sessions_and_revokes_api_tokens(accounts):
    bob = signed_in(accounts, "bob")
    _token, secret = create_token(fresh("bob"), "脚本")
    assert api_me(accounts, secret) == 200
    admin = signed_in(accounts, "alice")
    assert post(admin, f"/admin/users/{fresh('bob').id}/password").status_code == 200
    assert bob.get("/admin/").status_code == 302
    assert api_me(accounts, secret) == 401
    assert db.session.scalar(select(ApiToken.revoked_at).where(ApiToken.user_id == fresh("bob").id)) is not None
    assert db.session.scalar(select(AuditEntry.id).where(AuditEntry.action == "api_token.revoke_all"))
    assert admin.get("/admin/").status_code == 200  # the admin's own session goes on


def test_reactivating_does_not_revive_old_sessions_or_tokens(accounts):
    bob = signed_in(accounts, "bob")
    _token, secret = create_token(fresh("bob"), "脚本")
    admin = signed_in(accounts, "alice")
    bob_id = fresh("bob").id
    assert post(admin, f"/admin/users/{bob_id}/deactivate").status_code == 302
    assert bob.get("/admin/").status_code == 302
    assert post(admin, f"/admin/users/{bob_id}/activate").status_code == 302
    assert bob.get("/admin/").status_code == 302
    assert api_me(accounts, secret) == 401
    assert signed_in(accounts, "bob").get("/admin/").status_code == 200  # signing in again works


def test_signing_in_regenerates_the_session(accounts):
    """A CSRF token (or anything else) planted in the session before signing in does not survive it."""
    client = accounts.test_client()
    before = csrf_token(client.get("/admin/login").get_data(as_text=True))
    response = client.post("/admin/login", data={"csrf_token": before, "username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert client.post("/admin/logout", data={"csrf_token": before}).status_code == 400
    assert client.get("/admin/").status_code == 200


def test_changing_ones_own_password(accounts):
    other = signed_in(accounts, "bob")
    bob = signed_in(accounts, "bob")
    page = bob.get("/admin/password")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    wrong = post(bob, "/admin/password", {"current_password": "nope", "new_password": "a-new-pass-1", "repeat_password": "a-new-pass-1"})
    assert wrong.status_code == 422 and "当前密码不正确" in wrong.get_data(as_text=True)
    differ = post(bob, "/admin/password", {"current_password": PASSWORD, "new_password": "a-new-pass-1", "repeat_password": "a-new-pass-2"})
    assert differ.status_code == 422 and "两次输入的新密码不一致" in differ.get_data(as_text=True)
    short = post(bob, "/admin/password", {"current_password": PASSWORD, "new_password": "short", "repeat_password": "short"})
    assert short.status_code == 422 and "至少 10 位" in short.get_data(as_text=True)
    assert other.get("/admin/").status_code == 200  # nothing changed yet
    done = post(bob, "/admin/password", {"current_password": PASSWORD, "new_password": "a-new-pass-1", "repeat_password": "a-new-pass-1"})
    assert done.status_code == 302
    assert bob.get("/admin/").status_code == 200  # this session goes on
    assert other.get("/admin/").status_code == 302  # every other one ends
    assert sign_in(accounts, "bob")[1].status_code == 401
    assert sign_in(accounts, "bob", "a-new-pass-1")[1].status_code == 302
    assert db.session.scalar(select(AuditEntry.id).where(AuditEntry.action == "user.password_change"))


def test_the_initial_admin_password_file_goes_once_that_password_is_changed(accounts):
    from admin.accounts import initial_password_file

    path = initial_password_file()
    path.write_text(PASSWORD + "\n", encoding="utf-8")
    runner = accounts.test_cli_runner()
    assert runner.invoke(args=["user", "create", "dave", "--role", "office", "--password", "daves-own-pass"]).exit_code == 0
    dave = signed_in(accounts, "dave", "daves-own-pass")  # not the account whose password the file holds ...
    changed = post(dave, "/admin/password", {"current_password": "daves-own-pass", "new_password": "daves-new-pass", "repeat_password": "daves-new-pass"})
    assert changed.status_code == 302 and path.exists()
    alice = signed_in(accounts, "alice")  # ... this one is
    done = post(alice, "/admin/password", {"current_password": PASSWORD, "new_password": "alices-new-pass", "repeat_password": "alices-new-pass"})
    assert done.status_code == 302 and not path.exists()


def test_the_lock_is_told_only_to_the_right_password_and_binds_only_its_source(accounts):
    limit = accounts.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit + 2):
        _client, refused = sign_in(accounts, "alice", "wrong-password", address="203.0.113.9")
        assert refused.status_code == 401 and WRONG in refused.get_data(as_text=True)
    unknown = sign_in(accounts, "nobody", "wrong-password", address="203.0.113.9")[1]
    assert WRONG in unknown.get_data(as_text=True)  # an unknown name reads the same as the locked account
    locked = sign_in(accounts, "alice", PASSWORD, address="203.0.113.9")[1]
    assert locked.status_code == 401 and "已锁定" in locked.get_data(as_text=True)
    # the stranger has not locked the owner out of their own office
    assert sign_in(accounts, "alice", PASSWORD, address="198.51.100.7")[1].status_code == 302
    stored = db.session.scalars(select(LoginFailure.source_hash)).all()
    assert stored and all("203.0.113.9" not in h and len(h) == 64 for h in stored)  # a keyed hash, not the address


def test_after_the_lock_runs_out_counting_starts_afresh(accounts):
    limit = accounts.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        sign_in(accounts, "alice", "wrong-password")
    assert "已锁定" in sign_in(accounts, "alice", PASSWORD)[1].get_data(as_text=True)
    row = db.session.scalar(select(LoginFailure))
    row.locked_until = row.locked_until - timedelta(minutes=accounts.config["LOGIN_LOCK_MINUTES"] + 1)
    db.session.commit()
    for _ in range(limit - 1):  # the database itself resets the count of a lock that has run out
        assert WRONG in sign_in(accounts, "alice", "wrong-password")[1].get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(LoginFailure.failures)) == limit - 1
    assert sign_in(accounts, "alice", PASSWORD)[1].status_code == 302
    assert db.session.scalar(select(func.count()).select_from(LoginFailure)) == 0


def test_an_admin_unlock_clears_every_source(accounts):
    for address in ("203.0.113.1", "203.0.113.2"):
        for _ in range(accounts.config["LOGIN_MAX_FAILURES"]):
            sign_in(accounts, "bob", "wrong-password", address=address)
    assert "已锁定" in sign_in(accounts, "bob", PASSWORD, address="203.0.113.1")[1].get_data(as_text=True)
    admin = signed_in(accounts, "alice")
    assert "已锁定" in admin.get("/admin/users").get_data(as_text=True)
    assert post(admin, f"/admin/users/{fresh('bob').id}/unlock").status_code == 302
    for address in ("203.0.113.1", "203.0.113.2"):
        assert sign_in(accounts, "bob", PASSWORD, address=address)[1].status_code == 302


def test_a_deactivated_account_is_not_told_without_the_password(accounts):
    bob = fresh("bob")
    bob.active = False
    db.session.commit()
    assert WRONG in sign_in(accounts, "bob", "wrong-password")[1].get_data(as_text=True)
    assert "已停用" in sign_in(accounts, "bob", PASSWORD)[1].get_data(as_text=True)


# -- the race, through real concurrent requests ---------------------------------------------------


def _attempt(base: str, username: str, password: str, barrier: threading.Barrier) -> tuple[int, str]:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)
    page = opener.open(f"{base}/admin/login", timeout=60).read().decode()
    body = urllib.parse.urlencode({"csrf_token": csrf_token(page), "username": username, "password": password}).encode()
    barrier.wait(timeout=60)
    try:
        response = opener.open(f"{base}/admin/login", data=body, timeout=60)
        return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_parallel_wrong_passwords_lock_the_account(make_app):
    app = make_app()
    with app.app_context():
        runner = app.test_cli_runner()
        assert runner.invoke(args=["user", "create", "carol", "--role", "admin", "--password", PASSWORD]).exit_code == 0
        db.session.remove()
    attempts = 20
    with serve(app) as base:
        barrier = threading.Barrier(attempts)
        with ThreadPoolExecutor(attempts) as pool:
            results = list(pool.map(lambda _: _attempt(base, "carol", "wrong-password", barrier), range(attempts)))
        assert [status for status, _ in results] == [401] * attempts, [r[0] for r in results]
        assert all(WRONG in page for _, page in results)
        status, page = _attempt(base, "carol", PASSWORD, threading.Barrier(1))
    assert status == 401 and "已锁定" in page
    with app.app_context():
        assert db.session.scalar(select(LoginFailure.failures)) == attempts  # not one count lost
        locks = db.session.scalars(select(AuditEntry.entity_id).where(AuditEntry.action == "user.lock")).all()
        assert locks == ["carol"]
        db.session.remove()
        db.engine.dispose()
