"""Questionnaire features (docs/formats.md): multiple, show_if, screen_out, English text; parsed, checked, stored."""

import pytest
import yaml
from sqlalchemy import select

from analysis.spec import ShowIf, SpecError, parse_questionnaire
from extensions import db
from models import QuestionnaireVersion
from tests.conftest import DATA
from tests.survey.helpers import write

YAML = (DATA / "questionnaire.yaml").read_text(encoding="utf-8")

EXTRA = """
  - key: concerns
    text: 您认为当地最突出的治安问题是什么?(最多选三项)
    text_en: What are the most serious public-order problems here? (up to three)
    multiple: {max: 3}
    show_if: {item: safety, in: [D, E]}
    options:
      - {code: theft, label: 盗窃, label_en: Theft}
      - {code: fraud, label: 电信网络诈骗, label_en: Phone and online fraud}
      - {code: fights, label: 打架斗殴}
      - {code: other, label: 其他, label_en: Other}
  - key: resident
    text: 您在本地居住满一年了吗?
    required: false
    screen_out: [N]
    options: [{code: Y, label: 是}, {code: N, label: 否}]
"""


def spec_data(extra: str = EXTRA) -> dict:
    data = yaml.safe_load(YAML)
    data["title_en"] = "Public safety survey"
    data["items"] += yaml.safe_load(extra)
    return data


def test_new_fields_parse_and_round_trip():
    spec = parse_questionnaire(spec_data())
    concerns = spec.item("concerns")
    assert concerns.multiple == 3 and concerns.is_multiple and not concerns.is_scored
    assert concerns.show_if == ShowIf("safety", ("D", "E"))
    assert concerns.text_en.startswith("What are") and concerns.option("fraud").label_en == "Phone and online fraud"
    assert concerns.option("fights").label_en is None
    assert concerns.applies({"safety": "D"}) and not concerns.applies({"safety": "A"}) and not concerns.applies({})
    resident = spec.item("resident")
    assert resident.screen_out == ("N",) and resident.screens_out("N") and not resident.screens_out("Y")
    assert not resident.required and resident.is_single_choice
    assert spec.title_en == "Public safety survey"
    assert parse_questionnaire(spec.to_dict()) == spec
    assert spec.item("safety").applies({}) and spec.item("safety").multiple is None


@pytest.mark.parametrize(
    "extra, path, words",
    [
        ("- {key: m, text: t, multiple: {max: 3}, options: [{code: a, label: A}, {code: b, label: B}]}",
         ("items", -1, "multiple", "max"), "不能超过选项数"),
        ("- {key: m, text: t, multiple: {max: 0}, options: [{code: a, label: A}]}", ("items", -1, "multiple", "max"), "整数"),
        ("- {key: m, text: t, multiple: {max: 1}}", ("items", -1, "multiple"), "必须有选项"),
        ("- {key: m, text: t, multiple: {max: 1}, options: [{code: a, label: A, score: 1}]}",
         ("items", -1, "options", 0, "score"), "不计分"),
        ("- {key: m, text: t, show_if: {item: nothere, in: [A]}, options: [{code: a, label: A}]}",
         ("items", -1, "show_if", "item"), "之前的题目"),
        ("- {key: m, text: t, show_if: {item: safety, in: [Q]}, options: [{code: a, label: A}]}",
         ("items", -1, "show_if", "in", 0), "不在题目"),
        ("- {key: m, text: t, show_if: {item: comment, in: [A]}}", ("items", -1, "show_if", "item"), "单选题"),
        ("- {key: m, text: t, show_if: {item: safety}}", ("items", -1, "show_if"), "in"),
        ("- {key: m, text: t, screen_out: [z], options: [{code: a, label: A}]}", ("items", -1, "screen_out", 0), "不在题目"),
        ("- {key: m, text: t, multiple: {max: 1}, screen_out: [a], options: [{code: a, label: A}]}",
         ("items", -1, "screen_out"), "单选题"),
        ("- {key: m, text: t, text_en: '', options: [{code: a, label: A}]}", ("items", -1, "text_en"), "非空"),
    ],
)
def test_bad_features_name_their_path(extra, path, words):
    data = spec_data(extra)
    with pytest.raises(SpecError) as e:
        parse_questionnaire(data)
    expected = tuple(len(data["items"]) - 1 if p == -1 else p for p in path)
    assert e.value.path == expected and words in e.value.message


def test_show_if_must_point_backwards():
    data = spec_data()
    data["items"].insert(0, data["items"].pop(-2))  # concerns before safety
    with pytest.raises(SpecError) as e:
        parse_questionnaire(data)
    assert e.value.path == ("items", 0, "show_if", "item")


def test_a_multiple_item_cannot_feed_an_indicator():
    data = spec_data()
    data["indicators"].append({"key": "c", "label": "c", "share_of": {"item": "concerns", "options": ["theft"]}})
    with pytest.raises(SpecError) as e:
        parse_questionnaire(data)
    assert e.value.path == ("indicators", len(data["indicators"]) - 1, "share_of", "item") and "多选题" in e.value.message


def test_loader_stores_the_new_fields_and_reports_line_and_column(runner, tmp_path):
    text = YAML.replace("title: ", "title_en: Public safety survey\ntitle: ", 1) + ""
    text = text.replace("\nindicators:", EXTRA.replace("\n  - ", "\n  - ", 1) + "\nindicators:", 1)
    path = write(tmp_path, "q.yaml", text)
    result = runner.invoke(args=["questionnaire", "load", path])
    assert result.exit_code == 0, result.output
    spec = db.session.scalars(select(QuestionnaireVersion)).one().to_spec()
    assert spec == parse_questionnaire(yaml.safe_load(text))
    assert spec.item("concerns").show_if == ShowIf("safety", ("D", "E")) and spec.item("resident").screen_out == ("N",)
    assert runner.invoke(args=["questionnaire", "load", path]).exit_code == 0  # unchanged, compares equal

    bad = write(tmp_path, "bad.yaml", text.replace("show_if: {item: safety, in: [D, E]}", "show_if: {item: safety, in: [D, Q]}"))
    result = runner.invoke(args=["questionnaire", "load", bad])
    assert result.exit_code != 0
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "show_if: {item: safety" in l)
    assert f"bad.yaml:{line}:" in result.output and "Q" in result.output
