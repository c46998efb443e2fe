import pytest
from sqlalchemy import select

from extensions import db
from models import Item, Questionnaire, QuestionnaireVersion
from tests.conftest import DATA
from tests.survey.helpers import count, setup_wave, write

YAML = (DATA / "questionnaire.yaml").read_text(encoding="utf-8")


def load(runner, path):
    return runner.invoke(args=["questionnaire", "load", path])


def test_loads_items_options_and_indicators(runner):
    result = load(runner, str(DATA / "questionnaire.yaml"))
    assert result.exit_code == 0, result.output
    version = db.session.scalars(select(QuestionnaireVersion)).one()
    spec = version.to_spec()
    assert [it.key for it in spec.items][:3] == ["safety", "night_safety", "sat_police"]
    assert spec.item("safety").scores == {"A": 100, "B": 80, "C": 60, "D": 30, "E": 0}
    assert spec.item("safety").option("X").score is None
    assert spec.item("sat_justice").options == spec.item("sat_police").options  # YAML anchors resolve
    assert spec.dimensions.keys() == {"sex", "age_group"}
    assert spec.composite_weights == pytest.approx({"safety": 0.6, "satisfaction": 0.4})
    assert spec.item("comment").max_length == 300 and not spec.item("comment").required
    assert spec.ranking.bottom_n == 3 and spec.ranking.min_n == 30
    assert [g.label for g in spec.grades] == ["优秀", "良好", "合格", "不合格"]


def test_loading_the_same_file_twice_changes_nothing(runner):
    assert load(runner, str(DATA / "questionnaire.yaml")).exit_code == 0
    again = load(runner, str(DATA / "questionnaire.yaml"))
    assert again.exit_code == 0 and "无变化" in again.output
    assert count(QuestionnaireVersion) == 1


def test_an_unused_version_can_be_replaced_but_a_used_one_cannot(runner, tmp_path):
    setup_wave(runner, open_it=False)
    changed = write(tmp_path, "q.yaml", YAML.replace("您的性别", "您的性别是"))
    result = load(runner, changed)
    assert result.exit_code != 0 and "已被调查使用" in result.output and "version 改为" in result.output
    assert db.session.scalar(select(Item.text).where(Item.key == "sex")) == "您的性别"
    bumped = write(tmp_path, "q2.yaml", YAML.replace("version: 1", "version: 2").replace("您的性别", "您的性别是"))
    assert load(runner, bumped).exit_code == 0
    questionnaire = db.session.scalars(select(Questionnaire)).one()
    assert [v.version for v in questionnaire.versions] == [1, 2]


def test_replacing_an_unused_version(runner, tmp_path):
    assert load(runner, str(DATA / "questionnaire.yaml")).exit_code == 0
    result = load(runner, write(tmp_path, "q.yaml", YAML.replace("您的性别", "您的性别是")))
    assert result.exit_code == 0 and "已更新" in result.output
    assert db.session.scalar(select(Item.text).where(Item.key == "sex")) == "您的性别是"
    assert count(QuestionnaireVersion) == 1


@pytest.mark.parametrize(
    "old, new, where, words",
    [
        ("{code: B, label: 比较安全, score: 80}\n      - {code: C, label: 基本安全", "{code: A, label: 比较安全, score: 80}\n      - {code: C, label: 基本安全", "q.yaml:10:", "选项代码 “A” 在本题中重复"),
        ("items: [safety, night_safety]", "items: [safety, nite_safety]", "q.yaml:68:", "题目 “nite_safety” 不在问卷中"),
        ("{code: E, label: 不安全, score: 0}", "{code: E, label: 不安全, score: -1}", "q.yaml:13:", "分值应在 [0, 100] 之内"),
        ("share_of: {item: safety, options: [A, B, C]}", "share_of: {item: safety, options: [A, B, X]}", "q.yaml:70:", "不计分"),
        ("version: 1", "version: one", "q.yaml:4:", "版本号"),
        ("- {min: 0, label: 不合格, color: red}", "- {min: 0, label: 不合格, color: purple}", "q.yaml:76:", "颜色应为"),
        ("slug: safety", "slug: safety\nslug: again", "q.yaml:3:1", "键 “slug” 重复"),
        ("    text: 您的性别", "    text: [您的性别", "q.yaml:", "YAML 语法错误"),
        ("  - key: comment", "  - key: psu", "q.yaml:63:", "保留字段名"),
        ("slug: safety", "? [1, 2]\n: x\nslug: safety", "q.yaml:2:3", "键必须是简单的文字"),
        ("slug: safety", "slug: safety\x00", "q.yaml:2:13", "YAML 不允许的字符 (U+0000)"),
        ("{code: E, label: 不安全, score: 0}", "{code: E, label: 不安全, score: .nan}", "q.yaml:13:", "有限的数字"),
        ("version: 1", "version: 99999999999", "q.yaml:4:", "2147483647"),
    ],
)
def test_rejects_bad_questionnaires_with_line_numbers(runner, tmp_path, old, new, where, words):
    assert old in YAML
    result = load(runner, write(tmp_path, "q.yaml", YAML.replace(old, new, 1)))
    assert result.exit_code != 0
    assert where in result.output and words in result.output, result.output
    assert count(Questionnaire) == 0
