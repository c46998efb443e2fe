"""A county office runs its own quarter in headless Chromium (issue 14): it creates a wave over its
own county with the period typed as 2026年第三季度, opens it, answers come in, it closes it after
the confirmation page with the numbers, runs the analysis, reads its towns ranked, and issues
its interview list; the wave is named by its title throughout, never its slug.

The second test carries one of the cases on to 销号 with the duties separated (docs/security.md):
the county's office account holds the 约谈 and sends the 整改通知, the town's own account records
its 整改方案 and report and asks for 复查, the office's first 复查 fails, a second round follows,
the second 复查 passes and the office closes the case after confirming; the case page keeps both
rounds in order."""

from __future__ import annotations

import pytest

from datetime import timedelta

from sqlalchemy import select

from clock import today
from extensions import db
from models import AuditEntry, InterviewCase, Unit
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


def sign_in(page, base: str, username: str) -> None:
    from playwright.sync_api import expect

    page.goto(base + "/admin/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("h1")).to_have_text("测评工作台")


def run_quarter_to_the_issued_list(page, base: str, runner, tmp_path):
    """The county account `east` creates, runs and closes its quarter, analyses it and issues its
    interview list, all in the browser; returns the stored result."""
    from playwright.sync_api import expect

    sign_in(page, base, "east")

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
    return stored


def test_a_county_office_runs_its_own_quarter_in_the_browser(county_server, tmp_path):
    base, runner = county_server
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN", accept_downloads=True)
        page = context.new_page()
        page.clock.install()  # the open wave's progress table refreshes itself; the test holds the clock
        run_quarter_to_the_issued_list(page, base, runner, tmp_path)
        context.close()


def step(page, action: str, **fields) -> None:
    """Fill one step's form on the case page (text, dates, a radio's value, a checkbox) and submit it."""
    form = page.locator(f"#form-{action}")
    for name, value in fields.items():
        if name == "passed":
            form.locator(f"input[name=passed][value={value}]").check()
        elif value is True:
            form.locator(f"input[name={name}]").check()
        else:
            form.locator(f"[name={name}]").fill(value)
    form.locator("button[type=submit]").click()


def test_the_county_office_and_its_town_carry_a_case_to_a_close_in_the_browser(county_server, tmp_path):
    """From the issued list to 销号, each step by the account whose duty it is (docs/security.md)."""
    from playwright.sync_api import expect

    base, runner = county_server
    with chromium() as browser:
        county = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN", accept_downloads=True)
        page = county.new_page()
        page.clock.install()
        stored = run_quarter_to_the_issued_list(page, base, runner, tmp_path)
        county.close()

        town = next(u for u in stored.units if u.kind == "town" and u.code in {e.code for e in stored.interview_list})
        for username, role, scope in (("east-office", "office", "510701"), ("town-head", "county", town.code)):
            result = runner.invoke(args=["user", "create", username, "--role", role, "--password", PASSWORD, "--scope", scope])
            assert result.exit_code == 0, result.output
        db.session.expire_all()
        case_id = db.session.scalar(
            select(InterviewCase.id).join(Unit, InterviewCase.unit_id == Unit.id).where(Unit.code == town.code)
        )
        url = f"{base}/admin/cases/{case_id}"
        on = today()

        office = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN").new_page()
        unit = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN").new_page()
        sign_in(office, base, "east-office")
        sign_in(unit, base, "town-head")

        # The county's office holds the 约谈 and sends the 整改通知; the town cannot.
        office.goto(url)
        expect(office.locator("h1")).to_contain_text(town.name)
        expect(office.locator("#form-plan")).to_have_count(0)
        step(office, "hold", held_on=on.isoformat(), attendees="镇长；区创建办主任", notes="通报测评结果，提出整改要求")
        expect(office.locator(".flash")).to_contain_text("已保存")
        step(office, "rectify", rectification_plan="第一轮要求：加强夜间巡逻", responsible="镇长 赵某",
             deadline=(on + timedelta(days=30)).isoformat())
        expect(office.locator(".flash")).to_contain_text("已保存")
        expect(office.locator("h1")).to_contain_text("整改中")

        # The town records its plan and report and asks for 复查; it has no office step.
        unit.goto(url)
        expect(unit.locator("#form-recheck")).to_have_count(0)
        expect(unit.locator("#form-close")).to_have_count(0)
        step(unit, "plan", plan="第一轮方案：每周两次夜巡")
        step(unit, "report", report="第一轮报告：夜巡 8 次")
        step(unit, "request_recheck")
        expect(unit.locator("h1")).to_contain_text("待复查")

        # The first 复查 fails: a second 整改通知 opens round 2.
        office.goto(url)
        step(office, "recheck", recheck_on=on.isoformat(), passed="no", recheck_result="第一轮复查：巡逻记录不全")
        expect(office.locator("#round-1")).to_contain_text("复查未通过")
        step(office, "rectify", rectification_plan="第二轮要求：补齐巡逻记录", responsible="镇长 赵某",
             deadline=(on + timedelta(days=20)).isoformat())
        expect(office.locator("#round-2")).to_contain_text("第二轮要求：补齐巡逻记录")

        unit.goto(url)
        step(unit, "plan", plan="第二轮方案：每日巡逻并登记")
        step(unit, "report", report="第二轮报告：记录齐全")
        step(unit, "request_recheck")
        expect(unit.locator("h1")).to_contain_text("待复查")

        # The second passes; 销号 asks for its confirmation first.
        office.goto(url)
        step(office, "recheck", recheck_on=on.isoformat(), passed="yes", recheck_result="第二轮复查：整改到位")
        expect(office.locator("#round-2")).to_contain_text("复查通过")
        step(office, "close", closed_on=on.isoformat())
        expect(office.locator("#form-close")).to_contain_text("请勾选确认")
        expect(office.locator("h1")).to_contain_text("已复查")
        step(office, "close", closed_on=on.isoformat(), confirm=True)
        expect(office.locator("h1")).to_contain_text("已销号")

        # The case page keeps both rounds, in order, for the office and for the town.
        for page in (office, unit):
            page.goto(url)
            expect(page.locator("section.round")).to_have_count(2)
            expect(page.locator("#round-1")).to_contain_text("第一轮方案：每周两次夜巡")
            expect(page.locator("#round-1")).to_contain_text("第一轮复查：巡逻记录不全")
            expect(page.locator("#round-2")).to_contain_text("第二轮报告：记录齐全")
            expect(page.locator("#round-2")).to_contain_text("复查通过")
            text = page.locator("body").inner_text()
            order = ["第 1 轮", "第一轮要求", "第一轮方案", "第一轮报告", "第一轮复查",
                     "第 2 轮", "第二轮要求", "第二轮方案", "第二轮报告", "第二轮复查"]
            at = [text.index(s) for s in order]
            assert at == sorted(at), at

    db.session.expire_all()
    case = db.session.get(InterviewCase, case_id)
    assert case.status == "closed" and [r.passed for r in case.rounds] == [False, True]
    steps = list(db.session.execute(
        select(AuditEntry.action, AuditEntry.actor)
        .where(AuditEntry.entity == "case", AuditEntry.entity_id == str(case_id)).order_by(AuditEntry.id)
    ))
    office_steps, unit_steps = "east-office", "town-head"
    assert [tuple(s) for s in steps] == [
        ("case.issue", "east"),  # the county's list
        ("case.hold", office_steps), ("case.rectify", office_steps),
        ("case.plan", unit_steps), ("case.report", unit_steps), ("case.request_recheck", unit_steps),
        ("case.recheck", office_steps), ("case.rectify", office_steps),
        ("case.plan", unit_steps), ("case.report", unit_steps), ("case.request_recheck", unit_steps),
        ("case.recheck", office_steps), ("case.close", office_steps),
    ]
