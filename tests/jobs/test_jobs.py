"""Analysis runs and document builds as background jobs (docs/jobs.md): a real Huey queue on SQLite
in tmp_path with its consumer in a thread or a process, a worker killed mid-way and the job finished
by the next one, no document built twice for the same inputs, and the per-unit documents."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select, update

import reports.build
from extensions import db
from jobs import queue
from jobs.service import files_dir
from models import AnalysisResult, InterviewCase, Job, Unit
from tests.admin.console import (  # noqa: F401  (fixtures)
    CITY,
    Q3,
    city,
    city_template,
    client_for,
    invoke,
    post,
    text,
    wave,
)
from tests.jobs.conftest import ProcessWorker, ThreadWorker, wait_for
from tests.pdf import pdf_pages, pdf_text

QUARTERLY = f"/admin/waves/{Q3}/reports/quarterly.pdf"


@pytest.fixture
def builds(monkeypatch) -> list[str]:
    """Every PDF printed (reports.build.html_to_pdf), in any thread of this process."""
    printed: list[str] = []
    real = reports.build.html_to_pdf

    def counted(html: str, **kwargs) -> bytes:
        printed.append(html[:200])
        return real(html, **kwargs)

    monkeypatch.setattr(reports.build, "html_to_pdf", counted)
    return printed


def fresh(job_id: int) -> Job:
    db.session.commit()  # end this session's snapshot: the worker writes from another connection
    db.session.expire_all()
    return db.session.get(Job, job_id)


def status(job_id: int) -> str:
    return fresh(job_id).status


def job_id_of(response) -> int:
    assert response.status_code == 303, response.status_code
    m = re.search(r"/admin/jobs/(\d+)$", response.headers["Location"])
    assert m, response.headers["Location"]
    return int(m.group(1))



def test_a_real_worker_builds_the_report_while_the_console_follows_it(city, real_queue, builds):
    office = client_for(city, "office")
    job_id = job_id_of(office.get(QUARTERLY))  # queued: the request built nothing
    assert builds == [] and status(job_id) == "queued"
    waiting = office.get(f"/admin/jobs/{job_id}")
    html = waiting.get_data(as_text=True)
    assert waiting.status_code == 200 and '<meta http-equiv="refresh" content="2">' in html and "排队中" in text(waiting)
    assert office.get(f"/admin/jobs/{job_id}/file").status_code == 409  # not built yet
    # Another account asking for the same document with the same inputs gets the same job.
    admin = client_for(city, "admin")
    assert job_id_of(admin.get(QUARTERLY)) == job_id
    assert db.session.scalar(select(func.count()).select_from(Job)) == 1

    with ThreadWorker():
        wait_for(lambda: status(job_id) == "done")
    job = fresh(job_id)
    assert job.progress == 100 and job.attempts == 1 and job.requested_by_name == "office" and job.finished_at
    done = office.get(f"/admin/jobs/{job_id}")
    assert "http-equiv" not in done.get_data(as_text=True) and f"下载 {Q3}-quarterly.pdf" in text(done)
    file = office.get(f"/admin/jobs/{job_id}/file")
    assert file.status_code == 200 and file.mimetype == "application/pdf" and file.data.startswith(b"%PDF-")
    assert "综合指数" in pdf_text(file.data)
    assert f'filename="{Q3}-quarterly.pdf"' in file.headers["Content-Disposition"]
    # Asked again: the built file at once, no new job, no new build.
    again = office.get(QUARTERLY)
    assert again.status_code == 200 and again.data == file.data
    # A message delivered twice (or a duplicate enqueue) does not build twice: the job is claimed once.
    queue.enqueue(job_id)
    with ThreadWorker():
        wait_for(lambda: queue.huey.pending_count() == 0, timeout=30)
    assert len(builds) == 1 and fresh(job_id).attempts == 1
    # A county account may not read a whole-wave job, nor learn that it exists.
    assert client_for(city, "east").get(f"/admin/jobs/{job_id}").status_code == 404
    assert "后台任务" in text(office.get("/admin/jobs")) and "测评报告" in text(office.get("/admin/jobs"))


def test_the_analysis_runs_in_the_worker_not_in_the_request(city, real_queue):
    before = db.session.scalar(select(AnalysisResult.computed_at).where(AnalysisResult.wave_id == wave(Q3).id))
    office = client_for(city, "office")
    response = post(office, f"/admin/waves/{Q3}/analysis", {"weight_cap": "4", "confirmed": "1"})
    assert response.status_code == 302 and "/admin/jobs/" in response.headers["Location"]
    job_id = int(response.headers["Location"].rsplit("/", 1)[1])
    db.session.expire_all()
    stored = db.session.scalar(select(AnalysisResult).where(AnalysisResult.wave_id == wave(Q3).id))
    assert stored.computed_at == before and stored.weight_cap != 4.0  # nothing ran in the request
    # Asking again while it waits joins the same job.
    again = post(office, f"/admin/waves/{Q3}/analysis", {"weight_cap": "4", "confirmed": "1"})
    assert again.headers["Location"].endswith(f"/admin/jobs/{job_id}")
    with ThreadWorker():
        wait_for(lambda: status(job_id) == "done")
    db.session.expire_all()
    stored = db.session.scalar(select(AnalysisResult).where(AnalysisResult.wave_id == wave(Q3).id))
    assert stored.weight_cap == 4.0 and stored.computed_by == "office" and stored.computed_at > before
    page = office.get(f"/admin/jobs/{job_id}")
    assert "分析完成" in text(page) and "1690 份答卷计入指数" in text(page) and "查看分析结果" in text(page)


def test_a_job_killed_mid_way_is_finished_by_a_restarted_worker(city, database, real_queue, tmp_path, builds):
    office = client_for(city, "office")
    job_id = job_id_of(office.get(QUARTERLY))
    folder = files_dir()
    log = tmp_path / "worker.log"
    worker = ProcessWorker(database, real_queue, folder, log)
    try:
        wait_for(lambda: status(job_id) == "running", timeout=120, step=0.01)
        worker.kill()
    finally:
        worker.stop()
    killed = fresh(job_id)
    assert killed.status == "running" and killed.attempts == 1, log.read_text()
    assert not list(folder.glob("*.pdf")), "the build finished before the kill: not killed mid-way"
    assert queue.huey.pending_count() == 0  # the message went with the worker: only the table knows

    restarted = ProcessWorker(database, real_queue, folder, log)
    try:
        wait_for(lambda: status(job_id) in ("done", "failed"), timeout=240)
    finally:
        restarted.stop()
    job = fresh(job_id)
    assert job.status == "done" and job.attempts == 2, (job.error, log.read_text())
    assert [p.name for p in folder.glob("*.pdf")] == [job.result_path]
    pdf = office.get(QUARTERLY)
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
    assert "综合指数" in pdf_text(pdf.data)
    assert builds == []  # built in the worker processes, never in this one


def test_no_document_is_built_twice_for_the_same_inputs(city, builds):
    office, admin = client_for(city, "office"), client_for(city, "admin")
    first = office.get(QUARTERLY)
    assert first.status_code == 200 and first.data.startswith(b"%PDF-") and len(builds) == 1
    assert "青山镇" in pdf_text(first.data) and "青山镇(新)" not in pdf_text(first.data)
    assert office.get(QUARTERLY).data == first.data and admin.get(QUARTERLY).data == first.data
    assert len(builds) == 1 and db.session.scalar(select(func.count()).select_from(Job)) == 1
    # The units change (a town renamed): the cached file no longer fits, a new one is built.
    db.session.execute(update(Unit).where(Unit.code == "510701005").values(name="青山镇(新)"))
    db.session.commit()
    renamed = office.get(QUARTERLY)
    assert len(builds) == 2 and "青山镇(新)" in pdf_text(renamed.data)
    # The results change (the analysis is re-run): built again, once.
    post(office, f"/admin/waves/{Q3}/analysis", {"weight_cap": "4", "confirmed": "1"})
    office.get(QUARTERLY)
    office.get(QUARTERLY)
    assert len(builds) == 3
    # The wave changes (published): built again.
    invoke(city.test_cli_runner(), "wave", "publish", Q3)
    office.get(QUARTERLY)
    assert len(builds) == 4
    # The XLSX too: one file per state.
    assert office.get(f"/admin/waves/{Q3}/results.xlsx").data == office.get(f"/admin/waves/{Q3}/results.xlsx").data
    assert db.session.scalar(select(func.count()).select_from(Job).where(Job.kind == "xlsx")) == 1


def test_a_failed_job_says_why_in_chinese_and_is_tried_again_when_asked(city, real_queue):
    office = client_for(city, "office")
    job_id = job_id_of(office.get(QUARTERLY))
    db.session.execute(AnalysisResult.__table__.delete())  # the results go while the job waits
    db.session.commit()
    with ThreadWorker():
        wait_for(lambda: status(job_id) == "failed")
    page = office.get(f"/admin/jobs/{job_id}")
    assert "失败" in text(page) and "还没有分析结果" in text(page) and "http-equiv" not in page.get_data(as_text=True)
    refused = office.get(QUARTERLY)  # asked again: refused at once, in the request
    assert refused.status_code == 409 and "还没有分析结果" in text(refused)


# -- one unit's documents ----------------------------------------------------------------------


def _draft_wave(city) -> str:
    invoke(city.test_cli_runner(), "wave", "create", "--slug", "2026Q4-city", "--questionnaire", "safety",
           "--scope", CITY, "--period", "2026Q4")
    return "2026Q4-city"


def test_one_units_poster_and_cards_from_its_row_on_the_wave_page(city):
    slug = _draft_wave(city)
    admin = client_for(city, "admin")
    page = admin.get(f"/admin/waves/{slug}").get_data(as_text=True)
    links = re.findall(rf'href="(/admin/waves/{slug}/reports/posters\.pdf\?unit=(\d+))"', page)
    assert len(links) == 26  # one per collecting unit
    url, code = links[-1]
    name = db.session.scalar(select(Unit.name).where(Unit.code == code))
    other = db.session.scalar(select(Unit.name).where(Unit.code == links[0][1]))
    response = admin.get(url.replace("&amp;", "&") + "&loopback=1")
    assert response.status_code == 200 and response.data.startswith(b"%PDF-")
    assert f'filename="{slug}-{code}-posters.pdf"' in response.headers["Content-Disposition"]
    pages = pdf_pages(response.data)
    assert len(pages) == 2  # its poster and its sheet of door cards
    words = pdf_text(response.data)
    assert name in words and other not in words and "问卷号码" in words
    # A county account prints its own units' posters, and cannot learn of another county's.
    west = client_for(city, "west")
    assert west.get(f"/admin/waves/{slug}/reports/posters.pdf?unit=510702001&loopback=1").status_code in (200, 303)
    assert west.get(f"/admin/waves/{slug}/reports/posters.pdf?unit=510701005").status_code == 404
    assert admin.get(f"/admin/waves/{slug}/reports/posters.pdf?unit={CITY}").status_code == 404  # the city collects nothing
    assert admin.get(f"/admin/waves/{slug}/reports/quarterly.pdf?unit={code}").status_code == 404


def test_one_units_notice_from_its_case_page(city):
    invoke(city.test_cli_runner(), "interviews", "issue", "--wave", Q3)
    case = db.session.scalar(select(InterviewCase).order_by(InterviewCase.id))
    office = client_for(city, "office")
    page = office.get(f"/admin/cases/{case.id}").get_data(as_text=True)
    m = re.search(r'href="([^"]*reports/interviews\.pdf\?unit=[^"]+)"', page)
    assert m and "本单位的约谈通知书" in page
    response = office.get(m.group(1).replace("&amp;", "&"))
    assert response.status_code == 200 and response.data.startswith(b"%PDF-")
    words = pdf_text(response.data)
    others = [c.unit.name for c in db.session.scalars(select(InterviewCase).where(InterviewCase.id != case.id))]
    assert "约谈通知书" in words and case.unit.name in words
    assert not any(name in words for name in others if name not in case.unit.name)  # its notice only, no list
    not_listed = db.session.scalar(select(Unit.code).where(Unit.kind == "town", Unit.code.not_in(
        select(Unit.code).join(InterviewCase, InterviewCase.unit_id == Unit.id))))
    refused = office.get(f"/admin/waves/{Q3}/reports/interviews.pdf?unit={not_listed}")
    assert refused.status_code == 409 and "不在" in text(refused) and "约谈名单" in text(refused)


def test_report_build_unit_on_the_command_line(city, tmp_path):
    runner = city.test_cli_runner()
    code = wave(Q3) and db.session.scalar(select(Unit.code).where(Unit.code == "510701005"))
    out = tmp_path / "notice.pdf"
    result = runner.invoke(args=["report", "build", "--wave", Q3, "--kind", "interviews", "--unit", code, "--out", str(out)])
    assert result.exit_code == 0, result.output
    words = pdf_text(out.read_bytes())
    assert "青山镇" in words and "约谈通知书" in words
    bad = runner.invoke(args=["report", "build", "--wave", Q3, "--kind", "quarterly", "--unit", code, "--out", str(out)])
    assert bad.exit_code == 1 and "错误" in bad.output and "--unit" in bad.output and "Traceback" not in bad.output
    missing = runner.invoke(args=["report", "build", "--wave", Q3, "--kind", "posters", "--unit", "999", "--out", str(out)])
    assert missing.exit_code == 1 and "错误" in missing.output


# -- the raw answer sheets -------------------------------------------------------------------


SHEETS = f"/admin/waves/{Q3}/answer-sheets.xlsx"


@pytest.fixture
def sheet_builds(monkeypatch) -> list[int]:
    """Every raw answer-sheet workbook written (reports.answer_sheets.to_xlsx), in any thread."""
    from reports import answer_sheets

    written: list[int] = []
    real = answer_sheets.to_xlsx

    def counted(rows) -> bytes:
        data = real(rows)
        written.append(len(data))
        return data

    monkeypatch.setattr(answer_sheets, "to_xlsx", counted)
    return written


def test_the_raw_answer_sheets_workbook_is_built_by_the_worker(city, real_queue, sheet_builds):
    import csv

    from openpyxl import load_workbook

    from models import Response

    office = client_for(city, "office")
    job_id = job_id_of(office.get(SHEETS))  # queued: the request wrote nothing
    assert sheet_builds == [] and status(job_id) == "queued"
    waiting = office.get(f"/admin/jobs/{job_id}")
    assert waiting.status_code == 200 and "答卷明细（XLSX）" in text(waiting) and "排队中" in text(waiting)
    assert "答卷明细（XLSX）" in text(office.get("/admin/jobs"))
    east = client_for(city, "east")  # a county asks for its own part: another job, another file
    east_id = job_id_of(east.get(SHEETS))
    assert east_id != job_id and fresh(east_id).inputs["scope"] == "510701"
    assert fresh(job_id).kind == "answer_sheets" and fresh(job_id).inputs["format"] == "xlsx"  # a kind of its own
    assert "答卷明细（XLSX）（范围 510701）" in text(east.get("/admin/jobs"))
    assert east.get(f"/admin/jobs/{job_id}").status_code == 404  # the whole wave's sheets are not its own
    with ThreadWorker():
        wait_for(lambda: status(job_id) == "done" and status(east_id) == "done")
    assert len(sheet_builds) == 2
    whole, part = office.get(SHEETS), east.get(SHEETS)
    assert whole.status_code == part.status_code == 200
    assert part.headers["Content-Disposition"] == f'attachment; filename="{Q3}-510701-answer-sheets.xlsx"'
    rows = list(load_workbook(io.BytesIO(whole.data)).active.iter_rows(values_only=True))
    in_wave = db.session.scalar(select(func.count()).select_from(Response).where(Response.wave_id == wave(Q3).id))
    assert rows[0][:2] == ("答卷编号", "单位代码") and len(rows) - 1 == in_wave
    east_rows = list(load_workbook(io.BytesIO(part.data)).active.iter_rows(values_only=True))
    assert 1 < len(east_rows) < len(rows) and all(str(r[1]).startswith("510701") for r in east_rows[1:])
    assert len(sheet_builds) == 2  # served from the files
    # A review decision changes a sheet's status: the next request is another job.
    sheet = db.session.scalar(select(Response).where(Response.wave_id == wave(Q3).id).order_by(Response.id.desc()).limit(1))
    decided = "rejected" if sheet.review_status != "rejected" else "accepted"
    db.session.execute(update(Response).where(Response.id == sheet.id).values(
        review_status=decided, reviewed_at=db.func.current_timestamp()))
    db.session.commit()
    again = job_id_of(office.get(SHEETS))
    assert again != job_id and status(again) == "queued"
    # The CSV is a job too (it grows with the wave): queued, built by the worker, then the file.
    csv_id = job_id_of(office.get(f"/admin/waves/{Q3}/answer-sheets.csv"))
    assert fresh(csv_id).kind == "answer_sheets" and fresh(csv_id).inputs["format"] == "csv"
    assert status(csv_id) == "queued" and "答卷明细（CSV）" in text(office.get(f"/admin/jobs/{csv_id}"))
    with ThreadWorker():
        wait_for(lambda: status(csv_id) == "done")
    raw = office.get(f"/admin/waves/{Q3}/answer-sheets.csv")
    assert raw.status_code == 200 and raw.data.startswith(b"\xef\xbb\xbf") and raw.content_type == "text/csv; charset=utf-8"
    assert raw.headers["Content-Disposition"] == f'attachment; filename="{Q3}-answer-sheets.csv"'
    assert len(list(csv.reader(io.StringIO(raw.data.decode("utf-8-sig"))))) - 1 == in_wave
    assert len(sheet_builds) == 3 and status(again) == "done"  # the worker built the workbook queued above too


def test_a_resolved_paper_keying_changes_the_sheets_fingerprint(city):
    """Resolving two keyings that differ rewrites a stored sheet's answers without a new sheet or a
    review: the paper sheets' state is part of the raw sheets' fingerprint (jobs.state)."""
    from jobs.state import fingerprint
    from models import PaperSheet, Response, User

    q3 = wave(Q3)
    inputs = {"wave": Q3, "scope": None, "format": "xlsx"}
    before = fingerprint("answer_sheets", inputs, q3)
    assert fingerprint("answer_sheets", inputs, q3) == before
    assert fingerprint("xlsx", {"wave": Q3, "scope": None}, q3) != before  # the results workbook
    sheet = db.session.scalar(select(Response).where(Response.wave_id == q3.id).limit(1))
    admin = db.session.scalar(select(User).where(User.username == "admin"))
    paper = PaperSheet(wave_id=q3.id, sheet_no="P-001", response_id=sheet.id, status="differs", first_by_id=admin.id,
                       first_unit=sheet.unit.code, first_answers=dict(sheet.answers))
    db.session.add(paper)
    db.session.commit()
    keyed = fingerprint("answer_sheets", inputs, q3)
    assert keyed != before
    paper.status, paper.resolved_by_id, paper.resolved_at = "resolved", admin.id, db.func.current_timestamp()
    db.session.commit()
    assert fingerprint("answer_sheets", inputs, q3) != keyed


def test_the_qr_codes_zip_is_built_by_the_worker(city, real_queue):
    import csv
    import zipfile

    admin = client_for(city, "admin")
    door = f"/admin/waves/{Q3}/qr.zip?mode=door&loopback=1"
    job_id = job_id_of(admin.get(door))  # queued: no code drawn in the request
    assert status(job_id) == "queued" and fresh(job_id).kind == "qr_zip"  # a kind of its own, not `posters`
    assert fresh(job_id).inputs == {"wave": Q3, "unit": None, "within": None, "mode": "door"}
    assert "入户卡片二维码图片（ZIP）" in text(admin.get(f"/admin/jobs/{job_id}"))
    assert "入户卡片二维码图片（ZIP）" in text(admin.get("/admin/jobs"))
    other = job_id_of(admin.get(f"/admin/waves/{Q3}/qr.zip?loopback=1"))  # the residents' codes: another job
    assert other != job_id
    with ThreadWorker():
        wait_for(lambda: status(job_id) == "done" and status(other) == "done")
    done = admin.get(door)
    assert done.status_code == 200 and done.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(done.data))
    rows = list(csv.DictReader(io.StringIO(archive.read("index.csv").decode("utf-8-sig"))))
    assert len(rows) == 26 and all(archive.read(f"{r['unit_code']}.png").startswith(b"\x89PNG") for r in rows)
    assert all("/s/" in r["url"] for r in rows)
