"""The console at 360 px wide (issue 14), in headless Chromium: no main page scrolls sideways; a wide
table scrolls inside its own box, the filters and the navigation wrap."""

from __future__ import annotations

import pytest

from tests.admin.console import PASSWORD, Q2, Q3, city, city_template  # noqa: F401  (fixtures)
from tests.browser.server import chromium, needs_chromium, serve

pytestmark = needs_chromium
PHONE = {"width": 360, "height": 740}
PAGES = (
    "/admin/", "/admin/waves", f"/admin/waves/{Q3}", f"/admin/waves/{Q3}?county=510701&sort=share",
    f"/admin/waves/{Q3}/results", f"/admin/waves/{Q3}/results?level=town", f"/admin/waves/{Q3}/review",
    f"/admin/waves/{Q3}/interviews/issue", "/admin/cases", "/admin/key-management", "/admin/units",
    "/admin/units/import", "/admin/users", "/admin/audit", "/admin/questionnaires", "/admin/waves/new",
)


@pytest.fixture
def server(city):  # noqa: F811
    with serve(city) as url:
        yield url


def test_the_main_console_pages_fit_a_360_px_screen(server):
    with chromium() as browser:
        page = browser.new_page(viewport=PHONE)
        from playwright.sync_api import expect

        page.goto(server + "/admin/")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", PASSWORD)
        page.get_by_role("button", name="登录").click()
        expect(page.locator("h1")).to_have_text("测评工作台")
        overflowing = {}
        for path in PAGES:
            response = page.goto(server + path)
            assert response.status == 200, path
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > PHONE["width"]:
                wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-wrap, table, .chart'))
                    .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + (e.textContent || '').trim().slice(0, 30))""")
                overflowing[path] = (width, wide)
        assert not overflowing, overflowing
        # A wide table still shows all its columns: it scrolls inside its box.
        page.goto(server + f"/admin/waves/{Q3}/results?level=town")
        assert page.evaluate("Math.max(...[...document.querySelectorAll('.table-wrap, table')].map(e => e.scrollWidth))") > PHONE["width"]
