"""Paper sheets in the console (issue 16): keyed by hand (sheet number, unit, option codes item by
item), an optional second keying by another account with the differences resolved, and the upload
of a responses CSV or XLSX with a preview before anything is stored — all-or-nothing, with the
CLI's line-and-column errors. Both get the answer-sheet flags."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from extensions import db
from models import PaperSheet, Response, Wave
from tests.admin.console import (  # noqa: F401  (fixtures)
    CITY,
    EAST,
    PASSWORD,
    city,
    city_template,
    client_for,
    invoke,
    post,
    text,
)
from tests.conftest import csrf_token
from tests.survey.packed import assert_packed

Q4 = "2026Q4-city"
VILLAGE, WEST_TOWN = "510701001001", "510702001"
ALL_TOP = {"a_safety": "a", "a_sat_police": "1", "a_sat_court": "A", "a_sat_procuratorate": "a",
           "a_sat_justice": "1", "a_sat_government": "A", "a_sex": "m", "a_age_group": "2", "a_comment": ""}


@pytest.fixture
def paper(city):
    runner = city.test_cli_runner()
    invoke(runner, "wave", "create", "--slug", Q4, "--questionnaire", "safety", "--scope", CITY, "--period", "2026Q4")
    invoke(runner, "wave", "open", Q4)
    invoke(runner, "user", "create", "east2", "--role", "county", "--scope", EAST, "--password", PASSWORD)
    return city


def wave_responses() -> list[Response]:
    db.session.expire_all()
    return list(db.session.scalars(select(Response).join(Wave).where(Wave.slug == Q4).order_by(Response.id)))


def key(client, sheet_no: str, unit: str = VILLAGE, second: bool = False, **answers):
    data = {"sheet_no": sheet_no, "unit_code": unit, **ALL_TOP, **answers}
    if second:
        data["second"] = "1"
    return post(client, f"/admin/waves/{Q4}/paper", data)


def field_error(response, name: str) -> str | None:
    m = re.search(rf'<p class="field-error" id="{re.escape(name)}-error">([^<]*)</p>', response.get_data(as_text=True))
    return m.group(1) if m else None


def test_keying_a_sheet_stores_a_paper_response_with_its_flags(paper):
    east = client_for(paper, "east")
    page = east.get(f"/admin/waves/{Q4}/paper")
    assert page.status_code == 200 and "答卷编号" in text(page) and 'id="sheet_no"' in page.get_data(as_text=True)
    bad = key(east, "0001", a_safety="Q", a_sex="3")
    assert bad.status_code == 422
    assert field_error(bad, "a_safety").startswith("“Q” 不是选项代码") and field_error(bad, "a_sex")
    assert 'value="Q"' in bad.get_data(as_text=True)  # what was typed stays in its box
    outside = key(east, "0001", unit=WEST_TOWN)
    assert outside.status_code == 422 and "您管辖范围内的单位代码" in field_error(outside, "unit_code")
    assert wave_responses() == []
    done = key(east, "0001")
    assert done.status_code == 302
    [response] = wave_responses()
    assert (response.mode, response.response_key, response.unit.code) == ("paper", "paper-0001", VILLAGE)
    assert response.answers == {"safety": "A", "sat_police": "A", "sat_court": "A", "sat_procuratorate": "A",
                                "sat_justice": "A", "sat_government": "A", "sex": "M", "age_group": "30-44"}
    assert set(response.flags) == {"straight_line", "all_maximum"} and response.review_status == "flagged"
    again = key(east, "0001")
    assert again.status_code == 422 and "已经录入过" in field_error(again, "sheet_no") and len(wave_responses()) == 1
    assert "0001" in text(east.get(f"/admin/waves/{Q4}/paper"))


def test_a_second_keying_by_another_account_and_its_differences_resolved(paper):
    east, east2 = client_for(paper, "east"), client_for(paper, "east2")
    key(east, "0002", a_sat_court="B", a_comment="多巡逻")
    key(east, "0003", a_sat_court="B")
    assert key(east, "0002", second=True).status_code == 403  # not by the one who keyed it first
    matched = key(east2, "0002", second=True, a_sat_court="b", a_comment="多巡逻")
    assert matched.status_code == 302
    db.session.expire_all()
    assert db.session.scalar(select(PaperSheet.status).where(PaperSheet.sheet_no == "0002")) == "matched"
    differs = key(east2, "0003", second=True, a_sat_court="C", a_sex="F")
    assert differs.status_code == 302 and "/paper/sheet?no=0003" in differs.headers["Location"]
    page = east.get(f"/admin/waves/{Q4}/paper/sheet?no=0003")
    body = text(page)
    assert "两次录入有 2 处不一致" in body and "sat_court" in body and "sex" in body
    half = post(east, f"/admin/waves/{Q4}/paper/sheet?no=0003", {"sat_court": "second"})
    assert half.status_code == 422 and "请选择以哪一次录入为准" in text(half)
    resolved = post(east, f"/admin/waves/{Q4}/paper/sheet?no=0003", {"sat_court": "second", "sex": "first"})
    assert resolved.status_code == 302
    response = next(r for r in wave_responses() if r.response_key == "paper-0003")
    assert response.answers["sat_court"] == "C" and response.answers["sex"] == "M"
    assert response.flags == [] and response.review_status == "clean"  # no longer all-maximum
    assert db.session.scalar(select(PaperSheet.status).where(PaperSheet.sheet_no == "0003")) == "resolved"
    assert_packed(2)  # the seeded rows, the first keyings and the resolved answers, packed with their JSON
    # a second keying of a sheet never keyed first is refused beside the number
    none = key(east2, "0009", second=True)
    assert none.status_code == 422 and "还没有首次录入" in field_error(none, "sheet_no")


HEADER = "response_id,unit_code,psu,submitted_at,safety,sat_police,sat_court,sat_procuratorate,sat_justice,sat_government,sex,age_group,comment"


def upload(client, data: bytes, name: str):
    page = client.get(f"/admin/waves/{Q4}/responses/upload")
    return client.post(f"/admin/waves/{Q4}/responses/upload", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "file": (io.BytesIO(data), name),
    }, content_type="multipart/form-data")


def test_uploading_a_csv_shows_a_preview_then_stores_all_or_nothing(paper):
    admin = client_for(paper, "admin")
    bad = f"{HEADER}\np1,{VILLAGE},,2026-10-02,A,B,C,A,B,C,M,30-44,\np2,{VILLAGE},,2026-10-02,A,B,Z,A,B,C,F,30-44,\n"
    refused = upload(admin, bad.encode(), "纸质.csv")
    assert refused.status_code == 400 and "纸质.csv:3:7: “Z” 不是题目 sat_court 的选项代码" in text(refused)
    assert wave_responses() == []
    good = (f"{HEADER}\np1,{VILLAGE},,2026-10-02,A,B,C,A,B,C,M,30-44,路灯\n"
            f"p2,{VILLAGE},,2026-10-02,A,A,A,A,A,A,F,45-59,\np3,{WEST_TOWN},,,B,B,C,C,D,B,M,60-74,\n")
    preview = upload(admin, good.encode(), "纸质.csv")
    body = text(preview)
    assert preview.status_code == 200 and "共 3 份答卷" in body and "其中 1 份有答题标记" in body
    assert "p1" in body and "路灯" in body and "现在还没有保存" in body
    assert wave_responses() == []  # a preview stores nothing
    token = re.search(r'name="token" value="([0-9a-f]{32})"', preview.get_data(as_text=True)).group(1)
    confirmed = post(admin, f"/admin/waves/{Q4}/responses/upload/confirm", {"token": token})
    assert confirmed.status_code == 302
    stored = wave_responses()
    assert [r.response_key for r in stored] == ["p1", "p2", "p3"] and {r.mode for r in stored} == {"paper"}
    assert stored[1].flags == ["straight_line", "all_maximum"]
    again = post(admin, f"/admin/waves/{Q4}/responses/upload/confirm", {"token": token})
    assert again.status_code == 409 and len(wave_responses()) == 3  # confirmed once only
    # the same rows again: refused at the preview already, by the stored ids
    dup = upload(admin, good.encode(), "纸质.csv")
    assert "纸质.csv:2:1: response_id “p1” 已经导入过这次调查" in text(dup)
    # a county account uploads for its own units only
    east = client_for(paper, "east")
    mine = upload(east, f"{HEADER}\ne1,{VILLAGE},,,A,B,C,A,B,C,M,30-44,\ne2,{WEST_TOWN},,,A,B,C,A,B,C,M,30-44,\n".encode(), "e.csv")
    assert "e.csv:3:2: 单位 “510702001” 不在您的管辖范围之内" in text(mine)


def xlsx(rows: list[list]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_uploading_an_xlsx_names_the_spreadsheet_row_and_column(paper):
    admin = client_for(paper, "admin")
    header = HEADER.split(",")
    rows = [header, ["x1", int(VILLAGE), None, "2026-10-02", "A", "B", "C", "A", "B", "C", "M", "30-44", "两行\n意见"],
            ["x2", int(VILLAGE), None, None, "A", "B", "C", "A", "B", "C", "M", "99", None]]
    refused = upload(admin, xlsx(rows), "答卷.xlsx")
    assert refused.status_code == 400 and "答卷.xlsx:3:12: “99” 不是题目 age_group 的选项代码" in text(refused)
    rows[2][11] = "18-29"
    preview = upload(admin, xlsx(rows), "答卷.xlsx")
    assert "共 2 份答卷" in text(preview) and wave_responses() == []
    token = re.search(r'name="token" value="([0-9a-f]{32})"', preview.get_data(as_text=True)).group(1)
    assert post(admin, f"/admin/waves/{Q4}/responses/upload/confirm", {"token": token}).status_code == 302
    stored = wave_responses()
    assert [r.response_key for r in stored] == ["x1", "x2"] and stored[0].answers["comment"] == "两行 意见"
    not_xlsx = upload(admin, b"PK\x03\x04 broken", "坏.xlsx")
    assert not_xlsx.status_code == 400 and "无法读取这个 Excel 文件" in text(not_xlsx)
    assert db.session.scalar(select(func.count()).select_from(Response).join(Wave).where(Wave.slug == Q4)) == 2
