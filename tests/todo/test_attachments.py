"""Attachments on a case (docs/security.md "Attachments"): the unit uploads its 整改 material, the
issuing office the signed 约谈记录; the type is read from the content, the size is limited, a
refused file leaves nothing behind; files are served only to accounts that may see the case."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from extensions import db
from models import AuditEntry, CaseAttachment, InterviewCase, Unit
from tests.admin.console import Q3, city, city_template, client_for, post, text, wave  # noqa: F401

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 40 + b"\xff\xd9"


def ooxml(*members: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in members:
            archive.writestr(name, "<x/>")
    return buffer.getvalue()


def xlsx() -> bytes:
    book = Workbook()
    book.active["A1"] = "整改台账"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


DOCX = ooxml("[Content_Types].xml", "_rels/.rels", "word/document.xml")


@pytest.fixture
def files(city, tmp_path):
    folder = tmp_path / "attachments"
    city.config["ATTACHMENTS_DIR"] = str(folder)
    office = client_for(city, "office")
    assert post(office, f"/admin/waves/{Q3}/interviews").status_code == 302
    return folder


def the_case() -> InterviewCase:
    db.session.expire_all()
    return db.session.scalar(select(InterviewCase).join(Unit, InterviewCase.unit_id == Unit.id)
                             .where(Unit.code == "510702003", InterviewCase.wave_id == wave(Q3).id))  # 高岭乡, 西山县


def upload(client, case_id: int, data: bytes, name: str, kind: str = "report"):
    return post(client, f"/admin/cases/{case_id}/attachments", {"kind": kind, "file": (io.BytesIO(data), name)},
                content_type="multipart/form-data")


def stored(folder: Path) -> list[Path]:
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("data, name, content_type, shown", [
    (PDF, "整改报告.pdf", "application/pdf", "整改报告.pdf"),
    (JPEG, "现场照片.jpg", "image/jpeg", "现场照片.jpg"),
    (PNG, "巡逻.PNG", "image/png", "巡逻.PNG"),
    (DOCX, "整改方案.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "整改方案.docx"),
    (xlsx(), "台账.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "台账.xlsx"),
    (PNG, "看起来像报告.pdf", "image/png", "看起来像报告.pdf.png"),  # the content decides, not the name
])
def test_the_unit_uploads_and_the_office_downloads_what_was_stored(city, files, data, name, content_type, shown):
    case = the_case()
    west = client_for(city, "west")  # 西山县's county account: the unit's side of 高岭乡's case
    response = upload(west, case.id, data, name)
    assert response.status_code == 302, text(response)
    row = db.session.scalar(select(CaseAttachment))
    assert (row.case_id, row.kind, row.filename, row.content_type, row.size) == (case.id, "report", shown, content_type, len(data))
    assert row.uploaded_by.username == "west"
    on_disk = stored(files)
    assert [p.name for p in on_disk] == [row.stored_name]
    assert name not in row.stored_name and len(row.stored_name.split(".")[0]) == 32
    assert on_disk[0].read_bytes() == data

    page = client_for(city, "office").get(f"/admin/cases/{case.id}")
    assert shown in text(page) and "整改报告" in text(page) and "west" in text(page)
    download = client_for(city, "office").get(f"/admin/cases/{case.id}/attachments/{row.id}")
    assert download.status_code == 200 and download.data == data
    assert download.mimetype == content_type
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "no-store" in download.headers["Cache-Control"]
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "case.attach"))
    assert entry.entity_id == str(case.id) and entry.after["filename"] == shown and entry.after["sha256"] == row.sha256


@pytest.mark.parametrize("data, name, message", [
    (b"just text, named like a pdf", "报告.pdf", "只能上传 PDF、JPEG、PNG、DOCX 或 XLSX 文件"),
    (b"MZ\x90\x00" + b"\x00" * 64, "报告.docx", "只能上传"),  # a program
    (ooxml("[Content_Types].xml", "word/document.xml", "word/vbaProject.bin"), "宏.docx", "只能上传"),  # macros
    (ooxml("readme.txt"), "a.xlsx", "只能上传"),  # a ZIP, but no workbook
    (b"PK\x03\x04broken", "a.xlsx", "只能上传"),
    (b"", "空.pdf", "文件是空的"),
])
def test_a_refused_file_says_why_and_nothing_is_stored(city, files, data, name, message):
    case = the_case()
    response = upload(client_for(city, "west"), case.id, data, name)
    assert response.status_code == 422
    assert message in text(response)
    assert db.session.scalar(select(func.count()).select_from(CaseAttachment)) == 0
    assert stored(files) == []
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "case.attach")) is None


def test_the_size_limit_is_configurable_and_refuses_with_413(city, files):
    city.config["ATTACHMENT_MAX_BYTES"] = 1024
    case = the_case()
    page = client_for(city, "west").get(f"/admin/cases/{case.id}")
    assert "每个文件不超过 1 KB" in text(page)
    response = upload(client_for(city, "west"), case.id, PDF + b"0" * 1024, "大.pdf")
    assert response.status_code == 413 and "文件超过 1 KB 的上限" in text(response)
    assert stored(files) == [] and db.session.scalar(select(func.count()).select_from(CaseAttachment)) == 0
    assert upload(client_for(city, "west"), case.id, PDF, "小.pdf").status_code == 302


def test_no_file_chosen_is_a_message_not_an_error(city, files):
    response = post(client_for(city, "west"), f"/admin/cases/{the_case().id}/attachments", {"kind": "report"})
    assert response.status_code == 422 and "请选择要上传的文件" in text(response)


def test_who_may_upload_which_kind(city, files):
    case = the_case()
    # the unit does not upload the signed 约谈记录; the office does
    refused = upload(client_for(city, "west"), case.id, PDF, "约谈记录.pdf", kind="interview_record")
    assert refused.status_code == 403
    assert upload(client_for(city, "office"), case.id, PDF, "约谈记录.pdf", kind="interview_record").status_code == 302
    assert upload(client_for(city, "admin"), case.id, PDF, "扫描.pdf", kind="scan").status_code == 302
    # read-only and other counties
    assert upload(client_for(city, "analyst"), case.id, PDF, "x.pdf").status_code == 403
    assert upload(client_for(city, "east"), case.id, PDF, "x.pdf").status_code == 404
    assert [a.kind for a in db.session.scalars(select(CaseAttachment).order_by(CaseAttachment.id))] == ["interview_record", "scan"]
    assert len(stored(files)) == 2
    # the form offers each account its own kinds only
    west_page = client_for(city, "west").get(f"/admin/cases/{case.id}").get_data(as_text=True)
    assert 'id="form-attach"' in west_page and 'value="interview_record"' not in west_page
    assert 'value="interview_record"' in client_for(city, "office").get(f"/admin/cases/{case.id}").get_data(as_text=True)
    assert 'id="form-attach"' not in client_for(city, "analyst").get(f"/admin/cases/{case.id}").get_data(as_text=True)


def test_files_are_served_only_to_accounts_that_see_the_case(city, files):
    case = the_case()
    assert upload(client_for(city, "west"), case.id, PDF, "整改报告.pdf").status_code == 302
    row = db.session.scalar(select(CaseAttachment))
    url = f"/admin/cases/{case.id}/attachments/{row.id}"
    for username in ("west", "office", "admin", "analyst"):
        assert client_for(city, username).get(url).status_code == 200, username
    assert client_for(city, "east").get(url).status_code == 404  # another county: as if it did not exist
    anonymous = city.test_client().get(url)
    assert anonymous.status_code in (302, 401) and anonymous.data != PDF
    # an attachment of another case is not reachable through this one
    other = next(c for c in db.session.scalars(select(InterviewCase)) if c.id != case.id)
    assert client_for(city, "admin").get(f"/admin/cases/{other.id}/attachments/{row.id}").status_code == 404
