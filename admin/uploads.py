"""Uploaded files handed to the importers, which read paths: each upload is written to a
temporary directory under its own (sanitised) name, so that a FileProblem names the file the
user chose, with its line and column."""

from __future__ import annotations

import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from werkzeug.datastructures import FileStorage

_UNSAFE = re.compile(r"[\x00-\x1f/\\:*?\"<>|]")


def safe_name(upload: FileStorage, default: str) -> str:
    """The file's own name without any directory part or characters a file system refuses."""
    name = (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")[:120]
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
