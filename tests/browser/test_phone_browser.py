"""The interviewer console in headless Chromium (issue 16): sign in as an interviewer, take the
next number, read the questionnaire one item per screen with the keyboard only (digit keys pick
the option read out, Enter goes on), save the interview, record a busy number, and see the
interview stored as mode `phone` with the interviewer. Also: the same screen without JavaScript."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from extensions import db
from models import CallCase, Response, User, Wave
from tests.admin.console import PASSWORD, invoke, load_city, make_accounts
from tests.browser.server import chromium, needs_chromium, serve

pytestmark = needs_chromium
WAVE = "2026Q4-city"
ITEMS = 9  # safety, five satisfaction items, sex, age group: digits; the comment: text


@pytest.fixture
def phone_server(make_app, tmp_path):
    app = make_app(PHONE_NUMBER_KEY=Fernet.generate_key().decode())
    with app.app_context():
        runner = app.test_cli_runner()
        load_city(runner)
        make_accounts(runner)
        invoke(runner, "wave", "create", "--slug", WAVE, "--questionnaire", "safety", "--scope", "510700", "--period", "2026Q4")
        invoke(runner, "wave", "open", WAVE)
        invoke(runner, "user", "create", "ivy", "--role", "interviewer", "--scope", "510701", "--password", PASSWORD)
        calls = tmp_path / "calls.csv"
        calls.write_text("phone,unit_code,quota_cell\n13800138001,510701001001,女 60+\n02887654321,510701002,\n", encoding="utf-8")
        invoke(runner, "calls", "import", "--wave", WAVE, str(calls))
        with serve(app) as url:
            yield url
        db.session.remove()
        db.engine.dispose()


def sign_in(page, base: str) -> None:
    page.goto(base + "/admin/")
    page.fill("input[name=username]", "ivy")
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")


def test_the_interviewer_console_by_keyboard(phone_server):
    from playwright.sync_api import expect

    base = phone_server
    with chromium() as browser:
        page = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN").new_page()
        sign_in(page, base)
        expect(page.locator("h1")).to_have_text("电话调查")
        expect(page.locator("#next-call")).to_be_focused()
        page.keyboard.press("Enter")  # 拨打下一个 has the focus
        expect(page.locator("#phone-number")).to_have_text("138 0013 8001")
        expect(page.get_by_text("女 60+")).to_be_visible()
        expect(page.locator("#start-interview")).to_be_focused()
        page.keyboard.press("Enter")  # 接通,开始访问
        expect(page.locator("#question")).to_contain_text("社会治安状况")
        # a digit pressed anywhere ticks the option read out with that number; Enter goes on
        expect(page.locator("#key")).to_be_focused()
        page.locator("body").press("2")
        expect(page.locator("input[data-digit='2']")).to_be_checked()
        page.keyboard.press("Enter")
        expect(page.locator("#question")).to_contain_text("公安机关")
        page.get_by_role("button", name="上一题").click()
        expect(page.locator("#question")).to_contain_text("社会治安状况")
        for digit in ["1", "2", "3", "1", "2", "3", "2", "4"]:
            question = page.locator("#question").inner_text()
            expect(page.locator("#key")).to_be_focused()  # autofocus, once the page is in
            page.keyboard.type(digit)
            page.keyboard.press("Enter")
            expect(page.locator("#question")).not_to_have_text(question)
        expect(page.locator("#question")).to_contain_text("意见和建议")
        expect(page.locator("#text")).to_be_focused()
        page.keyboard.type("多巡逻")
        page.keyboard.press("Enter")
        expect(page.locator("h1")).to_have_text("题目已问完")
        expect(page.locator("#finish")).to_be_focused()
        page.keyboard.press("Enter")  # 保存访问
        expect(page.get_by_text("访问已保存")).to_be_visible()
        # the next number: busy
        expect(page.locator("#next-call")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("#phone-number")).to_have_text("02887654321")
        page.select_option("select[name=disposition]", "busy")
        page.get_by_role("button", name="记录结果").click()
        expect(page.get_by_text("已记录:占线")).to_be_visible()

    db.session.expire_all()
    response = db.session.scalar(select(Response).join(Wave).where(Wave.slug == WAVE))
    assert response.mode == "phone" and response.interviewer_id == db.session.scalar(select(User.id).where(User.username == "ivy"))
    assert response.answers == {"safety": "A", "sat_police": "B", "sat_court": "C", "sat_procuratorate": "A",
                                "sat_justice": "B", "sat_government": "C", "sex": "F", "age_group": "60-74",
                                "comment": "多巡逻"}
    assert [c.disposition for c in db.session.scalars(select(CallCase).order_by(CallCase.line))] == ["complete", "busy"]


def test_the_interview_works_without_javascript(phone_server):
    from playwright.sync_api import expect

    base = phone_server
    with chromium() as browser:
        page = browser.new_context(java_script_enabled=False, locale="zh-CN").new_page()
        sign_in(page, base)
        page.get_by_role("button", name="拨打下一个").click()
        page.get_by_role("link", name="接通，开始访问").click()
        page.locator("#key").fill("3")
        page.locator("#key").press("Enter")
        expect(page.locator("#question")).to_contain_text("公安机关")
    db.session.expire_all()
    case = db.session.scalar(select(CallCase).order_by(CallCase.line))
    assert case.draft["answers"] == {"safety": "C"}


def test_paper_entry_by_keyboard(phone_server):
    """纸质录入: Enter moves to the next box; Enter in the last box saves the sheet."""
    from playwright.sync_api import expect

    base = phone_server
    with chromium() as browser:
        page = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN").new_page()
        page.goto(base + "/admin/")
        page.fill("input[name=username]", "east")
        page.fill("input[name=password]", PASSWORD)
        page.keyboard.press("Enter")
        expect(page.locator("h1")).to_have_text("测评工作台")
        page.goto(base + f"/admin/waves/{WAVE}/paper")
        expect(page.locator("#sheet_no")).to_be_focused()
        for value in ["0007", "510701001001", "b", "2", "C", "1", "a", "2", "F", "3", "路灯"]:
            page.keyboard.type(value)
            page.keyboard.press("Enter")
        expect(page.get_by_text("答卷 0007 已保存")).to_be_visible()
    db.session.expire_all()
    response = db.session.scalar(select(Response).where(Response.response_key == "paper-0007"))
    assert response.mode == "paper" and response.answers == {
        "safety": "B", "sat_police": "B", "sat_court": "C", "sat_procuratorate": "A", "sat_justice": "A",
        "sat_government": "B", "sex": "F", "age_group": "45-59", "comment": "路灯"}
