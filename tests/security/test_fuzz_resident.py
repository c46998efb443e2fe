"""Property-based fuzzing of the residents' side: whatever a phone (or a script posing as one)
sends to /s/<token> and /s, the answer is never a 5xx nor a stack trace, and nothing is stored
but a whole, valid answer sheet.

The POST property compares the app with a model of the form. From the body as the server
parses it (fields may be missing, repeated, unknown, in any order; values any text), the
model says what must happen: a refused page (400 for a bad CSRF token or ticket, 422 for a
missing or invalid answer, 413 for a body over SURVEY_MAX_BODY) with the database unchanged,
or the thank-you page with exactly one new response whose answers are the model's. A retry
of a stored POST is thanked again and stores nothing.
"""

from __future__ import annotations

import json
import re
import uuid
from urllib.parse import parse_qsl, quote

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict
from werkzeug.test import encode_multipart

from analysis.spec import QuestionnaireSpec
from extensions import db
from models import Response
from survey.forms import _CONTROL, clean_text, field_name
from survey.links import SHORT_CODE_ALPHABET, wave_spec
from tests.security.fuzzing import FUZZ, NASTY, assert_no_stack_trace, has_surrogate, nasty_text, to_bytes
from tests.survey.resident import (
    ANSWERS,
    VILLAGE,
    backdated_ticket,
    hidden_fields,
    link,
    resident_app_fixture,
    unit,
    wave,
)

resident_app = pytest.fixture(resident_app_fixture, name="resident_app")

THANKS = "提交成功"


def table_counts() -> dict[str, int]:
    """Rows per table, read on a connection of its own (the requests commit on theirs)."""
    db.session.rollback()
    with db.engine.connect() as conn:
        return {t.name: conn.scalar(select(func.count()).select_from(t)) for t in db.metadata.sorted_tables}


def stored_since(last_id: int) -> list[Response]:
    db.session.rollback()
    return list(db.session.scalars(select(Response).where(Response.id > last_id).order_by(Response.id)))


def last_response_id() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.coalesce(func.max(Response.id), 0)))


# -- the model ------------------------------------------------------------------------------


def expected_answers(spec: QuestionnaireSpec, form: MultiDict) -> dict[str, str] | None:
    """The answers a valid POST of `form` stores, or None when the form must be refused (422).

    The first value of a repeated field counts (as in a browser's form and in WTForms); a
    choice must be one of the item's codes, exactly; text is cleaned (CRLF → LF, control
    characters dropped, trimmed) and must fit the item's max_length.
    """
    answers = {}
    for item in spec.items:
        value = form.get(field_name(item))
        if item.is_choice:
            if value in (None, ""):
                if item.required:
                    return None
                continue
            if value not in {o.code for o in item.options}:
                return None
            answers[item.key] = value
        else:
            text = clean_text(value)
            if not text:
                if item.required:
                    return None
                continue
            if len(text) > item.max_length:
                return None
            answers[item.key] = text
    return answers


def assert_a_valid_answer_sheet(spec: QuestionnaireSpec, response: Response) -> None:
    """What any stored response must be, whatever was posted: item keys only, codes of the
    item's options, cleaned text within its length."""
    items = {item.key: item for item in spec.items}
    assert set(response.answers) <= set(items), response.answers
    for key, value in response.answers.items():
        item = items[key]
        assert isinstance(value, str) and value
        if item.is_choice:
            assert value in {o.code for o in item.options}, (key, value)
        else:
            assert len(value) <= item.max_length and value == value.strip() and not _CONTROL.search(value), (key, value)
    for item in spec.items:
        assert not item.required or item.key in response.answers, item.key
    assert response.unit_id == unit(VILLAGE).id and response.mode == "qr" and response.psu is None


# -- the strategies -------------------------------------------------------------------------


def value_for(spec_item) -> st.SearchStrategy[str]:
    """Mostly right answers, often wrong ones: near-miss codes, text of any kind, long text."""
    if spec_item.is_choice:
        codes = [o.code for o in spec_item.options]
        near = [c.lower() for c in codes] + [f" {c}" for c in codes] + [f"{c}\x00" for c in codes] + [",".join(codes), "Z", "0", ""]
        return st.one_of(st.sampled_from(codes), st.sampled_from(codes), st.sampled_from(near), nasty_text())
    limit = spec_item.max_length
    return st.one_of(
        nasty_text(20),
        st.text(max_size=40),
        st.builds(lambda ch, n: ch * n, st.sampled_from(["治", "a", "\r\n", " ", "\x00", "🏠"]), st.integers(limit - 2, limit + 2)),
        st.builds(lambda ch, n: ch * n, st.sampled_from(["治", "a"]), st.integers(5000, 40000)),  # over SURVEY_MAX_BODY, encoded
    )


def tamper(value: str) -> st.SearchStrategy[str]:
    """A hidden field changed the ways a forger or a broken client would change it."""
    return st.one_of(
        st.integers(0, max(0, len(value) - 1)).map(lambda i: value[:i] + ("A" if value[i:i + 1] != "A" else "B") + value[i + 1:]),
        st.just(value[:-1]),
        st.just(value + "x"),
        st.just(value.upper()),
        nasty_text(),
    )


@st.composite
def submissions(draw, spec: QuestionnaireSpec, hidden: dict[str, str], other_ticket: str) -> list[tuple[str, str]]:
    """(name, value) pairs, in any order, possibly repeated: the body of one POST.

    How much is wrong is drawn first, so that whole, valid sheets (stored) come as often as
    sheets with one thing wrong and sheets with everything wrong."""
    pairs: list[tuple[str, str]] = []
    noise = draw(st.sampled_from(("none", "some", "much")))
    answer_ways = {"none": ("right",), "some": ("right",) * 8 + ("fuzz", "missing", "twice"),
                   "much": ("right", "fuzz", "missing", "twice")}[noise]
    hidden_ways = ("keep",) if noise == "none" else ("keep",) * 4 + ("missing", "tampered", "twice", "foreign")
    for item in spec.items:
        name = field_name(item)
        how = draw(st.sampled_from(answer_ways))
        right = ANSWERS[item.key]
        if how == "right":
            pairs.append((name, right))
        elif how == "fuzz":
            pairs.append((name, draw(value_for(item))))
        elif how == "twice":
            pairs += [(name, draw(value_for(item))), (name, draw(st.sampled_from((right, "")) | value_for(item)))]
    for name in ("ticket",):
        how = draw(st.sampled_from(hidden_ways))
        value = hidden[name]
        if how == "keep":
            pairs.append((name, value))
        elif how == "tampered":
            pairs.append((name, draw(tamper(value))))
        elif how == "twice":
            pairs += draw(st.permutations([(name, value), (name, draw(tamper(value)))]))
        elif how == "foreign":  # a ticket of another wave
            pairs.append((name, other_ticket))
    names = st.one_of(st.sampled_from([field_name(i) for i in spec.items] + ["csrf_token", "ticket", "q_", "q_x", ""]), nasty_text(4))
    pairs += draw(st.lists(st.tuples(names, nasty_text()), max_size=4))
    return draw(st.permutations(pairs))


# -- encodings ------------------------------------------------------------------------------


def urlencoded(pairs: list[tuple[str, str]]) -> bytes:
    """As a browser encodes a form, lone surrogates as the (invalid) UTF-8 bytes of them."""
    return b"&".join(
        quote(to_bytes(k), safe="").encode() + b"=" + quote(to_bytes(v), safe="").encode() for k, v in pairs
    )


def as_server_reads(body: bytes) -> MultiDict:
    """The fields Werkzeug makes of an urlencoded body (invalid bytes stay percent-encoded)."""
    return MultiDict(parse_qsl(body.decode("ascii"), keep_blank_values=True, errors="werkzeug.url_quote"))


# -- the tests ------------------------------------------------------------------------------


def test_any_post_is_refused_cleanly_or_stores_exactly_the_valid_answers(resident_app: Flask):
    spec = wave_spec(wave())
    path = link()
    limit = resident_app.config["SURVEY_MAX_BODY"]
    other_ticket = backdated_ticket(resident_app, wave().id + 1000, 60, key=str(uuid.uuid4()))
    outcomes: set[str] = set()

    @FUZZ
    @given(data=st.data(), encoding=st.sampled_from(("urlencoded", "urlencoded", "urlencoded", "multipart", "json")))
    def run(data, encoding):
        client = resident_app.test_client()
        hidden = hidden_fields(client.get(path).get_data(as_text=True))
        pairs = data.draw(submissions(spec, hidden, other_ticket))
        if encoding == "multipart" and any(has_surrogate(k + v) or set(k) & set('"\\\r\n') for k, v in pairs):
            encoding = "urlencoded"  # these cannot be written into a multipart body at all
        before, last = table_counts(), last_response_id()

        if encoding == "urlencoded":
            body, content_type = urlencoded(pairs), "application/x-www-form-urlencoded"
            form = as_server_reads(body)
        elif encoding == "multipart":
            boundary, body = encode_multipart(MultiDict(pairs))
            content_type = f"multipart/form-data; boundary={boundary}"
            form = MultiDict(pairs)
        else:  # Flask-WTF reads a JSON body as the form; the resident form must not
            body, content_type = json.dumps(dict(pairs)).encode(), "application/json"
            form = MultiDict()
        response = client.post(path, data=body, content_type=content_type)

        assert response.status_code < 500
        assert_no_stack_trace(response)
        page = response.get_data(as_text=True)
        hidden_ok = form.get("ticket") == hidden["ticket"]
        answers = expected_answers(spec, form) if hidden_ok else None
        if len(body) > limit:
            expected = 413
        elif not hidden_ok:
            expected = 400
        elif answers is None:
            expected = 422
        else:
            expected = 200
        assert response.status_code == expected, (expected, page[:300])
        outcomes.add(str(expected))

        new = stored_since(last)
        after = table_counts()
        if expected == 200:
            assert THANKS in page
            assert len(new) == 1, new
            assert_a_valid_answer_sheet(spec, new[0])
            assert new[0].answers == answers
            assert after == {**before, "responses": before["responses"] + 1}
            # The same POST again (a double tap, a retry on a flaky network): thanked, not stored.
            again = client.post(path, data=body, content_type=content_type)
            assert again.status_code == 200 and THANKS in again.get_data(as_text=True)
            assert table_counts() == after
        else:
            assert THANKS not in page
            assert new == [] and after == before

    run()
    # The strategies must reach every outcome, or the property proves less than it claims.
    assert outcomes >= {"200", "400", "422"}, outcomes


def test_a_stored_answer_never_holds_what_the_form_does_not_offer(resident_app: Flask):
    """Every field right but one, which gets any text at all: it is stored only if it is one of
    the item's codes (choice) or fits its length once cleaned (text)."""
    spec = wave_spec(wave())
    path = link()

    @FUZZ
    @given(item=st.sampled_from(spec.items), value=st.one_of(nasty_text(30), st.text()))
    def run(item, value):
        client = resident_app.test_client()
        hidden = hidden_fields(client.get(path).get_data(as_text=True))
        last = last_response_id()
        body = urlencoded([*hidden.items(), *((field_name(i), ANSWERS[i.key]) for i in spec.items if i is not item),
                           (field_name(item), value)])
        response = client.post(path, data=body, content_type="application/x-www-form-urlencoded")
        assert response.status_code in (200, 422), response.status_code
        new = stored_since(last)
        if response.status_code == 200:
            assert len(new) == 1
            assert_a_valid_answer_sheet(spec, new[0])
            assert new[0].answers == expected_answers(spec, as_server_reads(body))
        else:
            assert new == []
            assert expected_answers(spec, as_server_reads(body)) is None

    run()


# -- GET: any link, any code -----------------------------------------------------------------


def assert_a_resident_page(response) -> None:
    assert response.status_code < 500, response.status_code
    assert_no_stack_trace(response)
    if response.status_code >= 400:  # a page in the resident's language (Chinese unless ?lang=en), with its reason
        assert response.mimetype == "text/html"
        assert re.search(r'<html lang="(zh-CN|en)">', response.get_data(as_text=True))
        assert re.search(r"<h1>[^<]+</h1>", response.get_data(as_text=True))


def test_any_link_gets_a_page_never_an_error(resident_app: Flask):
    """/s/<anything>: tampered tokens, unicode, NUL, bytes that are not UTF-8, sent
    percent-encoded (as a browser does) or raw in the request line (as a script may)."""
    real = link().removeprefix("/s/")

    @FUZZ
    @given(token=st.one_of(tamper(real), nasty_text(), st.text(min_size=1, max_size=300)), raw=st.booleans(),
           lang=st.sampled_from(("", "en", "\x00", "\udcff")))
    def run(token, raw, lang):
        client = resident_app.test_client()
        query = f"lang={quote(to_bytes(lang), safe='')}" if lang else ""
        if raw:
            # What a server hands the app for raw bytes in the request line: each byte as a latin-1 character.
            environ = {"PATH_INFO": "/s/" + to_bytes(token).decode("latin-1"), "QUERY_STRING": query}
            response = client.get("/s/x", environ_overrides=environ)
        else:
            response = client.get(f"/s/{quote(to_bytes(token), safe='')}?{query}")
        assert_a_resident_page(response)
        if token != real:  # a changed token leads nowhere; `/s//x` is first merged into `/s/x` (308, on this site)
            assert response.status_code in (308, 400, 404), response.status_code
            assert response.status_code != 308 or response.headers["Location"].startswith(("/s/", "http://localhost/s/"))

    run()


# Six characters, as a code is once spaces and dashes are dropped: the length at which the code is
# looked up in the database, so that what it holds reaches the query.
six = st.lists(st.one_of(st.sampled_from(SHORT_CODE_ALPHABET), st.sampled_from(NASTY).filter(lambda p: len(p) == 1), st.characters()),
               min_size=6, max_size=6).map("".join)


@FUZZ
@given(code=st.one_of(six, six.map(lambda c: f"{c[:3]}-{c[3:]}"), nasty_text(), st.text(max_size=50),
                      st.sampled_from(("ABC-DEF", "abcdef", " ", "ＡＢＣＤＥＦ", "ABCDE\x00"))), raw=st.booleans())
def test_any_short_code_gets_a_page_never_an_error(resident_app, code, raw):
    """/s?code=<anything>: a clean 404 (or 400 for NUL), in Chinese, never a 5xx."""
    client = resident_app.test_client()
    codes = table_counts()["short_links"]  # made with the wave
    if raw:
        response = client.get("/s", environ_overrides={"QUERY_STRING": "code=" + to_bytes(code).decode("latin-1")})
    else:
        response = client.get(f"/s?code={quote(to_bytes(code), safe='')}")
    assert_a_resident_page(response)
    if raw:
        # Sent unquoted, the query is decoded as a form would be ("+" is a space, "&" ends the value),
        # so which code the server saw is its own reading: blank → the page asking for a code (200),
        # anything else → 400 or 404; never another page.
        assert response.status_code in (200, 400, 404), response.status_code
        if response.status_code == 200:
            assert "请输入海报或卡片上二维码下方的 6 位问卷号码" in response.get_data(as_text=True)
    elif "\x00" not in code and not code.strip():
        assert response.status_code == 200  # a blank code: the page asks the resident to type one
    else:
        assert response.status_code in (400, 404), response.status_code
    assert table_counts()["short_links"] == codes  # a look-up never creates a code

