"""Twenty copies of a submission at the same moment, through gunicorn into PostgreSQL.

A phone on a weak network, a double tap, a browser resending: the copies reach different workers
and threads together, pass the "already stored?" check together, and race to the insert. The
unique constraints decide: one row, and every copy gets a page that tells the resident the answer
is in (提交成功 or 您已提交), never a 5xx.

PostgreSQL only: SQLite lets one writer in at a time, so there is no race to lose there.
"""

from __future__ import annotations

import http.client
import socket
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from bench.faults import Connection, Form, parse_form
from tests.conftest import TEST_DATABASE_URL

pytestmark = pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="PostgreSQL only (TEST_DATABASE_URL): SQLite serialises writers, there is no race"
)

COPIES = 20


@dataclass
class Site:
    url: str
    database: str
    paths: list[str]
    sheet: str


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from bench.harness import Server, app_env, fresh_database, prepare_in_process, resident_links, server_of

    database = fresh_database("pingan_concurrency_test", server_of(TEST_DATABASE_URL))
    slug = prepare_in_process(database)
    questionnaire = resident_links(database, slug, sheets=1)
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    # 4 workers × 8 threads: all twenty copies are inside the app at once, in four processes.
    # Twenty copies from one phone at once: the per-device limit (10 a minute) is not what this test
    # is about, as the per-address one is not (headers_for gives each copy an address of its own).
    env = app_env(database, SURVEY_DEVICE_RATE_LIMIT="1000 per minute")
    with Server("app:create_app()", env, log=log, workers=4, threads=8) as server:
        yield Site(server.url, database, questionnaire.paths, questionnaire.answer_bodies[0])


def get_form(site: Site, cookies: dict[str, str] | None = None) -> Form:
    conn = Connection(site.url)
    try:
        headers = {"X-Forwarded-For": "10.1.2.3"}
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        form = parse_form(conn.request("GET", site.paths[0], headers), "10.1.2.3")
    finally:
        conn.close()
    assert form is not None, "the questionnaire page has no usable form"
    return form


def post_at_once(url: str, requests: list[tuple[str, dict[str, str], bytes]]) -> list[tuple[int, str]]:
    """Send every request on a connection of its own, all released by one barrier; (status, page) each.

    The connections are open before the barrier, so that what is left after it is one send() each.
    """
    parts = urlsplit(url)
    barrier = threading.Barrier(len(requests))
    results: list[tuple[int, str] | BaseException | None] = [None] * len(requests)

    def one(i: int, path: str, headers: dict[str, str], body: bytes) -> None:
        head = [f"POST {path} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {len(body)}", "Connection: close"]
        raw = ("\r\n".join(head + [f"{k}: {v}" for k, v in headers.items()]) + "\r\n\r\n").encode() + body
        try:
            with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
                barrier.wait(timeout=30)
                sock.sendall(raw)
                response = http.client.HTTPResponse(sock)
                try:
                    response.begin()
                    results[i] = (response.status, response.read().decode("utf-8", "replace"))
                finally:
                    response.close()
        except BaseException as exc:  # noqa: BLE001 - reported by the test, not lost in a thread
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i, *r)) for i, r in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    errors = [r for r in results if not isinstance(r, tuple)]
    assert not errors, errors[:3]
    return results  # type: ignore[return-value]


def count_rows(database: str, keys: list[str] | None = None) -> int:
    import psycopg

    with psycopg.connect(database) as conn:
        if keys is None:
            return conn.execute("SELECT count(*) FROM responses").fetchone()[0]
        return conn.execute("SELECT count(*) FROM responses WHERE idempotency_key = ANY(%s)", (keys,)).fetchone()[0]


def page(status: int, text: str) -> str:
    if status == 200 and "提交成功" in text:
        return "thanks"
    if status == 200 and "您已提交" in text:
        return "already"
    return f"{status}"


def headers_for(form: Form, i: int, cookies: dict[str, str]) -> dict[str, str]:
    # Each copy from an address of its own (PROXY_COUNT=1): the per-address rate limit is not what
    # this test is about, and a phone does change networks.
    headers = form.headers(cookies)
    headers["X-Forwarded-For"] = f"10.20.{i}.1"
    return headers


def test_same_ticket_and_device_twenty_times_at_once(site):
    form = get_form(site)
    assert set(form.cookies) == {"pingan_device"}  # no session: the ticket is the form's token
    before = count_rows(site.database)
    body = form.body(site.sheet)
    replies = post_at_once(site.url, [(form.action, headers_for(form, i, form.cookies), body) for i in range(COPIES)])

    pages = [page(status, text) for status, text in replies]
    assert all(p in ("thanks", "already") for p in pages), pages
    assert count_rows(site.database, [form.key]) == 1
    assert count_rows(site.database) == before + 1


def test_same_ticket_without_device_cookie_twenty_times_at_once(site):
    # Posted without the device cookie it was issued to, a ticket is no token (it might come from a
    # cross-site form): every copy gets the form back with its answers kept, and nothing is stored.
    form = get_form(site)
    before = count_rows(site.database)
    body = form.body(site.sheet)
    replies = post_at_once(site.url, [(form.action, headers_for(form, i, {}), body) for i in range(COPIES)])
    assert [page(status, text) for status, text in replies] == ["400"] * COPIES
    assert count_rows(site.database) == before

    # Once it is stored, the same POST from a phone that lost its cookie is thanked again, twenty
    # times at once, and only the idempotency key tells the copies are one submission.
    assert page(*post_at_once(site.url, [(form.action, headers_for(form, 0, form.cookies), body)])[0]) == "thanks"
    replies = post_at_once(site.url, [(form.action, headers_for(form, i, {}), body) for i in range(COPIES)])
    assert [page(status, text) for status, text in replies] == ["thanks"] * COPIES
    assert count_rows(site.database, [form.key]) == 1
    assert count_rows(site.database) == before + 1


def test_twenty_tickets_one_device_at_once(site):
    first = get_form(site)
    device = {"pingan_device": first.cookies["pingan_device"]}
    # Twenty pages of the questionnaire on one phone (twenty tabs): a ticket each.
    forms = [first] + [get_form(site, device) for _ in range(COPIES - 1)]
    assert len({f.key for f in forms}) == COPIES
    before = count_rows(site.database)
    replies = post_at_once(site.url, [
        (f.action, headers_for(f, i, device), f.body(site.sheet))
        for i, f in enumerate(forms)
    ])

    pages = [page(status, text) for status, text in replies]
    assert sorted(pages) == ["already"] * (COPIES - 1) + ["thanks"], pages
    assert count_rows(site.database, [f.key for f in forms]) == 1
    assert count_rows(site.database) == before + 1
