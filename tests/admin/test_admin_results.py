"""The results page: running the analysis, the indices per level, the interview list, downloads, and scope."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete, select

import caches
from extensions import db
from models import AnalysisResult, AuditEntry
from reports.formatting import num
from survey.results import wave_result
from tests.pdf import pdf_text
from tests.admin.console import (  # noqa: F401  (fixtures)
    Q2,
    Q3,
    city,
    city_template,
    client_for,
    post,
    text,
    wave,
)


def with_respondents(result, kind: str | None = None) -> list:
    """The units that are results (respondents in their domain, docs/method.md), of one kind."""
    return [u for u in result.units if u.n > 0 and (kind is None or u.kind == kind)]


def listed(result) -> list:
    return [e for e in result.interview_list if result.unit(e.code).n > 0]


def stored(slug: str) -> AnalysisResult | None:
    db.session.expire_all()
    return db.session.scalar(select(AnalysisResult).where(AnalysisResult.wave_id == wave(slug).id))


def test_running_the_analysis_from_the_page(city):
    db.session.execute(delete(AnalysisResult).where(AnalysisResult.wave_id == wave(Q3).id))
    db.session.commit()
    office = client_for(city, "office")
    empty = office.get(f"/admin/waves/{Q3}/results")
    assert empty.status_code == 200 and "还没有分析结果" in text(empty) and "运行分析" in text(empty)

    response = post(office, f"/admin/waves/{Q3}/analysis", {"weight_cap": "4", "confirmed": "1"})
    assert response.status_code == 302
    result = stored(Q3)
    assert result.computed_by == "office" and result.weight_cap == 4.0 and result.n_responses == 1690
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "analysis.run", AuditEntry.actor == "office"))
    assert entry.entity_id == Q3 and entry.after["weight_cap"] == 4.0
    page = office.get(f"/admin/waves/{Q3}/results")
    assert "分析完成：1690 份答卷计入指数" in text(page)
    # One definition of the totals: the results page and the wave page say the same, departments apart.
    from reports.model import totals

    sums = totals(wave_result(wave(Q3)), result.n_rejected)
    assert sums.responses == 1690 and 0 < sums.departments < sums.responses
    said = f"有效答卷 1690 份（辖区居民 {sums.residents} 份，部门 {sums.departments} 份）"
    wave_page = text(office.get(f"/admin/waves/{Q3}"))
    assert said in text(page) and said in wave_page
    # The live progress counts the residents (departments apart), and says so.
    assert f"{sums.residents} 份辖区居民答卷（不含部门、不含已剔除）" in wave_page
    assert f"样本 n（辖区居民，不含部门） {sums.residents}" in text(page)


@pytest.mark.parametrize("cap, message", [("abc", "应为数字"), ("-1", "0 到 1000"), ("", "应为数字")])
def test_a_bad_weight_cap_is_refused_beside_the_field(city, cap, message):
    before = stored(Q3).computed_at
    office = client_for(city, "office")
    response = post(office, f"/admin/waves/{Q3}/analysis", {"weight_cap": cap, "confirmed": "1"})
    assert response.status_code == 422
    m = re.search(r'<span class="field-error" id="weight_cap-error">([^<]*)</span>', response.get_data(as_text=True))
    assert m and message in m.group(1)
    assert stored(Q3).computed_at == before


def test_a_published_wave_cannot_be_reanalysed(city):
    office = client_for(city, "office")
    page = office.get(f"/admin/waves/{Q2}/results")
    assert "运行分析" not in text(page)
    response = post(office, f"/admin/waves/{Q2}/analysis", {"weight_cap": "5"})
    assert response.status_code == 409 and "已发布" in text(response)


def test_the_results_show_every_level_with_cis_ranks_grades_and_changes(city):
    office = client_for(city, "office")
    result = wave_result(wave(Q3))
    towns = office.get(f"/admin/waves/{Q3}/results?level=town")
    assert towns.status_code == 200
    body = text(towns)
    for kind, label in (("city", "市"), ("county", "县（区）"), ("town", "乡镇（街道）"), ("village", "村（社区）"), ("department", "部门")):
        assert f"{label}({len(with_respondents(result, kind))})" in body
    assert "新建村" not in body  # no respondents: not a result, no row (docs/method.md)
    assert "东城区各乡镇（街道）" in body and "西山县各乡镇（街道）" in body
    qingshan = result.unit("510701005")  # 青山镇: the lowest of its group, 不合格
    html = towns.get_data(as_text=True)
    row = re.search(r"<tr class=\"listed\">\s*<td><a [^>]*>青山镇</a>.*?</tr>", html, re.S).group(0)
    assert f"{qingshan.composite.estimate:.2f}" in row
    assert f"{qingshan.composite.ci_low:.1f}–{qingshan.composite.ci_high:.1f}" in row
    assert '<span class="badge red"' in row and "不合格" in row
    g = qingshan.group_size
    assert qingshan.rank == 1 and f"第 {g} 名 / 共 {g} 名" in row  # people's order: 1 = best, the lowest is 第 G 名
    lo, hi = qingshan.rank_ci
    assert f"位次区间 {g - hi + 1}–{g - lo + 1}" in row  # the rank interval in the same order
    assert f"{100 * qingshan.p_bottom:.0f}%" in row
    d = qingshan.change.composite
    assert ("+" if d.estimate > 0 else "−") + f"{abs(d.estimate):.1f}" in row
    assert "<img src=\"data:image/svg+xml;base64," in html  # the dot plot of reports.charts
    assert re.search(r'<tr class="listed">\s*<td><a [^>]*>高岭乡</a>', html)  # listed for 样本不足
    gaoling = re.search(r'<tr class="listed">\s*<td><a [^>]*>高岭乡</a>.*?</tr>', html, re.S).group(0)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", gaoling, re.S)
    assert '<span class="muted">样本不足</span>' in cells  # its grade cell, as in the reports and the XLSX (issue 13)
    villages = text(office.get(f"/admin/waves/{Q3}/results?level=village"))
    assert "城关街道各村（社区） · 不参加排名" in villages and "参评排名 0 个" not in villages
    assert "东城区各乡镇（街道） · 参评排名 6 个" in body
    assert "样本不足" in body and "不排名" in body
    # The interview list, grouped by level, with 重点管理 marked.
    assert f"约谈名单({len(listed(result))})" in body
    assert body.count("重点管理") >= sum(1 for e in result.interview_list if e.escalation)
    assert "下发约谈名单" in body
    assert "县（区）、乡镇（街道）、部门每个同级组排名最后 3 名的单位（参加排名的单位少于 6 个的组不按名次列入）" in body


def test_the_xlsx_holds_every_level_and_the_interview_list(city):
    office = client_for(city, "office")
    response = office.get(f"/admin/waves/{Q3}/results.xlsx")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    assert f'filename="{Q3}-results.xlsx"' in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["概况", "市", "县（区）", "乡镇（街道）", "村（社区）", "部门", "约谈名单", "名词解释"]
    assert book["约谈名单"].max_row == 1 + len(listed(wave_result(wave(Q3))))
    summary = {row[0]: row[1] for row in book["概况"].iter_rows(values_only=True) if row[0]}
    result = wave_result(wave(Q3))
    assert summary["样本 n（示例市，不含部门）"] == result.root.n  # full-width, as on the results page


def test_the_quarterly_report_downloads_as_a_pdf(city):
    office = client_for(city, "office")
    response = office.get(f"/admin/waves/{Q3}/reports/quarterly.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    result = wave_result(wave(Q3))
    root = result.units[0]
    pdf = pdf_text(response.data)
    assert f"{root.name}综合指数为{num(root.composite.estimate)}" in pdf  # the summary, with the stored figure
    assert all(u.name in pdf for u in result.units)  # every unit in its table
    assert f'filename="{Q3}-quarterly.pdf"' in response.headers["Content-Disposition"]
    assert office.get(f"/admin/waves/{Q3}/reports/nonsense.pdf").status_code == 404


def test_a_county_sees_its_own_units_only(city):
    east = client_for(city, "east")
    page = east.get(f"/admin/waves/{Q3}/results?level=town")
    assert page.status_code == 200
    body = text(page)
    assert "东城区 2026年第三季度测评结果" in body
    assert "青山镇" in body and "白水乡" not in body and "市公安局" not in body  # the other counties: their standing row only (test_county.py)
    east_listed = [e for e in listed(wave_result(wave(Q3))) if e.code.startswith("510701")]  # 东城区's subtree
    assert len(east_listed) >= 3 and f"约谈名单({len(east_listed)})" in body
    assert "下载（只含东城区及其下级单位）" in body and "测评报告 PDF" in body  # its own part (tests/admin/test_county.py)
    # Re-running the city's analysis is refused; its own XLSX and PDFs are fine.
    assert post(east, f"/admin/waves/{Q3}/analysis", {"weight_cap": "5"}).status_code == 403
    book = load_workbook(io.BytesIO(east.get(f"/admin/waves/{Q3}/results.xlsx").data))
    names = {row[1] for sheet in book.worksheets[1:-1] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert "青山镇" in names and "白水乡" not in names
    assert book["约谈名单"].max_row == 1 + len(east_listed)


def test_the_analyst_reads_but_cannot_run(city):
    analyst = client_for(city, "analyst")
    page = analyst.get(f"/admin/waves/{Q3}/results")
    assert page.status_code == 200 and "重新运行分析" not in text(page) and "下发约谈名单" not in text(page)
    assert post(analyst, f"/admin/waves/{Q3}/analysis", {"weight_cap": "5"}).status_code == 403


def test_the_charts_are_drawn_once_per_analysis_level_and_scope(city, monkeypatch):
    """The dot plots are drawn once for what they show and kept (jobs.charts: a file, and this
    process's memory): opening the page again draws nothing, nor does another process (the memory
    cleared) that finds the file; another level, another scope or a re-run with other weights draws anew."""
    from jobs import charts as job_charts

    caches.RESULT_CHARTS.clear()
    drawn = []
    real = job_charts.draw
    monkeypatch.setattr(job_charts, "draw", lambda level, *args: drawn.append(level.kind) or real(level, *args))
    office = client_for(city, "office")
    first = office.get(f"/admin/waves/{Q3}/results?level=town")
    again = office.get(f"/admin/waves/{Q3}/results?level=town")
    assert first.status_code == again.status_code == 200 and drawn == ["town"]
    assert re.findall(r"<svg|data:image/svg", text(first)) == re.findall(r"<svg|data:image/svg", text(again))
    caches.RESULT_CHARTS.clear()  # another web process: the file is there
    other = office.get(f"/admin/waves/{Q3}/results?level=town")
    assert drawn == ["town"] and re.findall(r'src="(data:image/svg[^"]+)"', text(other)) == re.findall(
        r'src="(data:image/svg[^"]+)"', text(first))
    office.get(f"/admin/waves/{Q3}/results?level=county")
    assert drawn == ["town", "county"]
    client_for(city, "east").get(f"/admin/waves/{Q3}/results?level=town")  # a county's own towns
    assert drawn == ["town", "county", "town"]
    assert post(office, f"/admin/waves/{Q3}/analysis", {"weight_cap": "3", "confirmed": "1"}).status_code == 302
    office.get(f"/admin/waves/{Q3}/results?level=town")
    assert drawn == ["town", "county", "town", "town"]


def test_the_analysis_job_draws_the_charts_before_the_page_is_opened(city, monkeypatch):
    """After a run, the job draws every level's charts for every scope that may read the wave
    (jobs.charts.warm); no account's first view of any level draws one."""
    from jobs import charts as job_charts

    city.config["JOBS_WARM_CHARTS"] = True  # off for the other tests (tests/conftest.py)
    caches.RESULT_CHARTS.clear()
    drawn = []
    real = job_charts.draw
    monkeypatch.setattr(job_charts, "draw", lambda level, *args: drawn.append(level.kind) or real(level, *args))
    office, east = client_for(city, "office"), client_for(city, "east")
    assert post(office, f"/admin/waves/{Q3}/analysis", {"weight_cap": "3", "confirmed": "1"}).status_code == 302
    assert {"county", "town"} <= set(drawn), drawn  # the city's levels, and the county's own towns
    warmed = len(drawn)
    caches.RESULT_CHARTS.clear()  # the web process is not the worker: only the files are shared
    opened = 0
    for client in (office, east):
        page = client.get(f"/admin/waves/{Q3}/results")
        for level in sorted(set(re.findall(r"\?level=(\w+)", page.get_data(as_text=True)))):
            shown = client.get(f"/admin/waves/{Q3}/results?level={level}")
            assert shown.status_code == 200 and "data:image/svg" in shown.get_data(as_text=True), level
            opened += 1
    assert opened >= 4 and len(drawn) == warmed, drawn[warmed:]
