"""The console's questionnaire editor: edit a text, add an option, reorder; saved as the next version."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import select

from extensions import db
from models import AuditEntry, QuestionnaireVersion
from survey.questionnaires import latest_version
from tests.admin.console import PASSWORD, isolated, post, sign_in, text
from tests.conftest import DATA


@pytest.fixture
def console(make_app):
    app = isolated(make_app())
    with app.app_context():
        runner = app.test_cli_runner()
        for args in (
            ["questionnaire", "load", str(DATA / "questionnaire_features.yaml")],
            ["user", "create", "admin", "--role", "admin", "--password", PASSWORD],
            ["user", "create", "analyst", "--role", "analyst", "--password", PASSWORD],
        ):
            result = runner.invoke(args=args)
            assert result.exit_code == 0, result.output
        client = app.test_client()
        sign_in(client, "admin")
        yield app, client
        db.session.remove()
        db.engine.dispose()


URL = "/admin/questionnaires/features/1/edit"


def test_edit_a_text_add_an_option_and_reorder_make_version_2(console):
    _app, client = console
    page = client.get(URL)
    assert page.status_code == 200 and 'name="text_1"' in page.get_data(as_text=True)
    assert "编辑文字、选项和顺序" in client.get("/admin/questionnaires/features/1").get_data(as_text=True)
    response = post(client, URL, {
        "title": "公众安全感调查（第二版）",
        "text_1": "您觉得本乡镇（街道）的治安怎么样?",
        "text_en_1": "How safe is it here?",
        "label_en_2_3": "Something else",  # concerns: 其他
        "new_code_2": "drugs", "new_label_2": "涉毒问题", "new_label_en_2": "Drugs",
        "order_3": "0.5",  # sat_police first
        **{f"order_{i}": str(i + 1) for i in (0, 1, 2, 4, 5, 6, 7)},
    })
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/questionnaires/features/2")
    assert "已保存为第 2 版" in text(client.get(response.headers["Location"]))
    spec = latest_version("features").to_spec()
    assert spec.version == 2 and spec.title == "公众安全感调查（第二版）" and spec.title_en == "Public Safety Survey (feature test)"
    assert [it.key for it in spec.items][:4] == ["sat_police", "resident", "safety", "concerns"]
    assert spec.item("safety").text == "您觉得本乡镇（街道）的治安怎么样?" and spec.item("safety").text_en == "How safe is it here?"
    concerns = spec.item("concerns")
    assert [o.code for o in concerns.options] == ["theft", "fraud", "fights", "other", "drugs"]
    assert concerns.option("other").label_en == "Something else" and concerns.option("drugs").label == "涉毒问题"
    assert concerns.multiple == 2 and concerns.show_if.codes == ("D", "E")  # the rules are kept
    # Version 1 unchanged; the source is YAML that loads to the same questionnaire; the change audited.
    v1 = db.session.scalar(select(QuestionnaireVersion).where(QuestionnaireVersion.version == 1))
    assert v1.to_spec().item("safety").text == "您觉得您所在的乡镇(街道)社会治安状况如何?"
    assert yaml.safe_load(latest_version("features").source)["items"][0]["key"] == "sat_police"
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.entity_id == "features@2")) is not None
    # The resident's page of the new version, in the preview: the new option in English.
    preview = client.get("/admin/questionnaires/features/2/preview?lang=en").get_data(as_text=True)
    assert "<span>Drugs</span>" in preview and "How safe is it here?" in preview


def test_a_change_that_breaks_the_questionnaire_is_refused_with_its_item_and_nothing_is_stored(console):
    _app, client = console
    # concerns asked on `safety`: moving it before `safety` breaks its show_if.
    moved = post(client, URL, {"order_2": "1.5", **{f"order_{i}": str(i + 1) for i in (0, 1, 3, 4, 5, 6, 7)}})
    body = text(moved)
    assert moved.status_code == 422 and "第 2 题(concerns)" in body and "须是本题之前的题目" in body
    duplicate = post(client, URL, {"new_code_1": "A", "new_label_1": "很安全"})
    assert duplicate.status_code == 422 and "第 2 题(safety)" in text(duplicate)
    assert 'value="很安全"' in duplicate.get_data(as_text=True)  # what was typed is kept
    half = post(client, URL, {"new_code_1": "Z"})
    assert half.status_code == 422 and "同时填写代码和文字" in text(half)
    free_text = post(client, URL, {"new_code_7": "Z", "new_label_7": "x"})
    assert free_text.status_code == 422 and "文字题" in text(free_text)
    bad_order = post(client, URL, {"order_0": "first"})
    assert bad_order.status_code == 422 and "不是数字" in text(bad_order)
    assert latest_version("features").version == 1


def test_only_questionnaire_managers_edit(console):
    app, _ = console
    analyst = app.test_client()
    sign_in(analyst, "analyst")
    assert analyst.get(URL).status_code == 403
    assert "编辑文字、选项和顺序" not in analyst.get("/admin/questionnaires/features/1").get_data(as_text=True)
    assert post(analyst, URL, {"title": "x"}).status_code == 403
    assert latest_version("features").version == 1
