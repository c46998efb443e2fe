"""Integrity flags (survey.integrity): each rule through the resident form, and the answer-sheet
checks as a pure function."""

from __future__ import annotations

import pytest

from analysis.spec import parse_questionnaire
from survey.integrity import answer_sheet_flags
from survey.questionnaires import parse_questionnaire_file
from tests.conftest import DATA
from tests.survey.resident import (
    ANSWERS,
    VILLAGE,
    answer,
    backdated_ticket,
    close_app,
    form_data,
    hidden_fields,
    link,
    open_wave_app,
    resident_app_fixture,
    responses,
    unit,
    wave,
)

resident_app = pytest.fixture(resident_app_fixture, name="resident_app")

SPEC = parse_questionnaire_file(DATA / "questionnaire.yaml")[0]
TOP = {"safety": "A", "night_safety": "A", "sat_police": "A", "sat_justice": "A", "sat_mediation": "A", "sat_prevention": "A"}


# -- the answer sheet (pure) -----------------------------------------------------------------


@pytest.mark.parametrize(
    "answers, flags",
    [
        (ANSWERS, []),
        ({}, []),
        (TOP, ["straight_line", "all_maximum"]),
        ({**TOP, "sex": "M", "comment": "很好"}, ["straight_line", "all_maximum"]),  # unscored items do not matter
        ({**TOP, "sat_justice": "X"}, ["straight_line", "all_maximum"]),  # 说不清 is left out
        ({**TOP, "safety": "B"}, ["straight_line"]),  # satisfaction all alike, but not all top
        ({**TOP, "sat_police": "B"}, []),
        ({"safety": "C", "night_safety": "B", "sat_police": "D", "sat_justice": "D", "sat_mediation": "D", "sat_prevention": "D"}, ["straight_line"]),
        ({"sat_police": "E", "sat_justice": "E", "sat_mediation": "E"}, ["straight_line"]),  # three alike suffice
        ({"sat_police": "E", "sat_justice": "E"}, []),  # two are too few to call a pattern
        ({"sat_police": "X", "sat_justice": "X", "sat_mediation": "X", "sat_prevention": "X"}, []),  # all 说不清: no scores
        ({"safety": "A", "night_safety": "A"}, []),  # all top, but only two scored answers
        ({"safety": "A", "night_safety": "A", "sat_police": "A"}, ["all_maximum"]),
        ({**TOP, "sat_prevention": "nonsense"}, ["straight_line", "all_maximum"]),  # an unknown code counts as no score
    ],
)
def test_answer_sheet_flags(answers, flags):
    assert answer_sheet_flags(SPEC, answers) == flags


def test_straight_lining_is_judged_per_indicator_by_score():
    """Two items whose options read differently but score alike, in one indicator, straight-line;
    the same score spread over two indicators does not."""
    spec = parse_questionnaire(
        {
            "slug": "t",
            "title": "t",
            "version": 1,
            "items": [
                {"key": "a", "text": "a", "options": [{"code": "Y", "label": "好", "score": 100}, {"code": "N", "label": "差", "score": 0}]},
                {"key": "b", "text": "b", "options": [{"code": "1", "label": "很好", "score": 100}, {"code": "2", "label": "不好", "score": 0}]},
                {"key": "c", "text": "c", "options": [{"code": "P", "label": "满意", "score": 100}, {"code": "Q", "label": "不满意", "score": 0}]},
                {"key": "d", "text": "d", "options": [{"code": "P", "label": "满意", "score": 100}, {"code": "Q", "label": "不满意", "score": 0}]},
            ],
            "indicators": [
                {"key": "one", "label": "一", "items": ["a", "b", "c"], "weight": 1},
                {"key": "two", "label": "二", "items": ["d"], "weight": 1},
            ],
        }
    )
    assert answer_sheet_flags(spec, {"a": "N", "b": "2", "c": "Q"}) == ["straight_line"]
    assert answer_sheet_flags(spec, {"a": "N", "b": "2", "d": "Q"}) == []
    assert answer_sheet_flags(spec, {"a": "Y", "b": "1", "c": "P", "d": "P"}) == ["straight_line", "all_maximum"]
    assert answer_sheet_flags(spec, {"a": "N", "b": "2", "c": "Q"}, min_items=4) == []


# -- through the form ------------------------------------------------------------------------


def test_a_clean_response_is_stored_clean(resident_app):
    answer(resident_app.test_client(), link())
    [row] = responses()
    assert (row.review_status, row.flags) == ("clean", [])


def test_answer_sheet_flags_are_stored_and_the_response_kept(resident_app):
    answer(resident_app.test_client(), link(), {**ANSWERS, **TOP})
    [row] = responses()
    assert row.review_status == "flagged"
    assert row.flags == ["straight_line", "all_maximum"]


def test_speeder_below_the_configured_seconds(make_app):
    app, ctx = open_wave_app(make_app, SPEEDER_SECONDS=30)
    try:
        fast = app.test_client()
        page = answer(fast, link())
        assert "提交成功" in page.get_data(as_text=True)  # flagged, never refused
        slow = app.test_client()
        hidden = hidden_fields(slow.get(link()).get_data(as_text=True))
        hidden["ticket"] = backdated_ticket(app, wave().id, seconds=95)
        slow.post(link(), data=form_data(ANSWERS, hidden), headers={"User-Agent": "another phone"})
        quick, considered = responses()
        assert quick.flags == ["speeder"] and quick.review_status == "flagged"
        assert quick.duration_s < 30
        assert considered.flags == [] and considered.review_status == "clean"
        assert 94 <= considered.duration_s <= 100
        assert (considered.submitted_at - considered.started_at).total_seconds() == pytest.approx(considered.duration_s, abs=0.01)
    finally:
        close_app(ctx)


def test_speeder_measures_from_the_signed_start_not_from_anything_the_client_says(make_app):
    app, ctx = open_wave_app(make_app, SPEEDER_SECONDS=30)
    try:
        client = app.test_client()
        hidden = hidden_fields(client.get(link()).get_data(as_text=True))
        data = {**form_data(ANSWERS, hidden), "started_at": "2000-01-01T00:00:00", "duration_s": "600"}
        client.post(link(), data=data)
        assert responses()[0].flags == ["speeder"]
    finally:
        close_app(ctx)


def test_burst_flags_the_whole_burst_from_one_address(make_app):
    app, ctx = open_wave_app(make_app, SPEEDER_SECONDS=0, BURST_COUNT=3, BURST_MINUTES=10)
    try:
        for i in range(2):
            answer(app.test_client(), link(), headers={"User-Agent": f"phone {i}"})
        assert [r.flags for r in responses()] == [[], []]
        answer(app.test_client(), link(), headers={"User-Agent": "phone 2"})
        assert [(r.flags, r.review_status) for r in responses()] == [(["burst"], "flagged")] * 3
        answer(app.test_client(), link(), headers={"User-Agent": "phone 3"})
        answer(app.test_client(), link(), environ_base={"REMOTE_ADDR": "198.51.100.9"}, headers={"User-Agent": "phone 4"})
        assert [r.flags for r in responses()] == [["burst"]] * 4 + [[]]
    finally:
        close_app(ctx)


def test_burst_ignores_responses_outside_the_window(make_app):
    from datetime import timedelta

    from extensions import db

    app, ctx = open_wave_app(make_app, SPEEDER_SECONDS=0, BURST_COUNT=2, BURST_MINUTES=10)
    try:
        answer(app.test_client(), link(), headers={"User-Agent": "phone 0"})
        [old] = responses()
        old.submitted_at = old.submitted_at - timedelta(minutes=11)
        db.session.commit()
        answer(app.test_client(), link(), headers={"User-Agent": "phone 1"})
        assert [r.flags for r in responses()] == [[], []]
    finally:
        close_app(ctx)


def test_repeat_device_when_the_cookie_was_cleared(resident_app):
    phone = {"User-Agent": "Mozilla/5.0 (Linux; Android 13; V2134A) Mobile Safari"}
    answer(resident_app.test_client(), link(), headers=phone)
    # Same address, same browser, a fresh cookie jar: most likely the same phone again.
    answer(resident_app.test_client(), link(), headers=phone)
    # Same address, another browser: a neighbour on the same Wi-Fi.
    answer(resident_app.test_client(), link(), headers={"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)"})
    # Same browser string, another address.
    answer(resident_app.test_client(), link(), headers=phone, environ_base={"REMOTE_ADDR": "198.51.100.30"})
    assert [r.flags for r in responses()] == [[], ["repeat_device"], [], []]
    assert responses()[1].review_status == "flagged"


def test_repeat_device_only_within_its_window(make_app):
    from datetime import timedelta

    from extensions import db

    app, ctx = open_wave_app(make_app, SPEEDER_SECONDS=0, REPEAT_DEVICE_MINUTES=30)
    try:
        answer(app.test_client(), link())
        [old] = responses()
        old.submitted_at = old.submitted_at - timedelta(minutes=31)
        db.session.commit()
        answer(app.test_client(), link())
        assert [r.flags for r in responses()] == [[], []]
    finally:
        close_app(ctx)


def test_flags_combine_in_a_fixed_order(make_app):
    app, ctx = open_wave_app(make_app, SPEEDER_SECONDS=30, BURST_COUNT=2)
    try:
        answer(app.test_client(), link(), {**ANSWERS, **TOP})
        answer(app.test_client(), link(), {**ANSWERS, **TOP})  # alike: a burst
        first, second = responses()
        assert first.flags == ["speeder", "burst", "straight_line", "all_maximum"]
        assert second.flags == ["speeder", "burst", "repeat_device", "straight_line", "all_maximum"]
    finally:
        close_app(ctx)


def test_a_reviewed_response_keeps_its_status_when_a_burst_flags_it(make_app):
    from extensions import db

    app, ctx = open_wave_app(make_app, SPEEDER_SECONDS=0, BURST_COUNT=2)
    try:
        answer(app.test_client(), link(), headers={"User-Agent": "phone 0"})
        [first] = responses()
        first.review_status = "accepted"
        db.session.commit()
        answer(app.test_client(), link(), headers={"User-Agent": "phone 1"})
        first, second = responses()
        assert first.flags == ["burst"] and first.review_status == "accepted"
        assert second.flags == ["burst"] and second.review_status == "flagged"
    finally:
        close_app(ctx)


def test_the_analysis_frame_carries_time_mode_and_free_text_for_the_unit_level_checks(resident_app):
    from survey.results import load_wave_data

    answer(resident_app.test_client(), link(), headers={"User-Agent": "phone 0"})
    answer(resident_app.test_client(), link(mode="door"), {**ANSWERS, "comment": ""}, headers={"User-Agent": "phone 1"})
    frame = load_wave_data(wave()).responses
    assert list(frame["mode"]) == ["qr", "door"]
    assert str(frame["submitted_at"].dtype).startswith("datetime64") and str(frame["submitted_at"].dt.tz) == "UTC"
    assert frame["submitted_at"].notna().all()
    assert frame["comment"].iloc[0] == ANSWERS["comment"] and frame["comment"].isna().iloc[1]


def test_the_insert_decides_the_address_flags_as_address_flags_does(resident_app):
    """survey.intake stores most responses with one INSERT that decides `repeat_device` and that no
    burst is possible in SQL (survey.integrity.REPEAT_DEVICE, NO_BURST_POSSIBLE); on random rows
    from a few addresses, phones and browsers (NULL device hashes included), both conditions must
    say what `address_flags` and its window say, at window edges too."""
    import random
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import func, select

    from extensions import db
    from models import Response
    from survey.integrity import NO_BURST_POSSIBLE, REPEAT_DEVICE, Rules, address_flags, address_flags_fit_sql

    rng = random.Random(5)
    rules = Rules(burst_count=4, burst_minutes=10, repeat_device_minutes=30)
    assert address_flags_fit_sql(rules) and not address_flags_fit_sql(Rules(repeat_device_minutes=0))
    now = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
    target = wave()
    moments = [now - timedelta(minutes=m) for m in (0, 1, 9.99, 10, 10.01, 20, 29.99, 30, 30.01, 45)]
    for n in range(60):
        db.session.add(Response(
            wave_id=target.id, unit_id=unit(VILLAGE).id, response_key=f"r{n}", answers={}, flags=[], mode="qr",
            ip_hash=rng.choice("ab"), ua_hash=rng.choice("xy"), device_hash=rng.choice([f"d{n}", None]),  # one phone, one row
            submitted_at=rng.choice(moments),
        ))
    db.session.commit()
    both = select(NO_BURST_POSSIBLE, REPEAT_DEVICE)
    seen = set()
    for _ in range(200):
        ip, ua, device = rng.choice("abc"), rng.choice("xyz"), f"d{rng.randrange(70)}"
        at = rng.choice(moments) + timedelta(minutes=rng.choice([0, 10, 30]))
        flags, _ = address_flags(target.id, device, ip, ua, at, rules)
        window = db.session.scalar(select(func.count()).select_from(Response).where(
            Response.wave_id == target.id, Response.ip_hash == ip, Response.submitted_at >= at - timedelta(minutes=10)))
        no_burst, repeat = db.session.execute(both, {
            "wave_id": target.id, "ip_hash": ip, "ua_hash": ua, "device_hash": device, "burst_below": rules.burst_count - 1,
            "burst_since": at - timedelta(minutes=10), "repeat_since": at - timedelta(minutes=30),
        }).one()
        assert bool(repeat) == ("repeat_device" in flags), (ip, ua, device, at)
        assert bool(no_burst) == (window + 1 < rules.burst_count), (ip, at)
        seen.add((bool(no_burst), bool(repeat)))
    assert seen == {(True, True), (True, False), (False, True), (False, False)}
