"""Issuing the interview list in headless Chromium, in its three steps: preview the computed list,
take a unit off with a written reason (refused without one), confirm and see the cases created.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from extensions import db
from models import AuditEntry, InterviewCase
from survey.results import wave_result
from survey.waves import get_wave
from tests.admin.console import PASSWORD, Q3, reference_city
from tests.browser.server import chromium, needs_chromium, serve

pytestmark = needs_chromium
REASON = "该单位本季度已整体并入城关街道，由区综治办另行督办"


@pytest.fixture
def server(make_app):
    """The reference city: 2026Q2 published, 2026Q3 closed and analysed, nothing issued yet."""
    app = make_app()
    with app.app_context():
        reference_city(app.test_cli_runner())
        with serve(app) as url:
            yield url
        db.session.remove()
        db.engine.dispose()


def test_preview_exclude_with_a_reason_then_confirm(server):
    from playwright.sync_api import expect

    result = wave_result(get_wave(Q3))
    lines = list(result.interview_list)
    off = next(e for e in lines if e.reason == "bottom_n")
    unit = result.unit(off.code)
    with chromium() as browser:
        page = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN").new_page()
        page.goto(server + "/admin/")
        page.fill("input[name=username]", "office")
        page.fill("input[name=password]", PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.goto(f"{server}/admin/waves/{Q3}/results")

        # 1. Preview.
        page.get_by_role("link", name="下发约谈名单").click()
        expect(page.locator("h1")).to_contain_text("下发约谈名单")
        rows = page.locator("table.issue tbody tr")
        expect(rows).to_have_count(len(lines))
        row = page.locator(f'table.issue tr[data-code="{off.code}"]')
        expect(row).to_contain_text(f"倒数第 {off.rank} 名（共 {unit.group_size} 名）")
        lo, hi = unit.rank_ci
        g = unit.group_size
        expect(row).to_contain_text(f"位次区间 {g - hi + 1}" + (f"–{g - lo + 1}" if lo != hi else ""))
        expect(row).to_contain_text(f"{unit.composite.estimate:.2f}")
        expect(row).to_contain_text("新建案件")

        # 2. Take it off without a reason: refused at its line, nothing issued.
        row.locator("input[name=exclude]").check()
        page.get_by_role("button", name="下一步：核对并确认").click()
        expect(page.locator(f"#reason-{off.code}-error")).to_contain_text("须写明理由")
        assert db.session.scalars(select(InterviewCase)).all() == []
        row = page.locator(f'table.issue tr[data-code="{off.code}"]')
        expect(row.locator("input[name=exclude]")).to_be_checked()  # the choice survives the refusal
        row.locator("textarea").fill(REASON)
        page.get_by_role("button", name="下一步：核对并确认").click()

        # 3. Confirm: how many cases, and the exclusion with its reason.
        confirm = page.locator("#confirm")
        expect(confirm.locator('[data-field="create"]')).to_have_text(str(len(lines) - 1))
        expect(confirm.locator('[data-field="withdraw"]')).to_have_text("0")
        expect(confirm.locator('[data-field="excluded"]')).to_have_text("1")
        expect(confirm).to_contain_text(REASON)
        page.get_by_role("button", name="确认下发").click()
        expect(page.locator(".flash")).to_contain_text(f"新建 {len(lines) - 1} 件")
        expect(page.locator(".flash")).to_contain_text("撤下 1 个单位")

    db.session.expire_all()
    issued = {c.unit.code for c in db.session.scalars(select(InterviewCase))}
    assert issued == {e.code for e in lines} - {off.code}
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "interviews.exclude"))
    assert entry.entity_id == off.code and entry.after["exclusion_reason"] == REASON and entry.actor == "office"
