"""Multiple-choice and show_if answers through the CSV importer, the answer-sheet flags of imported
sheets, and item results end to end through the command line against R (tests/fixtures/items)."""

import json
import math
from pathlib import Path

import pytest
from sqlalchemy import select

from extensions import db
from models import Response
from tests.survey.helpers import count, write

FIXTURES = Path(__file__).parents[1] / "fixtures" / "items"
REFERENCE = json.loads((FIXTURES / "reference.json").read_text(encoding="utf-8"))
HEADER = (FIXTURES / "responses.csv").read_text(encoding="utf-8").splitlines()[0]
TOL = 1e-8


def invoke(runner, *args):
    result = runner.invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def wave(runner):
    invoke(runner, "units", "import", str(FIXTURES / "units.csv"), "--population", str(FIXTURES / "population.csv"))
    invoke(runner, "questionnaire", "load", str(FIXTURES / "questionnaire.yaml"))
    invoke(runner, "wave", "create", "--slug", "2026Q3-items", "--questionnaire", "items-check", "--scope", "320500",
           "--period", "2026Q3")
    invoke(runner, "wave", "open", "2026Q3-items")
    return runner


def close(ours, theirs, what):
    if theirs is None:
        assert ours is None, what
    else:
        assert ours is not None and math.isclose(ours, theirs, rel_tol=TOL, abs_tol=TOL), f"{what}: {ours} vs R {theirs}"


def test_item_results_end_to_end_equal_r(wave, tmp_path):
    invoke(wave, "responses", "import", "--wave", "2026Q3-items", str(FIXTURES / "responses.csv"))
    stored = {r.response_key: r for r in db.session.scalars(select(Response))}
    multi = next(r for r in stored.values() if len(r.answers.get("concerns", [])) == 3)
    assert isinstance(multi.answers["concerns"], list) and multi.answers["safety"] in ("D", "E")
    invoke(wave, "analysis", "run", "--wave", "2026Q3-items")
    out = tmp_path / "result.json"
    invoke(wave, "analysis", "export", "--wave", "2026Q3-items", "--format", "json", "--out", str(out))
    units = {u["code"]: u for u in json.loads(out.read_text(encoding="utf-8"))["units"]}
    for code, ref in REFERENCE["units"].items():
        u = units[code]
        for key, e in ref["items"].items():
            assert u["items"][key]["n"] == e["n"]
            for f in ("estimate", "se", "ci_low", "ci_high"):
                close(u["items"][key][f], e[f], f"{code} items.{key}.{f}")
        assert set(u["options"]) == set(ref["options"])  # (PostgreSQL JSONB does not keep key order)
        for key, opts in ref["options"].items():
            for oc, e in opts.items():
                assert u["options"][key][oc]["n"] == e["n"]
                for f in ("estimate", "se", "ci_low", "ci_high"):
                    close(u["options"][key][oc][f], e[f], f"{code} options.{key}.{oc}.{f}")
        expected = ref.get("weak_items")
        if expected is None:
            assert u["weak_items"] is None, code
        else:
            assert [w["item"] for w in u["weak_items"]] == [w["item"] for w in expected], code
            for ours, theirs in zip(u["weak_items"], expected):
                for f in ("estimate", "parent_estimate", "diff", "se"):
                    close(ours[f], theirs[f], f"{code} weak {ours['item']} {f}")
        if ref.get("drivers") is None:
            assert u["drivers"] is None, code
        else:
            assert u["drivers"]["n"] == ref["drivers"]["n"]
            for name, e in ref["drivers"]["coef"].items():
                close(u["drivers"]["coef"][name]["estimate"], e["estimate"], f"{code} {name}")
                close(u["drivers"]["coef"][name]["se"], e["se"], f"{code} {name} se")


ROW = "r1,320501001,320501001001,2026-08-15 10:00,{safety},B,C,B,C,same,{concerns},M,,door"


@pytest.mark.parametrize(
    "safety, concerns, col, words",
    [
        ("A", "theft", 11, "只在题目 safety 答 D、E 时回答;本行答的是 “A”"),
        ("", "theft", 11, "本行没有回答该题"),
        ("D", "theft;fraud;drugs;other", 11, "最多选 3 项,本行选了 4 项"),
        ("E", "theft;burglary", 11, "“burglary” 不是题目 concerns 的选项代码"),
        ("E", "theft;theft", 11, "选项 “theft” 在题目 concerns 中重复"),
    ],
)
def test_bad_multiple_and_show_if_answers_name_line_and_column(wave, tmp_path, safety, concerns, col, words):
    good = ROW.format(safety="D", concerns="fraud").replace("r1,", "r0,")
    bad = ROW.format(safety=safety, concerns=concerns)
    path = write(tmp_path, "r.csv", f"{HEADER}\n{good}\n{bad}\n")
    result = wave.invoke(args=["responses", "import", "--wave", "2026Q3-items", path])
    assert result.exit_code != 0
    assert f"r.csv:3:{col}:" in result.output and words in result.output, result.output
    assert count(Response) == 0  # all or nothing


def test_multiple_codes_are_stored_as_a_list_and_blank_show_if_items_are_fine(wave, tmp_path):
    rows = [
        ROW.format(safety="D", concerns=" fraud ; theft ").replace("r1,", "a1,"),
        ROW.format(safety="A", concerns="").replace("r1,", "a2,"),
        ROW.format(safety="E", concerns="").replace("r1,", "a3,"),  # asked, left blank: not answered
    ]
    path = write(tmp_path, "r.csv", HEADER + "\n" + "\n".join(rows) + "\n")
    invoke(wave, "responses", "import", "--wave", "2026Q3-items", path)
    stored = {r.response_key: r.answers for r in db.session.scalars(select(Response))}
    assert stored["a1"]["concerns"] == ["fraud", "theft"]
    assert "concerns" not in stored["a2"] and "concerns" not in stored["a3"]


def test_imported_sheets_get_the_answer_sheet_flags(wave, tmp_path):
    rows = [
        "f1,320501001,320501001001,,A,A,A,A,A,better,,M,,paper",  # all maximum (and straight-lined)
        "f2,320501001,320501001001,,B,C,C,C,C,same,,F,,phone",  # satisfaction straight-lined
        "f3,320501001,320501001001,,B,A,C,B,A,same,,F,,door",  # clean
    ]
    path = write(tmp_path, "r.csv", HEADER + "\n" + "\n".join(rows) + "\n")
    invoke(wave, "responses", "import", "--wave", "2026Q3-items", path)
    stored = {r.response_key: r for r in db.session.scalars(select(Response))}
    assert stored["f1"].flags == ["straight_line", "all_maximum"] and stored["f1"].review_status == "flagged"
    assert stored["f2"].flags == ["straight_line"] and stored["f2"].review_status == "flagged"
    assert stored["f3"].flags == [] and stored["f3"].review_status == "clean"
