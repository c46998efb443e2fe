"""Bad requests, one kind at a time: bodies too large, the wrong content type, bytes that are not
UTF-8 in every part of a request, an absurd Content-Length, hostile upload files. Each gets a
4xx (or, where nothing is wrong for the server, its normal page) — never a 5xx, never a stack
trace — and nothing is stored: every table is compared before and after.

Routes are exercised by kind: the resident form, the console's sign-in, a console form, a
console button, the console's uploads, and the API.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from urllib.parse import urlencode

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict

from werkzeug.security import generate_password_hash
from werkzeug.test import encode_multipart

from admin.accounts import create_user
from api.tokens import create_token
from extensions import db
from models import QuestionnaireVersion, Response, Wave
from tests.api.routes import changes, snapshot
from tests.conftest import DATA, built_once, csrf_token, use_built
from tests.security.fuzzing import assert_no_stack_trace
from tests.survey.resident import ANSWERS, WAVE, form_data, hidden_fields, link, make_resident_app
from tests.survey.helpers import setup_wave

# Werkzeug leaves the spooled temporary file of a multipart body cut off mid-part to the garbage
# collector (a ResourceWarning at collection, not a leak of the app's): the "odd parts" body does that.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <function SpooledTemporaryFile.__del__:pytest.PytestUnraisableExceptionWarning"
)

PASSWORD = "correct-horse-battery"
CHINESE = re.compile(r"[\u4e00-\u9fff]{2,}")
UNITS = (DATA / "units.csv").read_text(encoding="utf-8")
QUESTIONNAIRE = (DATA / "questionnaire.yaml").read_text(encoding="utf-8").replace("version: 1", "version: 2")
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
XLSX = b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)) * 4


def build_site(app: Flask) -> str:
    """The open wave of tests/data, an admin account (its password hashed with a cheap scrypt, as
    in tests/api/world.py) and a live API token, whose secret is returned."""
    setup_wave(app.test_cli_runner())
    user = create_user("admin", PASSWORD, "admin", None)
    user.password_hash = generate_password_hash(PASSWORD, method="scrypt:1024:8:1")
    db.session.commit()
    return create_token(user, "fuzz")[1]


@pytest.fixture(scope="session")
def site_template(database_template, tmp_path_factory):
    """The site built once on SQLite, with the admin's API token (see tests.conftest.built_once)."""
    return built_once(database_template, tmp_path_factory, "site", build_site)


@pytest.fixture
def site(site_template, database, make_app):
    """An app on this test's own copy of the site; every request in an app context of its own.
    The admin's API token is in `app.config["API_TOKEN"]`."""
    use_built(site_template, database)
    app = make_resident_app(make_app, SPEEDER_SECONDS=0)
    with app.app_context():
        app.config["API_TOKEN"] = site_template[1] if site_template is not None else build_site(app)
        db.session.remove()
        yield app
        db.session.remove()
        db.engine.dispose()


def signed_in(app: Flask):
    client = app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    response = client.post("/admin/login", data={"csrf_token": csrf_token(page), "username": "admin", "password": PASSWORD})
    assert response.status_code == 302
    return client


def form_csrf(client, path: str) -> str:
    return csrf_token(client.get(path).get_data(as_text=True))


def assert_refused(response, *statuses: int) -> str:
    """A 4xx (one of `statuses` if given), no stack trace; the body's text."""
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
    if statuses:
        assert response.status_code in statuses, (response.status_code, response.get_data(as_text=True)[:300])
    assert_no_stack_trace(response)
    return response.get_data(as_text=True)


def assert_chinese_page(body: str, *phrases: str) -> None:
    assert CHINESE.search(body), body[:300]
    for phrase in phrases:
        assert phrase in body, (phrase, body[:500])


def count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


# -- oversized bodies --------------------------------------------------------------------------


def test_a_resident_post_over_the_body_limit_is_a_chinese_413_and_stores_nothing(site):
    client = site.test_client()
    hidden = hidden_fields(client.get(link()).get_data(as_text=True))
    limit = site.config["SURVEY_MAX_BODY"]
    before = snapshot()
    # A complete, valid answer sheet but for its size: nothing else could refuse it.
    big = form_data({**ANSWERS, "comment": "治" * (limit // 3 + 10)}, hidden)  # 3 bytes each, raw; 9 percent-encoded
    body = assert_refused(client.post(link(), data=big), 413)
    assert_chinese_page(body, "内容过多", "提交的内容超过了上限")
    # The same as multipart, where the limit is per field as well as per body.
    body = assert_refused(client.post(link(), data=big, content_type="multipart/form-data"), 413)
    assert_chinese_page(body, "内容过多")
    assert changes(before, snapshot()) == []
    # And the same sheet, short enough, is stored: the 413 was for the size alone.
    assert client.post(link(), data=form_data(ANSWERS, hidden)).status_code == 200
    assert count(Response) == 1


def test_an_absurd_content_length_is_refused(site):
    """The declared length, not the body, is what a server reads first: over the limit → 413
    without reading; shorter than announced, or no number at all → the fields do not arrive (the
    CSRF token and the ticket included) → 400."""
    client = site.test_client()
    hidden = hidden_fields(client.get(link()).get_data(as_text=True))
    body = urlencode(form_data(ANSWERS, hidden)).encode()
    before = snapshot()
    for length in ("99999999999999999999", "65537", "-1", "abc", "1e3", " 12", "0x10", ""):
        for path, limit in ((link(), site.config["SURVEY_MAX_BODY"]), ("/admin/login", site.config["MAX_CONTENT_LENGTH"])):
            response = client.post(path, input_stream=io.BytesIO(body), content_type="application/x-www-form-urlencoded",
                                   environ_overrides={"CONTENT_LENGTH": length})
            expected = 413 if length.isdigit() and int(length) > limit else 400
            assert response.status_code == expected, (length, path, response.status_code)
            assert_refused(response)
    assert changes(before, snapshot()) == []


def test_a_body_shorter_than_its_content_length_is_refused(site):
    """A client that announces more than it sends (a dropped connection) is a 400, not a hang or a 500."""
    client = site.test_client()
    hidden = hidden_fields(client.get(link()).get_data(as_text=True))
    body = urlencode(form_data(ANSWERS, hidden)).encode()
    before = snapshot()
    response = client.post(link(), input_stream=io.BytesIO(body), content_type="application/x-www-form-urlencoded",
                           environ_overrides={"CONTENT_LENGTH": str(len(body) + 500)})
    assert_refused(response, 400)
    assert changes(before, snapshot()) == []


def test_an_admin_upload_over_max_content_length_is_a_413(site):
    client = signed_in(site)
    token = form_csrf(client, "/admin/units/import")
    huge = b"code,name,kind,parent_code\n" + b"x" * site.config["MAX_CONTENT_LENGTH"]
    before = snapshot()
    # Encoded here, in memory: the test client would spool it to a temporary file it never closes.
    boundary, data = encode_multipart(MultiDict({"csrf_token": token, "units": FileStorage(io.BytesIO(huge), "units.csv")}))
    response = client.post("/admin/units/import", data=data, content_type=f"multipart/form-data; boundary={boundary}")
    body = assert_refused(response, 413)
    assert_chinese_page(body, "提交的内容过大")
    assert changes(before, snapshot()) == []


# -- wrong content types, every POST kind --------------------------------------------------------


def _bodies(fields: dict[str, str], uploads: bool = False) -> list[tuple[str, dict]]:
    """The same fields sent every wrong way: (what, post kwargs). Every field as a file is wrong
    only for a form without uploads (for an upload form, it is how its file arrives)."""
    boundary = "XyZ"
    odd_multipart = (
        f"--{boundary}\r\nContent-Disposition: form-data\r\n\r\nno name\r\n"  # a part without a name
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"; filename=\"t.txt\"\r\n"
        f"Content-Type: application/octet-stream\r\n\r\n{fields.get('csrf_token', '')}\r\n"  # a text field sent as a file
        f"--{boundary}\r\nContent-Type: multipart/mixed; boundary=inner\r\n\r\n--inner\r\n\r\nx\r\n--inner--\r\n"  # nested
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"\xff\"\r\n\r\n\xfe\r\n"  # not UTF-8
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"truncated\"\r\n\r\nno closing boundary"
    ).encode("latin-1")
    as_files = {k: (io.BytesIO(v.encode()), f"{k}.txt") for k, v in fields.items()}
    return [
        ("json", {"data": json.dumps(fields), "content_type": "application/json"}),
        ("json, not an object", {"data": json.dumps([list(fields.items()), 5, None]), "content_type": "application/json"}),
        ("json with odd values", {"data": json.dumps({k: {"v": [v, 5]} for k, v in fields.items()}), "content_type": "application/json"}),
        ("text/plain", {"data": urlencode(fields), "content_type": "text/plain"}),
        ("no content type", {"data": urlencode(fields).encode(), "content_type": ""}),
        ("xml", {"data": "<form><a>1</a></form>", "content_type": "application/xml"}),
        ("multipart, no boundary", {"data": b"--x\r\n\r\n", "content_type": "multipart/form-data"}),
        ("multipart, odd parts", {"data": odd_multipart, "content_type": f"multipart/form-data; boundary={boundary}"}),
    ] + ([] if uploads else [("every field a file", {"data": as_files, "content_type": "multipart/form-data"})])


def test_the_resident_form_refuses_every_wrong_content_type(site):
    client = site.test_client()
    hidden = hidden_fields(client.get(link()).get_data(as_text=True))
    fields = form_data(ANSWERS, hidden)
    before = snapshot()
    for what, kwargs in _bodies(fields):
        response = client.post(link(), **kwargs)
        assert response.status_code == 400, what  # no ticket arrives
        assert_chinese_page(assert_refused(response))
        assert changes(before, snapshot()) == [], what
    assert client.post(link(), data=fields).status_code == 200  # the ticket was never used up


def test_a_method_a_page_does_not_take_is_a_405_naming_the_ones_it_does(site):
    client = site.test_client()
    for path, allowed in ((link(), {"GET", "POST"}), ("/s", {"GET"}), ("/admin/login", {"GET", "POST"}), ("/api/v1/waves", {"GET"})):
        for method in ("PUT", "PATCH", "DELETE", "TRACE"):
            response = client.open(path, method=method)
            assert_refused(response, 405)
            assert set(response.headers["Allow"].replace(" ", "").split(",")) >= allowed, (path, method)  # RFC 9110
            if not path.startswith("/api/"):
                assert_chinese_page(response.get_data(as_text=True))


def test_the_sign_in_refuses_every_wrong_content_type(site):
    """Right credentials, wrong encodings: never signed in, no failed attempt counted, no 5xx.
    The CSRF token travels in the header too, so the form itself must refuse the body."""
    client = site.test_client()
    token = form_csrf(client, "/admin/login")
    fields = {"csrf_token": token, "username": "admin", "password": PASSWORD}
    before = snapshot()
    for what, kwargs in _bodies(fields):
        response = client.post("/admin/login", headers={"X-CSRFToken": token}, **kwargs)
        assert response.status_code in (400, 422), what
        assert_refused(response)
        assert changes(before, snapshot()) == [], what
        assert client.get("/admin/").status_code == 302, what  # still signed out


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/admin/tokens", {"name": "脚本"}),
        ("/admin/waves/new", {"slug": "2026Q4-city", "questionnaire": "safety:1", "scope": "619900", "period": "2026Q4", "target_n": "40"}),
        ("/admin/units/import", {"units": "code,name,kind,parent_code\n619900,改名,city,\n"}),
        ("/admin/questionnaires/upload", {"file": QUESTIONNAIRE}),
    ],
    ids=["form", "wave form", "units upload", "questionnaire upload"],
)
def test_console_forms_refuse_every_wrong_content_type(site, path, fields):
    """The CSRF token travels in the X-CSRFToken header as well, so that the request passes the
    app-wide check and the form itself must refuse the body: Flask-WTF would read a JSON body as
    the form (`{"name": {"v": [1]}}` reached the service as a dict)."""
    client = signed_in(site)
    token = form_csrf(client, "/admin/tokens")
    before = snapshot()
    for what, kwargs in _bodies({"csrf_token": token, **fields}, uploads="/upload" in path or "/import" in path):
        response = client.post(path, headers={"X-CSRFToken": token}, **kwargs)
        assert response.status_code in (400, 422), (what, response.status_code)
        assert_refused(response)
        assert changes(before, snapshot()) == [], what


def test_a_console_button_takes_only_its_csrf_token_whatever_the_body(site):
    """A button (close a wave) needs the CSRF token and its confirmation (issue 14): with the token
    in the header, any body without `confirmed=1` only shows the confirmation page and changes
    nothing; the confirmed form closes the wave once; afterwards every body is refused, and nothing
    is a 5xx."""
    client = signed_in(site)
    token = form_csrf(client, "/admin/tokens")
    statuses = []
    for what, kwargs in _bodies({"csrf_token": token}):
        response = client.post(f"/admin/waves/{WAVE}/close", headers={"X-CSRFToken": token}, **kwargs)
        assert response.status_code < 500, what
        assert_no_stack_trace(response)
        statuses.append(response.status_code)
    assert all(s == 200 or 400 <= s < 500 for s in statuses), statuses  # the confirmation page, or a refusal
    assert db.session.scalar(select(Wave.status).where(Wave.slug == WAVE)) == "open"
    closed = client.post(f"/admin/waves/{WAVE}/close", data={"csrf_token": token, "confirmed": "1"})
    assert closed.status_code == 302
    statuses = []
    for what, kwargs in _bodies({"csrf_token": token, "confirmed": "1"}):
        response = client.post(f"/admin/waves/{WAVE}/close", headers={"X-CSRFToken": token}, **kwargs)
        assert response.status_code < 500, what
        assert_no_stack_trace(response)
        statuses.append(response.status_code)
    assert all(400 <= s < 500 for s in statuses), statuses
    assert_refused(client.post(f"/admin/waves/{WAVE}/close", data=b"{}", content_type="application/json"), 400)  # no token at all


def test_the_api_is_read_only_whatever_the_body(site):
    client = site.test_client()
    auth = {"Authorization": f"Bearer {site.config['API_TOKEN']}"}
    before = snapshot()
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for what, kwargs in _bodies({"a": "1"}):
            response = client.open("/api/v1/waves", method=method, headers=auth, **kwargs)
            assert_refused(response, 405)
            assert response.mimetype == "application/json" and response.json["error"]["code"] == "405"
            assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET"}, what  # RFC 9110
    assert changes(before, snapshot()) == []


# -- bytes that are not UTF-8, wherever they can go ------------------------------------------------

RAW = "\xff\xfe\xc3\x28\xed\xa0\x80"  # as a WSGI server hands them to the app: each byte a latin-1 character


def test_invalid_utf8_form_bodies(site):
    client = site.test_client()
    hidden = hidden_fields(client.get(link()).get_data(as_text=True))
    valid = urlencode(form_data(ANSWERS, hidden))
    before = snapshot()
    # Raw bytes: Werkzeug cannot decode the body, so no field arrives, the ticket included → 400.
    raw = (valid + "&q_comment=" + RAW).encode("latin-1", "replace") + b"\xff"
    body = assert_refused(client.post(link(), data=raw, content_type="application/x-www-form-urlencoded"), 400)
    assert_chinese_page(body)
    # Percent-encoded invalid bytes stay percent-encoded text: an answer no option has → 422.
    encoded = valid.replace("q_safety=B", "q_safety=%FF%C3%28")
    assert_refused(client.post(link(), data=encoded.encode(), content_type="application/x-www-form-urlencoded"), 422)
    assert changes(before, snapshot()) == []
    # Console sign-in and a console form: the same bytes, the same clean refusal.
    console = signed_in(site)
    token = form_csrf(console, "/admin/tokens")
    before = snapshot()
    for path, data in (("/admin/login", f"csrf_token={token}&username=adm\xffin&password=x\xfe"),
                       ("/admin/tokens", f"csrf_token={token}&name=\xff\xfe")):
        assert_refused(console.post(path, data=data.encode("latin-1"), content_type="application/x-www-form-urlencoded"), 400)
    assert changes(before, snapshot()) == []


def test_invalid_utf8_in_query_strings(site):
    """Raw bytes in the query (curl and bots send them) are read like %FF: a normal page or a 4xx,
    signed in or not, on every kind of page."""
    admin = signed_in(site)
    auth = {"Authorization": f"Bearer {site.config['API_TOKEN']}"}
    percent = "".join(f"%{ord(c):02X}" for c in RAW)
    for path in ("/s", "/s/x", link(), "/admin/", "/admin/login", "/admin/units/619900", f"/admin/waves/{WAVE}",
                 f"/admin/waves/{WAVE}/review", "/admin/cases", "/admin/audit", "/api/v1/waves", "/api/v1/cases", "/board/x", "/nowhere"):
        for query in (f"code={RAW}", f"wave={RAW}&status={RAW}", f"lang={RAW}", f"next={RAW}", RAW, f"{RAW}={RAW}&page={RAW}"):
            for client in (site.test_client(), admin):
                response = client.get(path, headers=auth, environ_overrides={"QUERY_STRING": query})
                assert response.status_code < 500, (path, query, response.status_code)
                assert_no_stack_trace(response)
        response = admin.get(f"{path}?code={percent}&wave={percent}&lang={percent}&page={percent}", headers=auth)
        assert response.status_code < 500, (path, response.status_code)
        assert_no_stack_trace(response)


def test_invalid_utf8_in_url_paths(site):
    admin = signed_in(site)
    auth = {"Authorization": f"Bearer {site.config['API_TOKEN']}"}
    percent = "".join(f"%{ord(c):02X}" for c in RAW)
    for prefix in ("/s/", "/admin/units/", "/admin/waves/", "/admin/questionnaires/", "/api/v1/waves/", "/api/v1/cases/", "/board/"):
        for path in (prefix + RAW, prefix + percent, prefix + percent + "/results", prefix + "%00", prefix + "a%00b", prefix + RAW + ".pdf"):
            raw = "%" not in path
            kwargs = {"environ_overrides": {"PATH_INFO": path}} if raw else {}
            response = admin.get("/" if raw else path, headers=auth, **kwargs)
            assert_refused(response, 404)
            if not path.startswith("/api/"):
                assert_chinese_page(response.get_data(as_text=True))


def test_an_id_beyond_the_database_integer_range_is_a_404(site):
    """PostgreSQL's `integer` ends at 2^31 - 1 (and SQLite's at 2^63 - 1): a bigger id names nothing."""
    admin = signed_in(site)
    auth = {"Authorization": f"Bearer {site.config['API_TOKEN']}"}
    for n in (2**31 - 1, 2**31, 2**63, 10**30):
        for path in (f"/api/v1/cases/{n}", f"/admin/cases/{n}", f"/admin/waves/{WAVE}/responses/{n}", f"/admin/questionnaires/safety/{n}"):
            assert_refused(admin.get(path, headers=auth), 404)
        csrf = form_csrf(admin, "/admin/tokens")
        assert_refused(admin.post(f"/admin/tokens/{n}/revoke", data={"csrf_token": csrf}), 404)


def test_invalid_utf8_in_cookies_and_headers(site):
    client = site.test_client()
    page = client.get(link())
    assert page.status_code == 200
    hidden = hidden_fields(page.get_data(as_text=True))
    device = client.get_cookie("pingan_device", path="/s").value  # the ticket is bound to it (no session)
    raw_cookies = [f"pingan_device={RAW}", f"lang={RAW}", f"session={RAW}; lang={RAW}; pingan_device={RAW}; {RAW}={RAW}",
                   f"remember_token={RAW}"]
    for cookie in raw_cookies:
        for path in (link(), "/s", "/admin/login", "/board/x"):
            response = client.get(path, environ_overrides={"HTTP_COOKIE": cookie})
            assert response.status_code in (200, 302, 404), (path, cookie, response.status_code)
            assert_no_stack_trace(response)
    headers = {"HTTP_USER_AGENT": RAW, "HTTP_ACCEPT_LANGUAGE": RAW, "HTTP_ACCEPT": RAW, "HTTP_REFERER": RAW,
               "HTTP_X_FORWARDED_FOR": RAW, "HTTP_ORIGIN": RAW}
    # A resident's answers with every other header and cookie garbled: stored, once (the hashes take any bytes).
    response = client.post(link(), data=form_data(ANSWERS, hidden), environ_overrides={
        **headers, "HTTP_COOKIE": f"session={RAW}; lang={RAW}; pingan_device={device}; {RAW}={RAW}"})
    assert response.status_code == 200 and "提交成功" in response.get_data(as_text=True)
    assert count(Response) == 1
    for path in ("/admin/login", "/api/v1/waves", "/s"):
        response = client.get(path, environ_overrides=headers)
        assert response.status_code < 500
        assert_no_stack_trace(response)


def test_a_malformed_bearer_token_is_a_401(site):
    client = site.test_client()
    before = snapshot()
    for authorization in (f"Bearer pa_{RAW}", f"Bearer {RAW}", "Bearer pa_\ud800", "Bearer pa_\x00", "Bearer pa_" + "x" * 10000,
                          "Bearer", "Bearer  ", "Basic YWRtaW46cGFzcw==", RAW, "bearer pa_" + "é" * 40, "Bearer pa_%00"):
        response = client.get("/api/v1/me", environ_overrides={"HTTP_AUTHORIZATION": authorization})
        assert response.status_code == 401, (authorization[:40], response.status_code)
        assert_refused(response)
        assert response.json["error"]["code"] in ("token_missing", "token_invalid")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert changes(before, snapshot()) == []


def test_nul_and_control_characters_in_console_fields(site):
    """PostgreSQL refuses NUL in text: the console says so beside the field (422) instead."""
    client = site.test_client()
    token = form_csrf(client, "/admin/login")
    before = snapshot()
    for username in ("ad\x00min", "admin\x1b", "\x00"):
        body = assert_refused(client.post("/admin/login", data={"csrf_token": token, "username": username, "password": PASSWORD}), 422)
        assert_chinese_page(body, "控制字符")
    assert changes(before, snapshot()) == []  # not even a failed attempt is counted
    console = signed_in(site)
    before = snapshot()
    for path, data in (("/admin/tokens", {"name": "脚\x00本"}),
                       ("/admin/users/new", {"username": "bob", "display_name": "B\x00b", "role": "analyst", "scope": ""}),
                       ("/admin/waves/new", {"slug": "x", "questionnaire": "safety:1", "scope": "619900\x00", "period": "2026Q4\x00", "target_n": "40"})):
        body = assert_refused(console.post(path, data={"csrf_token": form_csrf(console, path), **data}), 400, 422)
        assert_chinese_page(body)
    assert changes(before, snapshot()) == []


# -- hostile upload files --------------------------------------------------------------------------


HOSTILE_CSV = [
    ("gbk", UNITS.encode("gbk"), ("UTF-8",)),
    ("utf-16", UNITS.encode("utf-16"), ()),
    ("png", PNG, ()),
    ("xlsx", XLSX, ()),
    ("nul late", (UNITS + "619900999,坏\x00名,village,619900\n").encode(), ()),
    ("invalid byte late", UNITS.encode() + b"619900998,\xff\xfe,village,619900\n", ("UTF-8",)),
    ("empty", b"", ()),
    ("only a BOM", b"\xef\xbb\xbf", ()),
    ("huge population", None, ()),  # built in the test: a count beyond any integer column
]


def test_a_hostile_units_upload_is_refused_in_chinese_and_stores_nothing(site):
    client = signed_in(site)
    before = snapshot()
    for what, content, phrases in HOSTILE_CSV:
        files = {"units": (io.BytesIO(UNITS.encode() if content is None else content), "单位表.csv")}
        if content is None:
            population = (DATA / "population.csv").read_text(encoding="utf-8").splitlines()
            population[1] = population[1].rsplit(",", 1)[0] + ",99999999999999999999"
            files["population"] = (io.BytesIO("\n".join(population).encode()), "人口表.csv")
        response = client.post("/admin/units/import", data={"csrf_token": form_csrf(client, "/admin/units/import"), **files})
        assert response.status_code == 400, (what, response.status_code)
        body = assert_refused(response)
        assert_chinese_page(body, *phrases)
        assert content is None or "单位表.csv" in body, what  # a problem with the file is named by the file
        assert changes(before, snapshot()) == [], what


NAME = "问卷.yaml"
HOSTILE_YAML = [
    ("gbk", QUESTIONNAIRE.encode("gbk"), (NAME, "UTF-8")),
    ("utf-16", QUESTIONNAIRE.encode("utf-16"), (NAME,)),
    ("png", PNG, (NAME,)),
    ("nul", QUESTIONNAIRE.replace("title:", "title: \x00").encode(), (NAME, "U+0000")),
    ("escape character", QUESTIONNAIRE.replace("title:", "title: \x1b").encode(), (NAME, "U+001B")),
    ("nested", b"[" * 3000 + b"]" * 3000, (NAME, "嵌套")),
    ("alias bomb", b"a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                   b"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n", (NAME,)),
    ("python tag", b"!!python/object/apply:os.system ['true']\n", (NAME,)),
    ("version beyond integer", QUESTIONNAIRE.replace("version: 2", "version: 99999999999999999999").encode(), ("2147483647",)),
    ("min_n beyond integer", QUESTIONNAIRE.replace("min_n: 30", "min_n: 99999999999999999999").encode(), ("2147483647",)),
    ("a list", b"- 1\n- 2\n", (NAME,)),
    ("empty", b"", (NAME,)),
]


def test_a_hostile_questionnaire_upload_is_refused_in_chinese_and_stores_nothing(site):
    client = signed_in(site)
    before = snapshot()
    for what, content, phrases in HOSTILE_YAML:
        response = client.post("/admin/questionnaires/upload", data={
            "csrf_token": form_csrf(client, "/admin/questionnaires/upload"), "file": (io.BytesIO(content), NAME)})
        assert response.status_code == 400, (what, response.status_code)
        assert_chinese_page(assert_refused(response), *phrases)
        assert changes(before, snapshot()) == [], what
    assert count(QuestionnaireVersion) == 1


def test_a_questionnaire_with_a_list_as_a_key_is_refused(site):
    client = signed_in(site)
    response = client.post("/admin/questionnaires/upload", data={
        "csrf_token": form_csrf(client, "/admin/questionnaires/upload"), "file": (io.BytesIO(b"? [1, 2]\n: x\n"), "q.yaml")})
    assert_refused(response, 400)


def test_a_questionnaire_with_a_number_that_is_not_finite_is_refused(site):
    client = signed_in(site)
    before = snapshot()
    for change in (("score: 80}", "score: .nan}"), ("weight: 0.6", "weight: .inf"), ("min: 90,", "min: .nan,")):
        content = QUESTIONNAIRE.replace(*change, 1).encode()
        response = client.post("/admin/questionnaires/upload", data={
            "csrf_token": form_csrf(client, "/admin/questionnaires/upload"), "file": (io.BytesIO(content), "q.yaml")})
        assert response.status_code == 400, (change, response.status_code)
        assert changes(before, snapshot()) == [], change


def test_an_upload_with_an_overlong_or_hostile_file_name(site):
    """Names are the user's: 200 Chinese characters (600 bytes, over a file system's 255), path
    parts, NUL, a lone surrogate. The file is read; its name only labels the message."""
    client = signed_in(site)
    before = snapshot()
    for name in ("单" * 200 + ".csv", "../../etc/passwd", "a\x00b.csv", "\x7f\x1b.csv", "." * 300, "CON", " "):
        response = client.post("/admin/units/import", data={
            "csrf_token": form_csrf(client, "/admin/units/import"), "units": (io.BytesIO(PNG), name)})
        body = assert_refused(response, 400)
        assert_chinese_page(body)
        assert "etc/" not in body  # the directory part is never used
    assert changes(before, snapshot()) == []
    # The same overlong name on a good file imports it.
    response = client.post("/admin/units/import", data={
        "csrf_token": form_csrf(client, "/admin/units/import"), "units": (io.BytesIO(UNITS.encode()), "单" * 200 + ".csv")})
    assert response.status_code == 302


def test_a_hostile_responses_csv_is_refused_by_the_import_and_stores_nothing(site, tmp_path: Path):
    """Responses arrive as CSV through `flask responses import` (the console has no upload for
    them): the same files get the same refusal, naming the file, nothing stored."""
    runner = site.test_cli_runner()
    header = "response_id,unit_code,psu,submitted_at,safety,sex\n"
    for what, content, phrase in (
        ("gbk", (header + "r1,619901001001,,2026-08-01 10:00,A,男\n").encode("gbk"), "UTF-8"),
        ("png", PNG, ""),
        ("nul", (header + "r1,619901001001,,2026-08-01 10:00,A\x00,M\n").encode(), ""),
        ("invalid byte late", (header + "r1,619901001001,,2026-08-01 10:00,A,M\n").encode() + b"r2,\xff,,,,\n", "UTF-8"),
    ):
        path = tmp_path / f"{what}.csv"
        path.write_bytes(content)
        result = runner.invoke(args=["responses", "import", "--wave", WAVE, str(path)])
        assert result.exit_code != 0, (what, result.output)
        assert "Traceback" not in result.output and f"{what}.csv" in result.output and phrase in result.output, result.output
        assert CHINESE.search(result.output), result.output
        assert count(Response) == 0
