"""Uploaded files handed to the importers, which read paths: each upload is written to a
temporary directory under its own (sanitised) name, so that a FileProblem names the file the
user chose, with its line and column."""

from __future__ import annotations

import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy.exc import DataError
from werkzeug.datastructures import FileStorage

from errors import PinganError
from extensions import db

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")
NAME_BYTES = 200  # file systems allow 255 bytes per name: 85 Chinese characters, not 255


def safe_name(upload: FileStorage, default: str) -> str:
    """The file's own name without any directory part or characters a file system refuses,
    shortened to NAME_BYTES of UTF-8 (keeping its extension) so that saving it cannot fail."""
    name = (upload.filename or "").encode("utf-8", "replace").decode("utf-8")  # no lone surrogates
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    if len(name.encode("utf-8")) > NAME_BYTES:
        stem, dot, ext = name.rpartition(".")
        if not dot or len(ext) > 10:
            stem, ext = name, ""
        else:
            ext = "." + ext
        room = NAME_BYTES - len(ext.encode("utf-8"))
        name = stem.encode("utf-8")[:room].decode("utf-8", "ignore") + ext
    return name or default


@contextmanager
def saved(*uploads: tuple[FileStorage | None, str]) -> Iterator[list[Path | None]]:
    """Paths of the uploads (None for a missing one), removed again afterwards."""
    with tempfile.TemporaryDirectory(prefix="pingan-upload-") as tmp:
        paths: list[Path | None] = []
        for i, (upload, default) in enumerate(uploads):
            if upload is None or not upload.filename:
                paths.append(None)
                continue
            folder = Path(tmp) / str(i)  # two uploads with the same name do not overwrite each other
            folder.mkdir()
            path = folder / safe_name(upload, default)
            upload.save(path)
            paths.append(path)
        yield paths


@contextmanager
def values_in_range() -> Iterator[None]:
    """A value the database cannot hold (a count or version beyond its integer columns, a text
    longer than its column) becomes a refusal of the upload, with nothing stored.

    The importers check every value they know a limit for; this is the last line, so that an
    upload never ends in a 500 whatever it holds (PostgreSQL: DataError; SQLite: OverflowError).
    """
    try:
        yield
    except (DataError, OverflowError):
        db.session.rollback()
        raise PinganError(
            "文件中有超出允许范围的数值或过长的文字(例如人口数、版本号过大),未导入任何内容;请检查后重新上传",
            code="value_out_of_range",
        ) from None
