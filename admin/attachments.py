"""Files attached to a 约谈 case (docs/security.md "Attachments").

- What a file is, is read from its bytes, never from its name: PDF (`%PDF-`), JPEG (FF D8 FF),
  PNG (its 8-byte signature), and DOCX / XLSX as a ZIP archive holding `[Content_Types].xml` and
  `word/document.xml` / `xl/workbook.xml` (a macro-enabled one, holding a vbaProject.bin, is
  refused). Anything else is refused with a Chinese message, and nothing is stored.
- At most ATTACHMENT_MAX_BYTES (default 10 MB); an empty file is refused too.
- Stored under ATTACHMENTS_DIR (default instance/attachments/) with a random name; the name the
  uploader gave is kept in the database only, and offered again on download.
- Only accounts that may see the case download it (policy.require(…, "read", case)); who may
  upload which kind is policy.attachment_kinds. Every upload is audited with the case.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from flask import current_app
from werkzeug.datastructures import FileStorage
from sqlalchemy import select
from sqlalchemy.orm import joinedload

import audit
import policy
from admin.uploads import safe_name
from errors import Forbidden, NotFound, PinganError
from extensions import db
from models import CaseAttachment, InterviewCase, User
from models.attachments import ATTACHMENT_KIND_LABELS


@dataclass(frozen=True)
class FileType:
    content_type: str
    extension: str
    label: str


PDF = FileType("application/pdf", ".pdf", "PDF")
JPEG = FileType("image/jpeg", ".jpg", "JPEG 图片")
PNG = FileType("image/png", ".png", "PNG 图片")
DOCX = FileType("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx", "Word 文档（DOCX）")
XLSX = FileType("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx", "Excel 表格（XLSX）")
ACCEPTED = "PDF、JPEG、PNG、DOCX 或 XLSX"


class AttachmentRefused(PinganError):
    """A file that is not attached: wrong type, too large, empty (422 or 413)."""

    def __init__(self, message: str, status: int = 422, code: str = "bad_attachment") -> None:
        super().__init__(message, code=code, status=status)


def sniff(data: bytes) -> FileType | None:
    """The file's type from its first bytes (and, for a ZIP, its members), or None."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"PK\x03\x04"):
        return _office(data)
    return None


def _office(data: bytes) -> FileType | None:
    """DOCX or XLSX: an OOXML package (only the archive's directory is read, nothing unpacked)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return None
    if "[Content_Types].xml" not in names or any(n.lower().endswith("vbaproject.bin") for n in names):
        return None
    if "word/document.xml" in names:
        return DOCX
    if "xl/workbook.xml" in names:
        return XLSX
    return None


def max_bytes() -> int:
    return int(current_app.config["ATTACHMENT_MAX_BYTES"])


def storage_dir() -> Path:
    """ATTACHMENTS_DIR, or instance/attachments; created on first use, readable by the server only."""
    folder = Path(current_app.config.get("ATTACHMENTS_DIR") or Path(current_app.instance_path) / "attachments")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _size_text(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB" if n >= 1024 * 1024 else f"{n / 1024:g} KB"


def read_limited(stream: IO[bytes], limit: int) -> bytes:
    """The stream's bytes; AttachmentRefused (413) past `limit`, without reading much further."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise AttachmentRefused(f"文件超过 {_size_text(limit)} 的上限，未保存；请压缩或拆分后再上传", status=413, code="attachment_too_large")
    return data


def list_attachments(case: InterviewCase) -> list[CaseAttachment]:
    """The case's files, oldest first, with who uploaded them."""
    return list(db.session.scalars(
        select(CaseAttachment).where(CaseAttachment.case_id == case.id)
        .options(joinedload(CaseAttachment.uploaded_by)).order_by(CaseAttachment.uploaded_at, CaseAttachment.id)
    ))


def attach(user: User, case: InterviewCase, kind: str, filename: str | None, stream: IO[bytes]) -> CaseAttachment:
    """Check and store one file on the case; nothing is stored unless all of it succeeds."""
    policy.require(user, "read", case)
    allowed = policy.attachment_kinds(user, case)
    if not allowed:
        raise Forbidden("您不能为此案件上传材料：整改材料由被约谈单位上传，签字的约谈记录由下发名单的创建办上传")
    if kind not in ATTACHMENT_KIND_LABELS:
        raise AttachmentRefused("请选择材料类别")
    if kind not in allowed:
        raise Forbidden(f"您不能上传“{ATTACHMENT_KIND_LABELS[kind]}”：签字的约谈记录由下发名单的创建办上传")
    if case.status == "withdrawn":
        raise AttachmentRefused("案件已撤销，不能再上传材料", status=409, code="case_withdrawn")
    data = read_limited(stream, max_bytes())
    if not data:
        raise AttachmentRefused("文件是空的，未保存")
    found = sniff(data)
    if found is None:
        raise AttachmentRefused(f"只能上传 {ACCEPTED} 文件；此文件的内容不是其中任何一种（按内容判断，与扩展名无关），未保存",
                                code="attachment_type")
    name = _display_name(filename, found)
    stored = secrets.token_hex(16) + found.extension
    path = storage_dir() / stored
    tmp = path.with_name(path.name + ".part")
    try:
        with open(tmp, "xb") as out:
            out.write(data)
        os.replace(tmp, path)
        row = CaseAttachment(case_id=case.id, kind=kind, filename=name, stored_name=stored, content_type=found.content_type,
                             size=len(data), sha256=hashlib.sha256(data).hexdigest(), uploaded_by_id=getattr(user, "id", None))
        db.session.add(row)
        db.session.flush()
        audit.record("case.attach", "case", case.id, None, _state(row))
        db.session.commit()
    except Exception:
        db.session.rollback()
        tmp.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        raise
    return row


def _display_name(filename: str | None, found: FileType) -> str:
    """The uploader's file name, made safe, ending in an extension its content has (a PNG called
    报告.pdf downloads as 报告.pdf.png)."""
    name = safe_name(FileStorage(filename=filename or ""), "附件" + found.extension)
    extensions = (found.extension, ".jpeg") if found is JPEG else (found.extension,)
    if not name.lower().endswith(extensions):
        name += found.extension
    return name


def _state(row: CaseAttachment) -> dict:
    return {"attachment": row.id, "kind": row.kind, "filename": row.filename, "content_type": row.content_type,
            "size": row.size, "sha256": row.sha256}


@dataclass(frozen=True)
class Download:
    path: Path
    filename: str
    content_type: str


def get_download(user: User, case: InterviewCase, attachment_id: int) -> Download:
    """The stored file of one of the case's attachments, for an account that may see the case."""
    policy.require(user, "read", case)
    row = db.session.get(CaseAttachment, attachment_id)
    if row is None or row.case_id != case.id:
        raise NotFound("附件不存在")
    path = storage_dir() / row.stored_name
    if not path.is_file():
        raise NotFound("附件文件已不在存储目录中，请联系管理员")
    return Download(path, row.filename, row.content_type)
