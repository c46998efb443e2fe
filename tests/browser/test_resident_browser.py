"""End to end in Debian's headless Chromium at a phone's size: from a QR link to a stored response.

The browser is the system's /usr/bin/chromium driven by Playwright; nothing is downloaded.
UPDATE_SCREENSHOTS=1 also writes docs/resident-form.png (the form at 390×844).
"""

from __future__ import annotations

import os
import shutil

import pytest

from extensions import db
from tests.browser.server import DOCS, chromium, needs_chromium, serve
from tests.survey.helpers import setup_wave
from tests.survey.resident import ANSWERS, VILLAGE, link, responses, unit

PHONE = {"width": 390, "height": 844}

pytestmark = needs_chromium


@pytest.fixture
def server(make_app):
    """The app on this test's database, served from a thread on a free port."""
    app = make_app(SPEEDER_SECONDS=0)
    with app.app_context():
        setup_wave(app.test_cli_runner())
        try:
            with serve(app) as url:
                yield url
        finally:
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def browser():
    with chromium() as launched:
        yield launched


def phone(browser):
    """A fresh phone: its own cookies and storage, Chinese, touch, at 390×844."""
    return browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN")


def choose(page, key: str, code: str) -> None:
    # Tap the label, as a thumb would, not the small radio inside it.
    page.locator(f'label.o:has(input[name="q_{key}"][value="{code}"])').click()


def fill(page, answers: dict[str, str]) -> None:
    for key, value in answers.items():
        if key == "comment":
            page.fill('textarea[name="q_comment"]', value)
        else:
            choose(page, key, value)


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_from_a_qr_link_to_a_stored_response(server, browser, tmp_path):
    context = phone(browser)
    page = context.new_page()
    page.goto(server + link())
    assert page.locator("h1").inner_text() == "公众安全感和群众满意度调查"
    assert no_sideways_scroll(page)
    fill(page, {"safety": ANSWERS["safety"]})
    assert page.locator("#progress span").inner_text() == "已答 1 / 10 题"

    shot = tmp_path / "resident-form.png"
    page.screenshot(path=str(shot))
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(shot, DOCS / "resident-form.png")

    fill(page, ANSWERS)
    assert page.locator("#progress span").inner_text() == "已答 10 / 10 题"
    page.get_by_role("button", name="提交").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "提交成功，谢谢您！"

    [row] = responses()
    assert row.answers == ANSWERS
    assert row.unit_id == unit(VILLAGE).id and row.mode == "qr" and row.review_status == "clean"

    # Opening the same link again on this phone: already answered, nothing new stored.
    page.goto(server + link())
    assert page.locator("h1").inner_text() == "您已提交过本次调查"
    assert len(responses()) == 1
    context.close()


def test_a_missing_answer_is_shown_beside_its_question_and_the_rest_kept(server, browser):
    context = phone(browser)
    page = context.new_page()
    page.goto(server + link())
    fill(page, {k: v for k, v in ANSWERS.items() if k != "night_safety"})
    page.get_by_role("button", name="提交").click()
    page.wait_for_load_state()

    question = page.locator("#q-night_safety")
    message = question.locator("p.err")
    assert message.inner_text().strip() == "这道题还没有回答，请选择一项。"
    assert message.is_visible()
    assert page.locator("p.err").count() == 1
    # Beside its question: between the question's text and its first option.
    legend, first_option = question.locator("legend").bounding_box(), question.locator("label.o").first.bounding_box()
    box = message.bounding_box()
    assert legend["y"] + legend["height"] <= box["y"] < first_option["y"]
    for key, value in ANSWERS.items():
        if key == "night_safety":
            assert page.locator('input[name="q_night_safety"]:checked').count() == 0
        elif key == "comment":
            assert page.input_value('textarea[name="q_comment"]') == value
        else:
            assert page.is_checked(f'input[name="q_{key}"][value="{value}"]'), key
    assert page.locator(".notice a").inner_text() == "第 2 题"
    assert no_sideways_scroll(page)
    assert responses() == []

    choose(page, "night_safety", ANSWERS["night_safety"])
    page.get_by_role("button", name="提交").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "提交成功，谢谢您！"
    [row] = responses()
    assert row.answers == ANSWERS
    context.close()


def test_a_draft_survives_closing_the_page(server, browser):
    context = phone(browser)
    page = context.new_page()
    page.goto(server + link())
    fill(page, {"safety": "A", "night_safety": "B", "comment": "路灯坏了"})
    page.close()
    page = context.new_page()
    page.goto(server + link())
    assert page.is_checked('input[name="q_safety"][value="A"]') and page.is_checked('input[name="q_night_safety"][value="B"]')
    assert page.input_value('textarea[name="q_comment"]') == "路灯坏了"
    assert page.locator("#progress span").inner_text() == "已答 3 / 10 题"
    context.close()


def test_the_form_fits_a_320_px_screen(server, browser):
    context = browser.new_context(viewport={"width": 320, "height": 640}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(server + link())
    assert no_sideways_scroll(page)
    option = page.locator("label.o").first.bounding_box()
    assert option["height"] >= 48 and option["width"] >= 250  # a thumb's target, the full width
    size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert size >= 18
    context.close()
