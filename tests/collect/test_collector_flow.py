"""A 网格员 end to end: created by the CLI and in the console, signed in, filling sheets for two
residents on one client, stored as `door` with the collector; its scope, its limits and flags."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from extensions import db
from models import User
from tests.admin.console import post, text
from tests.collect.helpers import (
    FAR_VILLAGE, OTHER_VILLAGE, PASSWORD, TOWN, collector_world, door_sheets, fill, blank_sheet, signed_in, sheet_url,
)
from tests.survey.packed import assert_packed
from tests.survey.resident import ANSWERS, VILLAGE

SECOND = {**ANSWERS, "safety": "A", "sat_police": "B", "comment": "路灯坏了。"}


@pytest.fixture
def world(make_app):
    app = make_app(SPEEDER_SECONDS=0)
    with app.app_context():
        collector_world(app, ("wang", VILLAGE), ("li", TOWN))
        yield app
        db.session.remove()
        db.engine.dispose()


def test_a_collector_fills_sheets_for_two_residents_on_one_phone(world):
    client = signed_in(world, "wang")
    home = client.get("/admin/")
    assert home.status_code == 302 and home.headers["Location"].endswith("/admin/collect")
    page = client.get("/admin/collect")
    assert page.status_code == 200 and "江滨社区" in text(page) and "滨河社区" not in text(page)

    first = fill(client)
    assert first.status_code == 303 and first.headers["Location"].endswith(sheet_url())
    after = client.get(sheet_url())
    assert "已保存（江滨社区第 1 份）" in text(after)
    assert fill(client, SECOND).status_code == 303  # the second resident, same client, no refusal

    sheets = door_sheets()
    wang = db.session.scalar(select(User).where(User.username == "wang"))
    assert [s.answers["safety"] for s in sheets] == ["B", "A"]
    assert {s.mode for s in sheets} == {"door"}
    assert {s.collector_id for s in sheets} == {wang.id}
    assert all(s.device_hash is None and s.ip_hash is None for s in sheets)
    assert [s.review_status for s in sheets] == ["clean", "clean"]
    assert_packed(2)
    assert "本人已填 2 份" in text(client.get("/admin/collect"))


def test_a_double_tap_stores_one_sheet_and_a_bad_sheet_stores_nothing(world):
    client = signed_in(world, "wang")
    fields = blank_sheet(client)
    assert fill(client, fields=fields).status_code == 303
    assert fill(client, fields=fields).status_code == 303  # the same ticket again
    assert len(door_sheets()) == 1
    assert "已经保存过" in text(client.get(sheet_url()))

    bad = fill(client, {**ANSWERS, "safety": "Z"})
    assert bad.status_code == 422 and "所选答案无效" in text(bad)
    missing = fill(client, {"safety": "B"})
    assert missing.status_code == 422 and "需要补充" in text(missing)
    assert len(door_sheets()) == 1


def test_a_collector_stays_in_its_scope_and_out_of_the_console(world):
    wang, li = signed_in(world, "wang"), signed_in(world, "li")
    assert wang.get(sheet_url(OTHER_VILLAGE)).status_code == 404
    assert wang.get(sheet_url(FAR_VILLAGE)).status_code == 404
    assert wang.get("/admin/collect/no-such-wave/" + VILLAGE).status_code == 404
    assert li.get(sheet_url(OTHER_VILLAGE)).status_code == 200  # a town's collector walks all its villages
    assert li.get(sheet_url(FAR_VILLAGE)).status_code == 404
    for page in ("/admin/waves", "/admin/waves/2026Q3-city", "/admin/waves/2026Q3-city/review", "/admin/users"):
        assert wang.get(page).status_code in (403, 404), page
    # a ticket of another collector's form is refused like an old page, nothing stored
    stolen = blank_sheet(li, VILLAGE)
    response = fill(wang, fields={**blank_sheet(wang), "ticket": stolen["ticket"]})
    assert response.status_code == 400 and "页面已过期" in text(response)
    assert door_sheets() == []


def test_a_closed_wave_takes_no_more_sheets(world):
    client = signed_in(world, "wang")
    fields = blank_sheet(client)
    assert world.test_cli_runner().invoke(args=["wave", "close", "2026Q3-city"]).exit_code == 0
    response = fill(client, fields=fields)
    assert response.status_code == 409 and "不在进行中" in text(response)
    assert door_sheets() == []
    assert "没有进行中的调查" in text(client.get("/admin/collect"))
    back = client.get(sheet_url())
    assert back.status_code == 303 and "不在进行中" in text(client.get("/admin/collect"))


def test_the_cli_and_the_console_create_collectors_for_a_village_or_town_only(world):
    runner = world.test_cli_runner()
    for scope in ([], ["--scope", "619901"], ["--scope", "nope"]):
        result = runner.invoke(args=["user", "create", "x", "--role", "collector", "--password", PASSWORD, *scope])
        assert result.exit_code == 1 and "错误" in result.output and "Traceback" not in result.output
    admin = signed_in(world, "admin")
    created = post(admin, "/admin/users/new", {"username": "zhao", "display_name": "赵网格员", "role": "collector", "scope": OTHER_VILLAGE})
    assert created.status_code == 200 and "网格员" in text(created)
    refused = post(admin, "/admin/users/new", {"username": "qian", "display_name": "", "role": "collector", "scope": "619901"})
    assert refused.status_code == 422 and "网格员账号的所辖单位" in text(refused)
    refused = post(admin, "/admin/users/new", {"username": "sun", "display_name": "", "role": "collector", "scope": ""})
    assert refused.status_code == 422
    assert db.session.scalar(select(User).where(User.username == "zhao")).scope.code == OTHER_VILLAGE
    assert db.session.scalar(select(User).where(User.username.in_(("qian", "sun", "x")))) is None


def test_collector_limits_and_flags(make_app):
    app = make_app(RATELIMIT_ENABLED=True, COLLECTOR_RATE_LIMIT="3 per hour", COLLECTOR_PACE_PER_HOUR=2)
    with app.app_context():
        collector_world(app, ("wang", VILLAGE))
        client = signed_in(app, "wang")
        assert fill(client).status_code == 303
        assert fill(client, SECOND).status_code == 303
        assert fill(client, {**ANSWERS, "safety": "C"}).status_code == 303
        limited = fill(client, ANSWERS)
        assert limited.status_code == 429 and "操作过于频繁" in text(limited)
        sheets = door_sheets()
        assert len(sheets) == 3
        # SPEEDER_SECONDS left on: a sheet posted within a second of its form is a speeder
        assert all("speeder" in s.flags for s in sheets)
        assert ["collector_pace" in s.flags for s in sheets] == [False, True, True]
        assert {s.review_status for s in sheets} == {"flagged"}
        db.session.remove()
        db.engine.dispose()
