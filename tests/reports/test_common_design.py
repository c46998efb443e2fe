"""A city shaped like the common design (tests/fixtures/analysis/practice): residents attached to towns,
villages only as PSUs (no village has a respondent), two waves. What the office hands out must not hold
a single village row, one notice per listed unit, and 重点管理 follows the list the office ISSUED.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from reports.build import build_report
from survey.results import wave_result
from survey.waves import get_wave
from tests.reports.conftest import ISSUED, flat, invoke, pdf_pages

PRACTICE = Path(__file__).parents[1] / "fixtures" / "analysis" / "practice"
W1, W2 = "2026Q2-practice", "2026Q3-practice"
TAKEN_OFF = "610903002"  # wave 1: listed for bottom_n, taken off by the office with a reason


def units() -> list[dict]:
    with open(PRACTICE / "units.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def practice(module_app):
    runner = module_app.test_cli_runner()
    invoke(runner, "units", "import", str(PRACTICE / "units.csv"), "--population", str(PRACTICE / "population.csv"))
    invoke(runner, "questionnaire", "load", str(PRACTICE / "questionnaire.yaml"))
    for slug, period, file in ((W1, "2026Q2", "responses_w1.csv"), (W2, "2026Q3", "responses_w2.csv")):
        invoke(runner, "wave", "create", "--slug", slug, "--questionnaire", "safety", "--scope", "610900", "--period", period)
        invoke(runner, "responses", "import", "--wave", slug, str(PRACTICE / file))
        invoke(runner, "wave", "open", slug)
        invoke(runner, "wave", "close", slug)
    invoke(runner, "analysis", "run", "--wave", W1)
    # Wave 1's list is computed but not issued yet: wave 2 escalates nobody.
    invoke(runner, "analysis", "run", "--wave", W2)
    never_issued = wave_result(get_wave(W2)).interview_list
    # The office issues wave 1's list, taking one unit off with a written reason; then wave 2 is re-run.
    issued = invoke(runner, "interviews", "issue", "--wave", W1, "--exclude", TAKEN_OFF, "--reason", "该镇本期测评期间遭遇洪灾，经研究暂缓约谈")
    invoke(runner, "analysis", "run", "--wave", W2)
    return {"runner": runner, "never_issued": never_issued, "issue_output": issued.output}


@pytest.fixture(scope="module")
def pdfs(practice, tmp_path_factory):
    wave = get_wave(W2)
    return {kind: pdf_pages(build_report(wave, kind, ISSUED), tmp_path_factory.mktemp(kind)) for kind in ("quarterly", "interviews")}


def test_the_list_has_no_village_and_escalation_needs_the_issued_list(practice):
    kinds = {u["code"]: u["kind"] for u in units()}
    first = wave_result(get_wave(W1)).interview_list
    second = wave_result(get_wave(W2)).interview_list
    assert first and second
    assert not any(kinds[e.code] == "village" for e in (*first, *second))
    # A list never issued escalates nobody.
    assert practice["never_issued"] and all(e.escalation is None for e in practice["never_issued"])
    # Issued: units issued for bottom_n in wave 1 and listed again are 重点管理; the unit taken off is not.
    issued = {e.code for e in first if e.reason == "bottom_n"} - {TAKEN_OFF}
    assert TAKEN_OFF in {e.code for e in first if e.reason == "bottom_n"}
    again = {e.code: e for e in second}
    assert TAKEN_OFF in again and again[TAKEN_OFF].escalation is None
    escalated = {code for code, e in again.items() if e.escalation == "key_management"}
    assert escalated and escalated == {code for code in issued if code in again}
    assert "撤下 1 个单位" in practice["issue_output"]


def test_the_quarterly_report_has_no_village_row(pdfs):
    text = flat("".join(pdfs["quarterly"]))
    villages = [u["name"] for u in units() if u["kind"] == "village"]
    assert len(villages) > 50
    assert not [name for name in villages if name in text]
    assert "村（社区）" not in flat(pdfs["quarterly"][0])  # the cover counts no villages
    assert "村（社区）综合指数" not in text  # no village chart, no village table
    result = wave_result(get_wave(W2))
    for u in result.units[1:]:  # every unit with respondents is there
        assert u.name in text, u.name


def test_the_notices_pdf_has_one_notice_per_listed_unit(pdfs):
    result = wave_result(get_wave(W2))
    notices = [flat(p) for p in pdfs["interviews"] if "约谈通知书" in p and "综治办〔" in p]
    assert len(notices) == len(result.interview_list) > 0
    for i, (entry, notice) in enumerate(zip(result.interview_list, notices), start=1):
        unit = result.unit(entry.code)
        assert f"综治办〔2026〕Q3-{i:03d}号" in notice and f"{unit.name}：" in notice
        if entry.reason == "bottom_n":
            lo, hi = unit.rank_ci
            g = unit.group_size
            assert f"居倒数第{entry.rank}名（位次区间{g - hi + 1}" in notice
    # The list page and notices: a few pages more than the notices, never one per village.
    assert len(pdfs["interviews"]) <= len(notices) + 3
