"""The office's quarter in headless Chromium: open a wave, watch its progress, close it, run the analysis,
read the ranked table and the interview list, issue the list, record an interview, download the report.

UPDATE_SCREENSHOTS=1 also writes docs/admin-results.png and docs/admin-case.png.
"""

from __future__ import annotations

import csv
import os
import shutil
from datetime import timedelta

import pytest

from admin.cases import today
from extensions import db
from survey.results import wave_result
from survey.waves import get_wave
from tests.admin.console import FIXTURES, Q2, Q3, invoke, load_city, load_wave, make_accounts, PASSWORD
from tests.browser.server import DOCS, chromium, needs_chromium, serve
from tests.pdf import pdf_text

pytestmark = needs_chromium
DESKTOP = {"width": 1280, "height": 860}


@pytest.fixture
def office_server(make_app):
    """The reference city: 2026Q2 analysed and published; 2026Q3 a draft without answers yet."""
    app = make_app()
    with app.app_context():
        runner = app.test_cli_runner()
        load_city(runner)
        make_accounts(runner)
        load_wave(runner, Q2, "2026Q2", "responses_w1.csv")
        invoke(runner, "wave", "publish", Q2)
        invoke(runner, "wave", "create", "--slug", Q3, "--questionnaire", "safety", "--scope", "510700", "--period", "2026Q3")
        with serve(app) as url:
            yield url, runner
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def browser():
    with chromium() as b:
        yield b


def save(page, name: str, tmp_path, **kwargs) -> None:
    shot = tmp_path / name
    page.screenshot(path=str(shot), **kwargs)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(shot, DOCS / name)


def test_a_quarter_in_the_browser(office_server, browser, tmp_path):
    from playwright.sync_api import expect

    base, runner = office_server
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # 确定结束调查?
    page.clock.install()  # the progress table refreshes itself every 15 s: the test moves the clock

    page.goto(base + "/admin/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("h1")).to_have_text("测评工作台")

    # Open the wave.
    page.get_by_role("link", name="示例市2026年第三季度公众安全感和满意度调查").first.click()
    expect(page.locator("h1")).to_contain_text("草稿")
    page.get_by_role("button", name="开始调查").click()
    expect(page.locator("h1")).to_contain_text("进行中")
    total = page.locator('#progress-summary [data-field="n"]')
    expect(total).to_have_text("0")

    # Answers come in (paper forms entered elsewhere); the page picks them up without a reload.
    invoke(runner, "responses", "import", "--wave", Q3, str(FIXTURES / "responses_w2.csv"))
    page.clock.run_for(16_000)
    with open(FIXTURES / "responses_w2.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    with open(FIXTURES / "units.csv", encoding="utf-8") as f:
        departments = {u["code"] for u in csv.DictReader(f) if u["kind"] == "department"}
    expect(total).to_have_text(str(sum(1 for r in rows if r["unit_code"] not in departments)))  # the city's residents
    qingshan_n = sum(1 for r in rows if r["unit_code"] == "510701005")
    expect(page.locator('#progress tr[data-code="510701005"] [data-field="n"]')).to_have_text(str(qingshan_n))
    expect(page.locator("#progress-updated")).to_contain_text("已更新")

    # Close it.
    page.get_by_role("button", name="结束调查").click()
    expect(page.locator("h1")).to_have_text("确认结束调查")  # with the numbers (tests/admin/test_county.py)
    page.get_by_role("button", name="确认结束调查").click()
    expect(page.locator("h1")).to_contain_text("已结束")

    # Run the analysis and read the results.
    page.get_by_role("link", name="分析结果").click()
    page.get_by_role("button", name="运行分析").click()
    expect(page.locator(".flash")).to_contain_text("分析完成")
    expect(page.locator(".tabs a[aria-current=page]")).to_have_text("县（区）(3)")
    result = wave_result(get_wave(Q3))
    towns = [u for u in result.units if u.kind == "town"]
    page.get_by_role("link", name=f"乡镇（街道）({len(towns)})").click()
    qingshan = page.locator("table.results tr", has_text="青山镇")
    g = result.unit("510701005").group_size
    expect(qingshan).to_contain_text(f"第 {g} 名 / 共 {g} 名")  # the lowest of its group; 1 = best
    expect(qingshan.locator(".badge")).to_have_text("不合格")
    assert page.locator("table.results tr.group").count() == 3  # one peer group per county
    assert page.locator("figure.chart img").count() == 1
    listed = page.locator("details.listed-level[open]")
    listed_towns = [e for e in result.interview_list if result.unit(e.code).kind == "town"]
    expect(listed).to_contain_text(f"乡镇（街道） {len(listed_towns)} 个")
    expect(listed.locator("tr", has_text="青山镇")).to_contain_text("倒数第 1 名")
    save(page, "admin-results.png", tmp_path)

    # The quarterly report.
    with page.expect_download() as download:
        page.get_by_role("link", name="测评报告 PDF").click()
    path = tmp_path / "quarterly.pdf"
    download.value.save_as(path)
    assert download.value.suggested_filename == f"{Q3}-quarterly.pdf"
    assert path.read_bytes().startswith(b"%PDF-") and "综合指数" in pdf_text(path.read_bytes())

    # Issue the list and record an interview.
    page.get_by_role("link", name="下发约谈名单").click()  # preview, confirm (tests/browser/test_issue_browser.py)
    page.get_by_role("button", name="下一步：核对并确认").click()
    page.get_by_role("button", name="确认下发").click()
    expect(page.locator(".flash")).to_contain_text(f"新建 {len(result.interview_list)} 件")
    page.get_by_role("link", name="青山镇").click()
    expect(page.locator("h1")).to_contain_text("待约谈")
    held = today() - timedelta(days=1)
    form = page.locator("#form-hold")
    form.locator("input[name=held_on]").fill(held.isoformat())
    form.locator("textarea[name=attendees]").fill("青山镇党委书记 刘某、镇长 陈某；东城区综治办 周某；市创建办 吴某")
    form.locator("textarea[name=notes]").fill(
        "通报青山镇三季度测评结果（同组倒数第 1 位，不合格）。群众反映集中在夜间巡逻少、矛盾纠纷调处慢。"
        "要求十日内报送整改方案，明确责任人和时限。"
    )
    form.get_by_role("button", name="登记约谈").click()
    expect(page.locator(".flash")).to_contain_text("登记约谈：已保存")
    expect(page.locator("h1")).to_contain_text("已约谈")
    expect(page.locator(".facts")).to_contain_text(f"{held.year}年{held.month}月{held.day}日")
    expect(page.locator("#form-rectify")).to_be_visible()
    save(page, "admin-case.png", tmp_path)
    context.close()
