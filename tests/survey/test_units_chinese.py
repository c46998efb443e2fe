"""The units import in a clerk's words (issue 14): Chinese headers 代码,名称,类型,上级代码 and Chinese
kinds 市, 县, 乡镇, 村, 网格, 部门, and the template the console offers (docs/formats.md)."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from extensions import db
from models import Unit
from survey.units import KIND_ALIASES, units_template_csv
from tests.admin.console import PASSWORD, invoke, isolated, sign_in, text, token
from tests.survey.helpers import count, write

CHINESE = """代码,名称,类型,上级代码
619900,安澜市,市,
619901,临江区,县,619900
619901001,江滨街道,乡镇,619901
619901001001,滨江社区,村,619901001
619901001001G1,滨江社区一网格,网格,619901001001
619900501,市公安局,部门,619900
"""


def test_chinese_headers_and_kinds_import_as_the_english_ones(runner, tmp_path):
    result = runner.invoke(args=["units", "import", write(tmp_path, "units.csv", CHINESE)])
    assert result.exit_code == 0, result.output
    kinds = dict(db.session.execute(select(Unit.code, Unit.kind)).all())
    assert kinds == {"619900": "city", "619901": "county", "619901001": "town", "619901001001": "village",
                     "619901001001G1": "grid", "619900501": "department"}
    assert db.session.scalar(select(Unit).where(Unit.code == "619901001")).parent.code == "619901"


@pytest.mark.parametrize("line,word,kind", [("619901,临江区,县,", "区", "county"), ("619901001,江滨街道,乡镇,", "街道", "town"),
                                            ("619901001001,滨江社区,村,", "社区", "village"), ("619901,临江区,县,", "县（区）", "county")])
def test_other_chinese_kind_words(runner, tmp_path, line, word, kind):
    code, name, _, _ = line.split(",")
    body = CHINESE.replace(line, f"{code},{name},{word},")
    result = runner.invoke(args=["units", "import", write(tmp_path, "units.csv", body)])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(Unit.kind).where(Unit.code == code)) == kind == KIND_ALIASES[word]


def test_a_bad_chinese_kind_is_named_by_line_and_column(runner, tmp_path):
    result = runner.invoke(args=["units", "import", write(tmp_path, "units.csv", CHINESE.replace("滨江社区,村,", "滨江社区,小区,"))])
    assert result.exit_code == 1
    assert "units.csv:5:3:" in result.output and "类型 “小区” 无效" in result.output and "市、县、乡镇、村、网格、部门" in result.output
    assert count(Unit) == 0


def test_a_missing_column_names_the_chinese_header_too(runner, tmp_path):
    result = runner.invoke(args=["units", "import", write(tmp_path, "units.csv", CHINESE.replace("代码,名称,类型,上级代码", "代码,名称,类型"))])
    assert result.exit_code == 1 and "缺少必需的列 “parent_code”" in result.output and "代码,名称,类型,上级代码" in result.output


def test_the_template_imports_as_it_is(runner, tmp_path):
    data = units_template_csv()
    assert data.startswith("\ufeff代码,名称,类型,上级代码".encode())
    path = tmp_path / "units-template.csv"
    path.write_bytes(data)
    result = runner.invoke(args=["units", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert count(Unit) == 6 and {u.kind for u in db.session.scalars(select(Unit))} == {"city", "county", "town", "village", "grid", "department"}
    # plainly examples: made-up names and codes, never a unit of the world (市公安局, 示例市's own codes…)
    assert all(u.name.startswith("样例") and u.code.startswith("99") for u in db.session.scalars(select(Unit)))


def test_the_console_offers_the_template_and_takes_it_back(app, runner):
    invoke(runner, "user", "create", "admin", "--role", "admin", "--password", PASSWORD)
    admin = isolated(app).test_client()
    sign_in(admin, "admin")
    page = admin.get("/admin/units/import")
    assert "下载单位表模板" in text(page) and "/admin/units/template.csv" in page.get_data(as_text=True)
    download = admin.get("/admin/units/template.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert "attachment" in download.headers["Content-Disposition"]
    response = admin.post("/admin/units/import", data={"csrf_token": token(admin), "units": (io.BytesIO(download.data), "模板.csv")},
                          content_type="multipart/form-data")
    assert response.status_code == 302, text(response)
    assert count(Unit) == 6


def test_an_analyst_gets_no_template(app, runner):
    invoke(runner, "user", "create", "reader", "--role", "analyst", "--password", PASSWORD)
    reader = isolated(app).test_client()
    sign_in(reader, "reader")
    assert reader.get("/admin/units/template.csv").status_code == 403
