"""The questionnaire features in Debian's headless Chromium at 390×844, with and without JavaScript:
a `show_if` item (appears and hides with JavaScript; shown with its note and checked on the server
without), a `multiple` item (at most K), and a screening answer. Nothing is downloaded."""

from __future__ import annotations

import pytest

from extensions import db
from tests.browser.server import chromium, needs_chromium, serve
from tests.conftest import DATA
from tests.survey.resident import VILLAGE, link, responses

PHONE = {"width": 390, "height": 844}
WAVE = "2026Q3-features"
REST = {"sat_police": "B", "sex": "M", "age_group": "30-44"}

pytestmark = needs_chromium


@pytest.fixture
def server(make_app):
    app = make_app(SPEEDER_SECONDS=0)
    with app.app_context():
        runner = app.test_cli_runner()
        for args in (
            ["units", "import", str(DATA / "units.csv"), "--population", str(DATA / "population.csv")],
            ["questionnaire", "load", str(DATA / "questionnaire_features.yaml")],
            ["wave", "create", "--slug", WAVE, "--questionnaire", "features", "--scope", "619900", "--period", "2026Q3"],
            ["wave", "open", WAVE],
        ):
            result = runner.invoke(args=args)
            assert result.exit_code == 0, result.output
        try:
            with serve(app) as url:
                yield url + link(VILLAGE, slug=WAVE)
        finally:
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def browser():
    with chromium() as launched:
        yield launched


def phone(browser, javascript: bool):
    return browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN", java_script_enabled=javascript
    )


def tap(page, key: str, code: str) -> None:
    page.locator(f'label.o:has(input[name="q_{key}"][value="{code}"])').click()


def submit(page) -> None:
    page.get_by_role("button", name="提交").click()
    page.wait_for_load_state()


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_with_javascript_the_conditional_item_appears_and_hides_and_takes_at_most_k(server, browser):
    context = phone(browser, javascript=True)
    page = context.new_page()
    page.goto(server)
    concerns = page.locator("#q-concerns")
    assert not concerns.is_visible()
    assert page.locator("#progress span").inner_text() == "已答 0 / 7 题"
    tap(page, "resident", "Y")
    tap(page, "safety", "D")
    assert concerns.is_visible()
    assert not concerns.locator("p.cond").is_visible()  # the note is for pages without JavaScript
    assert page.locator("#progress span").inner_text() == "已答 2 / 8 题"
    tap(page, "concerns", "theft")
    tap(page, "concerns", "fights")
    assert page.is_disabled('input[name="q_concerns"][value="fraud"]')  # 2 of at most 2: the rest wait
    assert not page.is_disabled('input[name="q_concerns"][value="theft"]')
    tap(page, "safety", "B")
    assert not concerns.is_visible()
    tap(page, "safety", "E")
    assert concerns.is_visible() and page.is_checked('input[name="q_concerns"][value="theft"]')
    assert no_sideways_scroll(page)
    for key, code in REST.items():
        tap(page, key, code)
    submit(page)
    assert page.locator("h1").inner_text() == "提交成功，谢谢您！"
    [row] = responses()
    assert row.answers == {"resident": "Y", "safety": "E", "concerns": ["theft", "fights"], **REST}

    # Feeling safe: the problems were ticked, then the answer changed; they are not sent.
    page = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN").new_page()
    page.goto(server)
    tap(page, "resident", "Y")
    tap(page, "safety", "D")
    tap(page, "concerns", "fraud")
    tap(page, "safety", "A")
    for key, code in REST.items():
        tap(page, key, code)
    submit(page)
    assert page.locator("h1").inner_text() == "提交成功，谢谢您！"
    assert responses()[1].answers == {"resident": "Y", "safety": "A", **REST}
    context.close()


def test_without_javascript_the_conditional_item_is_shown_with_its_note_and_checked_on_the_server(server, browser):
    context = phone(browser, javascript=False)
    page = context.new_page()
    page.goto(server)
    concerns = page.locator("#q-concerns")
    assert concerns.is_visible()
    assert concerns.locator("p.cond").inner_text() == "如上题选择“不太安全”或“不安全”，请回答本题"
    assert concerns.locator("p.hint").inner_text() == "可多选，最多选 2 项"
    assert not page.locator("#progress").is_visible()
    honeypot = page.locator('input[name="website"]').bounding_box()
    assert honeypot["x"] + honeypot["width"] <= 0  # off screen: no person sees it
    assert no_sideways_scroll(page)

    # Not safe, three problems ticked: the server says at most two, and keeps the ticks.
    tap(page, "resident", "Y")
    tap(page, "safety", "D")
    for code in ("theft", "fraud", "fights"):
        tap(page, "concerns", code)
    for key, code in REST.items():
        tap(page, key, code)
    submit(page)
    message = concerns.locator("p.err")
    assert message.inner_text().strip() == "最多选 2 项，现在选了 3 项，请去掉一些。" and message.is_visible()
    assert page.locator('input[name="q_concerns"]:checked').count() == 3
    assert responses() == []
    tap(page, "concerns", "fights")  # untick one
    submit(page)
    assert page.locator("h1").inner_text() == "提交成功，谢谢您！"
    [row] = responses()
    assert row.answers == {"resident": "Y", "safety": "D", "concerns": ["theft", "fraud"], **REST}

    # Not safe and no problem ticked: required.
    page = phone(browser, javascript=False).new_page()
    page.goto(server)
    tap(page, "resident", "Y")
    tap(page, "safety", "E")
    for key, code in REST.items():
        tap(page, key, code)
    submit(page)
    assert page.locator("#q-concerns p.err").inner_text().strip() == "这道题还没有回答，请至少选择一项。"
    assert page.locator(".notice a").inner_text() == "第 3 题"
    # Changed to 安全 (the problems question left as it is): accepted, nothing stored for it.
    tap(page, "safety", "A")
    tap(page, "concerns", "other")
    submit(page)
    assert page.locator("h1").inner_text() == "提交成功，谢谢您！"
    assert responses()[1].answers == {"resident": "Y", "safety": "A", **REST}
    context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_screening_answer_ends_with_the_closing_page(server, browser, javascript):
    context = phone(browser, javascript=javascript)
    page = context.new_page()
    page.goto(server)
    tap(page, "resident", "N")
    if javascript:
        assert page.locator("#ended").is_visible() and not page.locator("#q-safety").is_visible()
    else:
        assert page.locator("#q-safety").is_visible()  # told on submit
    submit(page)
    assert page.locator("h1").inner_text() == "感谢您的参与！"
    assert page.locator('a[href="tel:96110"]').is_visible()
    [row] = responses()
    assert row.screened_out and row.answers == {"resident": "N"}
    context.close()
