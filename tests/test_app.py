"""The application factory: configuration, secrets, error pages, proxies."""

import os
import stat

import pytest

from app import database_url, secret_key


def test_database_url_defaults_to_sqlite_in_instance_and_uses_psycopg3(tmp_path):
    assert database_url(None, str(tmp_path)) == f"sqlite:///{tmp_path / 'pingan.db'}"
    assert database_url("postgresql://u@h:5432/d", "x") == "postgresql+psycopg://u@h:5432/d"
    assert database_url("postgres://u@h/d", "x") == "postgresql+psycopg://u@h/d"
    assert database_url("sqlite:////tmp/x.db", "x") == "sqlite:////tmp/x.db"


def test_secret_key_is_generated_once_and_kept_private(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("PINGAN_PRODUCTION", raising=False)
    first = secret_key(str(tmp_path))
    assert len(first) == 64 and first == secret_key(str(tmp_path))
    assert stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode) == 0o600
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert secret_key(str(tmp_path)) == "from-the-environment"


def test_production_refuses_to_run_without_a_shared_secret(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("PINGAN_PRODUCTION", "1")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        secret_key(str(tmp_path))


def test_sqlite_runs_in_wal_mode_with_foreign_keys(app):
    from extensions import db

    with db.engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            pytest.skip("SQLite only")
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


@pytest.mark.parametrize("path, status, words", [("/favicon.ico", 404, "页面不存在"), ("/api/v1/nothing", 404, None)])
def test_error_pages_are_chinese_and_never_a_stack_trace(client, path, status, words):
    response = client.get(path)
    assert response.status_code == status
    body = response.get_data(as_text=True)
    assert "Traceback" not in body
    if words:
        assert words in body
    else:
        assert response.is_json and response.json["error"]["code"] == "404"


@pytest.mark.parametrize("proxies, expected", [(1, "203.0.113.9"), (0, "10.0.0.1")])
def test_the_forwarded_client_ip_is_used_only_behind_a_configured_proxy(make_app, proxies, expected):
    seen = []
    app = make_app(PROXY_COUNT=proxies)

    @app.get("/_ip")
    def ip():
        from flask import request

        seen.append(request.remote_addr)
        return "ok"

    app.test_client().get("/_ip", headers={"X-Forwarded-For": "203.0.113.9"}, environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert seen == [expected]


def test_an_unreachable_database_is_a_503_that_says_try_again(make_app, monkeypatch):
    """A PostgreSQL restart or failover: residents and the office get a 503 page in Chinese with
    Retry-After (their retry stores once), the API a JSON 503, never a 500 with a traceback."""
    from sqlalchemy.exc import OperationalError

    import survey.views

    def down(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    app = make_app()
    monkeypatch.setattr(survey.views, "read_token", down)
    app.add_url_rule("/api/v1/down-test", "down_test", down)
    client = app.test_client()
    resident = client.get("/s/anything")
    assert resident.status_code == 503 and resident.headers["Retry-After"] == "5"
    page = resident.get_data(as_text=True)
    assert "系统正忙" in page and "不会重复保存" in page and "Traceback" not in page
    api = client.get("/api/v1/down-test")
    assert api.status_code == 503 and api.json["error"]["code"] == "503"


def test_async_hooks_and_views_are_still_run_synchronously(monkeypatch):
    """app.App keeps `ensure_sync`'s answer per function: a plain function as it is, a coroutine
    function through Flask's async_to_sync, an unhashable callable checked each time."""
    from app import App

    app = App(__name__)
    wrapped = []
    monkeypatch.setattr(app, "async_to_sync", lambda func: wrapped.append(func) or "synced")

    def plain():
        return 1

    async def coroutine():
        return 2

    class Unhashable:
        __hash__ = None

        def __call__(self):
            return 3

    for _ in range(2):  # the second time from the cache
        assert app.ensure_sync(plain) is plain
        assert app.ensure_sync(coroutine) == "synced"
    odd = Unhashable()
    assert app.ensure_sync(odd) is odd
    assert wrapped == [coroutine, coroutine]


def test_the_session_is_opened_and_saved_as_flask_does(app):
    """app.SessionInterface's early returns (no cookie; an empty, unmodified session) give the same
    session and the same response headers as Flask's own interface, in every case."""
    from flask.sessions import SecureCookieSessionInterface

    ours, flasks = app.session_interface, SecureCookieSessionInterface()
    cases = [({}, False, False), ({}, True, False), ({}, True, True), ({"k": 1}, True, True), ({"k": 1}, False, False)]
    for data, accessed, modified in cases:
        headers = []
        for interface in (ours, flasks):
            with app.test_request_context("/"):
                session = interface.session_class(data)
                session.accessed, session.modified = accessed, modified
                response = app.response_class()
                interface.save_session(app, session, response)
                # a cookie's name and attributes (its signed value carries the time)
                headers.append(sorted((k, v) for k, v in response.headers.items() if k != "Set-Cookie") + [
                    (v.split("=", 1)[0], v.partition(";")[2]) for v in response.headers.getlist("Set-Cookie")])
        assert headers[0] == headers[1], (data, accessed, modified)
    with app.test_request_context("/"):
        assert dict(ours.open_session(app, flask_request())) == {}
    cookie = SecureCookieSessionInterface().get_signing_serializer(app).dumps({"k": 1})
    with app.test_request_context("/", headers={"Cookie": f"session={cookie}"}):
        assert dict(ours.open_session(app, flask_request())) == {"k": 1}


def flask_request():
    from flask import request

    return request._get_current_object()


def test_flask_limiters_hooks_skip_only_the_requests_it_evaluated_nothing_for(make_app):
    """extensions._Limiter wraps Flask-Limiter's two per-request hooks (this fails if a new
    Flask-Limiter renames them); a limited request still gets its X-RateLimit headers and its 429,
    the resident questionnaire (counted by survey.ratelimits) none."""
    from extensions import limiter
    from tests.survey.resident import close_app, link, open_wave_app

    app, ctx = open_wave_app(make_app, RATELIMIT_ENABLED=True, SURVEY_CODE_RATE_LIMIT="2 per minute")
    try:
        assert limiter.hooks_skipping_idle_requests == 2
        client = app.test_client()
        first = client.get("/s", query_string={"code": "ZZZZZZ"})
        assert first.status_code == 404 and first.headers["X-RateLimit-Limit"] == "2"
        assert first.headers["X-RateLimit-Remaining"] == "1"
        client.get("/s", query_string={"code": "ZZZZZZ"})
        assert client.get("/s", query_string={"code": "ZZZZZZ"}).status_code == 429
        page = client.get(link())
        assert page.status_code == 200 and "X-RateLimit-Limit" not in page.headers
    finally:
        close_app(ctx)
