"""Headers and small holes (issue 11): security headers on every page, no-store where a password or
token shows, `next` with CR/LF, fullwidth formula characters, the access log, the bind address,
and GET downloads that write nothing."""

from __future__ import annotations

import re
import runpy
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from extensions import db
from models import AuditEntry, ShortLink, Wave
from cells import safe_cell
from tests.admin.console import (  # noqa: F401  (fixtures)
    CITY,
    PASSWORD,
    Q3,
    city,
    city_template,
    client_for,
    invoke,
    isolated,
    post,
    text,
    user,
)
from tests.conftest import csrf_token

ROOT = Path(__file__).resolve().parents[2]


def assert_secure_html(response) -> None:
    headers = response.headers
    assert response.mimetype == "text/html"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "object-src 'none'" in csp
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]


def test_every_kind_of_page_carries_the_security_headers(city):
    anonymous = isolated(city).test_client()
    assert_secure_html(anonymous.get("/admin/login"))
    assert_secure_html(anonymous.get("/no-such-page"))  # error pages too
    admin = client_for(city, "admin")
    for url in ("/admin/", f"/admin/waves/{Q3}", "/admin/users", "/admin/units"):
        response = admin.get(url)
        assert response.status_code == 200, url
        assert_secure_html(response)
        assert "Strict-Transport-Security" not in response.headers  # only with HTTPS=1
    assert anonymous.get("/healthz").headers["X-Content-Type-Options"] == "nosniff"


def test_hsts_with_https(make_app):
    app = make_app(HTTPS=True)
    response = app.test_client().get("/admin/login")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_the_questionnaire_preview_stays_sandboxed_and_framed_by_the_console_only(city):
    admin = client_for(city, "admin")
    preview = admin.get("/admin/questionnaires/safety/1/preview")
    assert preview.status_code == 200
    csp = preview.headers["Content-Security-Policy"]
    assert csp.startswith("sandbox allow-scripts allow-same-origin") and "frame-ancestors 'self'" in csp
    assert preview.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_the_templates_fit_the_policy():
    """script-src 'self' forbids inline scripts and event-handler attributes: no template has any."""
    for path in (ROOT / "templates").rglob("*.html"):
        html = path.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag, (path, tag)
        assert not re.search(r"\son[a-z]+\s*=", html), path
        assert "javascript:" not in html, path


def test_pages_showing_a_password_or_token_are_not_stored(city):
    admin = client_for(city, "admin")
    created = post(admin, "/admin/users/new", {"username": "nanhe", "role": "office", "scope": ""})
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    reset = post(admin, f"/admin/users/{user('nanhe').id}/password")
    assert reset.status_code == 200 and reset.headers["Cache-Control"] == "no-store"
    assert admin.get("/admin/tokens").headers["Cache-Control"] == "no-store"
    assert admin.get("/admin/password").headers["Cache-Control"] == "no-store"
    assert "no-store" not in admin.get("/admin/").headers.get("Cache-Control", "")


@pytest.mark.parametrize("target", ["/admin/%0d%0aSet-Cookie:%20x=1", "/admin/%0aLocation:%20//evil", "/admin\\@evil.example", "/admin/%C2%85"])
def test_next_with_control_characters_is_not_followed(city, target):
    client = isolated(city).test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    response = client.post(f"/admin/login?next={target}", data={"csrf_token": csrf_token(page), "username": "admin", "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"


@pytest.mark.parametrize("value", ["＝HYPERLINK(\"http://evil\",\"点此\")", "＋1+2", "－3", "＠SUM(A1)"])
def test_fullwidth_formula_characters_are_neutralised(value):
    assert safe_cell(value) == "'" + value


def _gunicorn_settings(monkeypatch) -> dict:
    monkeypatch.delenv("GUNICORN_BIND", raising=False)
    # several workers need a shared rate-limit store, or the config refuses to load (docs/security.md)
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379")
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_the_access_log_holds_no_client_address(monkeypatch):
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    settings = _gunicorn_settings(monkeypatch)
    config = Config()
    config.set("access_log_format", settings["access_log_format"])
    environ = {
        "REMOTE_ADDR": "203.0.113.77", "REQUEST_METHOD": "GET", "RAW_URI": "/s/abc", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_USER_AGENT": "Mozilla/5.0 (iPhone; 居民)", "HTTP_REFERER": "https://weixin.example/",
    }

    class Reply:
        status, sent, headers = "200 OK", 512, []

    atoms = Logger(config).atoms(Reply(), [("X-Forwarded-For", "198.51.100.23")], environ, timedelta(milliseconds=12))
    line = config.access_log_format % atoms
    assert "GET /s/abc HTTP/1.1" in line and "200" in line
    for secret in ("203.0.113.77", "198.51.100.23", "iPhone", "weixin"):
        assert secret not in line


def test_gunicorn_listens_on_loopback_by_default(monkeypatch):
    assert _gunicorn_settings(monkeypatch)["bind"].startswith("127.0.0.1:")


# -- downloads are GET: they read, never write -----------------------------------------------------


def _links() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(ShortLink))


def test_downloads_write_nothing_and_missing_short_codes_are_made_by_a_post(city):
    admin = client_for(city, "admin")
    invoke(city.test_cli_runner(), "wave", "create", "--slug", "2026Q4-city", "--questionnaire", "safety", "--scope", CITY, "--period", "2026Q4")
    wave_id = db.session.scalar(select(Wave.id).where(Wave.slug == "2026Q4-city"))
    made = _links()
    assert db.session.scalar(select(func.count()).select_from(ShortLink).where(ShortLink.wave_id == wave_id)) == 2 * 26
    # a wave from before short codes were made up front: none yet
    db.session.execute(delete(ShortLink).where(ShortLink.wave_id == wave_id))
    db.session.commit()
    before = _links()
    for url in ("/admin/waves/2026Q4-city/qr.zip", "/admin/waves/2026Q4-city/qr.zip?mode=door", "/admin/waves/2026Q4-city/reports/posters.pdf"):
        refused = admin.get(url)
        assert refused.status_code == 409 and "生成短码" in text(refused), url
        assert _links() == before
    assert "生成短码" in text(admin.get("/admin/waves/2026Q4-city"))
    assert post(admin, "/admin/waves/2026Q4-city/short-links").status_code == 302
    assert _links() == made
    audit = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "wave.short_links"))
    assert audit is not None and audit.after == {"short_links_created": 52}
    assert admin.get("/admin/waves/2026Q4-city/qr.zip?loopback=1").mimetype == "application/zip"
    assert _links() == made
    assert client_for(city, "west").post("/admin/waves/2026Q4-city/short-links").status_code in (400, 403)


def test_opening_a_wave_makes_its_short_codes_in_the_audited_step(city):
    runner = city.test_cli_runner()
    invoke(runner, "wave", "create", "--slug", "2026Q4-city", "--questionnaire", "safety", "--scope", CITY, "--period", "2026Q4")
    wave_id = db.session.scalar(select(Wave.id).where(Wave.slug == "2026Q4-city"))
    db.session.execute(delete(ShortLink).where(ShortLink.wave_id == wave_id))
    db.session.commit()
    invoke(runner, "wave", "open", "2026Q4-city")
    assert _links() and db.session.scalar(select(func.count()).select_from(ShortLink).where(ShortLink.wave_id == wave_id)) == 52
    opened = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "wave.open", AuditEntry.entity_id == "2026Q4-city"))
    assert opened.after["short_links_created"] == 52


def test_gunicorn_freezes_the_preloaded_app_before_forking_the_workers(monkeypatch):
    """gunicorn.conf.py's when_ready (run in the master after the app is loaded, before any worker is
    forked) puts the app's objects out of the collector's reach (docs/performance.md)."""
    import gc

    settings = _gunicorn_settings(monkeypatch)
    assert settings["preload_app"] is True
    before = gc.get_freeze_count()
    try:
        settings["when_ready"](None)
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()
