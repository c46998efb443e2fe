"""`analysis run` + `analysis export` through the command line, against R's survey package.

The reference values come from tests/fixtures/analysis/make_reference.R (see its README): both datasets,
both waves, wave 1's list issued (minus one unit) before wave 2 is analysed, so escalation is checked end
to end.
"""

import csv
import io
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from admin import cases
from admin.accounts import create_user
from extensions import db
from models import AnalysisResult, AuditEntry, Response, Wave
from models.interviews import InterviewCase
from survey.results import issued_bottom_codes
from tests.analysis.reference import DATASETS, assert_matches_reference, reference
from tests.survey.helpers import count

FIXTURES = Path(__file__).parents[1] / "fixtures" / "analysis"
SLUGS = {"city": ("2026Q2-city", "2026Q3-city"), "practice": ("2026Q2-practice", "2026Q3-practice")}


def invoke(runner, *args):
    result = runner.invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result


def load(runner, dataset="city"):
    d = DATASETS[dataset]
    invoke(runner, "units", "import", str(d / "units.csv"), "--population", str(d / "population.csv"))
    invoke(runner, "questionnaire", "load", str(d / "questionnaire.yaml"))
    for slug, period, file in zip(SLUGS[dataset], ("2026Q2", "2026Q3"), ("responses_w1.csv", "responses_w2.csv")):
        invoke(runner, "wave", "create", "--slug", slug, "--questionnaire", "safety", "--scope", d_root(d), "--period", period)
        invoke(runner, "responses", "import", "--wave", slug, str(d / file))
    return runner


def d_root(d: Path) -> str:
    return next(r["code"] for r in csv.DictReader(io.StringIO((d / "units.csv").read_text(encoding="utf-8"))) if not r["parent_code"])


@pytest.fixture
def two_waves(runner):
    return load(runner)


def issue_first_wave(runner, dataset="city"):
    """Close wave 1 and issue its list through the console's service, then take off the one unit the R
    reference leaves out of the issued set (its case withdrawn, as when the office takes a unit off)."""
    first = SLUGS[dataset][0]
    invoke(runner, "wave", "open", first)
    invoke(runner, "wave", "close", first)
    wave = db.session.scalar(select(Wave).where(Wave.slug == first))
    admin = create_user("issuer", "a-long-password-1", "admin")
    cases.issue_interview_list(wave, admin)
    issued = set(reference(dataset, 2)["previous_issued"])
    for case in db.session.scalars(select(InterviewCase).where(InterviewCase.wave_id == wave.id)):
        if case.reason == "bottom_n" and case.unit.code not in issued:
            case.status = "withdrawn"
    db.session.commit()
    assert issued_bottom_codes(wave) == issued


def export_json(runner, slug):
    return json.loads(invoke(runner, "analysis", "export", "--wave", slug, "--format", "json").stdout)


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_both_waves_match_r(runner, dataset):
    load(runner, dataset)
    first, second = SLUGS[dataset]
    invoke(runner, "analysis", "run", "--wave", first)
    issue_first_wave(runner, dataset)
    invoke(runner, "analysis", "run", "--wave", second)
    for slug, wave in ((first, 1), (second, 2)):
        ours = export_json(runner, slug)
        assert (ours["wave"], ours["series"]) == (slug, "safety")
        assert_matches_reference(ours, reference(dataset, wave))
    listed = export_json(runner, second)["interview_list"]
    assert any(e["escalation"] == "key_management" for e in listed)
    units = {r["code"]: r["kind"] for r in csv.DictReader(io.StringIO((DATASETS[dataset] / "units.csv").read_text(encoding="utf-8")))}
    assert not any(units[e["code"]] == "village" for e in listed)


def test_a_list_never_issued_escalates_nobody(two_waves):
    invoke(two_waves, "analysis", "run", "--wave", "2026Q2-city")
    invoke(two_waves, "analysis", "run", "--wave", "2026Q3-city")
    listed = export_json(two_waves, "2026Q3-city")["interview_list"]
    assert listed and all(e["escalation"] is None for e in listed)


def test_the_previous_wave_need_not_have_been_analysed(two_waves):
    """Change uses the previous wave, computed on the fly when never run (nothing was issued for it)."""
    invoke(two_waves, "analysis", "run", "--wave", "2026Q3-city")
    ours = export_json(two_waves, "2026Q3-city")
    ref = reference("city", 2)
    for e in ref["interview_list"]:
        e["escalation"] = None  # nothing issued in wave 1 here
    assert_matches_reference(ours, ref)
    assert count(AnalysisResult) == 1  # the previous wave's results were not stored as a side effect


def test_ranking_settings_are_stored_with_the_questionnaire(runner, tmp_path):
    from models import QuestionnaireVersion

    text = (FIXTURES / "questionnaire.yaml").read_text(encoding="utf-8")
    changed = tmp_path / "q.yaml"
    changed.write_text(text.replace("ranking: {bottom_n: 3, min_n: 30}",
                                    "ranking: {bottom_n: 2, min_n: 20, min_group: 5, kinds: [town, village]}"),
                       encoding="utf-8")
    invoke(runner, "questionnaire", "load", str(changed))
    r = db.session.scalars(select(QuestionnaireVersion)).one().to_spec().ranking
    assert (r.bottom_n, r.min_n, r.min_group, r.kinds) == (2, 20, 5, ("town", "village"))
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("ranking: {bottom_n: 3, min_n: 30}", "ranking: {bottom_n: 3, min_n: 30,\n  kinds: [town, hamlet]}"),
                   encoding="utf-8")
    result = runner.invoke(args=["questionnaire", "load", str(bad)])
    line = text[: text.index("ranking:")].count("\n") + 2
    assert result.exit_code != 0 and f"bad.yaml:{line}:" in result.output and "hamlet" in result.output, result.output


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
    invoke(two_waves, "analysis", "run", "--wave", "2026Q2-city")
    issue_first_wave(two_waves)  # so that wave 2's list escalates
    invoke(two_waves, "analysis", "run", "--wave", "2026Q3-city")
    data = export_json(two_waves, "2026Q3-city")
    rows = list(csv.DictReader(io.StringIO(invoke(two_waves, "analysis", "export", "--wave", "2026Q3-city", "--format", "csv").stdout)))
    assert [r["code"] for r in rows] == [u["code"] for u in data["units"]]
    assert float(rows[0]["composite_estimate"]) == data["units"][0]["composite"]["estimate"]
    out = tmp_path / "results.xlsx"
    invoke(two_waves, "analysis", "export", "--wave", "2026Q3-city", "--format", "xlsx", "--out", str(out))
    book = load_workbook(out)
    assert book.sheetnames[0] == "概况" and "约谈名单" in book.sheetnames and "乡镇（街道）" in book.sheetnames
    towns = book["乡镇（街道）"]
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


def test_rows_without_packed_answers_load_from_their_json(two_waves):
    """The loader reads the packed answers (analysis.packing); a row a writer left unpacked is packed from its
    JSON on the way, to the same frame; one whose JSON holds a code that is no option is refused by name."""
    from pandas.testing import assert_frame_equal
    from sqlalchemy import update

    from survey.results import load_wave_data

    wave = db.session.scalar(select(Wave).where(Wave.slug == "2026Q3-city"))
    packed = load_wave_data(wave).responses
    assert isinstance(packed["safety"].dtype, __import__("pandas").CategoricalDtype)
    db.session.execute(update(Response).where(Response.wave_id == wave.id).values(answer_codes=None, answer_texts=None))
    db.session.commit()
    assert_frame_equal(load_wave_data(wave).responses, packed)
    one = db.session.scalars(select(Response).where(Response.wave_id == wave.id).order_by(Response.id).limit(1)).one()
    one.answers = {**one.answers, "safety": "Z"}  # as no writer stores it: answer_columns would not pack it either
    db.session.commit()
    result = two_waves.invoke(args=["analysis", "run", "--wave", "2026Q3-city"])
    assert result.exit_code != 0 and "“safety” 的答案代码不在选项中:Z" in result.output


def test_review_status_and_mode_load_as_codes(two_waves):
    """The loader reads the review status and the mode as small ints (survey.results.STATUS_CODES,
    RESPONSE_MODES): flagged and accepted sheets are flagged, clean ones not, rejected ones are left out
    and counted; every mode comes back by name."""
    from sqlalchemy import update

    from survey.results import load_wave_data

    wave = db.session.scalar(select(Wave).where(Wave.slug == "2026Q3-city"))
    ids = db.session.scalars(select(Response.id).where(Response.wave_id == wave.id).order_by(Response.id)).all()
    setting = {ids[0]: ("flagged", "qr"), ids[1]: ("accepted", "door"), ids[2]: ("rejected", "phone"),
               ids[3]: ("clean", "paper"), ids[4]: ("clean", "qr")}
    for rid, (status, mode) in setting.items():
        db.session.execute(update(Response).where(Response.id == rid).values(review_status=status, mode=mode))
    db.session.commit()
    stored = dict(db.session.execute(select(Response.response_key, Response.review_status)
                                     .where(Response.wave_id == wave.id)).all())
    data = load_wave_data(wave)
    frame = data.responses.set_index("response_id")
    assert data.n_rejected == sum(s == "rejected" for s in stored.values())
    assert sorted(frame.index) == sorted(k for k, s in stored.items() if s != "rejected")
    assert frame["flagged"].dtype == bool
    assert frame["flagged"].to_dict() == {k: s in ("flagged", "accepted") for k, s in stored.items() if s != "rejected"}
    keys = dict(db.session.execute(select(Response.id, Response.response_key).where(Response.id.in_(ids[:5]))).all())
    modes = {keys[rid]: mode for rid, (status, mode) in setting.items() if status != "rejected"}
    loaded = {k: v for k, v in frame["mode"].astype(object).items() if k in modes}
    assert loaded == modes
