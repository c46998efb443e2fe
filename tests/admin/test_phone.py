"""Phone interviews (issue 16): the call list (CLI and console, all-or-nothing, numbers encrypted,
refused without a key), the next call honouring call-backs, outcomes, the interview one item per
screen, completed interviews stored as mode `phone` with the interviewer, AAPOR RR1 / RR3 / COOP1
on a hand-computed example and on the wave page, and the numbers erased on publish."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text as sql, update

import policy
from analysis.rates import count, eligibility_share, final_category, rates
from clock import now as clock_now
from extensions import db
from models import CallAttempt, CallCase, Response, Wave
from survey import calls
from tests.admin.console import (  # noqa: F401  (fixtures)
    CITY,
    EAST,
    PASSWORD,
    Q3,
    WEST,
    city,
    city_template,
    client_for,
    invoke,
    text,
    user,
)
from tests.conftest import csrf_token
from tests.survey.packed import assert_packed

Q4 = "2026Q4-city"
KEY = Fernet.generate_key().decode()
NUMBERS = ["13800138001", "13800138002", "02887654321", "15000150003", "18600186004"]
VILLAGE, TOWN, WEST_TOWN = "510701001001", "510701002", "510702001"


# -- the rates, by hand ---------------------------------------------------------------------------

# Eleven cases: the calls of each, in order, and the AAPOR category they end in.
CASES = [
    (["complete"], "I"),
    (["busy", "complete"], "I"),
    (["no_answer", "callback", "complete"], "I"),
    (["partial"], "P"),
    (["refusal"], "R"),
    (["callback"], "NC"),
    (["non_contact", "busy"], "NC"),
    (["busy", "no_answer"], "UH"),
    (["no_answer"], "UH"),
    (["ineligible"], "NE"),
    ([], None),  # never dialled: not part of the released sample
]


def test_the_rates_on_a_hand_computed_example():
    cats = [final_category(calls_) for calls_, _ in CASES]
    assert cats == [want for _, want in CASES]
    counts = count(cats)
    assert counts == {"I": 3, "P": 1, "R": 1, "NC": 2, "O": 0, "UH": 2, "NE": 1}
    e = eligibility_share(counts)
    assert e == pytest.approx(7 / 8)  # eligible 3+1+1+2 = 7 of the 8 of known eligibility
    r = rates(counts, e)
    assert r.rr1 == pytest.approx(3 / 9)  # 3 / (4 + 3 + 2)
    assert r.rr3 == pytest.approx(3 / (4 + 3 + 2 * 7 / 8))  # 0.342857…
    assert r.coop1 == pytest.approx(3 / 5)  # 3 / (4 + 1)
    assert rates(count([]), 1.0).rr1 is None


# -- helpers -----------------------------------------------------------------------------------------


@pytest.fixture
def phone(city):
    """The reference city with an open 2026Q4 wave, the key set, and interviewers in 东城区 and 西山县."""
    city.config["PHONE_NUMBER_KEY"] = KEY
    runner = city.test_cli_runner()
    invoke(runner, "wave", "create", "--slug", Q4, "--questionnaire", "safety", "--scope", CITY, "--period", "2026Q4")
    invoke(runner, "wave", "open", Q4)
    for name, scope in (("ivy", EAST), ("ian", EAST), ("wen", WEST)):
        invoke(runner, "user", "create", name, "--role", "interviewer", "--scope", scope, "--password", PASSWORD)
    return city


def write_list(tmp_path, rows: list[str], name: str = "calls.csv") -> str:
    path = tmp_path / name
    path.write_text("phone,unit_code,quota_cell\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return str(path)


def good_list(tmp_path) -> str:
    return write_list(tmp_path, [
        f"{NUMBERS[0]},{VILLAGE},女 60+", f"138-0013-8002,{VILLAGE},", f"028-8765-4321,{TOWN},男 18-44",
        f"+86 150 0015 0003,{TOWN},", f"{NUMBERS[4]},{WEST_TOWN},",
    ])


def cases(slug: str = Q4) -> list[CallCase]:
    db.session.expire_all()
    wave_id = db.session.scalar(select(Wave.id).where(Wave.slug == slug))
    return list(db.session.scalars(select(CallCase).where(CallCase.wave_id == wave_id).order_by(CallCase.line)))


def desk_token(client) -> str:
    return csrf_token(client.get("/admin/calls").get_data(as_text=True))


def send(client, url: str, data: dict | None = None):
    return client.post(url, data={"csrf_token": desk_token(client), **(data or {})})


def raw_rows() -> str:
    """Every column of every call_cases row as the database holds it, as one text."""
    return " ".join(str(v) for row in db.session.execute(sql("SELECT * FROM call_cases")) for v in row)


# -- the call list ------------------------------------------------------------------------------------


def test_the_cli_refuses_without_a_key_then_names_the_bad_row_and_stores_nothing(phone, tmp_path):
    runner = phone.test_cli_runner()
    phone.config["PHONE_NUMBER_KEY"] = None
    result = runner.invoke(args=["calls", "import", "--wave", Q4, good_list(tmp_path)])
    assert result.exit_code == 1 and "PHONE_NUMBER_KEY" in result.output and "Traceback" not in result.output
    phone.config["PHONE_NUMBER_KEY"] = KEY
    bad = write_list(tmp_path, [f"{NUMBERS[0]},{VILLAGE},", f"12345,{VILLAGE},"], "bad.csv")
    result = runner.invoke(args=["calls", "import", "--wave", Q4, bad])
    assert result.exit_code == 1
    assert result.output.startswith("错误: bad.csv:3:1: 不是有效的电话号码"), result.output
    dup = write_list(tmp_path, [f"{NUMBERS[0]},{VILLAGE},", f"138 0013 8001,{TOWN},"], "dup.csv")
    result = runner.invoke(args=["calls", "import", "--wave", Q4, dup])
    assert "dup.csv:3:1: 这个号码与第 2 行重复" in result.output
    other = write_list(tmp_path, [f"{NUMBERS[0]},{VILLAGE},", f"{NUMBERS[1]},999,"], "unit.csv")
    assert "unit.csv:3:2: 单位代码 “999” 不存在" in runner.invoke(args=["calls", "import", "--wave", Q4, other]).output
    assert cases() == []
    result = runner.invoke(args=["calls", "import", "--wave", Q4, good_list(tmp_path)])
    assert result.exit_code == 0 and "导入 5 个电话号码" in result.output
    stored = cases()
    assert [c.quota_cell for c in stored] == ["女 60+", None, "男 18-44", None, None]
    # the same numbers again: refused, by the keyed hash, with the line
    again = runner.invoke(args=["calls", "import", "--wave", Q4, good_list(tmp_path)])
    assert "calls.csv:2:1: 这个号码已在本次调查的电话名单中" in again.output and len(cases()) == 5


def test_numbers_are_encrypted_at_rest(phone, tmp_path):
    invoke(phone.test_cli_runner(), "calls", "import", "--wave", Q4, good_list(tmp_path))
    raw = raw_rows()
    digits = re.sub(r"\D", "", raw)
    for number in NUMBERS:
        for i in range(len(number) - 5):  # not even six digits of a number in a row
            assert number[i:i + 6] not in raw
    assert digits  # the rows are there (ids, lines …)
    tokens = [c.number_enc for c in cases()]
    assert [Fernet(KEY.encode()).decrypt(t.encode()).decode() for t in tokens] == NUMBERS
    assert "13800138001" not in str(db.session.execute(sql("SELECT before, after FROM audit_log")).all())


def test_the_console_import_is_all_or_nothing_with_the_line_and_column(phone, tmp_path):
    admin = client_for(phone, "admin")
    page = admin.get(f"/admin/waves/{Q4}/calls")
    body = {"csrf_token": csrf_token(page.get_data(as_text=True)),
            "file": (io.BytesIO(f"phone,unit_code\n{NUMBERS[0]},{VILLAGE}\nabc,{VILLAGE}\n".encode()), "名单.csv")}
    refused = admin.post(f"/admin/waves/{Q4}/calls", data=body, content_type="multipart/form-data")
    assert refused.status_code == 400 and "名单.csv:3:1: 不是有效的电话号码" in text(refused)
    assert cases() == []
    from pathlib import Path

    body["file"] = (io.BytesIO(Path(good_list(tmp_path)).read_bytes()), "calls.csv")
    done = admin.post(f"/admin/waves/{Q4}/calls", data=body, content_type="multipart/form-data", follow_redirects=True)
    assert done.status_code == 200 and "导入 5 个电话号码" in text(done)
    assert NUMBERS[0] not in done.get_data(as_text=True) and "138 0013" not in done.get_data(as_text=True)
    # a county account imports for its own units only
    east = client_for(phone, "east")
    body["csrf_token"] = csrf_token(east.get(f"/admin/waves/{Q4}/calls").get_data(as_text=True))
    body["file"] = (io.BytesIO(f"phone,unit_code\n13700000001,{VILLAGE}\n13700000002,{WEST_TOWN}\n".encode()), "c.csv")
    refused = east.post(f"/admin/waves/{Q4}/calls", data=body, content_type="multipart/form-data")
    assert "c.csv:3:2: 单位 “510702001” 不在您的管辖范围之内" in text(refused) and len(cases()) == 5
    # without a key the console says so, and imports nothing
    phone.config["PHONE_NUMBER_KEY"] = None
    body["csrf_token"] = csrf_token(admin.get(f"/admin/waves/{Q4}/calls").get_data(as_text=True))
    body["file"] = (io.BytesIO(f"phone,unit_code\n13700000001,{VILLAGE}\n".encode()), "c.csv")
    refused = admin.post(f"/admin/waves/{Q4}/calls", data=body, content_type="multipart/form-data")
    assert refused.status_code == 409 and "PHONE_NUMBER_KEY" in text(refused) and len(cases()) == 5


# -- calling ----------------------------------------------------------------------------------------------


def test_next_call_order_honours_call_backs_and_retries(phone, tmp_path):
    invoke(phone.test_cli_runner(), "calls", "import", "--wave", Q4, good_list(tmp_path))
    ivy, ian, wen = user("ivy"), user("ian"), user("wen")
    t0 = clock_now()
    first = calls.next_call(ivy, t0)
    assert first.line == 2 and calls.phone_number(ivy, first) == NUMBERS[0]
    assert calls.next_call(ivy, t0).id == first.id  # what it holds, until it records an outcome
    second = calls.next_call(ian, t0)
    assert second.line == 3  # ivy's is held: ian gets the next one
    with pytest.raises(Exception):
        calls.phone_number(ian, first)  # another interviewer never sees a number it does not hold
    assert calls.next_call(wen, t0).line == 6  # 西山县's interviewer: its county's number only
    calls.record_outcome(ivy, first, "callback", t0 + timedelta(hours=2), now=t0)
    calls.record_outcome(ian, second, "busy", now=t0)
    third = calls.next_call(ivy, t0 + timedelta(minutes=1))
    assert third.line == 4
    calls.record_outcome(ivy, third, "refusal", now=t0 + timedelta(minutes=1))
    fourth = calls.next_call(ivy, t0 + timedelta(minutes=2))
    assert fourth.line == 5
    calls.record_outcome(ivy, fourth, "no_answer", now=t0 + timedelta(minutes=2))
    # nothing fresh left in 东城区; the busy one is not due for 30 minutes, the call-back for two hours
    assert calls.next_call(ivy, t0 + timedelta(minutes=10)) is None
    assert calls.next_call(ivy, t0 + timedelta(minutes=31)).line == 3  # busy, longest ago
    calls.record_outcome(ivy, cases()[1], "busy", now=t0 + timedelta(minutes=31))
    # at the call-back's time it comes first, before the retries
    assert calls.next_call(ivy, t0 + timedelta(hours=2, minutes=1)).id == first.id
    closed = {c.line: c.status for c in cases()}
    assert closed[4] == "closed" and closed[2] == "open"
    assert policy.can(ivy, "calls.take") and not policy.can(ivy, "read") and not policy.can(ivy, "calls.manage")


def answer(client, case_id: int, item: str, key: str = "", **extra):
    return send(client, f"/admin/calls/{case_id}/interview", {"item": item, "key": key, **extra})


def test_an_interview_in_the_console_is_stored_as_a_phone_response_and_rated(phone, tmp_path):
    invoke(phone.test_cli_runner(), "calls", "import", "--wave", Q4, good_list(tmp_path))
    ivy, ian = client_for(phone, "ivy"), client_for(phone, "ian")
    assert ivy.get("/admin/").headers["Location"].endswith("/admin/calls")
    taken = send(ivy, "/admin/calls/next")
    case_id = int(taken.headers["Location"].rsplit("/", 1)[1])
    page = ivy.get(f"/admin/calls/{case_id}")
    assert "138 0013 8001" in text(page) and page.headers["Cache-Control"] == "no-store"
    # nobody else sees it: another interviewer, a county account, the admin
    assert ian.get(f"/admin/calls/{case_id}").status_code == 403
    assert "138" not in text(ian.get(f"/admin/calls/{case_id}"))
    assert client_for(phone, "admin").get(f"/admin/calls/{case_id}").status_code == 403
    assert client_for(phone, "wen").get(f"/admin/calls/{case_id}").status_code == 404  # outside 西山县
    screen = ivy.get(f"/admin/calls/{case_id}/interview")
    assert "第 1 题" in text(screen) and "您觉得您所在的乡镇" in text(screen) and "1 安全" in text(screen)
    assert answer(ivy, case_id, "safety", "").status_code == 422  # Enter with nothing chosen
    assert "请按 1–6" in text(answer(ivy, case_id, "safety", "9"))
    assert answer(ivy, case_id, "safety", "2").status_code == 302  # 比较安全
    assert answer(ivy, case_id, "safety", "1").status_code == 409  # a stale form changes nothing
    send(ivy, f"/admin/calls/{case_id}/back")
    assert "您觉得您所在的乡镇" in text(ivy.get(f"/admin/calls/{case_id}/interview"))
    for item, key in [("safety", "1"), ("sat_police", "1"), ("sat_court", "1"), ("sat_procuratorate", "1"),
                      ("sat_justice", "1"), ("sat_government", "1"), ("sex", "2"), ("age_group", "4")]:
        assert answer(ivy, case_id, item, key).status_code == 302, item
    assert answer(ivy, case_id, "comment", text="路灯多装几盏").status_code == 302
    assert "题目已问完" in text(ivy.get(f"/admin/calls/{case_id}/interview"))
    assert send(ivy, f"/admin/calls/{case_id}/finish").status_code == 302
    db.session.expire_all()
    response = db.session.scalar(select(Response).join(Wave).where(Wave.slug == Q4))
    assert response.mode == "phone"
    assert response.interviewer_id == user("ivy").id and response.unit.code == VILLAGE
    assert response.answers["safety"] == "A" and response.answers["sex"] == "F" and response.answers["age_group"] == "60-74"
    assert response.answers["comment"] == "路灯多装几盏"
    assert_packed()  # the seeded rows and this interview
    assert set(response.flags) == {"straight_line", "all_maximum"} and response.review_status == "flagged"
    review = client_for(phone, "admin").get(f"/admin/waves/{Q4}/responses/{response.id}")
    assert "电话（电话访问员 ivy）" in text(review)
    case = db.session.get(CallCase, case_id)
    assert (case.status, case.disposition, case.response_id, case.holder_id) == ("closed", "complete", response.id, None)
    # more calls: a refusal by ivy, busy by ian → rates per unit and per interviewer on the wave page
    nxt = int(send(ivy, "/admin/calls/next").headers["Location"].rsplit("/", 1)[1])
    bad_time = send(ivy, f"/admin/calls/{nxt}/outcome", {"disposition": "callback", "callback_at": "2020-01-01 10:00"})
    assert bad_time.status_code == 422 and "回拨时间应在现在之后" in text(bad_time)
    send(ivy, f"/admin/calls/{nxt}/outcome", {"disposition": "refusal"})
    other = int(send(ian, "/admin/calls/next").headers["Location"].rsplit("/", 1)[1])
    send(ian, f"/admin/calls/{other}/outcome", {"disposition": "busy"})
    page = client_for(phone, "admin").get(f"/admin/waves/{Q4}")
    body = text(page)
    assert "电话调查应答率" in body and "已拨 3 / 5 个号码" in body
    # 东门社区: I=1, R=1 → RR1 50%, COOP1 50%; 河东镇: UH=1 → RR1 0%
    assert re.search(r"东门社区 1 0 1 0 0 0 50(\.0)?% 50(\.0)?% 50(\.0)?%", body), body
    assert re.search(r"河东镇 0 0 0 0 1 0 0(\.0)?% 0(\.0)?% —", body), body
    assert re.search(r"ivy 1 0 1 0 0 0 50(\.0)?%", body) and re.search(r"ian 0 0 0 0 1 0 0(\.0)?%", body)
    assert db.session.scalar(select(CallAttempt.interviewer_id).where(CallAttempt.case_id == other)) == user("ian").id
    # the same on the command line
    out = invoke(phone.test_cli_runner(), "calls", "rates", Q4).output
    assert "已拨 3 / 5 个号码" in out and re.search(r"访问员 ivy\s+1\s+0\s+1\s+0\s+0\s+0\s+50\.0%", out), out
    as_json = invoke(phone.test_cli_runner(), "calls", "rates", Q4, "--json").output
    assert '"coop1": 0.5' in as_json


def test_numbers_are_erased_when_the_wave_is_published(phone, tmp_path):
    runner = phone.test_cli_runner()
    db.session.execute(update(Wave).where(Wave.slug == Q3).values(status="open"))
    db.session.commit()
    invoke(runner, "calls", "import", "--wave", Q3, good_list(tmp_path))
    ivy = user("ivy")
    case = calls.next_call(ivy)
    calls.record_outcome(ivy, case, "refusal")
    db.session.execute(update(Wave).where(Wave.slug == Q3).values(status="closed"))
    db.session.execute(update(Response).where(Response.wave_id == select(Wave.id).where(Wave.slug == Q3).scalar_subquery(),
                                              Response.review_status == "flagged").values(review_status="accepted"))
    db.session.commit()
    invoke(runner, "wave", "publish", Q3)
    stored = cases(Q3)
    assert len(stored) == 5 and all(c.number_enc is None and c.number_hash is None for c in stored)
    assert stored[0].disposition == "refusal"  # the outcomes stay: the rates are still computed
    assert calls.wave_rates(db.session.scalar(select(Wave).where(Wave.slug == Q3))).total.counts["R"] == 1
    for number in NUMBERS:
        assert number[:6] not in raw_rows()
    assert calls.next_call(ivy) is None or calls.next_call(ivy).wave.slug != Q3


def test_the_quarterly_reports_method_appendix_gives_the_rates(phone, tmp_path):
    from reports.data import load
    from reports.render import render_quarterly_html

    db.session.execute(update(Wave).where(Wave.slug == Q3).values(status="open"))
    db.session.commit()
    invoke(phone.test_cli_runner(), "calls", "import", "--wave", Q3, good_list(tmp_path))
    ivy, ian = user("ivy"), user("ian")
    for who, outcome in ((ivy, "refusal"), (ian, "busy"), (ivy, "ineligible")):
        calls.record_outcome(who, calls.next_call(who), outcome)
    wave = db.session.scalar(select(Wave).where(Wave.slug == Q3))
    with phone.test_request_context():
        html = render_quarterly_html(load(wave, "quarterly"))
    body = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    # R 1, UH 1, NE 1: e = 1/2; RR1 = 0/2, RR3 = 0/1.5, COOP1 = 0/1
    assert "电话调查共拨打 3 个号码（名单 5 个）" in body
    assert "RR1 0%" in body and "e = 0.50" in body
    assert re.search(r"访问员 ivy 0 0 1 0 0 1 0% 0% 0%", body), body[body.find("电话调查"):][:800]
    assert re.search(r"访问员 ian 0 0 0 0 1 0 0% 0% —", body)
