"""Very large response files: read as a stream, written in chunks inside one transaction, with memory
that does not grow with the file, and still all-or-nothing with the first bad row named."""

from __future__ import annotations

import csv
import tracemalloc

import pytest
from sqlalchemy import select

import survey.csvfiles
import survey.responses
from errors import FileProblem
from extensions import db
from models import Response
from survey.responses import import_responses
from tests.survey.helpers import count, setup_wave

HEADER = ["response_id", "unit_code", "psu", "submitted_at", "safety", "night_safety", "sat_police", "sat_justice",
          "sat_mediation", "sat_prevention", "victim", "sex", "age_group", "comment", "mode"]
UNITS = ["619901001001", "619901001002", "619902001001", "619901002", "619902002", "619900501"]
COMMENT = '路灯不够亮,"电诈"宣传要加强\n尤其是老年人'


def row(i: int, prefix: str = "R") -> list[str]:
    """Row `i` of a generated file: every kind of cell, a quoted multi-line comment now and then."""
    letters = "ABCDEX"
    return [
        f"{prefix}{i:07d}", UNITS[i % len(UNITS)], "" if i % 20 == 0 else f"G{i % 7:02d}",
        f"2026-08-{1 + i % 28:02d} {8 + i % 12:02d}:{i % 60:02d}",
        *(letters[(i + k) % 6] for k in range(6)), "YNR"[i % 3], "MF"[i % 2],
        ("18-29", "30-44", "45-59", "60+")[i % 4], COMMENT if i % 10 == 0 else "",
        ("qr", "door", "phone", "paper")[i % 4],
    ]


def write_rows(path, n: int, change: dict[int, dict[str, str]] | None = None, prefix: str = "R") -> str:
    """A responses file of `n` rows (row i starts on line `line_of(i)`); `change` replaces cells of some rows."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(1, n + 1):
            values = row(i, prefix)
            for col, value in (change or {}).get(i, {}).items():
                values[HEADER.index(col)] = value
            w.writerow(values)
    return str(path)


def line_of(i: int) -> int:
    """The line row i starts on: the header, then one line per row, two for every tenth (the comment)."""
    return 1 + i + (i - 1) // 10


@pytest.fixture
def wave(runner):
    setup_wave(runner)
    return "2026Q3-city"


def traced_peak(wave: str, path: str) -> tuple[int, float]:
    tracemalloc.start()
    try:
        summary = import_responses(wave, path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return summary.imported, peak / 2**20


def test_memory_does_not_grow_with_the_file(runner, tmp_path):
    """Python's traced peak while importing 50,000 rows is that of 10,000 rows: a chunk, not the file
    (the old importer, holding the text and every row, peaked at 17 MB and, for 60,000 rows, 96 MB)."""
    for slug, period in (("warm", "2026Q1"), ("small", "2026Q2"), ("large", "2026Q3")):
        setup_wave(runner, slug=slug, period=period)
    import_responses("warm", write_rows(tmp_path / "warm.csv", 200))  # caches, compiled statements
    small = traced_peak("small", write_rows(tmp_path / "small.csv", 10_000))
    large = traced_peak("large", write_rows(tmp_path / "large.csv", 50_000))
    print(f"traced peak: {small[1]:.1f} MB for {small[0]:,} rows, {large[1]:.1f} MB for {large[0]:,} rows")
    assert small[0] == 10_000 and large[0] == 50_000 and count(Response) == 60_200
    assert large[1] < small[1] * 1.25 + 2, (small, large)
    assert large[1] < 20, large  # a chunk of rows, not the file


def test_a_bad_row_near_the_end_stores_nothing(wave, tmp_path):
    n = 3 * survey.responses.CHUNK + 17
    path = write_rows(tmp_path / "responses.csv", n, {n - 3: {"sat_police": "Z"}})
    with pytest.raises(FileProblem) as e:
        import_responses(wave, path)
    assert str(e.value).startswith(f"responses.csv:{line_of(n - 3)}:7: “Z” 不是题目 sat_police 的选项代码")
    assert count(Response) == 0


def test_written_rows_keep_every_value(wave, tmp_path):
    """The chunks hold what the file says (COPY on PostgreSQL, executemany on SQLite)."""
    n = survey.responses.CHUNK + 3
    assert import_responses(wave, write_rows(tmp_path / "responses.csv", n)).imported == n
    stored = {r.response_key: r for r in db.session.scalars(select(Response))}
    assert len(stored) == n
    for i in (1, 10, 20, n):
        r, expected = stored[f"R{i:07d}"], row(i)
        assert r.unit.code == expected[1] and r.psu == (expected[2] or None) and r.mode == expected[14]
        assert r.answers == {k: v for k, v in zip(HEADER[4:14], expected[4:14]) if v}
        assert r.submitted_at is not None and r.flags == [] and r.review_status == "clean" and r.created_at is not None
    assert stored["R0000010"].answers["comment"] == COMMENT


@pytest.mark.parametrize("chunk", [7, 5000])
def test_duplicates_are_found_across_chunks(wave, tmp_path, monkeypatch, chunk):
    """By the table's unique constraint (rows stored before, and rows of earlier chunks) or in the
    chunk at hand; the first bad row is the one reported, whatever the chunk boundaries."""
    monkeypatch.setattr(survey.responses, "CHUNK", chunk)
    later = write_rows(tmp_path / "later.csv", 40, {33: {"response_id": "R0000004"}})
    with pytest.raises(FileProblem) as e:
        import_responses(wave, later)
    assert str(e.value) == f"later.csv:{line_of(33)}:1: response_id “R0000004” 与第 {line_of(4)} 行重复"

    # A duplicate before a bad option code in the same chunk is the one reported.
    both = write_rows(tmp_path / "both.csv", 40, {30: {"response_id": "R0000002"}, 32: {"safety": "Q"}})
    with pytest.raises(FileProblem) as e:
        import_responses(wave, both)
    assert str(e.value) == f"both.csv:{line_of(30)}:1: response_id “R0000002” 与第 {line_of(2)} 行重复"
    assert count(Response) == 0

    assert import_responses(wave, write_rows(tmp_path / "first.csv", 5)).imported == 5
    # A row stored before comes before a repeat within the file further down.
    change = {15: {"response_id": "R0000003"}, 17: {"response_id": "S0000016"}}
    again = write_rows(tmp_path / "again.csv", 40, change, prefix="S")
    with pytest.raises(FileProblem) as e:
        import_responses(wave, again)
    assert str(e.value) == f"again.csv:{line_of(15)}:1: response_id “R0000003” 已经导入过这次调查"
    assert count(Response) == 5


def test_not_utf8_deep_in_the_file_is_named_by_line_and_column(wave, tmp_path):
    """A GBK comment far into the file, and a character cut by the boundary of the blocks read."""
    path = tmp_path / "responses.csv"
    write_rows(path, 30_000)
    data = path.read_bytes()
    block = survey.csvfiles.BLOCK
    assert len(data) > 2 * block
    text = "路灯不够亮"
    utf8 = text.encode("utf-8")
    at = data.index(utf8, len(data) * 3 // 4)
    nl = data.rindex(b"\n", 0, block - 1) + 1
    cases = {
        "gbk": data[:at] + text.encode("gbk") + data[at + len(utf8) :],
        # the first two bytes of "路" at the last byte of one block and the first of the next
        "cut": data[:nl] + b"x" * (block - 1 - nl) + "路".encode("utf-8")[:2] + b"," + data[nl:],
    }
    for name, broken in cases.items():
        path.write_bytes(broken)
        with pytest.raises(UnicodeDecodeError) as reference:
            broken.decode("utf-8")
        bad = reference.value.start
        line = broken.count(b"\n", 0, bad) + 1
        column = bad - (broken.rfind(b"\n", 0, bad) + 1) + 1
        assert line > 1000
        with pytest.raises(FileProblem) as e:
            import_responses(wave, str(path))
        assert str(e.value).startswith(f"responses.csv:{line}:{column}: 文件不是 UTF-8 编码"), (name, str(e.value))
    assert count(Response) == 0


def test_a_nul_character_is_refused(wave, tmp_path):
    """PostgreSQL cannot store it in text or JSON; SQLite would. Refused on both, wherever it is."""
    path = tmp_path / "responses.csv"
    write_rows(path, 20_000)
    data = path.read_bytes()
    at = data.index(b"\nR", len(data) // 2) + 11  # the 11th byte of a row (ASCII)
    path.write_bytes(data[:at] + b"\x00" + data[at:])
    line = data.count(b"\n", 0, at) + 1
    with pytest.raises(FileProblem) as e:
        import_responses(wave, str(path))
    assert str(e.value).startswith(f"responses.csv:{line}:11: 文件含有空字符")
    assert count(Response) == 0


@pytest.mark.parametrize("when", ["0001-01-01", "9999-12-31 23:00-10:00", "1999-12-31"])
def test_dates_outside_the_years_are_refused(wave, tmp_path, when):
    """Year 1 or 9999 would be stored, then fail the conversion to UTC whenever the response is read."""
    path = write_rows(tmp_path / "responses.csv", 30, {25: {"submitted_at": when}})
    with pytest.raises(FileProblem) as e:
        import_responses(wave, path)
    assert str(e.value) == f"responses.csv:{line_of(25)}:4: 时间 “{when}” 不在 2000–2099 年之间"
    assert count(Response) == 0
