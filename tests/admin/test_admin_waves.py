"""Waves in the console: creating, opening, closing, publishing, live progress and the downloads."""

from __future__ import annotations

import csv
import io
import re
import zipfile

from sqlalchemy import select

from extensions import db
from models import AuditEntry, Response, Unit
from survey.results import wave_result
from tests.pdf import pdf_pages, pdf_text
from tests.admin.console import (  # noqa: F401  (fixtures)
    CITY,
    EAST,
    Q2,
    Q3,
    WEST,
    city,
    city_template,
    client_for,
    field_error,
    post,
    text,
    wave,
)

NEW = {"slug": "2026Q4-city", "questionnaire": "safety", "scope": CITY, "period": "2026Q4", "series": "", "target_n": "40"}


def test_a_wave_is_created_from_the_form_as_a_draft(city):
    admin = client_for(city, "admin")
    form = admin.get("/admin/waves/new")
    assert form.status_code == 200 and "示例市" in text(form)
    response = post(admin, "/admin/waves/new", NEW)
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/waves/2026Q4-city")
    created = wave("2026Q4-city")
    assert (created.status, created.series, created.period, created.target_n, created.scope.code) == ("draft", "safety", "2026Q4", 40, CITY)
    page = admin.get("/admin/waves/2026Q4-city")
    assert "草稿" in text(page) and "开始调查" in text(page)
    assert db.session.scalar(select(AuditEntry.actor).where(AuditEntry.action == "wave.create", AuditEntry.entity_id == "2026Q4-city")) == "admin"


def test_bad_wave_input_is_shown_beside_its_field(city):
    admin = client_for(city, "admin")
    bad = post(admin, "/admin/waves/new", {**NEW, "slug": "2026 Q4!", "period": "2026Q5", "target_n": "0"})
    assert bad.status_code == 422
    assert "只能用字母" in field_error(bad, "slug")
    assert "格式不对" in field_error(bad, "period")
    assert field_error(bad, "target_n") == "应为 1 到 100000 之间的整数"
    reserved = post(admin, "/admin/waves/new", {**NEW, "slug": "new"})
    assert reserved.status_code == 422 and "保留字" in field_error(reserved, "slug")
    clash = post(admin, "/admin/waves/new", {**NEW, "slug": "again", "period": "2026Q3"})
    assert clash.status_code == 409 and "已有调查" in text(clash) and Q3 in text(clash)
    # A taken slug is shown at once, beside its field and with the other fields' errors.
    duplicate = post(admin, "/admin/waves/new", {**NEW, "slug": Q3, "target_n": "0"})
    assert duplicate.status_code == 422
    assert field_error(duplicate, "slug") == f"调查标识 {Q3} 已被“{wave(Q3).title}”使用,请换一个"
    assert field_error(duplicate, "target_n") == "应为 1 到 100000 之间的整数"
    assert wave("2026Q4-city") is None and wave("again") is None


def test_copying_the_last_wave_fills_in_the_next_period(city):
    admin = client_for(city, "admin")
    listing = admin.get("/admin/waves")
    assert f"/admin/waves/new?copy={Q3}" in listing.get_data(as_text=True)
    form = admin.get(f"/admin/waves/new?copy={Q3}")
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and f"已按调查 {Q3} 填好" in text(form)
    assert 'value="2026Q4-city"' in html and 'value="2026Q4"' in html and f'value="{wave(Q3).target_n}"' in html
    assert re.search(rf'<option selected value="{CITY}">|<option value="{CITY}" selected>', html)
    response = post(admin, "/admin/waves/new", {**NEW, "target_n": str(wave(Q3).target_n)})
    assert response.status_code == 302
    copied, last = wave("2026Q4-city"), wave(Q3)
    assert (copied.questionnaire_version.slug, copied.scope.code, copied.series, copied.target_n) == (
        last.questionnaire_version.slug, last.scope.code, last.series, last.target_n)
    # a county may copy only what it sees
    assert client_for(city, "east").get(f"/admin/waves/new?copy={Q3}").status_code in (403, 404)


def test_next_period_moves_on_by_one_period_of_the_same_length():
    from survey.periods import next_period

    assert [next_period(p) for p in ("2026Q4", "2026Q1", "2026H2", "2026H1", "2026M12", "2026M07", "2026")] == [
        "2027Q1", "2026Q2", "2027H1", "2026H2", "2027M01", "2026M08", "2027"]


def test_open_close_publish_in_order_and_nothing_else(city):
    admin = client_for(city, "admin")
    post(admin, "/admin/waves/new", NEW)
    url = "/admin/waves/2026Q4-city"
    refused = post(admin, url + "/close")
    assert refused.status_code == 409 and "不能结束" in text(refused) and wave("2026Q4-city").status == "draft"
    assert post(admin, url + "/open").status_code == 302 and wave("2026Q4-city").status == "open"
    page = admin.get(url)
    assert "每 15 秒自动刷新" in text(page) and "progress.js" in page.get_data(as_text=True)
    asked = post(admin, url + "/close")  # the confirmation page first (tests/admin/test_county.py)
    assert asked.status_code == 200 and "确认结束调查" in text(asked) and wave("2026Q4-city").status == "open"
    assert post(admin, url + "/close", {"confirmed": "1"}).status_code == 302 and wave("2026Q4-city").status == "closed"
    not_analysed = post(admin, url + "/publish")
    assert not_analysed.status_code == 409 and "还没有分析结果" in text(not_analysed)
    assert wave("2026Q4-city").status == "closed"
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "wave", AuditEntry.entity_id == "2026Q4-city").order_by(AuditEntry.id)).all()
    assert actions == ["wave.create", "wave.open", "wave.close"]
    assert post(admin, f"/admin/waves/{Q3}/publish", {"confirmed": "1"}).status_code == 302 and wave(Q3).status == "published"
    assert admin.post(url + "/open").status_code == 400  # no CSRF token


def test_a_county_manages_only_waves_within_its_county(city):
    east = client_for(city, "east")
    form = east.get("/admin/waves/new")
    assert "东城区" in text(form) and "西山县" not in text(form)
    elsewhere = post(east, "/admin/waves/new", {**NEW, "slug": "west-q4", "scope": WEST})
    assert elsewhere.status_code == 422 and field_error(elsewhere, "scope") == "请选择您管辖范围内的单位"
    assert post(east, "/admin/waves/new", {**NEW, "slug": "east-q4", "scope": EAST}).status_code == 302
    assert post(east, "/admin/waves/east-q4/open").status_code == 302 and wave("east-q4").status == "open"

    admin = client_for(city, "admin")
    post(admin, "/admin/waves/new", NEW)
    assert post(east, "/admin/waves/2026Q4-city/open").status_code == 403  # city-wide: visible, not its to run
    assert wave("2026Q4-city").status == "draft"
    west = client_for(city, "west")
    assert west.get("/admin/waves/east-q4").status_code == 404
    assert post(west, "/admin/waves/east-q4/close").status_code == 404
    assert "east-q4" not in text(west.get("/admin/waves"))
    assert client_for(city, "office").get("/admin/waves/new").status_code == 403


def test_progress_counts_per_unit_against_target_with_flagged_ones(city):
    admin = client_for(city, "admin")
    flagged = db.session.scalar(select(Response).where(Response.wave_id == wave(Q3).id).order_by(Response.id).limit(1))
    flagged.review_status, flagged.flags = "flagged", ["speeder"]
    db.session.commit()
    data = admin.get(f"/admin/waves/{Q3}/progress.json").get_json()
    assert data["status"] == "closed"
    top = data["top"]
    assert top["code"] == CITY and top["n"] == wave_result(wave(Q3)).root.n  # departments are not in the city's count
    assert top["n_flagged"] == 1
    codes = [r["code"] for r in data["rows"]]
    assert codes[0] == CITY and "510701001" in codes and len(codes) == 30
    town = next(r for r in data["rows"] if r["code"] == "510701001")
    assert town["target"] == 3 * wave(Q3).target_n and town["share"] == town["n"] / town["target"]

    east = client_for(city, "east")
    mine = east.get(f"/admin/waves/{Q3}/progress.json").get_json()
    assert mine["top"]["code"] == EAST and mine["rows"][0]["depth"] == 0
    assert {r["code"][:6] for r in mine["rows"]} == {EAST}
    page = text(east.get(f"/admin/waves/{Q3}"))
    assert "青山镇" in page and "白水乡" not in page


def test_qr_codes_download_as_a_zip_of_pngs_with_an_index(city):
    admin = client_for(city, "admin")
    response = admin.get(f"/admin/waves/{Q3}/qr.zip?loopback=1")  # the tests serve 127.0.0.1: confirmed
    assert response.status_code == 200 and response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    rows = list(csv.DictReader(io.StringIO(archive.read("index.csv").decode("utf-8-sig"))))
    assert len(rows) == 26  # towns, villages and departments: every unit that collects
    assert all(archive.read(f"{r['unit_code']}.png").startswith(b"\x89PNG") for r in rows)
    assert all(r["url"].startswith("http://127.0.0.1:5000/s/") and len(r["short_code"]) == 6 for r in rows)

    west = client_for(city, "west")
    mine = zipfile.ZipFile(io.BytesIO(west.get(f"/admin/waves/{Q3}/qr.zip?mode=door&loopback=1").data))
    codes = {r["unit_code"] for r in csv.DictReader(io.StringIO(mine.read("index.csv").decode("utf-8-sig")))}
    assert codes and all(c.startswith(WEST) for c in codes)
    assert sorted(mine.namelist()) == sorted(["index.csv", *(f"{c}.png" for c in codes)])
    assert admin.get(f"/admin/waves/{Q3}/qr.zip?mode=nonsense").status_code == 404


def test_the_qr_download_draws_the_accounts_own_codes_and_none_before_it_is_confirmed(city, monkeypatch):
    """The loopback confirmation (the tests serve 127.0.0.1) is shown before any QR code is drawn or
    any job asked for, and a county's zip draws its own units' codes, not the whole wave's."""
    import survey.qr
    from models import Job

    drawn: list[str] = []
    real = survey.qr.qr_png
    monkeypatch.setattr(survey.qr, "qr_png", lambda url, *args: drawn.append(url) or real(url, *args))
    west = client_for(city, "west")
    asked = west.get(f"/admin/waves/{Q3}/qr.zip")
    assert asked.status_code == 200 and asked.mimetype == "text/html" and "仍然下载" in text(asked) and drawn == []
    assert db.session.scalar(select(Job.id).limit(1)) is None
    mine = west.get(f"/admin/waves/{Q3}/qr.zip?loopback=1")  # a job, run at once in the tests (JOBS_IMMEDIATE)
    assert mine.headers["Content-Disposition"] == f'attachment; filename="{Q3}-{WEST}-qr-codes.zip"'
    pngs = [n for n in zipfile.ZipFile(io.BytesIO(mine.data)).namelist() if n.endswith(".png")]
    assert pngs and len(drawn) == len(pngs) < 26 and all(n.startswith(WEST) for n in pngs)


def test_posters_are_a_pdf_of_the_whole_wave(city):
    admin = client_for(city, "admin")
    post(admin, "/admin/waves/new", NEW)
    assert "扫码海报和入户卡片（PDF）" in text(admin.get("/admin/waves/2026Q4-city"))
    response = admin.get("/admin/waves/2026Q4-city/reports/posters.pdf?loopback=1")  # 127.0.0.1: confirmed
    assert response.status_code == 200 and response.data.startswith(b"%PDF-")
    pages = pdf_pages(response.data)
    collecting = db.session.scalars(
        select(Unit.name).where(Unit.kind.in_(("town", "village", "grid", "department"))).order_by(Unit.path)
    ).all()
    assert len(collecting) == 26
    posters = [p for p in pages if "扫码" in p and "问卷号码" in p]
    assert len(posters) >= len(collecting)
    assert all(any(name in p for p in posters) for name in collecting)  # one poster per collecting unit
    codes = re.findall(r"问卷号码([A-Z0-9]{3}-[A-Z0-9]{3})", "".join(posters))
    assert len(set(codes)) >= len(collecting)
    west = client_for(city, "west").get("/admin/waves/2026Q4-city/reports/posters.pdf?loopback=1")  # its own posters only
    assert west.status_code == 200 and 'filename="2026Q4-city-510702-posters.pdf"' in west.headers["Content-Disposition"]
    county = db.session.scalar(select(Unit).where(Unit.code == "510702"))
    own = set(db.session.scalars(select(Unit.name).where(
        Unit.kind.in_(("town", "village", "grid", "department")), county.subtree_clause())))
    west_text = pdf_text(west.data)
    assert own and all(name in west_text for name in own)
    assert not [name for name in set(collecting) - own if name in west_text]  # no poster of another county
    ended = admin.get(f"/admin/waves/{Q2}/reports/posters.pdf")
    assert ended.status_code == 409 and "已结束" in text(ended)


def test_the_dashboard_summarises_waves_and_cases(city):
    admin = client_for(city, "admin")
    page = text(admin.get("/admin/"))
    assert "示例市2026年第二季度" in page and "示例市2026年第三季度" in page and "已发布" in page and "已结束" in page
    assert Q2 not in page  # the title, not the slug
    assert "办理中的约谈案件" in page and "已逾期" in page
    east = text(client_for(city, "east").get("/admin/"))
    assert "本账号：东城区" in east


def test_the_dashboard_says_its_count_is_residents_only(city):
    """Issue 13: one definition of every total, and departments apart wherever a total excludes them.
    The dashboard's count is the wave page's count of residents' sheets, not the 有效答卷 with departments."""
    from reports.model import totals

    admin = client_for(city, "admin")
    page = admin.get("/admin/").get_data(as_text=True)
    sums = totals(wave_result(wave(Q2)))
    assert sums.departments > 0
    row = page[page.index(f'href="/admin/waves/{Q2}"'):]
    row = row[:row.index("</tr>")]
    assert f'<td class="num">{sums.residents}</td>' in row and f'<td class="num">{sums.responses}</td>' not in row
    assert "辖区居民答卷" in text(admin.get("/admin/")) and "不含部门的答卷" in text(admin.get("/admin/"))
    wave_page = admin.get(f"/admin/waves/{Q2}").get_data(as_text=True)
    assert f'<span class="big" data-field="n">{sums.residents}</span>份辖区居民答卷（不含部门' in wave_page


def test_collection_dates_are_set_on_the_wave_page_and_printed_on_the_posters(city):
    from reports.build import build_report

    admin = client_for(city, "admin")
    post(admin, "/admin/waves/new", NEW)
    url = "/admin/waves/2026Q4-city/collection"
    outside = post(admin, url, {"collection_start": "2026-09-30", "collection_end": "2026-10-20"})
    assert outside.status_code == 422 and "收集时间应在调查期间" in text(outside)
    half = post(admin, url, {"collection_start": "2026-10-08", "collection_end": ""})
    assert half.status_code == 422 and "同时填写" in text(half)
    assert wave("2026Q4-city").collection_start is None
    assert post(client_for(city, "west"), url, {"collection_start": "2026-10-08", "collection_end": "2026-10-31"}).status_code in (403, 404)
    done = post(admin, url, {"collection_start": "2026-10-08", "collection_end": "2026-10-31"})
    assert done.status_code == 302
    assert wave("2026Q4-city").collection_dates[0].isoformat() == "2026-10-08"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "wave.collection_dates"))
    assert entry.after == {"collection_start": "2026-10-08", "collection_end": "2026-10-31"}
    pdf = build_report(wave("2026Q4-city"), "posters")
    first = pdf_pages(pdf)[0]
    assert "调查时间:2026年10月8日至2026年10月31日" in first.replace("：", ":")
    post(admin, url, {"collection_start": "", "collection_end": ""})  # both empty: the whole period again
    assert wave("2026Q4-city").collection_dates == (wave("2026Q4-city").period_start, wave("2026Q4-city").period_end)
