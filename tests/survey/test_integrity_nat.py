"""Village sessions behind one carrier NAT, and what still gets caught: the address and device rate
limits, the burst that needs alike sheets, tickets bound to their device, the scaled speeder, and the
refusal to run several gunicorn workers on per-process rate-limit counts (docs/security.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from survey.integrity import ALIKE_WITHOUT_REFERENCE, Rules, alike_threshold, speeder_threshold
from survey.questionnaires import parse_questionnaire_file
from tests.analysis.test_integrity import REFERENCE, SCORED, _sheets
from tests.conftest import DATA
from tests.survey.resident import (
    ANSWERS,
    answer,
    backdated_ticket,
    close_app,
    form_data,
    hidden_fields,
    link,
    open_wave_app,
    responses,
    wave,
)

SPEC = parse_questionnaire_file(DATA / "questionnaire.yaml")[0]
ROOT = Path(__file__).resolve().parents[2]


def residents(n: int, level: float = 0.8, seed: int = 3) -> list[dict[str, str]]:
    """`n` honest answer sheets, correlated as real ones are (tests/analysis/test_integrity.py)."""
    s = _sheets(np.random.default_rng(seed), n, level, modes=np.zeros(n, dtype=np.int64))
    return [{k: str(s[k][i]) for k in (*SCORED, "victim", "sex", "age_group")} for i in range(n)]


def text(response) -> str:
    return response.get_data(as_text=True)


# -- a village session ---------------------------------------------------------------------------


def test_thirty_residents_on_one_address_all_get_through_and_none_is_flagged_for_volume(make_app):
    """Defaults of app.py, rate limits on: 30 phones behind one address within a minute (harder than
    ten), each with its own cookie: all stored, no `burst` (their answers are as varied as anyone's)."""
    app, ctx = open_wave_app(make_app, RATELIMIT_ENABLED=True, SPEEDER_SECONDS=0)
    try:
        for i, sheet in enumerate(residents(30)):
            page = answer(app.test_client(), link(), sheet, headers={"User-Agent": f"phone {i}"})
            assert page.status_code == 200 and "提交成功" in text(page), i
        stored = responses()
        assert len(stored) == 30
        assert not any("burst" in r.flags for r in stored)
    finally:
        close_app(ctx)


def test_a_bot_on_one_address_sending_one_answer_pattern_is_flagged_burst(make_app):
    app, ctx = open_wave_app(make_app, RATELIMIT_ENABLED=True, SPEEDER_SECONDS=0)
    try:
        sheet = {**ANSWERS, **REFERENCE}
        for i in range(12):
            assert answer(app.test_client(), link(), sheet, headers={"User-Agent": f"bot {i}"}).status_code == 200
            if i == 8:
                assert [r.flags for r in responses()] == [[]] * 9  # nine alike sheets are not yet a burst ...
        assert [r.flags for r in responses()] == [["burst"]] * 12  # ... the tenth flags the whole window
    finally:
        close_app(ctx)


def test_many_sheets_from_one_address_are_a_burst_only_when_alike(make_app):
    app, ctx = open_wave_app(make_app, SPEEDER_SECONDS=0, BURST_COUNT=10)
    try:
        for i, sheet in enumerate(residents(15, seed=11)):
            answer(app.test_client(), link(), sheet, headers={"User-Agent": f"phone {i}"})
        assert not any("burst" in r.flags for r in responses())
        for i in range(10):  # then ten copies of one pattern from the same address
            answer(app.test_client(), link(), {**ANSWERS, **REFERENCE}, headers={"User-Agent": f"bot {i}"})
        rows = responses()
        # The window (the last ten minutes from this address) now holds 25 sheets, 10 of them alike:
        # 0.4 is below BURST_ALIKE_SHARE, so no burst (ten alike sheets alone are one: the bot test above).
        assert not any("burst" in r.flags for r in rows)
    finally:
        close_app(ctx)


def test_alike_is_judged_against_how_alike_honest_sheets_of_the_place_are():
    rules = Rules()
    assert alike_threshold(SPEC, 10, [], rules) == ALIKE_WITHOUT_REFERENCE
    varied = residents(200, level=0.5)
    assert alike_threshold(SPEC, 10, varied, rules) == pytest.approx(0.5)  # the floor: honest ones rarely match
    content = [
        dict(s, **dict.fromkeys(SCORED, "A")) if i % 10 < 8 else s for i, s in enumerate(residents(200, level=1.6))
    ]
    assert alike_threshold(SPEC, 10, content, rules) == 1.0  # where 80% answer 安全/满意 throughout, alike is normal


def test_the_per_device_limit(make_app):
    app, ctx = open_wave_app(
        make_app, RATELIMIT_ENABLED=True, SURVEY_DEVICE_RATE_LIMIT="3 per minute", SPEEDER_SECONDS=0
    )
    try:
        phone = app.test_client()
        hidden = hidden_fields(text(phone.get(link())))
        incomplete = form_data({"safety": "A"}, hidden)  # missing answers: shown again (422)
        assert [phone.post(link(), data=incomplete).status_code for _ in range(3)] == [422, 422, 422]
        assert phone.post(link(), data=incomplete).status_code == 429
        other = app.test_client()  # another phone on the same address is not held up
        assert answer(other, link()).status_code == 200
        assert len(responses()) == 1
    finally:
        close_app(ctx)


# -- the ticket is bound to its device ---------------------------------------------------------


def test_a_ticket_posted_from_another_device_is_treated_like_an_expired_form(make_app):
    app, ctx = open_wave_app(make_app, SPEEDER_SECONDS=0)
    try:
        first = app.test_client()
        ticket = hidden_fields(text(first.get(link())))["ticket"]
        second = app.test_client()
        hidden = hidden_fields(text(second.get(link())))
        page = second.post(link(), data=form_data(ANSWERS, {**hidden, "ticket": ticket}))
        assert page.status_code == 400 and "已经过期" in text(page)
        assert 'value="B" checked' in text(page) or "checked" in text(page)  # the answers are kept
        assert responses() == []
        fresh = hidden_fields(text(page))  # the page carries a new ticket, bound to this phone
        assert second.post(link(), data=form_data(ANSWERS, fresh)).status_code == 200
        assert len(responses()) == 1
        # The phone the ticket was issued to can still use it ... for its own answer.
        assert "提交成功" in text(
            first.post(link(), data=form_data(ANSWERS, {**hidden_fields(text(first.get(link()))), "ticket": ticket}))
        )
        assert len(responses()) == 2
    finally:
        close_app(ctx)


# -- the speeder, scaled to the questionnaire -----------------------------------------------------


def test_speeder_threshold_scales_with_the_items_shown():
    rules = Rules(speeder_seconds=10, speeder_seconds_per_item=3)
    assert speeder_threshold(rules, 2) == 10  # the floor
    assert speeder_threshold(rules, 10) == 30
    assert speeder_threshold(rules, 25) == 75
    assert speeder_threshold(Rules(speeder_seconds=0, speeder_seconds_per_item=3), 25) == 0  # off


@pytest.mark.parametrize("seconds, flagged", [(25, True), (35, False)])
def test_the_speeder_flag_uses_the_scaled_threshold(make_app, seconds, flagged):
    """The test questionnaire shows 10 items: 3 s each makes 30 s."""
    app, ctx = open_wave_app(make_app, SPEEDER_SECONDS=10, SPEEDER_SECONDS_PER_ITEM=3)
    try:
        assert len(SPEC.items) == 10
        client = app.test_client()
        hidden = hidden_fields(text(client.get(link())))
        hidden["ticket"] = backdated_ticket(app, wave().id, seconds=seconds)
        client.post(link(), data=form_data(ANSWERS, hidden))
        [row] = responses()
        assert (row.flags == ["speeder"]) is flagged
    finally:
        close_app(ctx)


# -- several workers need one rate-limit store ----------------------------------------------------


def _gunicorn(env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--check-config", "app:create_app()"],
        check=False,
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_gunicorn_refuses_several_workers_on_per_process_rate_limits(tmp_path):
    env = {
        "RATELIMIT_STORAGE_URI": "memory://",
        "GUNICORN_WORKERS": "4",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
    }
    refused = _gunicorn(env)
    assert refused.returncode != 0
    assert "RATELIMIT_STORAGE_URI" in refused.stderr and "redis://" in refused.stderr
    assert _gunicorn({**env, "GUNICORN_WORKERS": "1"}).returncode == 0
    assert _gunicorn({**env, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379"}).returncode == 0
