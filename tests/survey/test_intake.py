"""The intake rules of the resident form, one by one (survey.views, survey.intake)."""

from __future__ import annotations

import re

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import select

import survey.intake
from extensions import db
from models import Response
from survey.intake import DEVICE_COOKIE, Outcome, Submission, Ticket, keyed_hash, new_ticket, read_ticket, submit
from survey.integrity import Rules
from survey.links import Link, make_token, read_token
from tests.survey.helpers import setup_wave
from tests.survey.packed import assert_packed
from tests.survey.resident import (
    ANSWERS,
    VILLAGE,
    WAVE,
    answer,
    close_app,
    form_data,
    hidden_fields,
    link,
    make_resident_app,
    open_wave_app,
    resident_app_fixture,
    responses,
    unit,
    wave,
)

resident_app = pytest.fixture(resident_app_fixture, name="resident_app")


def text(response) -> str:
    return response.get_data(as_text=True)


def fieldset(page: str, key: str) -> str:
    """The HTML of one question."""
    m = re.search(rf'<fieldset[^>]*id="q-{key}".*?</fieldset>', page, re.DOTALL)
    assert m, f"question {key} not in the page"
    return m.group(0)


def assert_resident_error_page(response, status: int, words: str) -> None:
    body = text(response)
    assert response.status_code == status
    assert words in body
    assert "Traceback" not in body and "Exception" not in body
    assert '<html lang="zh-CN">' in body


# -- the page -------------------------------------------------------------------------------


def test_the_form_shows_every_question_with_its_options(resident_app):
    client = resident_app.test_client()
    page = client.get(link())
    body = text(page)
    assert page.status_code == 200
    spec = wave().questionnaire_version.to_spec()
    for n, item in enumerate(spec.items, start=1):
        block = fieldset(body, item.key)
        assert item.text in block
        assert f'<span class="n">{n}</span>' in block
        for option in item.options:
            assert f'name="q_{item.key}" value="{option.code}"' in block and option.label in block
    assert '<textarea name="q_comment" rows="4" maxlength="300"' in body
    assert "江滨社区" in body and "（江滨街道）" in body
    hidden = hidden_fields(body)
    assert read_ticket(hidden["ticket"], wave().id) is not None
    assert DEVICE_COOKIE in page.headers.get("Set-Cookie", "") or any(
        DEVICE_COOKIE in c for c in page.headers.getlist("Set-Cookie")
    )


def test_a_valid_answer_is_stored_once_and_thanked(resident_app):
    client = resident_app.test_client()
    page = client.get(link())
    hidden = hidden_fields(text(page))
    answers = {**ANSWERS, "victim": "", "comment": "  希望多安排夜间巡逻。\r\n谢谢  "}
    done = client.post(link(), data=form_data(answers, hidden))
    assert done.status_code == 200
    assert "提交成功" in text(done)
    [row] = responses()
    expected = {k: v for k, v in ANSWERS.items() if k != "victim"}
    expected["comment"] = "希望多安排夜间巡逻。\n谢谢"
    assert row.answers == expected
    assert row.unit_id == unit(VILLAGE).id and row.wave_id == wave().id
    assert row.mode == "qr" and row.psu is None
    assert row.response_key.startswith("qr-") and len(row.response_key) <= 64
    assert row.review_status == "clean" and row.flags == []
    ticket = read_ticket(hidden["ticket"], wave().id)
    assert row.idempotency_key == ticket.idempotency_key
    assert row.submitted_at is not None and row.started_at is not None
    assert 0 <= row.duration_s < 60
    assert row.device_hash and row.ip_hash and row.ua_hash
    assert assert_packed() == 1 and row.answer_texts == '{"comment": "希望多安排夜间巡逻。\\n谢谢"}'


def test_a_door_card_records_mode_door(resident_app):
    client = resident_app.test_client()
    assert "提交成功" in text(answer(client, link(mode="door")))
    [row] = responses()
    assert row.mode == "door" and row.response_key.startswith("door-")


# -- links ---------------------------------------------------------------------------------


def _tokens(app) -> dict[str, str]:
    good = make_token(wave(), unit(VILLAGE))
    payload, signature = good.split(".")
    other_key = URLSafeSerializer("another-secret", salt="survey-link").dumps([wave().id, VILLAGE])
    other_salt = URLSafeSerializer(app.config["SECRET_KEY"], salt="something-else").dumps([wave().id, VILLAGE])
    ours = URLSafeSerializer(app.config["SECRET_KEY"], salt="survey-link")
    return {
        "garbage": "not-a-token",
        "signature changed": payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:],
        "payload changed": ours.dumps([wave().id, "619902001001"]).split(".")[0] + "." + signature,
        "truncated": good[:-3],
        "other key": other_key,
        "other salt": other_salt,
        "unknown wave": ours.dumps([9999, VILLAGE]),
        "unknown unit": ours.dumps([wave().id, "000000"]),
        "bad shape": ours.dumps({"w": wave().id}),
        "bad mode": ours.dumps([wave().id, VILLAGE, "fax"]),
    }


@pytest.mark.parametrize(
    "case",
    ["garbage", "signature changed", "payload changed", "truncated", "other key", "other salt",
     "unknown wave", "unknown unit", "bad shape", "bad mode"],
)
def test_a_tampered_or_unknown_link_gets_a_chinese_404(resident_app, case):
    token = _tokens(resident_app)[case]
    client = resident_app.test_client()
    assert_resident_error_page(client.get(f"/s/{token}"), 404, "链接无效")
    assert_resident_error_page(client.post(f"/s/{token}", data=form_data(ANSWERS, {})), 404, "链接无效")
    assert responses() == []


def test_a_unit_outside_the_wave_scope_is_not_a_valid_link(make_app):
    app, ctx = open_wave_app(make_app)
    try:
        runner = app.test_cli_runner()
        # A second wave over 石桥县 only: a link for a 临江区 village would be out of its scope.
        assert runner.invoke(args=["wave", "create", "--slug", "sq", "--questionnaire", "safety", "--scope", "619902", "--period", "2026Q3", "--series", "county"]).exit_code == 0
        assert runner.invoke(args=["wave", "open", "sq"]).exit_code == 0
        token = URLSafeSerializer(app.config["SECRET_KEY"], salt="survey-link").dumps([wave("sq").id, VILLAGE])
        assert_resident_error_page(app.test_client().get(f"/s/{token}"), 404, "链接无效")
    finally:
        close_app(ctx)


def test_a_draft_wave_says_not_started_403(make_app):
    app = make_resident_app(make_app)
    with app.app_context():
        setup_wave(app.test_cli_runner(), open_it=False)
        client = app.test_client()
        assert_resident_error_page(client.get(link()), 403, "尚未开始")
        assert_resident_error_page(client.post(link(), data=form_data(ANSWERS, {})), 403, "尚未开始")
        assert responses() == []
        db.session.remove()
        db.engine.dispose()


def test_a_closed_wave_says_ended_410_even_for_a_form_opened_before(resident_app):
    client = resident_app.test_client()
    hidden = hidden_fields(text(client.get(link())))
    assert resident_app.test_cli_runner().invoke(args=["wave", "close", WAVE]).exit_code == 0
    assert_resident_error_page(client.get(link()), 410, "已结束")
    assert_resident_error_page(client.post(link(), data=form_data(ANSWERS, hidden)), 410, "已结束")
    # The POST reads the status only when it stores nothing (survey.links.read_token, `deferred`):
    # every such path says 已结束 first, as a POST did when it read the status before anything else.
    assert_resident_error_page(client.post(link(), data=form_data({}, hidden)), 410, "已结束")  # invalid answers
    assert_resident_error_page(client.post(link(), data=form_data(ANSWERS, {})), 410, "已结束")  # no ticket
    bot = {**form_data(ANSWERS, hidden), "website": "http://spam.example"}
    assert_resident_error_page(client.post(link(), data=bot), 410, "已结束")  # the honeypot
    assert responses() == []


def test_a_retry_after_the_wave_closed_says_ended_and_stores_nothing_more(resident_app):
    client = resident_app.test_client()
    hidden = hidden_fields(text(client.get(link())))
    assert "提交成功" in text(client.post(link(), data=form_data(ANSWERS, hidden)))
    assert resident_app.test_cli_runner().invoke(args=["wave", "close", WAVE]).exit_code == 0
    # The INSERT stores nothing (wave closed, and the ticket stored): the status is said first.
    assert_resident_error_page(client.post(link(), data=form_data(ANSWERS, hidden)), 410, "已结束")
    assert len(responses()) == 1


def test_read_token_names_wave_unit_and_mode(resident_app):
    got = read_token(make_token(wave(), unit("619900501"), "door"))
    assert (got.wave.slug, got.unit.code, got.mode) == (WAVE, "619900501", "door")


# -- validation ----------------------------------------------------------------------------


def test_a_missing_required_answer_is_shown_beside_its_question_with_every_answer_kept(resident_app):
    client = resident_app.test_client()
    hidden = hidden_fields(text(client.get(link())))
    answers = {k: v for k, v in ANSWERS.items() if k != "night_safety"}
    page = client.post(link(), data=form_data(answers, hidden))
    body = text(page)
    assert page.status_code == 422
    missing = fieldset(body, "night_safety")
    assert "这道题还没有回答，请选择一项。" in missing
    assert 'aria-describedby="e-night_safety"' in missing and "checked" not in missing
    assert '<a href="#q-night_safety">第 2 题</a>' in body
    for key, code in answers.items():
        block = fieldset(body, key)
        assert "class=\"err\"" not in block
        if key == "comment":
            assert f">{code}</textarea>" in block
        else:
            assert f'name="q_{key}" value="{code}" checked' in block
    assert responses() == []
    # The same page, completed, goes through with the same ticket.
    fixed = client.post(link(), data=form_data(ANSWERS, hidden_fields(body)))
    assert "提交成功" in text(fixed)
    [row] = responses()
    assert row.idempotency_key == read_ticket(hidden["ticket"], wave().id).idempotency_key


def test_optional_items_may_be_left_blank(resident_app):
    answers = {k: v for k, v in ANSWERS.items() if k not in ("victim", "comment")}
    assert "提交成功" in text(answer(resident_app.test_client(), link(), answers))
    assert set(responses()[0].answers) == set(answers)


@pytest.mark.parametrize("code", ["Z", "a", "A ", "100", "<script>"])
def test_an_invalid_option_code_is_refused(resident_app, code):
    page = answer(resident_app.test_client(), link(), {**ANSWERS, "sat_police": code})
    assert page.status_code == 422
    block = fieldset(text(page), "sat_police")
    assert "所选答案无效，请重新选择。" in block and "checked" not in block
    assert "<script>" not in text(page)
    assert responses() == []


def test_text_over_the_limit_is_refused_with_its_length(resident_app):
    client = resident_app.test_client()
    page = answer(client, link(), {**ANSWERS, "comment": "治" * 301})
    assert page.status_code == 422
    block = fieldset(text(page), "comment")
    assert "最多可写 300 个字，现在是 301 个字" in block
    assert "治" * 301 in block  # kept, to be shortened
    escaped = answer(resident_app.test_client(), link(), {**ANSWERS, "comment": "<script>alert(1)</script>" + "治" * 300})
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text(escaped) and "<script>alert" not in text(escaped)
    assert responses() == []
    # Exactly at the limit, line breaks counted once (browsers send CRLF).
    at_limit = "治" * 149 + "\r\n" + "安" * 150
    assert "提交成功" in text(answer(resident_app.test_client(), link(), {**ANSWERS, "comment": at_limit}))
    assert len(responses()[0].answers["comment"]) == 300


def test_control_characters_are_dropped_from_text(resident_app):
    assert "提交成功" in text(answer(resident_app.test_client(), link(), {**ANSWERS, "comment": "好\x00的\x07\t!"}))
    assert responses()[0].answers["comment"] == "好的\t!"


def test_a_blank_text_answer_is_left_out(resident_app):
    assert "提交成功" in text(answer(resident_app.test_client(), link(), {**ANSWERS, "comment": " \r\n "}))
    assert "comment" not in responses()[0].answers


# -- CSRF and the ticket -------------------------------------------------------------------


def test_the_resident_form_keeps_no_session(resident_app):
    """The ticket is the form's only token: no Flask session cookie is set for an anonymous resident,
    and a POST needs none."""
    client = resident_app.test_client()
    page = client.get(link())
    assert not any(c.startswith("session=") for c in page.headers.getlist("Set-Cookie"))
    assert 'name="csrf_token"' not in text(page)
    done = client.post(link(), data=form_data(ANSWERS, hidden_fields(text(page))))
    assert "提交成功" in text(done)
    assert not any(c.startswith("session=") for c in done.headers.getlist("Set-Cookie"))
    assert len(responses()) == 1


@pytest.mark.parametrize("cookie", ["none", "other phone", "forged"])
def test_a_ticket_posted_without_its_device_cookie_is_a_400_page_with_the_answers_kept(resident_app, cookie):
    """What a session CSRF token did: a form posted from a page that is not this browser's own (a
    cross-site form, which the SameSite=Lax cookie does not follow; another browser) stores nothing."""
    hidden = hidden_fields(text(resident_app.test_client().get(link())))
    client = resident_app.test_client()  # another browser
    if cookie == "other phone":
        client.get(link())  # it has a device cookie of its own
    elif cookie == "forged":
        client.set_cookie(DEVICE_COOKIE, "forged", path="/s")
    page = client.post(link(), data=form_data(ANSWERS, hidden))
    body = text(page)
    assert page.status_code == 400
    assert "已经过期" in body and "您的答案都已保留" in body
    assert f'name="q_safety" value="{ANSWERS["safety"]}" checked' in body
    assert responses() == []
    # The page it shows carries a fresh ticket (and, for a browser without one, a device cookie) that work.
    assert "提交成功" in text(client.post(link(), data=form_data(ANSWERS, hidden_fields(body))))
    assert len(responses()) == 1


@pytest.mark.parametrize("ticket", ["", "tampered", "other-wave"])
def test_a_missing_forged_or_foreign_ticket_is_refused(resident_app, ticket):
    client = resident_app.test_client()
    hidden = hidden_fields(text(client.get(link())))
    if ticket == "tampered":
        hidden["ticket"] = hidden["ticket"][:-2] + ("xx" if not hidden["ticket"].endswith("xx") else "yy")
    elif ticket == "other-wave":
        hidden["ticket"] = new_ticket(wave().id + 1)
    else:
        hidden["ticket"] = ""
    page = client.post(link(), data=form_data(ANSWERS, hidden))
    assert page.status_code == 400 and "已经过期" in text(page)
    assert responses() == []


# -- storing once ----------------------------------------------------------------------------


def test_a_retried_post_stores_once_and_thanks_again(resident_app):
    client = resident_app.test_client()
    data = form_data(ANSWERS, hidden_fields(text(client.get(link()))))
    first = client.post(link(), data=data)
    again = client.post(link(), data=data)
    assert first.status_code == again.status_code == 200
    assert "提交成功" in text(first) and "提交成功" in text(again)
    assert len(responses()) == 1


def test_a_retry_is_thanked_even_from_a_browser_that_lost_its_device_cookie(resident_app):
    client = resident_app.test_client()
    data = form_data(ANSWERS, hidden_fields(text(client.get(link()))))
    assert "提交成功" in text(client.post(link(), data=data))
    client.delete_cookie(DEVICE_COOKIE, path="/s")
    assert "提交成功" in text(client.post(link(), data=data))
    assert len(responses()) == 1


def test_two_copies_racing_past_the_check_store_once(resident_app, monkeypatch):
    """The unique constraint (wave_id, idempotency_key) decides the race; the loser is thanked."""
    target = read_token(make_token(wave(), unit(VILLAGE)))
    ticket = read_ticket(new_ticket(wave().id), wave().id)
    sub = Submission(link=target, ticket=ticket, answers=dict(ANSWERS), device="d1", ip="198.51.100.7", user_agent="UA")
    rules = Rules(speeder_seconds=0)
    assert submit(sub, rules) is Outcome.STORED
    # As if the first copy had not committed yet when the second one checked.
    monkeypatch.setattr(survey.intake, "check_repeat", lambda *a, **k: None)
    assert submit(Submission(**{**sub.__dict__, "device": "d2"}), rules) is Outcome.ALREADY_STORED
    assert len(responses()) == 1
    db.session.add(Response(wave_id=wave().id, unit_id=unit(VILLAGE).id, response_key="x", answers={}, flags=[]))
    db.session.commit()  # the session is usable after the rolled-back race


def test_two_tabs_of_one_phone_racing_past_the_check_store_once(resident_app, monkeypatch):
    """The unique constraint (wave_id, device_hash) decides the race; the loser gets 您已提交."""
    target = read_token(make_token(wave(), unit(VILLAGE)))
    rules = Rules(speeder_seconds=0)

    def submission():
        ticket = read_ticket(new_ticket(wave().id), wave().id)  # each tab has its own idempotency key
        return Submission(link=target, ticket=ticket, answers=dict(ANSWERS), device="d1", ip="198.51.100.7", user_agent="UA")

    assert submit(submission(), rules) is Outcome.STORED
    monkeypatch.setattr(survey.intake, "check_repeat", lambda *a, **k: None)
    assert submit(submission(), rules) is Outcome.DEVICE_DONE
    assert len(responses()) == 1


def test_one_response_per_device_per_wave(resident_app):
    client = resident_app.test_client()
    first_tab = hidden_fields(text(client.get(link())))
    second_tab = hidden_fields(text(client.get(link())))  # the same phone, the form open twice
    assert "提交成功" in text(client.post(link(), data=form_data(ANSWERS, first_tab)))
    refused = client.post(link(), data=form_data({**ANSWERS, "safety": "E"}, second_tab))
    assert refused.status_code == 200 and "您已提交过本次调查" in text(refused)
    again = client.get(link())
    assert again.status_code == 200 and "您已提交过本次调查" in text(again)
    assert 'name="q_safety"' not in text(again)
    # Another unit's link of the same wave: still one response per device per wave.
    assert "您已提交过本次调查" in text(client.get(link("619902001001")))
    assert [r.answers["safety"] for r in responses()] == [ANSWERS["safety"]]


def test_the_device_cookie_is_signed_and_long_lived(resident_app):
    client = resident_app.test_client()
    page = client.get(link())
    cookie = next(c for c in page.headers.getlist("Set-Cookie") if c.startswith(DEVICE_COOKIE + "="))
    assert "HttpOnly" in cookie and "Path=/s" in cookie and "SameSite=Lax" in cookie
    assert int(re.search(r"Max-Age=(\d+)", cookie).group(1)) >= 365 * 24 * 3600
    # A forged cookie counts as no cookie: a new device id is issued.
    client.set_cookie(DEVICE_COOKIE, "forged", path="/s")
    again = client.get(link())
    assert any(c.startswith(DEVICE_COOKIE + "=") and "forged" not in c for c in again.headers.getlist("Set-Cookie"))


# -- limits --------------------------------------------------------------------------------


def test_the_post_rate_limit_answers_429_in_chinese(make_app):
    app, ctx = open_wave_app(make_app, RATELIMIT_ENABLED=True, SURVEY_RATE_LIMIT="3 per minute", SPEEDER_SECONDS=0)
    try:
        stored = 0
        for i in range(3):
            client = app.test_client()
            r = answer(client, link(), headers={"User-Agent": f"phone {i}"})
            assert r.status_code == 200
            stored += 1
        client = app.test_client()
        blocked = answer(client, link())
        assert_resident_error_page(blocked, 429, "提交过于频繁")
        assert len(responses()) == stored
        assert client.get(link()).status_code == 200  # reading the form is not limited
        # Another address has its own budget.
        other = app.test_client()
        assert answer(other, link(), environ_base={"REMOTE_ADDR": "198.51.100.20"}).status_code == 200
    finally:
        close_app(ctx)


def test_a_body_over_the_limit_is_refused_with_413(resident_app):
    client = resident_app.test_client()
    hidden = hidden_fields(text(client.get(link())))
    big = form_data({**ANSWERS, "comment": "长" * 30_000}, hidden)  # ~270 KB once percent-encoded
    assert_resident_error_page(client.post(link(), data=big), 413, "内容过多")
    assert responses() == []


def test_the_body_limit_is_configurable(make_app):
    app, ctx = open_wave_app(make_app, SURVEY_MAX_BODY=2000, SPEEDER_SECONDS=0)
    try:
        client = app.test_client()
        hidden = hidden_fields(text(client.get(link())))
        assert client.post(link(), data=form_data({**ANSWERS, "comment": "长" * 200}, hidden)).status_code == 413
        assert client.post(link(), data=form_data(ANSWERS, hidden)).status_code == 200
    finally:
        close_app(ctx)


# -- privacy -------------------------------------------------------------------------------


def test_no_raw_ip_or_user_agent_is_stored(resident_app):
    ip, agent = "203.0.113.77", "Mozilla/5.0 (Linux; Android 14; TESTPHONE-X9) Mobile"
    client = resident_app.test_client()
    done = answer(client, link(), environ_base={"REMOTE_ADDR": ip}, headers={"User-Agent": agent})
    assert "提交成功" in text(done)
    [row] = responses()
    assert row.ip_hash == keyed_hash("ip", ip)
    raw = db.session.execute(select(Response.__table__).where(Response.id == row.id)).mappings().one()
    for column, value in raw.items():
        for secret in (ip, "203.0.113", "TESTPHONE", agent):
            assert secret not in str(value), f"{secret!r} found in responses.{column}"
    for column in ("ip_hash", "ua_hash", "device_hash"):
        assert re.fullmatch(r"[0-9a-f]{64}", raw[column])


def test_keyed_hashes_depend_on_the_secret_key(resident_app):
    first = keyed_hash("ip", "203.0.113.77")
    resident_app.config["SECRET_KEY"] = "another-secret-key"
    assert keyed_hash("ip", "203.0.113.77") != first
    assert keyed_hash("device", "203.0.113.77") != keyed_hash("ip", "203.0.113.77")


def test_submit_refuses_nothing_it_should_not(resident_app):
    """`submit` is usable without a request: the same rules the views apply."""
    target: Link = read_token(make_token(wave(), unit(VILLAGE)))
    ticket: Ticket = read_ticket(new_ticket(wave().id), wave().id)
    sub = Submission(link=target, ticket=ticket, answers=dict(ANSWERS), device="dev", ip=None, user_agent="")
    assert submit(sub, Rules(speeder_seconds=0)) is Outcome.STORED
    fresh = read_ticket(new_ticket(wave().id), wave().id)
    assert submit(Submission(**{**sub.__dict__, "ticket": fresh}), Rules()) is Outcome.DEVICE_DONE
    assert submit(sub, Rules()) is Outcome.ALREADY_STORED
    assert len(responses()) == 1


# -- the limits in one round trip (survey.ratelimits) ------------------------------------------


# A Redis database of the test's own, emptied before and after: not 0 (`make run`'s limits) nor 2 or 15
# (bench/load.py's), which a developer may be using while the suite runs.
TEST_REDIS = "redis://127.0.0.1:6379/9"


def _redis():
    import redis

    client = redis.Redis.from_url(TEST_REDIS, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    return client


def test_the_post_limits_cost_one_redis_round_trip(make_app, monkeypatch):
    """Four limits (two per address, two per device) are counted by one script call per POST."""
    import redis

    _redis().flushdb()
    app, ctx = open_wave_app(
        make_app, RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=TEST_REDIS, SPEEDER_SECONDS=0,
        SURVEY_RATE_LIMIT="3 per minute; 100 per hour", SURVEY_DEVICE_RATE_LIMIT="10 per minute; 30 per hour",
    )
    calls = []
    real = redis.Redis.execute_command

    def counted(self, *args, **kwargs):
        calls.append(args[0])
        return real(self, *args, **kwargs)

    try:
        answer(app.test_client(), link())  # loads the script once (EVALSHA, NOSCRIPT, SCRIPT LOAD)
        monkeypatch.setattr(redis.Redis, "execute_command", counted)
        for i in range(2):
            calls.clear()
            assert "提交成功" in text(answer(app.test_client(), link(), headers={"User-Agent": f"phone {i}"}))
            assert calls == ["EVALSHA"]
        blocked = answer(app.test_client(), link())  # the 4th POST from this address in a minute
        assert_resident_error_page(blocked, 429, "提交过于频繁")
        assert 1 <= int(blocked.headers["Retry-After"]) <= 60
        assert len(responses()) == 3
        counters = sorted(k.decode() for k in _redis().keys("LIMITER/pingan-survey/*"))
        assert [k.split("/")[2] for k in counters] == ["device"] * 8 + ["post"] * 2  # 4 devices, 1 address
    finally:
        monkeypatch.undo()
        close_app(ctx)
        _redis().flushdb()


def test_each_thread_counts_on_a_redis_connection_of_its_own(app):
    """survey.ratelimits.Store: one connection per thread (no pool checks per call), all counting the
    same counters; a connection Redis dropped is opened again and the counts go on in Redis."""
    import threading

    from limits import parse

    from survey.ratelimits import Counter, Store

    client = _redis()
    client.flushdb()
    store = Store(TEST_REDIS)
    counters = [Counter("LIMITER/test/thread-counter", parse("100 per minute"))]
    seen, ids = [], set()

    def count() -> None:
        seen.append(store.hit(counters)[0][0])
        ids.add(store.redis_script().registered_client.client_id())

    try:
        threads = [threading.Thread(target=count) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        count()
        assert sorted(seen) == [1, 2, 3, 4, 5]  # every hit counted once, in the one store
        assert len(ids) == 5  # five threads, five connections
        mine = store.redis_script().registered_client.client_id()
        client.execute_command("CLIENT", "KILL", "ID", mine)
        assert store.hit(counters)[0][0] == 6  # reconnected: still Redis's count, not the process's
        assert store.redis_down_until == 0.0
    finally:
        client.flushdb()


def test_without_redis_the_post_limits_count_in_the_process(make_app):
    """RATELIMIT_IN_MEMORY_FALLBACK_ENABLED's promise kept: Redis down turns no resident away, and
    the limits still hold, per process."""
    app, ctx = open_wave_app(
        make_app, RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0", SPEEDER_SECONDS=0,
        SURVEY_RATE_LIMIT="2 per minute",
    )
    try:
        assert [answer(app.test_client(), link(), headers={"User-Agent": f"phone {i}"}).status_code for i in range(3)] == [200, 200, 429]
        assert len(responses()) == 2
    finally:
        close_app(ctx)


def test_a_connection_killed_under_the_pool_costs_the_resident_nothing(resident_app, caplog):
    """The resident's requests skip the pool's ping and run again on a connection found dead
    (extensions.retry_on_stale_connection), as after a PostgreSQL restart: thanked and stored once.
    Other pages ping each connection they check out (extensions.ping_on_checkout)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: its server ends the pooled connections")
    import psycopg

    from tests.conftest import TEST_DATABASE_URL

    def kill_pooled_connections() -> int:
        db.session.remove()  # nothing of the test holds a connection
        with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as conn:
            return len(conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall())

    assert "提交成功" in text(answer(resident_app.test_client(), link()))
    client = resident_app.test_client()  # another phone
    page = client.get(link())
    assert kill_pooled_connections() >= 1
    with caplog.at_level("WARNING"):
        done = client.post(link(), data=form_data(ANSWERS, hidden_fields(text(page))))
    assert done.status_code == 200 and "提交成功" in text(done), text(done)[:300]
    assert "connection was stale" in caplog.text  # the retry, not a fresh connection by chance
    assert len(responses()) == 2
    kill_pooled_connections()
    assert responses()[0].wave_id == wave().id  # the test's own queries: pinged and replaced


def test_the_insert_on_the_driver_cursor_stores_what_sqlalchemy_stores(resident_app, monkeypatch):
    """On PostgreSQL the one-statement INSERT runs on psycopg's cursor (survey.intake._first_row), on
    a connection of its own: the same answers stored through the session's execute, as on other
    databases, give the same row, column by column."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the driver's cursor is used on PostgreSQL only")
    answers = {**ANSWERS}
    assert "提交成功" in text(answer(resident_app.test_client(), link(), answers, headers={"User-Agent": "phone a"}))
    monkeypatch.setattr(survey.intake, "_on_driver", lambda dialect: False)
    assert "提交成功" in text(answer(resident_app.test_client(), link(), answers, headers={"User-Agent": "phone b"}))
    table = Response.__table__
    driver, core = db.session.execute(select(table).order_by(table.c.id)).mappings().all()
    own = {"id", "response_key", "idempotency_key", "device_hash", "ua_hash", "submitted_at", "started_at", "duration_s", "created_at"}
    assert {c: v for c, v in driver.items() if c not in own} == {c: v for c, v in core.items() if c not in own}
    assert driver["answer_codes"] or driver["answers"]  # the answers are there to compare
    for c in ("submitted_at", "started_at", "created_at"):
        assert type(driver[c]) is type(core[c]) and driver[c].tzinfo == core[c].tzinfo
    assert driver["response_key"] != core["response_key"] and driver["response_key"].startswith(core["mode"])
