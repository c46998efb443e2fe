"""Hostile import files (issue 11, "Hostile files"): alias bombs, merge keys and odd tags, a GBK
questionnaire, overlong texts and terminal control characters: each refused with file, line and
column, on the CLI (`错误: file:line:col: …`) and in the console, with nothing stored."""

from __future__ import annotations

import io
import time
import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import func, select

from extensions import db
from models import Questionnaire, Unit
from tests.admin.console import PASSWORD, invoke, isolated, sign_in, text, token
from tests.conftest import DATA

QUESTIONNAIRE = (DATA / "questionnaire.yaml").read_text(encoding="utf-8")

# ~400 bytes; fully expanded, 10^9 nodes (10^7 at the seventh level).
LAUGHS = "\n".join(
    ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [f"{b}: &{b} [*{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}]" for a, b in zip("abcdefgh", "bcdefghi")]
) + "\n"


def load(runner, tmp_path: Path, content: str | bytes, name: str = "q.yaml"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return runner.invoke(args=["questionnaire", "load", str(path)])


def stored() -> int:
    return db.session.scalar(select(func.count()).select_from(Questionnaire))


def test_a_billion_laughs_is_refused_at_once_in_little_memory(app, runner, tmp_path):
    assert len(LAUGHS) < 500
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = load(runner, tmp_path, LAUGHS, "lol.yaml")
        seconds = time.perf_counter() - started
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.exit_code != 0
    assert result.output.startswith("错误: lol.yaml:5:") and "别名" in result.output, result.output
    assert seconds < 3, seconds
    assert peak < 100 * 1024 * 1024, peak
    assert stored() == 0


def test_a_self_referencing_alias_is_refused(app, runner, tmp_path):
    result = load(runner, tmp_path, "slug: &x [1, *x]\n")
    assert result.exit_code != 0 and "错误: q.yaml:1:" in result.output and "自身" in result.output


@pytest.mark.parametrize(
    "snippet, where, words",
    [
        ("defaults: &d {required: true}\nextra:\n  <<: *d\n", "3:3", "合并键"),
        ("extra: !foo bar\n", "1:8", "标签"),
        ("extra: !!int abc\n", "1:8", "!!int"),
        ("extra: !!timestamp x\n", "1:8", "!!timestamp"),
        ("extra: !!binary aGk=\n", "1:8", "标签"),
        ("extra: !!python/object:os.system {}\n", "1:8", "标签"),
        ("extra: !!set {a, b}\n", "1:8", "标签"),
    ],
)
def test_merge_keys_and_odd_tags_are_refused_with_line_and_column(app, runner, tmp_path, snippet, where, words):
    result = load(runner, tmp_path, snippet + QUESTIONNAIRE)
    assert result.exit_code != 0
    assert result.output.startswith(f"错误: q.yaml:{where}: ") and words in result.output, result.output
    assert "Traceback" not in result.output and stored() == 0


def test_shared_option_lists_still_load(app, runner, tmp_path):
    """The demo questionnaire's `options: *satisfaction` is within the budget."""
    result = load(runner, tmp_path, QUESTIONNAIRE)
    assert result.exit_code == 0, result.output


def test_a_gbk_questionnaire_names_the_first_bad_byte(app, runner, tmp_path):
    result = load(runner, tmp_path, QUESTIONNAIRE.encode("gbk"))
    assert result.exit_code != 0
    assert result.output.startswith("错误: q.yaml:1:3: ") and "不是 UTF-8 编码" in result.output, result.output


@pytest.mark.parametrize(
    "old, new, where, words",
    [
        ("title: 公众安全感和群众满意度调查", "title: " + "长" * 201, "3:8", "问卷标题最多 200 个字"),
        ("{code: A, label: 安全, score: 100}", "{code: A, label: " + "安" * 201 + ", score: 100}", "9:26", "选项文字最多 200 个字"),
    ],
)
def test_overlong_texts_are_refused_on_sqlite_too(app, runner, tmp_path, old, new, where, words):
    assert old in QUESTIONNAIRE
    result = load(runner, tmp_path, QUESTIONNAIRE.replace(old, new, 1))
    assert result.exit_code != 0
    assert result.output.startswith(f"错误: q.yaml:{where}: ") and words in result.output, result.output
    assert stored() == 0


def test_an_absurd_max_length_is_refused(app, runner, tmp_path):
    free_text = "  - key: remarks\n    text: 其他意见\n    required: false\n    max_length: 100000000\n"
    content = QUESTIONNAIRE.replace("items:\n", "items:\n" + free_text, 1)
    result = load(runner, tmp_path, content)
    assert result.exit_code != 0 and "字数上限最多 2000" in result.output and result.output.startswith("错误: q.yaml:9:17: "), result.output


# -- the console --------------------------------------------------------------------------------


@pytest.fixture
def admin(app, runner):
    invoke(runner, "user", "create", "admin", "--role", "admin", "--password", PASSWORD)
    client = isolated(app).test_client()
    sign_in(client, "admin")
    return client


def upload(client, url: str, **files: tuple[bytes, str]):
    data = {"csrf_token": token(client), **{k: (io.BytesIO(v), name) for k, (v, name) in files.items()}}
    return client.post(url, data=data, content_type="multipart/form-data")


@pytest.mark.parametrize(
    "content, where",
    [
        (LAUGHS.encode(), "lol.yaml:5:"),
        (("extra:\n  <<: {a: 1}\n" + QUESTIONNAIRE).encode(), "lol.yaml:2:3:"),
        (("extra: !foo bar\n" + QUESTIONNAIRE).encode(), "lol.yaml:1:8:"),
        (("extra: !!int abc\n" + QUESTIONNAIRE).encode(), "lol.yaml:1:8:"),
        (QUESTIONNAIRE.encode("gbk"), "lol.yaml:1:3:"),
    ],
)
def test_the_console_refuses_hostile_questionnaires_with_a_message(admin, content, where):
    response = upload(admin, "/admin/questionnaires/upload", file=(content, "lol.yaml"))
    assert response.status_code == 400 and where in text(response), text(response)[:500]
    assert stored() == 0


# -- unit CSVs ----------------------------------------------------------------------------------


def units_csv(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "units.csv"
    path.write_text("code,name,kind,parent_code\n619900,安澜市,city,\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "row, where, words",
    [
        ("619901," + "长" * 101 + ",county,619900", "3:2", "不能超过 100 个字"),
        ("6" * 33 + ",临江区,county,619900", "3:1", "最长 32 位"),
        ("619901,临江\x1b[2J区,county,619900", "3:2", "控制字符"),
        ("619901,临江\x07区,county,619900", "3:2", "控制字符"),
        ("619901,临江\u009b区,county,619900", "3:2", "控制字符"),
    ],
)
def test_unit_imports_refuse_overlong_values_and_control_characters(app, runner, tmp_path, row, where, words):
    result = runner.invoke(args=["units", "import", str(units_csv(tmp_path, [row]))])
    assert result.exit_code != 0
    assert result.output.startswith(f"错误: units.csv:{where}: ") and words in result.output, result.output
    assert db.session.scalar(select(func.count()).select_from(Unit)) == 0
