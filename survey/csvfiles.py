"""Reading the import CSVs (docs/formats.md): UTF-8 with or without a BOM, a header row,
RFC 4180 quoting. Every problem is reported as a FileProblem with file, line and column.

Files are read as a stream (`CsvRows`): a million-row import holds one row at a time, never
the whole text or the whole list of rows.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Iterator, Sequence

from errors import FileProblem

BLOCK = 1 << 20  # bytes read at a time when checking the encoding
NOT_UTF8 = "文件不是 UTF-8 编码(可能是 GBK);请用“CSV UTF-8”格式另存后再导入"
# Terminal control characters (C0 and C1, DEL): ESC [2J in a unit name would clear the screen of
# whoever lists the units in a terminal, BEL rings, and so on. Text that may span lines keeps tab
# and line breaks; a name does not.
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROL_IN_NAME = re.compile(r"[\x00-\x1f\x7f-\x9f]")


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

    def check_text(self, name: str, single_line: bool = True) -> str:
        """The value of `name`, or a FileProblem if it holds a control character (see _CONTROL_IN_NAME)."""
        value = self.values[name]
        bad = (_CONTROL_IN_NAME if single_line else _CONTROL_IN_TEXT).search(value)
        if bad is not None:
            raise self.problem(
                name, f"第 {bad.start() + 1} 个字是控制字符 U+{ord(bad.group()):04X},无法显示,请删除后再导入"
            )
        return value

    file_name: str = ""


def _open(path: Path) -> BinaryIO:
    try:
        return open(path, "rb")
    except OSError as e:
        raise FileProblem(path.name, None, None, f"无法读取文件:{e.strerror}") from None


def _position(f: BinaryIO, offset: int) -> tuple[int, int]:
    """Line and column (in bytes, 1-based) of byte `offset`, counted by reading up to it."""
    f.seek(0)
    line, line_start, pos = 1, 0, 0
    while pos < offset:
        block = f.read(min(BLOCK, offset - pos))
        if not block:
            break
        newlines = block.count(b"\n")
        if newlines:
            line += newlines
            line_start = pos + block.rfind(b"\n") + 1
        pos += len(block)
    return line, offset - line_start + 1


def check_utf8(path: str | Path) -> None:
    """A FileProblem unless the file can be read and is UTF-8 text throughout.

    Decoded block by block (the whole file is never in memory), so a bad byte deep in a large
    file is found, and named by line and column, before any row is used.
    """
    path = Path(path)
    with _open(path) as f:
        try:
            head = f.read(BLOCK)
        except OSError as e:
            raise FileProblem(path.name, None, None, f"无法读取文件:{e.strerror}") from None
        if b"\x00" in head[:4096]:
            raise FileProblem(path.name, 1, 1, "这不是 CSV 文本文件(看起来像 Excel 或其他二进制文件);请另存为“CSV UTF-8”")
        decoder = codecs.getincrementaldecoder("utf-8")()
        block, offset = head, 0  # offset: where `block` starts in the file
        while True:
            pending = len(decoder.getstate()[0])  # the bytes of a character cut by the previous block
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as e:
                line, column = _position(f, offset - pending + e.start)
                raise FileProblem(path.name, line, column, NOT_UTF8) from None
            nul = block.find(b"\x00")
            if nul >= 0:  # valid UTF-8, but no database text column can hold it (PostgreSQL refuses it)
                line, column = _position(f, offset + nul)
                raise FileProblem(path.name, line, column, "文件含有空字符(NUL),不是纯文本;请另存为“CSV UTF-8”")
            if not block:
                return
            offset += len(block)
            block = f.read(BLOCK)


class CsvRows:
    """The rows of a CSV file, read one at a time::

        with CsvRows(path, ("code", "name")) as rows:
            for row in rows:
                ...

    Opening checks the encoding and the header: `required` columns must be present, `optional`
    ones may be; other columns are an error unless `extra` (the caller then checks them).
    Values are stripped of surrounding white space; blank lines are skipped. `aliases` maps other
    header names (代码 → code) to the column they stand for; rows are keyed by the column's own name,
    while line-and-column errors still point at the file's own header.
    """

    def __init__(
        self, path: str | Path, required: Sequence[str], optional: Sequence[str] = (), extra: bool = False,
        aliases: dict[str, str] | None = None,
    ) -> None:
        self.aliases = aliases or {}
        self.path = Path(path)
        self.name = self.path.name
        check_utf8(self.path)
        self._file = io.TextIOWrapper(_open(self.path), encoding="utf-8-sig", newline="")
        try:
            self._reader = csv.reader(self._file, strict=True)
            self.header = self._read_header(required, optional, extra)
        except BaseException:
            self.close()
            raise

    def _read_header(self, required: Sequence[str], optional: Sequence[str], extra: bool) -> tuple[str, ...]:
        name = self.name
        try:
            header_row = next(self._reader)
        except StopIteration:
            raise FileProblem(name, 1, None, "文件是空的,至少需要一行表头") from None
        except csv.Error as e:
            raise FileProblem(name, 1, None, f"表头无法解析:{e}") from None
        header = tuple(self.aliases.get(h.strip(), h.strip()) for h in header_row)
        seen: set[str] = set()
        for i, h in enumerate(header, start=1):
            if not h:
                raise FileProblem(name, 1, i, "表头第 {} 列是空的".format(i))
            if h in seen:
                raise FileProblem(name, 1, i, f"表头列 “{header_row[i - 1].strip()}” 重复")
            seen.add(h)
            if not extra and h not in required and h not in optional:
                expected = "、".join(list(required) + list(optional))
                raise FileProblem(name, 1, i, f"未知的列 “{h}”;应有的列:{expected}{self._alias_hint(required)}")
        for col in required:
            if col not in header:
                raise FileProblem(name, 1, None, f"缺少必需的列 “{col}”;表头应为:{','.join(required)}{self._alias_hint(required)}")
        return header

    def _alias_hint(self, required: Sequence[str]) -> str:
        """(或中文表头 代码,名称,…) when the file may use the other names."""
        others: dict[str, str] = {}
        for alias, canonical in self.aliases.items():  # the first alias of a column is its usual name
            others.setdefault(canonical, alias)
        if not all(c in others for c in required):
            return ""
        return f"（或中文表头 {','.join(others[c] for c in required)}）"

    def __iter__(self) -> Iterator[Row]:
        name, header, reader = self.name, self.header, self._reader
        width = len(header)
        line = reader.line_num + 1
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                raise FileProblem(name, reader.line_num, None, f"CSV 格式错误:{e}") from None
            except UnicodeDecodeError:
                # The file changed after check_utf8 read it; name the bad byte all the same.
                check_utf8(self.path)
                raise FileProblem(name, None, None, NOT_UTF8) from None
            values = [v.strip() for v in record]
            if any(values):
                if len(values) != width:
                    raise FileProblem(
                        name, line, min(len(values), width) + 1,
                        f"这一行有 {len(values)} 列,表头有 {width} 列(含逗号的内容需要用英文双引号括起来)",
                    )
                yield Row(line=line, values=dict(zip(header, values)), header=header, file_name=name)
            line = reader.line_num + 1

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> CsvRows:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def read_rows(
    path: str | Path, required: Sequence[str], optional: Sequence[str] = (), extra: bool = False,
    aliases: dict[str, str] | None = None,
) -> tuple[tuple[str, ...], list[Row]]:
    """Parse a whole (small) CSV into rows keyed by header: see `CsvRows`."""
    with CsvRows(path, required, optional, extra, aliases) as rows:
        return rows.header, list(rows)
