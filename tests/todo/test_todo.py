"""待办 (admin.todo): each account's next steps by role and scope, and the dashboard's counts,
which must equal the lengths of the lists on the 待办 page."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

import policy
from admin import cases as case_service
from admin.todo import todo_list
from extensions import db
from models import InterviewCase, Response, Unit
from tests.admin.console import Q3, city, city_template, client_for, post, text, user, wave  # noqa: F401

TODAY = case_service.today()
DAY = timedelta(days=1)


def case_of(code: str) -> InterviewCase:
    db.session.expire_all()
    return db.session.scalar(select(InterviewCase).join(Unit, InterviewCase.unit_id == Unit.id)
                             .where(Unit.code == code, InterviewCase.wave_id == wave(Q3).id))


def todo_of(username: str):
    db.session.expire_all()  # the requests ran in sessions of their own
    return todo_list(user(username), TODAY)


def flag(unit_code: str, count: int) -> None:
    unit = db.session.scalar(select(Unit).where(Unit.code == unit_code))
    for r in db.session.scalars(select(Response).where(Response.wave_id == wave(Q3).id, Response.unit_id == unit.id).limit(count)):
        r.review_status, r.flags = "flagged", ["straightline"]
    db.session.commit()


def dashboard_counts(client) -> dict[str, int]:
    html = client.get("/admin/").get_data(as_text=True)
    return {k: int(n) for k, n in re.findall(r'data-todo="(\w+)"><span class="big">(\d+)</span>', html)}


def page_counts(client) -> dict[str, int]:
    """Rows per group on the 待办 page."""
    html = client.get("/admin/todo").get_data(as_text=True)
    out = {}
    for key, body in re.findall(r'<section id="todo-(\w+)">(.*?)</section>', html, re.S):
        out[key] = len(re.findall(r"<tr[ >]", body)) - 1  # less the header row
    return out


def a_loop(city):
    """The office issues Q3 and moves a few 东城区 cases along; some sheets await review."""
    office = client_for(city, "office")
    assert post(office, f"/admin/waves/{Q3}/interviews").status_code == 302
    issued = list(db.session.scalars(select(InterviewCase).where(InterviewCase.wave_id == wave(Q3).id)))
    east = sorted((c for c in issued if c.unit.path.startswith(db.session.scalar(select(Unit.path).where(Unit.code == "510701")))
                   and c.unit.kind == "town"), key=lambda c: c.unit.code)
    assert len(east) >= 3, [c.unit.code for c in issued]
    a, b, c = east[:3]
    url = lambda case, step: f"/admin/cases/{case.id}/{step}"  # noqa: E731
    # a: scheduled for today → the office is to hold it
    assert post(office, url(a, "schedule"), {"scheduled_for": TODAY.isoformat()}).status_code == 302
    # b: held, notified with a deadline already passed → the office rechecks, the unit reports (late)
    assert post(office, url(b, "hold"), {"held_on": (TODAY - 10 * DAY).isoformat(), "attendees": "乡长", "notes": "通报"}).status_code == 302
    assert post(office, url(b, "rectify"), {"rectification_plan": "夜巡", "responsible": "乡长",
                                            "deadline": (TODAY - DAY).isoformat()}).status_code == 302
    # c: scheduled for next week → the unit is to attend
    assert post(office, url(c, "schedule"), {"scheduled_for": (TODAY + 7 * DAY).isoformat()}).status_code == 302
    flag("510701004", 3)
    flag("510702003", 2)
    return office, issued, (a, b, c)


def test_the_office_sees_its_next_steps(city):
    office, issued, (a, b, c) = a_loop(city)
    todo = todo_of("office")
    unscheduled = [x for x in issued if x.id not in (a.id, b.id, c.id)]
    assert {i.case.id for i in todo.group("schedule").items} == {x.id for x in unscheduled}
    assert [i.case.id for i in todo.group("hold").items] == [a.id]
    assert [i.case.id for i in todo.group("recheck").items] == [b.id]
    assert todo.group("recheck").items[0].overdue and todo.group("recheck").items[0].due == TODAY - DAY
    assert todo.group("notify").items == [] and todo.group("report").items == [] and todo.group("attend").items == []
    # the office holds no review verb today; whatever the policy says, the list follows it
    assert bool(todo.group("review").items) == policy.can(user("office"), "responses.review", wave(Q3))

    page = text(office.get("/admin/todo"))
    assert f"安排约谈({len(unscheduled)})" in page and "登记约谈(1)" in page and "复查(1)" in page
    assert f"整改时限 {TODAY - DAY} 已过，请复查" in page

    # after the 约谈 is recorded, the next step is the notice
    assert post(office, f"/admin/cases/{a.id}/hold", {"held_on": TODAY.isoformat(), "attendees": "x", "notes": "y"}).status_code == 302
    todo = todo_of("office")
    assert todo.group("hold").items == [] and [i.case.id for i in todo.group("notify").items] == [a.id]


def test_the_unit_sees_what_it_must_do_and_nothing_of_the_office(city):
    office, issued, (a, b, c) = a_loop(city)
    todo = todo_of("east")
    assert [i.case.id for i in todo.group("plan").items] == [b.id]  # first its 整改方案
    assert todo.group("plan").items[0].overdue and todo.group("report").items == []
    assert post(client_for(city, "east"), f"/admin/cases/{b.id}/plan", {"plan": "每晚巡逻两次"}).status_code == 302
    todo = todo_of("east")
    assert todo.group("plan").items == [] and [i.case.id for i in todo.group("report").items] == [b.id]
    assert todo.group("report").items[0].overdue
    assert [i.case.id for i in todo.group("attend").items] == [a.id, c.id]  # today, then next week
    for key in ("schedule", "hold", "notify", "recheck", "close"):
        assert todo.group(key).items == [], key
    # another county sees nothing of 东城区
    west = todo_of("west")
    assert all(i.case is None or not i.case.unit.code.startswith("510701") for g in west.groups for i in g.items)
    # read-only: nothing to do
    assert todo_of("analyst").total == 0


def test_review_items_follow_the_review_policy(city):
    a_loop(city)
    admin = todo_of("admin")
    assert [(i.wave.slug, i.count) for i in admin.group("review").items] == [(Q3, 5)]
    east = todo_of("east")
    expected = [(Q3, 3)] if policy.can(user("east"), "responses.review", wave(Q3)) else []
    assert [(i.wave.slug, i.count) for i in east.group("review").items] == expected


def test_dashboard_counts_equal_the_list_lengths(city):
    a_loop(city)
    for username in ("admin", "office", "west", "east", "analyst"):
        client = client_for(city, username)
        todo = todo_of(username)
        expected = {g.key: g.count for g in todo.nonempty}
        assert dashboard_counts(client) == expected, username
        assert page_counts(client) == expected, username
        assert f"待办 {todo.total} 项" in text(client.get("/admin/"))


def test_each_account_sets_its_own_address(city):
    office = client_for(city, "office")
    bad = post(office, "/admin/todo/email", {"email": "不是邮箱"})
    assert bad.status_code == 422 and "邮箱格式不对" in text(bad)
    assert user("office").email is None
    assert post(office, "/admin/todo/email", {"email": " ban@example.gov.cn "}).status_code == 302
    db.session.expire_all()
    assert user("office").email == "ban@example.gov.cn"
    assert 'value="ban@example.gov.cn"' in office.get("/admin/todo").get_data(as_text=True)
    assert post(office, "/admin/todo/email", {"email": ""}).status_code == 302
    db.session.expire_all()
    assert user("office").email is None
