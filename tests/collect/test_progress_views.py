"""Progress by channel, by day and by collector, the "behind target" filter and the XLSX export;
the red PUBLIC_BASE_URL warning on the wave page and before every QR or poster download."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from openpyxl import load_workbook

from extensions import db
from survey.qr import loopback_base
from tests.admin.console import text
from tests.collect.helpers import PASSWORD, collector_world, fill, invoke, signed_in
from tests.conftest import DATA
from tests.survey.resident import ANSWERS, VILLAGE

WAVE_PAGE = "/admin/waves/2026Q3-city"


def _world(app):
    collector_world(app, ("wang", VILLAGE))
    runner = app.test_cli_runner()
    invoke(runner, "responses", "import", "--wave", "2026Q3-city", str(DATA / "responses.csv"))
    invoke(runner, "user", "create", "shiqiao", "--role", "county", "--scope", "619902", "--password", PASSWORD)
    wang = signed_in(app, "wang")
    assert fill(wang).status_code == 303
    assert fill(wang, {**ANSWERS, "safety": "A"}).status_code == 303


@pytest.fixture
def world(make_app):
    app = make_app(SPEEDER_SECONDS=0)
    with app.app_context():
        _world(app)
        yield app
        db.session.remove()
        db.engine.dispose()


def _cells(page, table_id: str) -> str:
    """The text of one table of the page, tags dropped and white space collapsed."""
    html = page.get_data(as_text=True)
    start = html.index(f'id="{table_id}"')
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html[html.index(">", start) + 1:html.index("</table>", start)])).strip()


def test_progress_by_channel_day_and_collector(world):
    admin = signed_in(world, "admin")
    page = admin.get(WAVE_PAGE)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # the import: two door, two QR, one phone, one paper; wang's two door sheets today
    for mode, n in {"qr": 2, "door": 4, "phone": 1, "paper": 1}.items():
        assert f'data-mode="{mode}">{n}<' in html, mode
    assert "2026-08-03 2 2 2026-08-04 1 1" in _cells(page, "by-day")  # two door sheets, then one QR (zeros left blank)
    assert "wang 网格员（入户采集） 2" in _cells(page, "by-collector")

    # a county sees its own units only: 东岭村's QR sheet and 青石乡's paper sheet
    county = signed_in(world, "shiqiao").get(WAVE_PAGE).get_data(as_text=True)
    for mode, n in {"qr": 1, "door": 0, "phone": 0, "paper": 1}.items():
        assert f'data-mode="{mode}">{n}<' in county, mode
    assert "wang" not in county


def test_behind_filter_and_xlsx(world):
    admin = signed_in(world, "admin")
    everything = admin.get(WAVE_PAGE).get_data(as_text=True)
    behind = admin.get(WAVE_PAGE + "?behind=1").get_data(as_text=True)
    assert 'data-code="619900"' in everything and 'data-code="619900"' not in behind  # the city collects nothing
    assert 'data-code="619901001001"' in behind and "只显示不到目标一半的填报单位" in behind

    response = admin.get(WAVE_PAGE.replace("/waves/", "/waves/") + "/progress.xlsx")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["单位进度", "按日", "按渠道", "按采集人"]
    channels = {row[0]: row[1] for row in book["按渠道"].iter_rows(min_row=2, values_only=True)}
    assert channels == {"扫码": 2, "入户": 4, "电话": 1, "纸质": 1}
    people = list(book["按采集人"].iter_rows(min_row=2, values_only=True))
    assert people == [("wang", "网格员（入户采集）", 2, 0, 0)]
    days = {row[0]: row[-1] for row in book["按日"].iter_rows(min_row=2, values_only=True)}
    assert days["2026-08-03"] == 2
    units = list(book["单位进度"].iter_rows(min_row=2, values_only=True))
    assert units[0][0] == "619900"  # the whole tree, city first
    only_behind = load_workbook(io.BytesIO(admin.get(WAVE_PAGE + "/progress.xlsx?behind=1").data))["单位进度"]
    rows = list(only_behind.iter_rows(min_row=2, values_only=True))
    assert rows and all(r[-1] == "是" for r in rows) and "619900" not in [r[0] for r in rows]


def test_loopback_base_is_recognised():
    for url in ("http://127.0.0.1:5000", "http://localhost", "https://LOCALHOST:8443/x", "http://[::1]:5000", "http://127.8.0.1", "http://0.0.0.0:8000"):
        assert loopback_base(url) == url.rstrip("/"), url
    for url in ("https://pingan.example.gov.cn", "http://10.0.0.5", "http://192.168.1.20:5000"):
        assert loopback_base(url) is None, url


def test_a_loopback_base_is_warned_in_red_and_confirmed_before_any_qr_or_poster(world):
    admin = signed_in(world, "admin")
    page = admin.get(WAVE_PAGE).get_data(as_text=True)
    assert 'class="loopback-warning"' in page and "http://127.0.0.1:5000" in page
    for url in (WAVE_PAGE + "/qr.zip", WAVE_PAGE + "/qr.zip?mode=door", WAVE_PAGE + "/reports/posters.pdf"):
        asked = admin.get(url)
        assert asked.status_code == 200 and asked.mimetype == "text/html", url
        assert "居民扫码后将打不开问卷" in text(asked) and "仍然下载" in text(asked)
    anyway = admin.get(WAVE_PAGE + "/qr.zip?mode=door&loopback=1")
    assert anyway.mimetype == "application/zip"
    index = zipfile.ZipFile(io.BytesIO(anyway.data)).read("index.csv").decode("utf-8-sig")
    assert "http://127.0.0.1:5000/s/" in index  # what the office explicitly asked for


def test_a_public_base_has_no_warning(make_app):
    app = make_app(SPEEDER_SECONDS=0, PUBLIC_BASE_URL="https://pingan.example.gov.cn")
    with app.app_context():
        _world(app)
        admin = signed_in(app, "admin")
        assert "loopback-warning" not in admin.get(WAVE_PAGE).get_data(as_text=True)
        download = admin.get(WAVE_PAGE + "/qr.zip")
        assert download.mimetype == "application/zip"
        db.session.remove()
        db.engine.dispose()
