"""Reading the import CSVs (DESIGN.md §3): UTF-8 with or without a BOM, a header row,
RFC 4180 quoting. Every problem is reported as a FileProblem with file, line and column."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from errors import FileProblem


@dataclass(frozen=True)
class Row:
    line: int  # the line the record starts on, 1-based, header = line 1
    values: dict[str, str]
    header: tuple[str, ...]

    def column(self, name: str) -> int:
        """1-based column number of `name`, for error messages."""
        return self.header.index(name) + 1

    def problem(self, name: str, message: str) -> FileProblem:
        return FileProblem(self.file_name, self.line, self.column(name), message)

    file_name: str = ""


def read_text(path: str | Path) -> str:
    """The file's text, or a FileProblem saying why it is not a UTF-8 CSV."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise FileProblem(path.name, None, None, f"无法读取文件:{e.strerror}") from None
    if b"\x00" in raw[:4096]:
        raise FileProblem(path.name, 1, 1, "这不是 CSV 文本文件(看起来像 Excel 或其他二进制文件);请另存为“CSV UTF-8”")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise FileProblem(
            path.name, line, col, "文件不是 UTF-8 编码(可能是 GBK);请用“CSV UTF-8”格式另存后再导入"
        ) from None


def read_rows(path: str | Path, required: Sequence[str], optional: Sequence[str] = (), extra: bool = False) -> tuple[tuple[str, ...], list[Row]]:
    """Parse a CSV into rows keyed by header.

    `required` columns must be present, `optional` ones may be; other columns are an
    error unless `extra` (the caller then checks them). Values are stripped of
    surrounding white space.
    """
    name = Path(path).name
    text = read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header_row = next(reader)
    except StopIteration:
        raise FileProblem(name, 1, None, "文件是空的,至少需要一行表头") from None
    except csv.Error as e:
        raise FileProblem(name, 1, None, f"表头无法解析:{e}") from None
    header = tuple(h.strip() for h in header_row)
    seen: set[str] = set()
    for i, h in enumerate(header, start=1):
        if not h:
            raise FileProblem(name, 1, i, "表头第 {} 列是空的".format(i))
        if h in seen:
            raise FileProblem(name, 1, i, f"表头列 “{h}” 重复")
        seen.add(h)
        if not extra and h not in required and h not in optional:
            expected = "、".join(list(required) + list(optional))
            raise FileProblem(name, 1, i, f"未知的列 “{h}”;应有的列:{expected}")
    for col in required:
        if col not in header:
            raise FileProblem(name, 1, None, f"缺少必需的列 “{col}”;表头应为:{','.join(required)}")

    rows: list[Row] = []
    line = reader.line_num + 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise FileProblem(name, reader.line_num, None, f"CSV 格式错误:{e}") from None
        if record and any(v.strip() for v in record):
            if len(record) != len(header):
                raise FileProblem(
                    name, line, min(len(record), len(header)) + 1,
                    f"这一行有 {len(record)} 列,表头有 {len(header)} 列(含逗号的内容需要用英文双引号括起来)",
                )
            rows.append(Row(line=line, values={h: v.strip() for h, v in zip(header, record)}, header=header, file_name=name))
        line = reader.line_num + 1
    return header, rows

