"""`analysis run` + `analysis export` through the command line, against R's survey package.

The reference values come from tests/fixtures/analysis/make_reference.R (see its README).
"""

import csv
import io
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from extensions import db
from models import AnalysisResult, AuditEntry, Response
from tests.survey.helpers import count

FIXTURES = Path(__file__).parents[1] / "fixtures" / "analysis"
TOL = 1e-6


def invoke(runner, *args):
    result = runner.invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def two_waves(runner):
    invoke(runner, "units", "import", str(FIXTURES / "units.csv"), "--population", str(FIXTURES / "population.csv"))
    invoke(runner, "questionnaire", "load", str(FIXTURES / "questionnaire.yaml"))
    for slug, period, file in (("2026Q2-city", "2026Q2", "responses_w1.csv"), ("2026Q3-city", "2026Q3", "responses_w2.csv")):
        invoke(runner, "wave", "create", "--slug", slug, "--questionnaire", "safety", "--scope", "510700", "--period", period)
        invoke(runner, "responses", "import", "--wave", slug, str(FIXTURES / file))
    return runner


def assert_matches_reference(ours: dict, reference: dict) -> None:
    units = {u["code"]: u for u in ours["units"]}
    assert set(units) == {u["code"] for u in reference["units"]}
    for ref in reference["units"]:
        u = units[ref["code"]]
        numbers = [("n", u["n"], ref["n"]), ("n_eff", u["n_eff"], ref["n_eff"])]
        for key, e in ref["indicators"].items():
            numbers += [(f"{key}.{f}", u["indicators"][key][f], e[f]) for f in ("estimate", "se", "ci_low", "ci_high", "n")]
        numbers += [(f"composite.{f}", u["composite"][f], ref["composite"][f]) for f in ("estimate", "se", "ci_low", "ci_high", "deff")]
        for name, got, want in numbers:
            if want is None:
                assert got is None, (ref["code"], name, got)
            else:
                assert got == pytest.approx(want, abs=TOL), (ref["code"], name)
        for field in ("rank", "group_size", "grade", "color", "flags", "warnings"):
            assert u[field] == ref[field], (ref["code"], field)
        if ref["p_bottom"] is None:
            assert u["p_bottom"] is None
        else:
            assert u["p_bottom"] == pytest.approx(ref["p_bottom"], abs=0.02), ref["code"]
    assert ours["interview_list"] == reference["interview_list"]


def export_json(runner, slug):
    return json.loads(invoke(runner, "analysis", "export", "--wave", slug, "--format", "json").stdout)


def test_both_waves_match_r(two_waves):
    invoke(two_waves, "analysis", "run", "--wave", "2026Q2-city")
    invoke(two_waves, "analysis", "run", "--wave", "2026Q3-city")
    for slug, ref in (("2026Q2-city", "reference_w1.json"), ("2026Q3-city", "reference_w2.json")):
        ours = export_json(two_waves, slug)
        assert (ours["wave"], ours["series"]) == (slug, "safety")
        assert_matches_reference(ours, json.loads((FIXTURES / ref).read_text()))
    escalated = [e for e in export_json(two_waves, "2026Q3-city")["interview_list"] if e["escalation"] == "key_management"]
    assert escalated  # the dataset is built so that some units are listed twice in a row


def test_the_previous_wave_need_not_have_been_analysed(two_waves):
    """Escalation and change use the previous wave, computed on the fly when never run."""
    invoke(two_waves, "analysis", "run", "--wave", "2026Q3-city")
    assert_matches_reference(export_json(two_waves, "2026Q3-city"), json.loads((FIXTURES / "reference_w2.json").read_text()))
    assert count(AnalysisResult) == 1  # the previous wave's results were not stored as a side effect


def test_rerun_replaces_results_and_rejected_responses_are_left_out(two_waves):
    invoke(two_waves, "analysis", "run", "--wave", "2026Q3-city")
    first = export_json(two_waves, "2026Q3-city")
    rejected = db.session.scalars(select(Response).where(Response.response_key.like("W2-%")).limit(5)).all()
    for r in rejected:
        r.review_status = "rejected"
    flagged = db.session.scalars(select(Response).where(Response.response_key.like("W2-%")).offset(100).limit(3)).all()
    for r in flagged:
        r.review_status, r.flags = "flagged", ["speeder"]
    db.session.commit()
    output = invoke(two_waves, "analysis", "run", "--wave", "2026Q3-city").output
    assert "审核剔除 5 份" in output
    second = export_json(two_waves, "2026Q3-city")
    assert count(AnalysisResult) == 1
    assert second["units"][0]["n"] == first["units"][0]["n"] - sum(
        1 for r in rejected if r.unit.kind != "department"
    )
    assert sum(u["n_flagged"] for u in second["units"] if u["kind"] == "department" or u["parent_code"] is None) >= 3
    assert db.session.scalars(select(AuditEntry.action).where(AuditEntry.action == "analysis.run")).all() == ["analysis.run"] * 2


def test_csv_and_xlsx_exports(two_waves, tmp_path):
    invoke(two_waves, "analysis", "run", "--wave", "2026Q3-city")
    data = export_json(two_waves, "2026Q3-city")
    rows = list(csv.DictReader(io.StringIO(invoke(two_waves, "analysis", "export", "--wave", "2026Q3-city", "--format", "csv").stdout)))
    assert [r["code"] for r in rows] == [u["code"] for u in data["units"]]
    assert float(rows[0]["composite_estimate"]) == data["units"][0]["composite"]["estimate"]
    out = tmp_path / "results.xlsx"
    invoke(two_waves, "analysis", "export", "--wave", "2026Q3-city", "--format", "xlsx", "--out", str(out))
    book = load_workbook(out)
    assert book.sheetnames[0] == "概况" and "约谈名单" in book.sheetnames and "乡镇(街道)" in book.sheetnames
    towns = book["乡镇(街道)"]
    assert towns["A1"].value == "单位代码" and "综合指数" in [c.value for c in towns[1]]
    listed = [row[0].value for row in book["约谈名单"].iter_rows(min_row=2)]
    assert listed == [e["code"] for e in data["interview_list"]]
    assert "重点管理" in [row[7].value for row in book["约谈名单"].iter_rows(min_row=2)]


def test_clear_errors(two_waves, tmp_path):
    result = two_waves.invoke(args=["analysis", "export", "--wave", "2026Q3-city", "--format", "json"])
    assert result.exit_code != 0 and "还没有分析结果" in result.output
    result = two_waves.invoke(args=["analysis", "export", "--wave", "2026Q3-city", "--format", "xlsx"])
    assert result.exit_code != 0
    result = two_waves.invoke(args=["analysis", "run", "--wave", "nope"])
    assert result.exit_code != 0 and "调查 “nope” 不存在" in result.output
    result = two_waves.invoke(args=["analysis", "run", "--wave", "2026Q3-city", "--weight-cap", "-1"])
    assert result.exit_code != 0 and "不能为负数" in result.output
    invoke(two_waves, "wave", "create", "--slug", "empty", "--questionnaire", "safety", "--scope", "510700", "--period", "2026Q4")
    result = two_waves.invoke(args=["analysis", "run", "--wave", "empty"])
    assert result.exit_code != 0 and "还没有可用的答卷" in result.output


def test_weight_cap_zero_turns_trimming_off(two_waves):
    invoke(two_waves, "analysis", "run", "--wave", "2026Q3-city", "--weight-cap", "0")
    capped_off = export_json(two_waves, "2026Q3-city")
    invoke(two_waves, "analysis", "run", "--wave", "2026Q3-city")
    capped = export_json(two_waves, "2026Q3-city")
    assert capped_off["params"]["weight_cap"] == 0 and capped["params"]["weight_cap"] == 5
    town = "510701005"  # the town where the cap binds (fixtures README)
    a = next(u for u in capped_off["units"] if u["code"] == town)
    b = next(u for u in capped["units"] if u["code"] == town)
    assert a["n_eff"] < b["n_eff"]
