"""A 网格员 on a phone (390×844) in Debian's headless Chromium: signs in, picks the village, fills
a sheet for one resident and, on the same phone, a blank one for the next; both stored as door."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from extensions import db
from models import User
from tests.browser.server import chromium, needs_chromium, serve
from tests.collect.helpers import PASSWORD, collector_world, door_sheets
from tests.survey.resident import ANSWERS, VILLAGE

pytestmark = needs_chromium
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def server(make_app):
    app = make_app(SPEEDER_SECONDS=0)
    with app.app_context():
        collector_world(app, ("wang", VILLAGE))
        try:
            with serve(app) as url:
                yield url
        finally:
            db.session.remove()
            db.engine.dispose()


def fill(page, answers: dict[str, str]) -> None:
    for key, value in answers.items():
        if key == "comment":
            page.fill('textarea[name="q_comment"]', value)
        else:
            page.locator(f'label.o:has(input[name="q_{key}"][value="{value}"])').click()


def test_a_collector_fills_two_residents_sheets_on_one_phone(server):
    with chromium() as browser:
        context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN")
        page = context.new_page()
        page.goto(server + "/admin/login")
        page.fill('input[name="username"]', "wang")
        page.fill('input[name="password"]', PASSWORD)
        page.locator('button[type="submit"]').click()
        page.wait_for_url("**/admin/collect")
        page.get_by_role("link", name="江滨社区").click()
        page.wait_for_selector("#survey")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
        fill(page, ANSWERS)
        page.get_by_role("button", name="保存答卷").click()
        page.wait_for_selector("text=已保存（江滨社区第 1 份）")
        # the next resident starts from a blank sheet: nothing of the last one's answers is kept
        assert page.locator("#survey input:checked").count() == 0
        assert page.input_value('textarea[name="q_comment"]') == ""
        fill(page, {**ANSWERS, "safety": "A", "comment": "路灯坏了。"})
        page.get_by_role("button", name="保存答卷").click()
        page.wait_for_selector("text=已保存（江滨社区第 2 份）")
        context.close()
    sheets = door_sheets()
    wang = db.session.scalar(select(User).where(User.username == "wang"))
    assert [s.answers["safety"] for s in sheets] == ["B", "A"]
    assert {s.collector_id for s in sheets} == {wang.id} and {s.mode for s in sheets} == {"door"}
