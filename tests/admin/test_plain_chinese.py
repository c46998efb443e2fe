"""Plain Chinese for staff (issue 14): modes as 扫码 / 入户 / 电话 / 纸质, labels a clerk understands,
long lists with search, filters, sorting and XLSX export."""

from __future__ import annotations

import io
import re

from openpyxl import load_workbook
from sqlalchemy import select, update

from extensions import db
from models import Response, Unit
from models.waves import MODE_LABELS, RESPONSE_MODES
from reports.formatting import explain
from tests.admin.console import (  # noqa: F401  (fixtures)
    Q2,
    Q3,
    city,
    city_template,
    client_for,
    text,
    wave,
)


def test_every_mode_has_a_chinese_label():
    assert set(MODE_LABELS) == set(RESPONSE_MODES)
    assert list(MODE_LABELS.values()) == ["扫码", "入户", "电话", "纸质"]


def test_review_screens_say_the_mode_in_chinese(city):
    unit = db.session.scalar(select(Unit).where(Unit.code == "510701005"))
    ids = db.session.scalars(select(Response.id).where(Response.wave_id == wave(Q3).id, Response.unit_id == unit.id)
                             .order_by(Response.id).limit(4)).all()
    for rid, mode in zip(ids, RESPONSE_MODES):
        db.session.execute(update(Response).where(Response.id == rid).values(mode=mode, review_status="flagged", flags=["speeder"]))
    db.session.commit()
    admin = client_for(city, "admin")
    page = admin.get(f"/admin/waves/{Q3}/review")
    cells = re.findall(r"<td>(扫码|入户|电话|纸质|qr|door|phone|paper)</td>", page.get_data(as_text=True))
    assert sorted(cells) == sorted(MODE_LABELS.values())
    detail = text(admin.get(f"/admin/waves/{Q3}/responses/{ids[0]}"))
    assert "扫码" in detail and not re.search(r"\bqr\b", detail)


def pdf_spaced(data: bytes) -> str:
    """The PDF's text with its spaces and line breaks (the punctuation rule looks through spaces only)."""
    from pypdf import PdfReader

    text = "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)
    # Residents' own comments are printed as they wrote them: not the document's punctuation.
    return re.sub(r"群众意见和建议（摘录）.*?(整改方案|附录)", r"\1", text, flags=re.S)


def printed_offenders(pdf: bytes) -> list[str]:
    """The PDF's lines with ASCII punctuation between Chinese characters. The questionnaire's own
    words are data, printed as written: a line quoting an item is left out."""
    from tests.test_punctuation import offenders

    asked = "".join(item.text for item in wave(Q3).questionnaire_version.to_spec().items)
    lines = [line for line in pdf_spaced(pdf).splitlines() if not any(line[k:k + 6] in asked for k in range(len(line) - 5))]
    return [line for line in lines if offenders(line)]


def _bottom_n() -> int:
    return wave(Q3).questionnaire_version.to_spec().ranking.bottom_n


def test_terms_are_explained_on_hover_in_the_console(city):
    n = _bottom_n()
    office = client_for(city, "office")
    for url in (f"/admin/waves/{Q3}/results?level=town", f"/admin/waves/{Q3}/interviews/issue"):
        html = office.get(url).get_data(as_text=True)
        assert f'<abbr class="term" title="{explain("p_bottom", n)}">末{n}名概率</abbr>' in html, url
        assert "P(后" not in html and "P(末" not in html
    issue = office.get(f"/admin/waves/{Q3}/interviews/issue").get_data(as_text=True)
    assert f'<abbr class="term" title="{explain("rank_interval")}">位次区间</abbr>' in issue


def test_the_xlsx_explains_its_terms_in_the_header_and_on_a_sheet(city):
    n = _bottom_n()
    book = load_workbook(io.BytesIO(client_for(city, "office").get(f"/admin/waves/{Q3}/results.xlsx").data))
    header = {c.value: c for c in book["乡镇（街道）"][1]}
    assert header[f"末{n}名概率"].comment.text == explain("p_bottom", n)
    assert header["设计效应"].comment.text == explain("deff")
    assert header["位次区间(1=最高)"].comment.text == explain("rank_interval")
    terms = {row[0]: row[1] for row in book["名词解释"].iter_rows(min_row=2, values_only=True)}
    assert terms == {f"末{n}名概率": explain("p_bottom", n), "设计效应": explain("deff"), "位次区间": explain("rank_interval")}


def test_the_quarterly_pdf_has_the_footnote_and_full_width_punctuation(city):
    from tests.admin.test_admin_results import pdf_text
    n = _bottom_n()
    response = client_for(city, "office").get(f"/admin/waves/{Q3}/reports/quarterly.pdf")
    text = pdf_text(response.data)
    assert f"末{n}名概率：{explain('p_bottom', n)}".replace(" ", "") in text
    assert f"位次区间：{explain('rank_interval')}".replace(" ", "") in text
    assert not printed_offenders(response.data)


# 公文 habits: the issuer's full name, 文号, 主送, 抄送, 联系人/电话, the board legend.


def test_the_issuer_is_never_the_bare_office_name(app):
    from survey.offices import issuer

    assert issuer("安澜市", "{scope}社会治安综合治理委员会办公室") == "安澜市社会治安综合治理委员会办公室"
    assert issuer("青石县", "{scope}社会治安综合治理委员会办公室") == "青石县社会治安综合治理委员会办公室"
    assert issuer("安澜市", "社会治安综合治理委员会办公室") == "安澜市社会治安综合治理委员会办公室"
    assert issuer("青石县", "安澜市社会治安综合治理委员会办公室") == "安澜市社会治安综合治理委员会办公室"  # a full name is kept
    assert issuer("安澜市") == "安澜市社会治安综合治理委员会办公室"  # the default setting


def test_the_letterhead_follows_the_settings(app):
    from survey.offices import letterhead

    app.config.update(DOC_NUMBER_PREFIX="安综治办", NOTICE_CC="市委政法委，各县（区）综治办", NOTICE_CONTACT="李明", NOTICE_PHONE="0838-1234567")
    lh = letterhead("安澜市")
    assert lh.doc_number("2026Q3-007") == "安综治办〔2026〕Q3-007号"
    assert (lh.cc, lh.contact, lh.phone) == ("市委政法委，各县（区）综治办", "李明", "0838-1234567")
    app.config.update(DOC_NUMBER_PREFIX="", NOTICE_CC=None, NOTICE_CONTACT="", NOTICE_PHONE="")
    lh = letterhead("青石县")
    assert lh.doc_number("2027Q1-001") == "青石县综治办〔2027〕Q1-001号" and lh.cc == "青石县委政法委" and lh.contact == ""


def test_notices_carry_number_addressee_copy_and_contact(city):
    from tests.admin.test_admin_results import pdf_text

    city.config.update(OFFICE_NAME="社会治安综合治理委员会办公室", NOTICE_CONTACT="李明", NOTICE_PHONE="0838-1234567")
    response = client_for(city, "office").get(f"/admin/waves/{Q3}/reports/interviews.pdf")
    assert response.status_code == 200
    text = pdf_text(response.data)
    office = "示例市社会治安综合治理委员会办公室"
    assert office in text and text.count(office) == text.count("社会治安综合治理委员会办公室")  # never bare
    first = re.search(r"示例市综治办〔2026〕Q3-001号(\S+?)：根据", text)
    assert first, text[:400]  # 文号, then 主送 (the unit) with a full-width colon
    assert "抄送：示例市委政法委。" in text and "联系人：李明联系电话：0838-1234567" in text
    assert not printed_offenders(response.data)


def test_the_board_legend_reads_naturally():
    from analysis.spec import Grade
    from reports.formatting import grade_legend

    grades = [Grade(70, "合格", "yellow"), Grade(0, "不合格", "red"), Grade(90, "优秀", "blue"), Grade(80, "良好", "blue")]
    assert grade_legend(grades) == ["优秀：90 分及以上", "良好：80 至 90 分（含 80 分）", "合格：70 至 80 分（含 70 分）", "不合格：低于 70 分"]


def test_the_public_board_shows_the_legend_in_words(city):
    page = city.test_client().get("/board/2026Q2-city")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "不合格：低于" in html and "≥" not in html


# Long lists: search, county and town filters, sorting, XLSX export (admin/listing.py).

EAST, WEST = "510701", "510702"


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-code="([^"]+)"', html)


def test_the_progress_list_searches_filters_sorts_and_exports(city):
    admin = client_for(city, "admin")
    everything = _rows(admin.get(f"/admin/waves/{Q3}").get_data(as_text=True))
    east = _rows(admin.get(f"/admin/waves/{Q3}?county={EAST}").get_data(as_text=True))
    units = {u.code: u for u in db.session.scalars(select(Unit))}
    assert east and set(east) < set(everything) and all(f"/{EAST}/" in units[c].path for c in east)
    town = next(c for c in east if units[c].kind == "town")
    in_town = _rows(admin.get(f"/admin/waves/{Q3}?county={EAST}&town={town}").get_data(as_text=True))
    assert in_town and all(f"/{town}/" in units[c].path for c in in_town) and len(in_town) < len(east)
    name = units[town].name
    found = admin.get(f"/admin/waves/{Q3}?q={name}")
    assert town in _rows(found.get_data(as_text=True)) and "符合条件的单位" in text(found)
    assert _rows(admin.get(f"/admin/waves/{Q3}?q=没有这个单位").get_data(as_text=True)) == []
    by_share = admin.get(f"/admin/waves/{Q3}?sort=share").get_data(as_text=True)
    shares = [float(x.rstrip("%")) for x in re.findall(r'<span data-field="share">([\d.]+)%</span>', by_share)]
    assert shares == sorted(shares) and len(shares) == len(everything)
    book = load_workbook(io.BytesIO(admin.get(f"/admin/waves/{Q3}/progress.xlsx?county={EAST}&sort=share").data))
    sheet = book.active
    codes = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True) if row[0] and str(row[0]).isdigit()]
    assert sorted(codes) == sorted(east) and sheet["A1"].value == "单位代码" and "完成率" in [c.value for c in sheet[1]]
    # The filters work without JavaScript: a plain GET form.
    assert re.search(r'<form method="get" action="/admin/waves/[^"]+#progress" class="filters"', by_share)


def test_a_county_account_picks_only_its_own_towns(city):
    east = client_for(city, "east")
    html = east.get(f"/admin/waves/{Q3}").get_data(as_text=True)
    towns = re.findall(r'<select name="town">(.*?)</select>', html, re.S)[0]
    codes = re.findall(r'<option value="(\d+)"', towns)
    assert codes and all(c.startswith(EAST) for c in codes)
    assert _rows(east.get(f"/admin/waves/{Q3}?county={WEST}").get_data(as_text=True)) == []  # nothing of another county


def test_the_cases_list_searches_filters_sorts_and_exports(city):
    from tests.admin.console import post

    office = client_for(city, "office")
    assert post(office, f"/admin/waves/{Q3}/interviews", None).status_code == 302
    page = office.get("/admin/cases?status=")
    all_cases = re.findall(r'href="/admin/cases/(\d+)"', page.get_data(as_text=True))
    east = office.get(f"/admin/cases?county={EAST}").get_data(as_text=True)
    east_cases = re.findall(r'href="/admin/cases/(\d+)"', east)
    assert all_cases and east_cases and len(east_cases) < len(all_cases)
    sorted_page = office.get("/admin/cases?sort=unit").get_data(as_text=True)
    names = re.findall(r'href="/admin/cases/\d+">([^<]+)</a>', sorted_page)
    assert names == sorted(names)
    export = office.get(f"/admin/cases?format=xlsx&county={EAST}")
    assert export.status_code == 200 and export.mimetype.endswith("spreadsheetml.sheet")
    rows = list(load_workbook(io.BytesIO(export.data)).active.iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(east_cases) and all(str(r[0]).startswith(EAST) for r in rows)


def test_key_management_searches_filters_and_exports(city):
    from tests.admin.console import post

    office = client_for(city, "office")
    post(office, f"/admin/waves/{Q2}/interviews", None)  # escalation follows the issued list of the previous wave
    assert post(office, f"/admin/waves/{Q3}/analysis", {"weight_cap": "5", "confirmed": "1"}).status_code == 302
    post(office, f"/admin/waves/{Q3}/interviews", None)
    everything = text(office.get("/admin/key-management"))
    assert "石桥镇" in everything and "新城镇" in everything
    one = text(office.get("/admin/key-management?q=石桥"))
    assert "石桥镇" in one and "新城镇" not in one.split("导出 XLSX", 1)[1]
    assert "石桥镇" not in text(office.get(f"/admin/key-management?county={WEST}")).split("导出 XLSX", 1)[1]
    export = office.get("/admin/key-management?format=xlsx&q=石桥")
    rows = list(load_workbook(io.BytesIO(export.data)).active.iter_rows(min_row=2, values_only=True))
    assert rows and {r[1] for r in rows} == {"石桥镇"} and rows[0][0] == "510701004"
