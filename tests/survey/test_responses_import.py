from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from extensions import db
from models import Response
from tests.conftest import DATA
from tests.survey.helpers import count, setup_wave, write
from tests.survey.packed import assert_packed

CSV = (DATA / "responses.csv").read_text(encoding="utf-8")


def import_responses(runner, path, wave="2026Q3-city"):
    return runner.invoke(args=["responses", "import", "--wave", wave, path])


def test_imports_responses(runner):
    setup_wave(runner)
    result = import_responses(runner, str(DATA / "responses.csv"))
    assert result.exit_code == 0, result.output
    assert "导入 6 份答卷" in result.output
    rows = {r.response_key: r for r in db.session.scalars(select(Response))}
    assert rows["r001"].answers["safety"] == "A" and rows["r001"].psu == "G01" and rows["r001"].mode == "door"
    assert rows["r003"].answers["comment"] == '希望多巡逻,"电诈"宣传要加强\n尤其是老年人'
    assert rows["r004"].psu is None and "sat_prevention" not in rows["r004"].answers  # blank = not answered
    assert rows["r004"].submitted_at == datetime(2026, 8, 5, 2, tzinfo=UTC)  # 10:00+08:00, read back as aware UTC
    assert rows["r001"].submitted_at == datetime(2026, 8, 3, 1, 15, tzinfo=UTC)  # a naive time is Beijing time
    assert rows["r005"].unit.code == "619900501" and rows["r005"].answers.keys() == {"safety", "night_safety", "sat_police", "sat_justice"}
    assert rows["r006"].mode == "paper" and rows["r006"].unit.code == "619902002"
    assert all(r.review_status == "clean" for r in rows.values())
    assert assert_packed() == 6


def test_imports_without_optional_columns(runner, tmp_path):
    setup_wave(runner)
    path = write(tmp_path, "r.csv", "response_id,unit_code,psu,submitted_at,safety\nx1,619901002,,,B\n")
    assert import_responses(runner, path).exit_code == 0
    r = db.session.scalars(select(Response)).one()
    assert r.answers == {"safety": "B"} and r.submitted_at is None and r.mode == "paper"


@pytest.mark.parametrize(
    "old, new, where, words",
    [
        ("r004,619902001001", "r004,619902001999", ":6:2:", "单位代码 “619902001999” 不存在"),
        ("r001,619901001001,G01,2026-08-03 09:15,A", "r001,619901001001,G01,2026-08-03 09:15,Z", ":2:5:", "“Z” 不是题目 safety 的选项代码"),
        ("r006,619902002,T1,2026/08/07 14:00,D,E,D,C,C,D,Y,F,60+", "r006,619902002,T1,2026/08/07 14:00,D,E,D,C,C,D,Y,F,61+", ":8:13:", "不是题目 age_group"),
        ("r005,", "r001,", ":7:1:", "与第 2 行重复"),
        ("2026-08-04,", "2026-13-04,", ":4:4:", "无法识别"),
        (",qr\nr004", ",web\nr004", ":4:15:", "方式 “web” 无效"),
        ("victim,sex", "victim,gender", ":1:12:", "列 “gender” 不是问卷"),
        ("r002,619901001001,G01", "r 2,619901001001,G01", ":3:1:", "response_id"),
    ],
)
def test_rejects_bad_rows_and_stores_nothing(runner, tmp_path, old, new, where, words):
    setup_wave(runner)
    assert old in CSV
    result = import_responses(runner, write(tmp_path, "responses.csv", CSV.replace(old, new, 1)))
    assert result.exit_code != 0
    assert f"responses.csv{where}" in result.output and words in result.output, result.output
    assert "Traceback" not in result.output
    assert count(Response) == 0


def test_rejects_units_outside_the_scope(runner, tmp_path):
    setup_wave(runner, slug="jiangbin", scope="619901001")  # one town's wave
    path = write(tmp_path, "r.csv", "response_id,unit_code,psu,submitted_at,safety\na,619901001001,,,A\nb,619902001,,,B\n")
    result = import_responses(runner, path, wave="jiangbin")
    assert result.exit_code != 0
    assert "r.csv:3:2:" in result.output and "不在本次调查的范围" in result.output
    assert count(Response) == 0


def test_rejects_response_ids_already_imported(runner):
    setup_wave(runner)
    assert import_responses(runner, str(DATA / "responses.csv")).exit_code == 0
    again = import_responses(runner, str(DATA / "responses.csv"))
    assert again.exit_code != 0 and "已经导入过" in again.output
    assert count(Response) == 6


def test_rejects_non_utf8_and_unknown_waves(runner, tmp_path):
    setup_wave(runner)
    bad = import_responses(runner, write(tmp_path, "r.csv", CSV, encoding="gb18030"))
    assert bad.exit_code != 0 and "不是 UTF-8" in bad.output
    unknown = import_responses(runner, str(DATA / "responses.csv"), wave="nope")
    assert unknown.exit_code != 0 and "调查 “nope” 不存在" in unknown.output
    assert count(Response) == 0
