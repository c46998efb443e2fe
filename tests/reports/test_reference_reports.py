"""Reports from the R reference dataset (tests/fixtures/analysis): the edge cases, the public board
pages, and the dates the office sets on a 约谈 case."""

from __future__ import annotations

import io

import re

from datetime import date, timedelta

import pytest
from sqlalchemy import select

import clock
from extensions import db
from models import CaseRound, InterviewCase, Unit
from reports import data as report_data
from reports.build import build_report, report_filename
from reports.formatting import cn_date, num
from reports.render import render_board_html
from survey.results import wave_result
from survey.waves import get_wave
from tests.reports.conftest import ISSUED, flat, pdf_pages

W2 = "2026Q3-city"
EMPTY_VILLAGE = "510702001003"  # 新建村: no respondents at all
CASE_UNIT = "510701006"  # 新城镇: bottom 3 in both waves, w1's list issued, so 重点管理 in w2


@pytest.fixture(scope="module")
def case(reference):
    """The creation office has already scheduled one unit's interview and set its deadlines."""
    wave = get_wave(W2)
    unit = db.session.scalar(select(Unit).where(Unit.code == CASE_UNIT))
    requirements = "一、增加夜间巡逻;\n二、修复路灯 & 监控。"
    db.session.add(InterviewCase(
        wave_id=wave.id, unit_id=unit.id, reason="bottom_n", rank=2, escalation="key_management",
        scheduled_for=date(2026, 10, 20), deadline=date(2026, 11, 30), recheck_on=date(2026, 12, 5),
        responsible="张<三>", rectification_plan=requirements,
        rounds=[CaseRound(number=1, requirements=requirements, responsible="张<三>", deadline=date(2026, 11, 30),
                          plan="夜巡每周三次<由派出所牵头>")],
    ))
    db.session.commit()
    return unit


@pytest.fixture(scope="module")
def pdfs(reference, case, tmp_path_factory):
    wave = get_wave(W2)
    tmp = tmp_path_factory.mktemp("reference")
    return {kind: pdf_pages(build_report(wave, kind, ISSUED), tmp) for kind in ("quarterly", "interviews", "board")}


def test_a_unit_without_respondents_has_no_row_and_the_warnings(pdfs):
    """新建村 has no respondents: it is not a result, so no report names it (docs/method.md); a unit
    under min_n with respondents is on the board as 样本不足, without a grade or a colour."""
    result = wave_result(get_wave(W2))
    assert EMPTY_VILLAGE not in {u.code for u in result.units}
    text = flat("".join(pdfs["quarterly"]))
    for kind in ("quarterly", "interviews", "board"):
        assert "新建村" not in flat("".join(pdfs[kind])), kind
    assert "无有效答卷" not in text
    assert "下坝村：单一初级抽样单元" in text  # single_psu_stratum, in the appendix's data notes
    assert "人口类别合并" in text  # merged_category
    html = render_board_html(report_data.load(get_wave(W2), "board", ISSUED))
    assert "新建村" not in html
    small = next(u for u in result.units if 0 < u.n < 30)
    tile = html[html.rindex('<div class="tile', 0, html.index(f'<div class="name">{small.name}</div>')):]
    tile = flat(tile[:tile.index("</div>\n</div>")])
    assert tile.startswith('<divclass="tiletile-none">') and f'<divclass="value">{num(small.composite.estimate)}</div>' in tile
    assert '<divclass="grade">样本不足</div>' in tile and "样本不足，未排名" in tile


def test_village_groups_are_not_ranked_and_count_only_their_short_units(pdfs):
    """Issue 13: a group of villages says 不参加排名 and counts as 样本不足 only its units under min_n
    (was "参加排名 0 个，样本不足 3 个" with one of three short); the grade table's 样本不足 column counts
    the villages under min_n too, so that every unit of a row is in one column."""
    result = wave_result(get_wave(W2))
    text = flat("".join(pdfs["quarterly"]))
    villages = [u for u in result.units if u.kind == "village"]
    by_town: dict[str, list] = {}
    for v in villages:
        by_town.setdefault(v.parent_code, []).append(v)
    for town, units in by_town.items():
        short = sum(1 for v in units if v.n < 30)
        words = "不参加排名" + (f"；样本不足{short}个" if short else "")
        assert f"{result.unit(town).name}各村（社区）（{words}）" in text, town
    assert any(v.n < 30 for v in villages) and any(v.n >= 30 for v in villages)
    assert "参加排名0个" not in text
    graded = {g: sum(1 for v in villages if v.grade == g) for g in ("优秀", "良好", "合格", "不合格")}
    short = sum(1 for v in villages if v.n < 30)
    assert sum(graded.values()) + short == len(villages)
    row = f"村（社区）{len(villages)}" + "".join(str(graded[g]) for g in ("优秀", "良好", "合格", "不合格"))
    blue, yellow, red = (sum(1 for v in villages if v.color == c) for c in ("blue", "yellow", "red"))
    assert f"{row}{blue}{yellow}{red}{short}" in text


def test_no_notice_for_a_unit_without_respondents_and_no_none_anywhere(pdfs):
    result = wave_result(get_wave(W2))
    assert EMPTY_VILLAGE not in {u.code for u in result.units}
    assert not any("新建村：" in flat(p) for p in pdfs["interviews"])
    small = [result.unit(e.code) for e in result.interview_list if e.reason == "insufficient_sample" and result.unit(e.code).n > 0]
    assert small
    for u in small:
        notice = next(flat(p) for p in pdfs["interviews"] if f"{u.name}：" in flat(p) and "综治办〔" in p)
        assert f"你单位本期有效答卷仅{u.n}份" in notice
    for page in pdfs["interviews"]:
        assert "None" not in page and "nan" not in page


def test_notice_dates_come_from_the_case_when_the_office_set_them(pdfs, case):
    notices = [flat(p) for p in pdfs["interviews"] if "约谈通知书" in p and "综治办〔" in p]
    mine = next(n for n in notices if f"{case.name}：" in n)
    assert "请你单位主要负责人于2026年10月20日到" in mine
    assert "整改时限：2026年11月30日前" in mine
    assert "复查时间：2026年12月5日，由创建办组织复查" in mine  # no "（通知书发出之日起 30 日）"
    assert "整改责任人：张<三>" in mine
    # the office's 整改要求 under its own heading, the unit's 整改方案 under the unit's
    assert "整改要求一、增加夜间巡逻;二、修复路灯&监控。整改方案（由被约谈单位填写）夜巡每周三次<由派出所牵头>" in mine
    others = [n for n in notices if n is not mine]
    assert len(others) == len(notices) - 1 >= 1
    assert all(f"复查时间：{cn_date(ISSUED + timedelta(days=30))}（通知书发出之日起30日）" in n for n in others)
    assert "按规定列为重点管理单位" in mine


def test_escalations_match_the_stored_interview_list(pdfs):
    result = wave_result(get_wave(W2))
    notices = [flat(p) for p in pdfs["interviews"] if "约谈通知书" in p and "综治办〔" in p]
    lines = [e for e in result.interview_list if result.unit(e.code).n > 0]  # a unit without respondents has no notice
    assert len(notices) == len(lines)
    escalated = {result.unit(e.code).name for e in lines if e.escalation == "key_management"}
    assert escalated == {"新城镇", "石桥镇"}  # issued in w1 for bottom_n and listed again
    for notice in notices:
        name = re.search(r"〔2026〕Q3-\d{3}号(.+?)：", notice).group(1)
        assert ("按规定列为重点管理单位" in notice) == (name in escalated), name


def test_trend_uses_only_waves_with_stored_results(reference):
    """The first wave's results were stored, so the trend has two periods; delete them and it has one."""
    from models import AnalysisResult

    wave = get_wave(W2)
    result = wave_result(wave)
    assert [p.period for p in report_data.trend(wave, result)] == ["2026Q2", "2026Q3"]
    first = db.session.scalar(select(AnalysisResult).where(AnalysisResult.wave_id == get_wave("2026Q2-city").id))
    payload = first.payload
    db.session.delete(first)
    db.session.flush()
    try:
        assert [p.period for p in report_data.trend(wave, result)] == ["2026Q3"]
    finally:
        db.session.rollback()
    assert db.session.get(AnalysisResult, first.id).payload == payload


def test_report_filename(reference):
    assert report_filename(get_wave(W2), "quarterly") == "2026Q3-city-quarterly.pdf"


# ---------------------------------------------------------------- the public board on the web


def test_home_lists_published_boards_only(reference):
    page = reference.test_client().get("/").get_data(as_text=True)
    assert "/board/2026Q2-city" in page and "/board/2026Q3-city" not in page


def test_board_page_of_a_published_wave(reference):
    client = reference.test_client()
    response = client.get("/board/2026Q2-city")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    result = wave_result(get_wave("2026Q2-city"))
    assert "示例市2026年第二季度平安建设测评结果公示" in html
    for u in result.units:
        assert (u.name in html) == (u.n > 0), u.name
        if u.n > 0:
            assert f'<div class="value">{num(u.composite.estimate)}</div>' in html
    assert "tile-blue" in html and "tile-yellow" in html and "tile-red" in html
    published = get_wave("2026Q2-city").published_at
    assert published.utcoffset() == timedelta(0)  # aware UTC, on SQLite as on PostgreSQL
    assert f"{cn_date(clock.local(published).date())} · " in html  # dated the day it was published, in Beijing


def test_board_pdf_download(reference, tmp_path):
    response = reference.test_client().get("/board/2026Q2-city.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    assert "示例市2026年第二季度平安建设测评结果公示" in flat("".join(pdf_pages(response.data, tmp_path)))


def test_the_board_is_searched_filtered_sorted_and_exported_as_shown(reference):
    """A long board: find a unit, keep one county's units, one colour, lowest first; the XLSX holds
    the board as shown, with each unit's place among all its group (a filter renumbers nobody)."""
    from openpyxl import load_workbook

    client = reference.test_client()
    result = wave_result(get_wave("2026Q2-city"))
    shown = [u for u in result.units[1:] if u.n > 0]
    county = next(u for u in shown if u.kind == "county")
    below = {u.code for u in shown if u.code.startswith(county.code)}  # the county and every unit below it
    html = client.get(f"/board/2026Q2-city?county={county.code}").get_data(as_text=True)
    names = {u.name for u in shown}
    inside = {u.name for u in shown if u.code in below}
    tiles = set(re.findall(r'<div class="name">([^<]+)</div>', html))
    assert tiles == inside | {result.root.name} and names - inside
    one = shown[3]
    found = client.get("/board/2026Q2-city", query_string={"q": one.name}).get_data(as_text=True)
    assert "按所选条件显示" in found and f'<div class="name">{one.name}</div>' in found
    red = client.get("/board/2026Q2-city?color=red").get_data(as_text=True)
    assert "tile-red" in red and "tile-blue" not in red.split("board-head")[-1].split("</form>")[-1].split("legend")[-1]
    book = load_workbook(io.BytesIO(client.get(f"/board/2026Q2-city.xlsx?county={county.code}&order=low").data))
    rows = list(book.active.iter_rows(min_row=3, values_only=True))
    assert {r[2] for r in rows} == inside
    for r in rows:
        u = next(x for x in shown if x.name == r[2])
        assert r[3] == round(u.composite.estimate, 2)
        if u.rank is not None:
            assert (r[6], r[7]) == (u.group_size - u.rank + 1, u.group_size)
    by_group: dict = {}
    for r in rows:
        by_group.setdefault(r[1], []).append(r[3])
    assert all(v == sorted(v) for v in by_group.values())  # lowest first within each group
    assert client.get("/board/2026Q3-city.xlsx").status_code == 404  # unpublished: no board, no file


@pytest.mark.parametrize("path", ["/board/2026Q3-city", "/board/2026Q3-city.pdf", "/board/nope", "/board/nope.pdf"])
def test_no_board_for_an_unpublished_or_unknown_wave(reference, path):
    response = reference.test_client().get(path)
    assert response.status_code == 404
    assert "未找到已公示的测评结果" in response.get_data(as_text=True)
