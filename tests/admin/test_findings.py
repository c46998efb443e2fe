"""One unit's result page, its residents' comments and the raw answer sheets (admin.findings)."""

from __future__ import annotations

import csv
import io
import re

from openpyxl import load_workbook
from sqlalchemy import func, select

from extensions import db
from models import Response, Unit
from reports.formatting import ci, num
from survey.results import wave_result
from tests.admin.console import Q2, Q3, city, city_template, client_for, text, wave  # noqa: F401  (fixtures)

TOWN = "510701001"  # 城关街道, in 东城区
OTHER_TOWN = "510702001"  # 西山镇, in 西山县


def test_a_unit_page_shows_its_items_against_its_parent_its_concerns_and_its_trend(city):
    result = wave_result(wave(Q3))
    unit, parent = result.unit(TOWN), result.unit("510701")
    page = client_for(city, "office").get(f"/admin/waves/{Q3}/results/{TOWN}")
    assert page.status_code == 200
    body = text(page)
    assert "城关街道 2026年第三季度测评结果" in body and f"有效答卷 {unit.n} 份" in body
    assert unit.items, "the reference result has item results"
    for key, e in unit.items.items():
        row = re.search(rf"<tr[^>]*>\s*<td>[^<]*{re.escape(_text(city, key))}.*?</tr>", page.get_data(as_text=True), re.S)
        assert row, key
        cells = row.group(0)
        assert num(e.estimate) in cells and ci(e) in cells and num(parent.items[key].estimate) in cells
        assert ("明显偏低" in cells) == (key in {w["item"] for w in unit.weak_items or ()})
    # the trend: Q2 and Q3, oldest first, with each wave's composite as stored
    q2 = wave_result(wave(Q2)).unit(TOWN)
    trend = body[body.index("历期变化"):]
    assert trend.index("2026年第二季度") < trend.index("2026年第三季度")
    assert num(q2.composite.estimate) in trend and num(unit.composite.estimate) in trend
    # the results table links each unit to this page
    assert f"/admin/waves/{Q3}/results/{TOWN}" in client_for(city, "office").get(f"/admin/waves/{Q3}/results?level=town").get_data(as_text=True)


def test_a_unit_page_says_why_a_unit_has_no_place(city):
    """Issue 13, the same words as the reports: a ranked unit has its place and rank interval, a unit under
    min_n is 样本不足 with no grade, a village (not a ranked kind) is not ranked but keeps its grade."""
    from reports.model import interval_text, place_text

    result = wave_result(wave(Q3))
    office = client_for(city, "office")

    def line(code: str) -> str:
        body = text(office.get(f"/admin/waves/{Q3}/results/{code}"))
        return body[body.index("有效答卷"):body.index("单位信息")].strip()

    ranked = next(u for u in result.units if u.kind == "town" and u.rank is not None)
    assert line(ranked.code) == f"有效答卷 {ranked.n} 份；{place_text(ranked)}（{interval_text(ranked)}）；等次 {ranked.grade} 。"
    short = next(u for u in result.units if u.kind == "town" and u.rank is None and 0 < u.n < 30)
    assert line(short.code) == f"有效答卷 {short.n} 份；样本不足（少于 30 份），不排名，不评等次。"
    village = next(u for u in result.units if u.kind == "village" and u.n >= 30 and u.grade)
    assert line(village.code) == f"有效答卷 {village.n} 份；村（社区）不参加排名；等次 {village.grade} 。"
    assert "样本不足" not in line(village.code)


def _text(app, key: str) -> str:
    from models import Wave

    spec = db.session.scalar(select(Wave).where(Wave.slug == Q3)).questionnaire_version.to_spec()
    return spec.item(key).text.rstrip("？?。 ")


def test_a_county_sees_the_pages_of_its_own_units_only(city):
    east = client_for(city, "east")
    assert east.get(f"/admin/waves/{Q3}/results/{TOWN}").status_code == 200
    for url in (f"/admin/waves/{Q3}/results/{OTHER_TOWN}", f"/admin/waves/{Q3}/results/{OTHER_TOWN}/comments",
                f"/admin/waves/{Q3}/results/{OTHER_TOWN}/comments.xlsx"):
        refused = east.get(url)
        assert refused.status_code == 404 and "西山镇" not in text(refused)
    assert client_for(city, "office").get(f"/admin/waves/{Q3}/results/999999").status_code == 404


def _add_comment(unit_code: str, words: str) -> None:
    sheet = db.session.scalar(select(Response).join(Unit).where(Response.wave_id == wave(Q3).id, Unit.code == unit_code))
    sheet.answers = {**sheet.answers, "comment": words}
    db.session.commit()


def test_comments_are_listed_searched_escaped_and_exported_without_formulas(city):
    _add_comment("510701001001", "=HYPERLINK(\"http://x\",\"点此\")<script>alert(1)</script>")
    office = client_for(city, "office")
    page = office.get(f"/admin/waves/{Q3}/results/{TOWN}/comments")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<script>alert(1)" not in html and "&lt;script&gt;" in html
    total = int(re.search(r"共 (\d+) 条", text(page)).group(1))
    assert total > 5 and "乱停车" in text(page)
    found = office.get(f"/admin/waves/{Q3}/results/{TOWN}/comments?q=乱停车")
    assert "乱停车" in text(found) and int(re.search(r"共 (\d+) 条", text(found)).group(1)) < total
    assert "W2-" not in html  # never who (or which sheet) wrote it
    book = load_workbook(io.BytesIO(office.get(f"/admin/waves/{Q3}/results/{TOWN}/comments.xlsx").data))
    cells = [row[3] for row in book.active.iter_rows(min_row=3, values_only=True)]
    assert len(cells) == total
    assert any(c.startswith("'=HYPERLINK") for c in cells) and not any(c.startswith("=") for c in cells)


def test_the_raw_answer_sheets_keep_to_the_scope_and_carry_no_keys(city):
    in_east = db.session.scalar(
        select(func.count()).select_from(Response).join(Unit)
        .where(Response.wave_id == wave(Q3).id, Unit.path.startswith("/510700/510701/"))
    )
    east = client_for(city, "east")
    book = load_workbook(io.BytesIO(east.get(f"/admin/waves/{Q3}/answer-sheets.xlsx").data))
    rows = list(book.active.iter_rows(values_only=True))
    header = rows[0]
    assert header[:8] == ("答卷编号", "单位代码", "单位名称", "PSU", "提交时间", "调查方式", "审核状态", "标记")
    assert "safety" in header and "comment" in header
    assert len(rows) - 1 == in_east and all(str(r[1]).startswith("510701") for r in rows[1:])
    assert not any(k in h for h in header for k in ("hash", "device", "ip", "key"))
    office = client_for(city, "office")
    raw = office.get(f"/admin/waves/{Q3}/answer-sheets.csv")  # a job (run at once in the tests' immediate mode)
    assert raw.status_code == 200 and raw.data.startswith(b"\xef\xbb\xbf")
    east_csv = east.get(f"/admin/waves/{Q3}/answer-sheets.csv")
    assert east_csv.headers["Content-Disposition"] == f'attachment; filename="{Q3}-510701-answer-sheets.csv"'
    assert len(list(csv.reader(io.StringIO(east_csv.data.decode("utf-8-sig"))))) - 1 == in_east
    lines = list(csv.reader(io.StringIO(raw.data.decode("utf-8-sig"))))
    assert len(lines) - 1 == db.session.scalar(select(func.count()).where(Response.wave_id == wave(Q3).id))
    assert {line[5] for line in lines[1:]} <= {"扫码", "入户", "电话", "纸质"}
    assert office.get(f"/admin/waves/{Q3}/answer-sheets.pdf").status_code == 404
