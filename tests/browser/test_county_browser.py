"""A county office runs its own quarter in headless Chromium (issue 14): it creates a wave over its
own county with the period typed as 2026年第三季度, opens it, answers come in, it closes it after
the confirmation page with the numbers, runs the analysis, reads its towns ranked, and issues
its interview list; the wave is named by its title throughout, never its slug."""

from __future__ import annotations

import pytest

from extensions import db
from survey.results import wave_result
from survey.waves import get_wave
from tests.admin.console import PASSWORD, load_city, make_accounts
from tests.admin.test_county import east_answers
from tests.browser.server import chromium, needs_chromium, serve

pytestmark = needs_chromium
TITLE = "东城区2026年第三季度公众安全感和满意度调查"


@pytest.fixture
def county_server(make_app):
    """The reference city's units and accounts, no wave yet."""
    app = make_app()
    with app.app_context():
        runner = app.test_cli_runner()
        load_city(runner)
        make_accounts(runner)
        with serve(app) as url:
            yield url, runner
        db.session.remove()
        db.engine.dispose()


def test_a_county_office_runs_its_own_quarter_in_the_browser(county_server, tmp_path):
    from playwright.sync_api import expect

    base, runner = county_server
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN", accept_downloads=True)
        page = context.new_page()
        page.clock.install()  # the open wave's progress table refreshes itself; the test holds the clock

        page.goto(base + "/admin/")
        page.fill("input[name=username]", "east")
        page.fill("input[name=password]", PASSWORD)
        page.get_by_role("button", name="登录").click()
        expect(page.locator("h1")).to_have_text("测评工作台")

        # Create the county's own wave, the period as people say it.
        page.goto(base + "/admin/waves")
        page.get_by_role("link", name="新建调查").click()
        page.fill("input[name=slug]", "east-2026q3")
        page.select_option("select[name=scope]", "510701")
        page.fill("input[name=period]", "2026年第三季度")
        page.fill("input[name=series]", "east")
        page.fill("input[name=target_n]", "30")
        page.get_by_role("button", name="创建（草稿）").click()
        expect(page.locator("h1")).to_contain_text(TITLE)
        expect(page.locator("h1")).to_contain_text("草稿")
        expect(page.locator(".facts")).to_contain_text("2026年第三季度")

        page.get_by_role("button", name="开始调查").click()
        expect(page.locator("h1")).to_contain_text("进行中")

        # Answers come in (paper forms entered by the CLI).
        result = runner.invoke(args=["responses", "import", "--wave", "east-2026q3", east_answers(tmp_path)])
        assert result.exit_code == 0, result.output
        page.reload()

        # Close it: the confirmation page first, with the numbers.
        page.get_by_role("button", name="结束调查").click()
        expect(page.locator("h1")).to_have_text("确认结束调查")
        expect(page.locator("#confirm")).to_contain_text("目前辖区居民答卷")
        page.get_by_role("button", name="确认结束调查").click()
        expect(page.locator("h1")).to_contain_text("已结束")

        # Run the analysis (a first run: nothing to replace, no question) and read its towns.
        page.get_by_role("link", name="分析结果").click()
        page.get_by_role("button", name="运行分析").click()
        expect(page.locator(".flash")).to_contain_text("分析完成")
        stored = wave_result(get_wave("east-2026q3"))
        towns = [u for u in stored.units if u.kind == "town"]
        page.get_by_role("link", name=f"乡镇（街道）({len(towns)})").click()
        expect(page.locator("table.results")).to_contain_text("青山镇")
        expect(page.locator("table.results")).not_to_contain_text("西山县")
        expect(page.locator(".crumbs")).to_contain_text(TITLE)

        # Issue its interview list: preview, review, confirm with the counts.
        page.get_by_role("link", name="下发约谈名单").click()
        page.get_by_role("button", name="下一步：核对并确认").click()
        expect(page.locator("#confirm")).to_contain_text(f"将新建约谈案件 {len(stored.interview_list)} 件")
        page.get_by_role("button", name="确认下发").click()
        expect(page.locator(".flash")).to_contain_text(f"新建 {len(stored.interview_list)} 件")
        expect(page.locator("table")).to_contain_text(TITLE)
        context.close()
