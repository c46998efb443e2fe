import pytest
from sqlalchemy import select

from extensions import db
from models import AuditEntry, PopulationMargin, Unit
from tests.conftest import DATA
from tests.survey.helpers import count, write

UNITS = (DATA / "units.csv").read_text(encoding="utf-8")
POPULATION = (DATA / "population.csv").read_text(encoding="utf-8")


def import_units(runner, units, population=None):
    args = ["units", "import", units] + (["--population", population] if population else [])
    return runner.invoke(args=args)


def test_imports_units_and_margins(runner):
    result = import_units(runner, str(DATA / "units.csv"), str(DATA / "population.csv"))
    assert result.exit_code == 0, result.output
    assert "新增 13" in result.output
    town = db.session.scalar(select(Unit).where(Unit.code == "619901001"))
    assert (town.name, town.kind, town.parent.code, town.depth) == ("江滨街道", "town", "619901", 2)
    assert town.path == "/619900/619901/619901001/"
    assert {(m.dimension, m.category, m.count) for m in town.margins} >= {("sex", "M", 5200), ("age_group", "60+", 2300)}
    assert count(PopulationMargin) == 18
    city = db.session.scalar(select(Unit).where(Unit.code == "619900"))
    assert len(city.subtree()) == 13
    assert {u.code for u in city.children} == {"619901", "619902", "619900501", "619900502"}


def test_bom_is_accepted(runner, tmp_path):
    path = write(tmp_path, "units.csv", "\ufeff" + UNITS)
    assert import_units(runner, path).exit_code == 0
    assert count(Unit) == 13


def test_reimport_changes_nothing_and_a_new_name_updates(runner, tmp_path):
    assert import_units(runner, str(DATA / "units.csv"), str(DATA / "population.csv")).exit_code == 0
    audits = count(AuditEntry)
    again = import_units(runner, str(DATA / "units.csv"), str(DATA / "population.csv"))
    assert again.exit_code == 0
    assert "新增 0，更新 0，未变 13" in again.output
    assert count(AuditEntry) == audits  # nothing changed, nothing audited
    renamed = write(tmp_path, "units.csv", UNITS.replace("望湖镇", "望湖街道"))
    result = import_units(runner, renamed)
    assert "更新 1" in result.output
    assert db.session.scalar(select(Unit.name).where(Unit.code == "619901002")) == "望湖街道"
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "unit.update")).one()
    assert entry.before["name"] == "望湖镇" and entry.after["name"] == "望湖街道"


def test_moving_a_unit_moves_its_subtree(runner, tmp_path):
    assert import_units(runner, str(DATA / "units.csv")).exit_code == 0
    moved = write(tmp_path, "move.csv", "code,name,kind,parent_code\n619901001,江滨街道,town,619902\n")
    assert import_units(runner, moved).exit_code == 0
    village = db.session.scalar(select(Unit).where(Unit.code == "619901001002"))
    assert village.path == "/619900/619902/619901001/619901001002/"


@pytest.mark.parametrize(
    "text, where, words",
    [
        (UNITS.replace("619902001,石桥镇,town,619902", "619902001,石桥镇,town,619909"), ":7:4:", "上级单位 “619909” 不存在"),
        (UNITS.replace("619902002,青石乡,town", "619902002,青石乡,township"), ":8:3:", "类型 “township” 无效"),
        (UNITS + "619901002,望湖镇二,town,619901\n", ":15:1:", "与第 6 行重复"),
        (UNITS.replace("code,name,kind,parent_code", "code,name,type,parent_code"), ":1:3:", "未知的列 “type”"),
        (UNITS.replace("619901001001,江滨社区,village,619901001", "619901001001,江滨社区,village"), ":9:", "这一行有 3 列"),
        (UNITS.replace("619901,临江区,county,619900", "619901,临江区,county,619901001"), ":3:4:", "不能隶属于"),
        (UNITS.replace("619900501,市公安局,department,619900", "619900501,市公安局,department,619901001"), ":12:4:", "部门的上级"),
        (UNITS.replace("619901002,望湖镇,town,619901", "619901002,,town,619901"), ":6:2:", "名称不能为空"),
        (UNITS.replace("619902,石桥县", "6199 02,石桥县"), ":4:1:", "单位代码 “6199 02” 无效"),
        ("", ":1", "文件是空的"),
    ],
)
def test_rejects_bad_units_and_stores_nothing(runner, tmp_path, text, where, words):
    result = import_units(runner, write(tmp_path, "units.csv", text))
    assert result.exit_code != 0
    assert f"units.csv{where}" in result.output and words in result.output, result.output
    assert "Traceback" not in result.output
    assert count(Unit) == 0 and count(AuditEntry) == 0


def test_rejects_a_file_that_is_not_utf8(runner, tmp_path):
    result = import_units(runner, write(tmp_path, "units.csv", UNITS, encoding="gbk"))
    assert result.exit_code != 0
    assert "units.csv:2:" in result.output and "不是 UTF-8" in result.output
    assert count(Unit) == 0


def test_rejects_a_spreadsheet_saved_as_csv(runner, tmp_path):
    path = tmp_path / "units.csv"
    path.write_bytes(b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 40)
    result = import_units(runner, str(path))
    assert result.exit_code != 0 and "不是 CSV 文本文件" in result.output
    assert count(Unit) == 0


@pytest.mark.parametrize(
    "text, where, words",
    [
        (POPULATION.replace("619901002,sex,F,3900", "619901002,sex,F,3901"), ":10:4:", "合计 8000 人,与维度 sex 合计 8001 人不一致"),
        (POPULATION.replace("619902001,sex,M,7000", "619902099,sex,M,7000"), ":14:1:", "单位代码 “619902099” 不存在"),
        (POPULATION.replace("619901001,sex,M,5200", "619901001,sex,M,-5"), ":2:4:", "应为非负整数"),
        (POPULATION.replace("619901001,sex,M,5200", "619901001,sex,M,5200.5"), ":2:4:", "应为非负整数"),
        (POPULATION + "619901001,sex,M,1\n", ":20:3:", "与第 2 行重复"),
    ],
)
def test_rejects_bad_population_and_stores_nothing(runner, tmp_path, text, where, words):
    result = import_units(runner, str(DATA / "units.csv"), write(tmp_path, "population.csv", text))
    assert result.exit_code != 0
    assert f"population.csv{where}" in result.output and words in result.output, result.output
    assert count(Unit) == 0 and count(PopulationMargin) == 0


def test_population_replaces_only_the_units_it_names(runner, tmp_path):
    assert import_units(runner, str(DATA / "units.csv"), str(DATA / "population.csv")).exit_code == 0
    one = write(tmp_path, "pop.csv", "unit_code,dimension,category,count\n619901002,sex,M,10\n619901002,sex,F,20\n")
    assert import_units(runner, str(DATA / "units.csv"), one).exit_code == 0
    town = db.session.scalar(select(Unit).where(Unit.code == "619901002"))
    assert sorted((m.category, m.count) for m in town.margins) == [("F", 20), ("M", 10)]
    assert count(PopulationMargin) == 14


@pytest.mark.parametrize(
    "old, new, where, words",
    [
        ("619901001,sex,M,5200", "619901001,sex,M,2147483648", ":2:4:", "超出范围"),
        ("619901001,sex,M,5200", "619901001,sex,M," + "9" * 5000, ":2:4:", "超出范围"),
        ("619901001,sex,M,5200", "619901001,sex," + "M" * 33 + ",5200", ":2:3:", "不能超过 32 个字符"),
    ],
)
def test_rejects_population_values_no_column_can_hold(runner, tmp_path, old, new, where, words):
    """Refused with the line and column, on SQLite (which would store them) as on PostgreSQL."""
    population = write(tmp_path, "population.csv", POPULATION.replace(old, new))
    result = import_units(runner, str(DATA / "units.csv"), population)
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert f"population.csv{where}" in result.output and words in result.output, result.output
    assert count(Unit) == 0 and count(PopulationMargin) == 0


def test_a_population_file_of_20000_cells(runner, tmp_path):
    """Read row by row (survey.csvfiles.CsvRows): 100 dimensions of 200 categories for one town."""
    lines = ["unit_code,dimension,category,count"]
    for d in range(100):
        lines += [f"619901001,dim{d},c{c},{c + 1}" for c in range(200)]
    result = import_units(runner, str(DATA / "units.csv"), write(tmp_path, "population.csv", "\n".join(lines) + "\n"))
    assert result.exit_code == 0, result.output
    assert count(PopulationMargin) == 20_000
