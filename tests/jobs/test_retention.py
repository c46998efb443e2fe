"""What built files are kept (jobs.retention, docs/jobs.md "Clean-up"): a newer build of a document
deletes the file it supersedes, a re-run's charts sweep the wave's older ones, and
`flask jobs prune --older-than DAYS` deletes what is no longer in use and nothing that is."""

from __future__ import annotations

import os
import time
from datetime import timedelta

from sqlalchemy import select, update

import caches
from extensions import db
from jobs.retention import SUPERSEDED
from jobs.service import files_dir
from models import Job, Unit
from tests.admin.console import (  # noqa: F401  (fixtures)
    Q3,
    city,
    city_template,
    client_for,
    invoke,
    post,
    text,
    wave,
)

QUARTERLY = f"/admin/waves/{Q3}/reports/quarterly.pdf"
TOWN = "510701005"


def _job(job_id: int) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job_id)


def _quarterly_jobs() -> list[Job]:
    db.session.expire_all()
    return list(db.session.scalars(select(Job).where(Job.kind == "quarterly").order_by(Job.id)))


def _rename(name: str) -> None:
    db.session.execute(update(Unit).where(Unit.code == TOWN).values(name=name))
    db.session.commit()


def _age(path, days: float) -> None:
    past = time.time() - days * 86400
    os.utime(path, (past, past))


def test_a_newer_build_deletes_the_file_it_supersedes(city):
    office, east = client_for(city, "office"), client_for(city, "east")
    assert office.get(QUARTERLY).status_code == 200
    assert east.get(QUARTERLY).status_code == 200  # the county's own part: another document
    whole, part = _quarterly_jobs()
    first = files_dir() / whole.result_path
    assert first.is_file() and (files_dir() / part.result_path).is_file()
    # The units change: the next request builds the new state and the old file goes.
    _rename("青山镇(新)")
    assert office.get(QUARTERLY).status_code == 200
    old, newer = _job(whole.id), _quarterly_jobs()[-1]
    second = files_dir() / newer.result_path
    assert not first.is_file() and second.is_file()
    assert old.status == "done" and old.result_path is None and old.step == SUPERSEDED
    page = office.get(f"/admin/jobs/{old.id}")
    assert page.status_code == 200 and "这份文件已删除" in text(page) and f"/admin/jobs/{old.id}/file" not in text(page)
    assert office.get(f"/admin/jobs/{old.id}/file").status_code == 409
    # The county's part is not the same document: its file stays until its own next build.
    assert (files_dir() / _job(part.id).result_path).is_file()
    # Another change: the newest build supersedes the one before, whichever job it is.
    _rename("青山镇")
    again = office.get(QUARTERLY)
    assert again.status_code == 200 and again.data.startswith(b"%PDF-")
    whole_jobs = [j for j in _quarterly_jobs() if j.inputs["within"] is None]
    assert [j.result_path is not None for j in whole_jobs] == [False] * (len(whole_jobs) - 1) + [True]
    assert not second.exists()
    pdfs = sorted(p.name for p in files_dir().glob("*.pdf"))
    assert pdfs == sorted([whole_jobs[-1].result_path, _job(part.id).result_path])


def test_a_reruns_charts_sweep_the_waves_older_ones(city):
    from jobs.charts import sweep

    caches.RESULT_CHARTS.clear()  # drawn by another test's app for the same numbers: draw into this one's folder
    office = client_for(city, "office")
    assert office.get(f"/admin/waves/{Q3}/results?level=town").status_code == 200
    q3 = wave(Q3)
    charts = files_dir() / "charts"
    drawn = {p.name for p in charts.glob(f"{q3.id}-*.json")}
    assert len(drawn) == 1
    assert sweep(q3) == []  # what the current results show stays
    assert post(office, f"/admin/waves/{Q3}/analysis", {"weight_cap": "3", "confirmed": "1"}).status_code == 302
    assert sweep(q3) == [name.removesuffix(".json") for name in drawn]  # the earlier run's
    assert not any(charts.glob(f"{q3.id}-*.json"))
    assert office.get(f"/admin/waves/{Q3}/results?level=town").status_code == 200  # drawn anew
    assert len(list(charts.glob(f"{q3.id}-*.json"))) == 1


def test_prune_deletes_what_is_no_longer_in_use_and_nothing_that_is(city):
    caches.RESULT_CHARTS.clear()
    office = client_for(city, "office")
    assert office.get(QUARTERLY).status_code == 200
    assert office.get(f"/admin/waves/{Q3}/results?level=town").status_code == 200
    folder = files_dir()
    (current,) = _quarterly_jobs()
    q3 = wave(Q3)
    # A document superseded while its newer build ran (its file outlived the supersede step): an
    # older finished job of the same document.
    stale = Job(kind="quarterly", inputs={**current.inputs, "date": "2026-10-01"}, fingerprint="a" * 64, wave_id=q3.id,
                status="done", progress=100, step="完成", attempts=1, requested_by_name="cli",
                result_path="a" * 64 + ".pdf", filename="old.pdf", finished_at=current.finished_at - timedelta(days=9))
    waiting = Job(kind="posters", inputs={"wave": Q3, "unit": None, "within": None, "date": "2026-12-01"},
                  fingerprint="b" * 64, wave_id=q3.id, status="queued", progress=0, attempts=1, requested_by_name="cli")
    db.session.add_all([stale, waiting])
    db.session.commit()
    files = {
        "stale": folder / stale.result_path,
        "waiting": folder / ("b" * 64 + ".pdf"),  # written before its worker died: the next one finds it
        "orphan": folder / ("c" * 64 + ".xlsx"),  # no job refers to it
        "fresh_orphan": folder / ("d" * 64 + ".zip"),  # as above, but written a moment ago
        "tmp": folder / f".{'e' * 64}.pdf.4242.tmp",  # a killed worker's half-written file
        "other_wave_chart": folder / "charts" / "99999-f00d.json",
        "legacy_chart": folder / "charts" / ("f" * 64 + ".json"),  # named before the wave prefix
    }
    for name, path in files.items():
        path.write_bytes(b"x" * 1000)
        if name != "fresh_orphan":
            _age(path, 10)
    kept = [folder / current.result_path, *(folder / "charts").glob(f"{q3.id}-*.json")]
    for path in kept:
        _age(path, 10)  # old, but in use
    runner = city.test_cli_runner()
    assert runner.invoke(args=["jobs", "prune", "--older-than", "-1"]).exit_code == 2
    out = invoke(runner, "jobs", "prune", "--older-than", "7").output
    gone = {"stale", "orphan", "tmp", "other_wave_chart", "legacy_chart"}
    assert {n for n, p in files.items() if not p.exists()} == gone, out
    assert all(p.is_file() for p in kept)
    assert f"共删除 {len(gone)} 个文件" in out
    assert _job(stale.id).result_path is None and _job(stale.id).step == SUPERSEDED
    assert _job(current.id).result_path is not None
    # With --older-than 0 the file written a moment ago goes too; what is in use still stays.
    invoke(runner, "jobs", "prune", "--older-than", "0")
    assert not files["fresh_orphan"].exists() and files["waiting"].is_file() and all(p.is_file() for p in kept)
    assert office.get(QUARTERLY).data.startswith(b"%PDF-")  # still served from its file
