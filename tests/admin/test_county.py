"""County offices on their own (issue 14): wave titles and periods as staff type them, a county's
own waves end to end, its row among its peers, its own PDFs, and the confirmations."""

from __future__ import annotations

from sqlalchemy import select

from extensions import db
from models import AuditEntry
from tests.pdf import pdf_text
from tests.admin.console import (  # noqa: F401  (fixtures)
    CITY,
    EAST,
    Q3,
    city,
    city_template,
    client_for,
    field_error,
    post,
    text,
    wave,
)

NEW = {"slug": "2027Q1-city", "questionnaire": "safety", "scope": CITY, "period": "2027年第一季度", "series": "", "target_n": "40"}


def test_a_wave_typed_as_2027年第一季度_gets_a_default_title_shown_instead_of_the_slug(city):
    admin = client_for(city, "admin")
    assert post(admin, "/admin/waves/new", NEW).status_code == 302
    created = wave("2027Q1-city")
    assert created.period == "2027Q1" and str(created.period_start) == "2027-01-01"
    assert created.title == "示例市2027年第一季度公众安全感和满意度调查"
    page = text(admin.get("/admin/waves/2027Q1-city"))
    assert "示例市2027年第一季度公众安全感和满意度调查 草稿" in page
    listing = text(admin.get("/admin/waves"))
    assert "示例市2027年第一季度公众安全感和满意度调查" in listing and "2027年第一季度" in listing
    assert "2027Q1-city" not in listing


def test_a_title_is_chosen_at_creation_and_renamed_with_an_audit_entry(city):
    admin = client_for(city, "admin")
    assert post(admin, "/admin/waves/new", {**NEW, "title": "示例市一季度平安建设测评"}).status_code == 302
    assert wave("2027Q1-city").title == "示例市一季度平安建设测评"
    renamed = post(admin, "/admin/waves/2027Q1-city/title", {"title": " 示例市2027年一季度平安测评 "})
    assert renamed.status_code == 302 and wave("2027Q1-city").title == "示例市2027年一季度平安测评"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "wave.rename"))
    assert entry.before == {"title": "示例市一季度平安建设测评"} and entry.after == {"title": "示例市2027年一季度平安测评"}
    blank = post(admin, "/admin/waves/2027Q1-city/title", {"title": "  "})
    assert blank.status_code == 422 and field_error(blank, "title") == "请填写调查名称"
    long = post(admin, "/admin/waves/2027Q1-city/title", {"title": "长" * 201})
    assert long.status_code == 422 and "最多 200 字" in field_error(long, "title")
    assert wave("2027Q1-city").title == "示例市2027年一季度平安测评"
    # a county account may not rename the city's wave; an analyst may not rename at all
    assert post(client_for(city, "east"), f"/admin/waves/{Q3}/title", {"title": "东城区的"}).status_code == 403
    assert post(client_for(city, "analyst"), f"/admin/waves/{Q3}/title", {"title": "x"}).status_code == 403
    assert wave(Q3).title == "示例市2026年第三季度公众安全感和满意度调查"


def test_a_bad_period_is_refused_beside_its_field_in_chinese(city):
    admin = client_for(city, "admin")
    bad = post(admin, "/admin/waves/new", {**NEW, "period": "2027年第五季度"})
    assert bad.status_code == 422 and "格式不对" in field_error(bad, "period") and "2027年第一季度" in field_error(bad, "period")
    assert wave("2027Q1-city") is None


# -- a county among its peers: its own row, the city headline, and nothing else of the others ------


def _others():
    """The units of the other counties' subtrees and the city's departments: nothing of them may show."""
    from models import Unit

    return db.session.scalars(
        select(Unit).where(~Unit.path.contains(f"/{EAST}/"), Unit.code != CITY, Unit.kind != "county")
    ).all()


def test_a_county_sees_its_row_among_its_peers_and_the_city_headline_and_nothing_else(city):
    """Its own row among the counties, the others' composite, place and grade only (not even their
    names), and the city's headline."""
    from analysis import WaveResult
    from reports.formatting import num
    from survey.results import stored_result

    full = WaveResult.from_dict(stored_result(wave(Q3)).payload)
    counties = [u for u in full.units if u.kind == "county"]
    assert len(counties) == 3
    east = client_for(city, "east")
    page = east.get(f"/admin/waves/{Q3}/results")
    body = text(page)
    assert page.status_code == 200 and "在同级中的位置" in body and "东城区（本单位）" in body
    root = full.root
    assert f"示例市综合指数 {num(root.composite.estimate)}" in body
    for u in counties:  # every county's composite; the others unnamed
        assert num(u.composite.estimate) in body
        assert (u.name in body) == (u.code == EAST)
    assert "第 1 名 / 共 3 名" in body and "第 3 名 / 共 3 名" in body
    html = page.get_data(as_text=True)
    for u in counties:
        if u.code == EAST:
            continue
        # no code, no link, no CI, no sample size, no indicator of another county
        assert u.code not in html
        assert f"{u.composite.ci_low:.1f}–{u.composite.ci_high:.1f}" not in body
        for ind in u.indicators.values():
            if ind.estimate is not None:
                assert f">{num(ind.estimate)}<" not in html
    for other in _others():
        assert other.name not in body and other.code not in html

    # the analyst (whole tree) gets no standing panel; the city's own wave has no peers to show
    assert "在同级中的位置" not in text(client_for(city, "analyst").get(f"/admin/waves/{Q3}/results"))


def test_the_api_gives_a_county_its_standing_and_leaks_nothing_of_the_other_counties(city):
    import json

    from api.tokens import create_token
    from tests.admin.console import user

    _, secret = create_token(user("east"), "test")
    db.session.commit()
    client = city.test_client()
    response = client.get(f"/api/v1/waves/{Q3}/results", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    data = response.get_json()
    standing = data["standing"]
    assert standing["headline"]["name"] == "示例市" and standing["headline"]["composite"] is not None
    peers = standing["peers"]
    assert len(peers) == 3 and [p["name"] for p in peers] == [p["name"] if p["own"] else None for p in peers]
    assert [p["name"] for p in peers if p["own"]] == ["东城区"]
    assert all(set(p) == {"name", "composite", "place", "group_size", "grade", "own", "unranked"} for p in peers)
    assert sorted(p["place"] for p in peers) == [1, 2, 3]
    assert {u["code"][:6] for u in data["units"]} == {EAST}
    raw = json.dumps(data, ensure_ascii=False)
    for other in _others():
        assert other.code not in raw and other.name not in raw
    for code, name in (("510702", "西山县"), ("510703", "南河县")):
        assert code not in raw and name not in raw
    # a whole-tree token: no standing
    _, analyst = create_token(user("analyst"), "test")
    db.session.commit()
    whole = client.get(f"/api/v1/waves/{Q3}/results", headers={"Authorization": f"Bearer {analyst}"}).get_json()
    assert whole["standing"] is None


# -- a county prints its own part of a city-wide wave --------------------------------------------------


def test_a_county_prints_its_own_report_notices_and_board_of_the_city_wide_wave(city):
    from survey.results import wave_result

    east = client_for(city, "east")
    full = wave_result(wave(Q3))
    mine = [u for u in full.units if u.code.startswith(EAST) and u.n > 0]
    listed_mine = [e for e in full.interview_list if e.code.startswith(EAST) and e.code != EAST]
    assert listed_mine
    names = {u.code: u.name for u in full.units}
    for kind in ("quarterly", "interviews", "board"):
        response = east.get(f"/admin/waves/{Q3}/reports/{kind}.pdf")
        assert response.status_code == 200, (kind, text(response))
        assert f'filename="{Q3}-{EAST}-{kind}.pdf"' in response.headers["Content-Disposition"]
        pdf = pdf_text(response.data)
        if kind == "board":
            assert "东城区2026年第三季度平安建设测评结果公示" in pdf
        else:
            assert "示例市2026年第三季度公众安全感和满意度调查（东城区）" in pdf
        for other in _others():
            assert other.name not in pdf, (kind, other.name)
        assert "西山县" not in pdf and "南河县" not in pdf
        if kind == "interviews":
            assert all(names[e.code] in pdf for e in listed_mine)
        else:
            assert all(u.name in pdf for u in mine if u.kind in ("town", "department"))
    # the city's office still prints the whole wave
    whole = pdf_text(client_for(city, "office").get(f"/admin/waves/{Q3}/reports/board.pdf").data)
    assert "西山县" in whole and "东城区" in whole


def test_a_county_prints_its_own_posters_and_cards_of_a_city_wide_wave(city):
    admin = client_for(city, "admin")
    assert post(admin, "/admin/waves/new", {**NEW, "slug": "2027Q1-city"}).status_code == 302
    response = client_for(city, "east").get("/admin/waves/2027Q1-city/reports/posters.pdf?loopback=1")  # 127.0.0.1 in tests: confirmed
    assert response.status_code == 200
    pdf = pdf_text(response.data)
    assert "青山镇" in pdf and "东城区公安分局" in pdf and "问卷号码" in pdf
    for other in _others():
        assert other.name not in pdf


# -- confirmations and refusals where an action is hard to undo ------------------------------------


def _flag(slug: str, n: int = 2) -> None:
    from models import Response

    for r in db.session.scalars(select(Response).where(Response.wave_id == wave(slug).id).order_by(Response.id).limit(n)):
        r.review_status, r.flags = "flagged", ["speeder"]
    db.session.commit()


def test_closing_asks_first_with_the_units_behind_and_the_sheets_awaiting_review(city):
    from survey.progress import wave_progress

    admin = client_for(city, "admin")
    assert post(admin, "/admin/waves/new", {**NEW, "target_n": "1000"}).status_code == 302
    url = "/admin/waves/2027Q1-city"
    assert post(admin, url + "/open").status_code == 302  # nothing else of its series is open: no question
    asked = post(admin, url + "/close")
    body = text(asked)
    rows = wave_progress(wave("2027Q1-city"))
    behind = sum(1 for r in rows if r.collects and r.share < 0.5)
    assert asked.status_code == 200 and "确认结束调查" in body and wave("2027Q1-city").status == "open"
    assert behind == sum(1 for r in rows if r.collects) > 0  # no answers yet: every unit is behind
    assert f"{behind} 个填报单位（共 {behind} 个）的答卷不到目标的一半" in body
    assert "目前辖区居民答卷 0 份" in body and "待审核" not in body
    assert 'name="confirmed" value="1"' in asked.get_data(as_text=True)
    assert post(admin, url + "/close", {"confirmed": "1"}).status_code == 302 and wave("2027Q1-city").status == "closed"
    # the sheets awaiting review are counted too (Q3 reopened for the purpose)
    _flag(Q3, 3)
    wave(Q3).status = "open"
    db.session.commit()
    assert "3 份答卷待审核" in text(post(admin, f"/admin/waves/{Q3}/close"))


def test_publishing_is_refused_while_sheets_await_review_and_asks_otherwise(city):
    admin = client_for(city, "admin")
    _flag(Q3, 2)
    refused = post(admin, f"/admin/waves/{Q3}/publish", {"confirmed": "1"})
    assert refused.status_code == 409 and "还有 2 份答卷待审核" in text(refused) and wave(Q3).status == "closed"
    asked = post(admin, f"/admin/waves/{Q3}/publish")
    assert asked.status_code == 409 and wave(Q3).status == "closed"
    from models import Response

    for r in db.session.scalars(select(Response).where(Response.wave_id == wave(Q3).id, Response.review_status == "flagged")):
        r.review_status = "accepted"
    db.session.commit()
    asked = post(admin, f"/admin/waves/{Q3}/publish")
    body = text(asked)
    assert asked.status_code == 200 and "确认发布结果" in body and "计入指数的答卷" in body and "约谈名单" in body
    assert wave(Q3).status == "closed"
    assert post(admin, f"/admin/waves/{Q3}/publish", {"confirmed": "1"}).status_code == 302 and wave(Q3).status == "published"


def test_rerunning_an_analysis_asks_first_with_what_it_replaces(city):
    from models import AnalysisResult

    office = client_for(city, "office")
    before = db.session.scalar(select(AnalysisResult).where(AnalysisResult.wave_id == wave(Q3).id))
    computed = before.computed_at
    asked = post(office, f"/admin/waves/{Q3}/analysis", {"weight_cap": "4"})
    body = text(asked)
    assert asked.status_code == 200 and "确认重新运行分析" in body
    assert f"{before.n_responses} 份答卷计入指数" in body and "替换现有结果" in body
    assert 'name="weight_cap" value="4"' in asked.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(AnalysisResult.computed_at).where(AnalysisResult.wave_id == wave(Q3).id)) == computed
    done = post(office, f"/admin/waves/{Q3}/analysis", {"weight_cap": "4", "confirmed": "1"})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.scalar(select(AnalysisResult.weight_cap).where(AnalysisResult.wave_id == wave(Q3).id)) == 4.0
    # a county may not even be asked about the city's wave
    assert post(client_for(city, "east"), f"/admin/waves/{Q3}/analysis", {"weight_cap": "4"}).status_code == 403


def test_opening_beside_an_open_wave_of_the_same_series_and_scope_asks_first(city):
    admin = client_for(city, "admin")
    for slug, period in (("q1", "2027Q1"), ("q2", "2027年第二季度")):
        assert post(admin, "/admin/waves/new", {**NEW, "slug": slug, "period": period}).status_code == 302
    assert post(admin, "/admin/waves/q1/open").status_code == 302
    asked = post(admin, "/admin/waves/q2/open")
    body = text(asked)
    assert asked.status_code == 200 and "确认开始调查" in body and "示例市2027年第一季度公众安全感和满意度调查" in body
    assert "仍在进行中（1 期）" in body and wave("q2").status == "draft"
    assert post(admin, "/admin/waves/q2/open", {"confirmed": "1"}).status_code == 302 and wave("q2").status == "open"
    # another series, or another scope, is no reason to ask
    assert post(admin, "/admin/waves/new", {**NEW, "slug": "east-q1", "scope": EAST}).status_code == 302
    assert post(admin, "/admin/waves/east-q1/open").status_code == 302


def test_an_admin_reopens_a_closed_wave_with_a_reason_in_the_audit_log(city):
    admin = client_for(city, "admin")
    page = text(admin.get(f"/admin/waves/{Q3}"))
    assert "重新开放（仅管理员）" in page
    blank = post(admin, f"/admin/waves/{Q3}/reopen", {"reason": "  "})
    assert blank.status_code == 422 and field_error(blank, "reason") == "请填写重新开放的理由" and wave(Q3).status == "closed"
    for who in ("office", "east", "analyst"):
        assert post(client_for(city, who), f"/admin/waves/{Q3}/reopen", {"reason": "想改"}).status_code == 403
        assert "重新开放" not in text(client_for(city, who).get(f"/admin/waves/{Q3}"))
    assert wave(Q3).status == "closed"
    done = post(admin, f"/admin/waves/{Q3}/reopen", {"reason": "南河县两个乡镇纸质问卷晚到,补录后再结束"})
    assert done.status_code == 302 and wave(Q3).status == "open" and wave(Q3).closed_at is None
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "wave.reopen"))
    assert entry.actor == "admin" and entry.after["reason"] == "南河县两个乡镇纸质问卷晚到,补录后再结束"
    assert (entry.before["status"], entry.after["status"]) == ("closed", "open")
    # a published wave is never reopened
    again = post(admin, f"/admin/waves/{Q3}/reopen", {"reason": "再来"})
    assert again.status_code == 409 and "只有已结束的调查可以重新开放" in text(again)


# -- a county runs its own quarter, from creation to an issued list and its four PDFs ---------------


def east_answers(tmp_path) -> str:
    """The reference answers of 东城区's units only: the county's own fieldwork."""
    import csv

    from tests.admin.console import FIXTURES

    with open(FIXTURES / "responses_w2.csv", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = [r for r in reader if r["unit_code"].startswith(EAST)]
        fields = reader.fieldnames
    out = tmp_path / "east.csv"
    with open(out, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return str(out)


def test_a_county_runs_its_own_quarter_end_to_end(city, tmp_path):
    from sqlalchemy import update

    from models import InterviewCase, Response
    from survey.results import wave_result
    from tests.admin.console import invoke, PASSWORD

    runner = city.test_cli_runner()
    invoke(runner, "user", "create", "east-office", "--role", "office", "--password", PASSWORD, "--scope", EAST)
    east = client_for(city, "east")
    created = post(east, "/admin/waves/new", {
        "slug": "east-2026q3", "questionnaire": "safety", "scope": EAST, "period": "2026年第三季度",
        "series": "east", "target_n": "30", "title": "",
    })
    assert created.status_code == 302
    mine = wave("east-2026q3")
    assert (mine.scope.code, mine.period, mine.title) == (EAST, "2026Q3", "东城区2026年第三季度公众安全感和满意度调查")
    assert post(east, "/admin/waves/east-2026q3/open").status_code == 302 and wave("east-2026q3").status == "open"

    # its posters and door cards: its own units, all of them
    posters = east.get("/admin/waves/east-2026q3/reports/posters.pdf?loopback=1")  # 127.0.0.1 in tests: confirmed
    assert posters.status_code == 200 and 'filename="east-2026q3-posters.pdf"' in posters.headers["Content-Disposition"]
    pdf = pdf_text(posters.data)
    assert "青山镇" in pdf and "新一村" in pdf and "东城区人民法院" in pdf and "白水乡" not in pdf

    # answers come in (paper forms entered by the CLI), reviewed clean as in the reference city
    invoke(runner, "responses", "import", "--wave", "east-2026q3", east_answers(tmp_path))
    db.session.execute(update(Response).where(Response.wave_id == wave("east-2026q3").id).values(review_status="clean", flags=[]))
    db.session.commit()

    asked = post(east, "/admin/waves/east-2026q3/close")
    assert asked.status_code == 200 and "确认结束调查" in text(asked)
    assert post(east, "/admin/waves/east-2026q3/close", {"confirmed": "1"}).status_code == 302
    assert post(east, "/admin/waves/east-2026q3/analysis", {"weight_cap": "5"}).status_code == 302  # a first run: no question
    result = wave_result(wave("east-2026q3"))
    assert result.root.code == EAST
    towns = [u for u in result.units if u.kind == "town" and u.rank is not None]
    departments = [u for u in result.units if u.kind == "department"]
    assert len(towns) >= 5 and {u.parent_code for u in towns} == {EAST}  # its towns ranked among themselves
    assert [u.name for u in departments] == ["东城区公安分局", "东城区人民法院"]  # its county departments, as a group
    page = text(east.get("/admin/waves/east-2026q3/results?level=town"))
    assert "东城区 2026年第三季度测评结果" in page and "在同级中的位置" not in page  # its own wave: no peers above
    assert "青山镇" in page and "西山县" not in page

    # the county's own office issues the list: preview, review, confirm
    office = client_for(city, "east-office")
    preview = office.get("/admin/waves/east-2026q3/interviews/issue")
    assert preview.status_code == 200
    review = post(office, "/admin/waves/east-2026q3/interviews/issue")
    listed = [e for e in result.interview_list]
    assert review.status_code == 200 and f"将新建约谈案件 {len(listed)} 件" in text(review)
    issued = post(office, "/admin/waves/east-2026q3/interviews", {"confirm_withdrawals": "0"})
    assert issued.status_code == 302
    cases = db.session.scalars(select(InterviewCase).where(InterviewCase.wave_id == wave("east-2026q3").id)).all()
    assert len(cases) == len(listed) > 0 and all(c.unit.code.startswith(EAST) for c in cases)
    cases_page = text(office.get("/admin/cases?wave=east-2026q3"))
    assert "东城区2026年第三季度公众安全感和满意度调查" in cases_page
    assert office.get(f"/admin/cases/{cases[0].id}").status_code == 200

    # the four PDFs of its own wave: the report, the notices, the board (and the posters above)
    for kind, words in (("quarterly", "东城区2026年第三季度公众安全感和满意度调查测评报告"),
                        ("interviews", "约谈"), ("board", "东城区2026年第三季度平安建设测评结果公示")):
        response = east.get(f"/admin/waves/east-2026q3/reports/{kind}.pdf")
        assert response.status_code == 200, (kind, text(response))
        pdf = pdf_text(response.data)
        assert words in pdf and "西山县" not in pdf and "白水乡" not in pdf
        if kind == "interviews":
            assert all(result.unit(e.code).name in pdf for e in listed)

    # the city's office and another county: the city sees it, 西山县 does not even know it exists
    assert client_for(city, "west").get("/admin/waves/east-2026q3").status_code == 404
    assert client_for(city, "office").get("/admin/waves/east-2026q3/results").status_code == 200


def test_the_cli_reopens_with_a_reason_and_builds_a_county_s_part_of_a_wave(city, tmp_path):
    runner = city.test_cli_runner()
    missing = runner.invoke(args=["wave", "reopen", Q3, "--reason", " "])
    assert missing.exit_code == 1 and "错误" in missing.output and "请填写重新开放的理由" in missing.output
    done = runner.invoke(args=["wave", "reopen", Q3, "--reason", "补录纸质问卷"])
    assert done.exit_code == 0 and "已重新开放" in done.output and wave(Q3).status == "open"
    out = tmp_path / "east.pdf"
    built = runner.invoke(args=["report", "build", "--wave", Q3, "--kind", "board", "--out", str(out), "--within", EAST])
    assert built.exit_code == 0, built.output
    pdf = pdf_text(out.read_bytes())
    assert "东城区2026年第三季度平安建设测评结果公示" in pdf and "西山县" not in pdf
    unknown = runner.invoke(args=["report", "build", "--wave", Q3, "--kind", "board", "--out", str(out), "--within", "999"])
    assert unknown.exit_code == 1 and "单位 “999” 不存在" in unknown.output and "Traceback" not in unknown.output


def test_the_results_workbook_is_titled_by_the_wave(city):
    import io

    from openpyxl import load_workbook

    mine = load_workbook(io.BytesIO(client_for(city, "east").get(f"/admin/waves/{Q3}/results.xlsx").data))
    assert mine["概况"]["A1"].value == "示例市2026年第三季度公众安全感和满意度调查测评结果（东城区）"
    whole = load_workbook(io.BytesIO(client_for(city, "office").get(f"/admin/waves/{Q3}/results.xlsx").data))
    assert whole["概况"]["A1"].value == "示例市2026年第三季度公众安全感和满意度调查测评结果"
