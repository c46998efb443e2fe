"""`flask report build` errors, and residents' text that must never become markup."""

from __future__ import annotations

import csv

import pytest
from sqlalchemy import select

from extensions import db
from models import Unit
from reports import data as report_data
from reports.build import build_report
from reports.render import render_interviews_html, render_quarterly_html
from survey.waves import get_wave
from tests.reports.conftest import FIXTURES, ISSUED, flat, invoke, pdf_pages

EVIL_COMMENT = '<script>alert("x")</script><img src=x onerror=alert(1)> 路灯 & "监控"'
EVIL_NAME = '<b onmouseover="alert(1)">河东镇</b>'


@pytest.fixture
def loaded(runner):
    invoke(runner, "units", "import", str(FIXTURES / "units.csv"), "--population", str(FIXTURES / "population.csv"))
    invoke(runner, "questionnaire", "load", str(FIXTURES / "questionnaire.yaml"))
    invoke(runner, "wave", "create", "--slug", "w2", "--questionnaire", "safety", "--scope", "510700", "--period", "2026Q3")
    invoke(runner, "responses", "import", "--wave", "w2", str(FIXTURES / "responses_w2.csv"))
    return runner


def test_build_needs_results_except_for_posters(loaded, tmp_path):
    out = tmp_path / "r.pdf"
    for kind in ("quarterly", "interviews", "board"):
        result = loaded.invoke(args=["report", "build", "--wave", "w2", "--kind", kind, "--out", str(out)])
        assert result.exit_code == 1
        assert "错误: 调查 “w2” 还没有分析结果,请先运行 analysis run" in result.output
        assert "Traceback" not in result.output
    assert not out.exists()
    invoke(loaded, "wave", "open", "w2")
    invoke(loaded, "report", "build", "--wave", "w2", "--kind", "posters", "--out", str(out))
    posters = flat("".join(pdf_pages(out.read_bytes(), tmp_path)))
    assert out.read_bytes().startswith(b"%PDF-") and "扫码" in posters and "青山镇" in posters


def test_unknown_wave_kind_and_ended_wave(loaded, tmp_path):
    out = str(tmp_path / "r.pdf")
    result = loaded.invoke(args=["report", "build", "--wave", "nope", "--kind", "quarterly", "--out", out])
    assert result.exit_code == 1 and "调查 “nope” 不存在" in result.output
    result = loaded.invoke(args=["report", "build", "--wave", "w2", "--kind", "poster", "--out", out])
    assert result.exit_code == 2 and "poster" in result.output
    invoke(loaded, "wave", "open", "w2")
    invoke(loaded, "wave", "close", "w2")
    result = loaded.invoke(args=["report", "build", "--wave", "w2", "--kind", "posters", "--out", out])
    assert result.exit_code == 1 and "已结束" in result.output
    invoke(loaded, "analysis", "run", "--wave", "w2")
    result = loaded.invoke(args=["report", "build", "--wave", "w2", "--kind", "board", "--out", str(tmp_path / "no" / "r.pdf")])
    assert result.exit_code == 1 and "无法写入" in result.output and "Traceback" not in result.output


def test_residents_text_and_unit_names_are_escaped(loaded, tmp_path):
    """A comment (newest of the wave) and a unit name full of markup come out as text, in HTML and PDF."""
    evil = tmp_path / "evil.csv"
    with open(FIXTURES / "responses_w2.csv", encoding="utf-8") as f:
        header = next(csv.reader(f))
    row = {c: "" for c in header}
    row.update(response_id="EVIL-1", unit_code="510701002", submitted_at="2026-09-30T23:59:00+08:00",
               safety="E", sat_police="E", sex="M", age_group="30-44", comment=EVIL_COMMENT, mode="paper")
    with open(evil, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, header)
        writer.writeheader()
        writer.writerow(row)
    invoke(loaded, "responses", "import", "--wave", "w2", str(evil))
    db.session.scalar(select(Unit).where(Unit.code == "510701002")).name = EVIL_NAME
    db.session.commit()
    invoke(loaded, "analysis", "run", "--wave", "w2")

    wave = get_wave("w2")
    quarterly = render_quarterly_html(report_data.load(wave, "quarterly", ISSUED))
    interviews = render_interviews_html(report_data.load(wave, "interviews", ISSUED))
    for html in (quarterly, interviews):
        assert "<script>" not in html and "<img src=x" not in html and "<b onmouseover" not in html
        assert "&lt;b onmouseover=&#34;alert(1)&#34;&gt;河东镇&lt;/b&gt;" in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; 路灯 &amp; &#34;监控&#34;" in quarterly
    assert "&lt;script&gt;" in interviews  # the comment is quoted in 河东镇's notice too

    text = flat("".join(pdf_pages(build_report(wave, "quarterly", ISSUED), tmp_path)))
    assert flat(EVIL_COMMENT) in text and flat(EVIL_NAME) in text
