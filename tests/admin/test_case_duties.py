"""Separation of duties over the 约谈 cases and the review of answer sheets (issue 14), and a case
that keeps its whole history: two rounds of 整改, reopening with a reason, the audit log in Chinese.

The table below is written out by hand (not computed from policy.py): for each account, each
case and each step, whether the account may take it. Every step's route is then posted by every
account, with the case put in a state where the step could follow, and must answer 302 for an
allowed step, 403 for a case it sees but may not act on, 404 for a case it may not see.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug.security import generate_password_hash

import policy
from models import User
from admin import cases as case_service
from admin.accounts import create_user
from extensions import db
from models import AuditEntry, InterviewCase, Unit
from tests.admin.console import (  # noqa: F401  (fixtures)
    PASSWORD,
    Q3,
    WEST,
    city,
    city_template,
    client_for,
    field_error,
    invoke,
    post,
    text,
    user,
    wave,
)

TODAY = case_service.today()
TOWN = "510702003"  # 高岭乡, a town of 西山县, on the city's Q3 interview list
OWN_WAVE = "west-own"  # 西山县's own wave over its subtree

# username, role, scope: the accounts the fixture adds to the console's (admin, east, west, office, analyst)
MORE_ACCOUNTS = (
    ("west-office", "office", WEST),  # 西山县's 创建办
    ("west-admin", "admin", WEST),  # 西山县's admin
    ("gaoling", "county", TOWN),  # an account scoped to the town 高岭乡
)

OFFICE = frozenset({"schedule", "hold", "rectify", "recheck", "close", "reopen"})
UNIT = frozenset({"plan", "report", "request_recheck"})
NONE: frozenset[str] = frozenset()
HIDDEN = None  # the account may not even see the case: 404

# The cases: (wave, unit). A and B come from the city's wave, C and D from 西山县's own wave.
CASES = {
    "A": (Q3, TOWN),  # the city's case against the town 高岭乡
    "B": (Q3, WEST),  # the city's case against the county 西山县 itself
    "C": (OWN_WAVE, TOWN),  # 西山县's own case against its town 高岭乡
    "D": (OWN_WAVE, WEST),  # a case on the county's own wave naming the county: nobody there judges it
}

# account → case → the steps it may take (HIDDEN: 404)
EXPECTED = {
    "admin": {"A": OFFICE, "B": OFFICE, "C": OFFICE, "D": OFFICE},
    "office": {"A": OFFICE, "B": OFFICE, "C": OFFICE, "D": OFFICE},
    # the county: the unit's side of its own and its towns' cases; never the office's steps
    "west": {"A": UNIT, "B": UNIT, "C": UNIT, "D": UNIT},
    # the county's office: the cases of its county's own waves, not the city's, never its own unit
    "west-office": {"A": NONE, "B": NONE, "C": OFFICE, "D": NONE},
    # the county's admin: the unit's side of the city's cases; the office of its own wave, but
    # never judging the county itself (D)
    "west-admin": {"A": UNIT, "B": UNIT, "C": OFFICE, "D": NONE},
    # the town's account: its own town's steps; it does not see the county's cases
    "gaoling": {"A": UNIT, "B": HIDDEN, "C": UNIT, "D": HIDDEN},
    # another county sees none of it
    "east": {"A": HIDDEN, "B": HIDDEN, "C": HIDDEN, "D": HIDDEN},
    "analyst": {"A": NONE, "B": NONE, "C": NONE, "D": NONE},
}

# each step: a state to start from (reached by the system's own steps) and the form it posts
FORMS = {
    "schedule": {"scheduled_for": (TODAY + timedelta(days=3)).isoformat()},
    "hold": {"held_on": TODAY.isoformat(), "attendees": "乡长;市创建办主任", "notes": "通报测评结果,提出整改要求"},
    "rectify": {"rectification_plan": "加强夜间巡逻", "responsible": "乡长 赵某", "deadline": (TODAY + timedelta(days=30)).isoformat()},
    "plan": {"plan": "每周三次夜巡,设立调解室"},
    "report": {"report": "已落实夜巡 12 次"},
    "request_recheck": {},
    "recheck": {"recheck_on": TODAY.isoformat(), "passed": "yes", "recheck_result": "整改到位"},
    "close": {"closed_on": TODAY.isoformat(), "confirm": "y"},
    "reopen": {"reason": "群众反映问题反弹"},
}
# the steps the system takes to bring a fresh case to where `action` may follow
PATH = ["hold", "rectify", "plan", "report", "request_recheck", "recheck", "close"]
BEFORE = {"schedule": 0, "hold": 0, "rectify": 1, "plan": 2, "report": 2, "request_recheck": 4, "recheck": 5, "close": 6, "reopen": 7}


def unit_of(code: str) -> Unit:
    return db.session.scalar(select(Unit).where(Unit.code == code))


@pytest.fixture
def world(city):
    runner = city.test_cli_runner()
    for username, role, scope in MORE_ACCOUNTS:
        create_user(username, PASSWORD, role, scope)
    for account in db.session.scalars(select(User)):  # cheap hashes: many sign-ins
        account.password_hash = generate_password_hash(PASSWORD, method="scrypt:1024:8:1")
    db.session.commit()
    invoke(runner, "wave", "create", "--slug", OWN_WAVE, "--questionnaire", "safety", "--scope", WEST, "--period", "2026Q4")
    made = {}
    for key, (slug, code) in CASES.items():
        case = InterviewCase(wave_id=wave(slug).id, unit_id=unit_of(code).id, reason="bottom_n", rank=1)
        db.session.add(case)
        db.session.flush()
        made[key] = case.id
    db.session.commit()
    return made


def reset(case_id: int, action: str) -> InterviewCase:
    """The case back at the start, then walked by the system (policy.SYSTEM) to where `action` may follow."""
    case = db.session.get(InterviewCase, case_id)
    case.rounds.clear()
    for name in ("scheduled_for", "held_on", "attendees", "notes", "rectification_plan", "responsible", "deadline",
                 "recheck_on", "recheck_result", "recheck_passed", "closed_on", "reopen_reason"):
        setattr(case, name, None)
    case.status = "scheduled"
    db.session.commit()
    system = policy.SYSTEM
    steps = {
        "hold": lambda: case_service.hold(case, system, TODAY, "参加人员", "约谈记录"),
        "rectify": lambda: case_service.rectify(case, system, "整改要求", "责任人", TODAY + timedelta(days=20)),
        "plan": lambda: case_service.plan(case, system, "整改方案"),
        "report": lambda: case_service.report(case, system, "整改报告"),
        "request_recheck": lambda: case_service.request_recheck(case, system),
        "recheck": lambda: case_service.recheck(case, system, TODAY, True, "复查情况"),
        "close": lambda: case_service.close(case, system, TODAY, confirmed=True),
    }
    for step in PATH[:BEFORE[action]]:
        steps[step]()
    assert case_service.allowed(case, action), (action, case.status)
    return case


def test_the_table_is_the_policy(world):
    """policy.can agrees with the table, step by step (the routes are walked below)."""
    for username, expected in EXPECTED.items():
        account = user(username)
        for key, allowed in expected.items():
            case = db.session.get(InterviewCase, world[key])
            for action, step in case_service.STEPS.items():
                want = allowed is not HIDDEN and action in allowed
                assert policy.can(account, step.verb, case) == want, (username, key, action)
            assert policy.visible(account, case) == (allowed is not HIDDEN), (username, key)


@pytest.mark.parametrize("username", list(EXPECTED))
def test_every_step_route_follows_the_separation_of_duties(city, world, username):
    client = client_for(city, username)
    for key, allowed in EXPECTED[username].items():
        for action in case_service.STEPS:
            case = reset(world[key], action)
            before = case.status
            response = post(client, f"/admin/cases/{case.id}/{action}", FORMS[action])
            if allowed is HIDDEN:
                assert response.status_code == 404, (key, action)
            elif action in allowed:
                assert response.status_code == 302, (key, action, text(response)[-300:])
                db.session.expire_all()
                assert db.session.get(InterviewCase, case.id).status == case_service.STEPS[action].target
                continue
            else:
                assert response.status_code == 403, (key, action, response.status_code)
            db.session.expire_all()
            assert db.session.get(InterviewCase, case.id).status == before, (key, action)
        # the case page offers exactly the steps the account may take
        if allowed is not HIDDEN:
            case = reset(world[key], "rectify")
            page = text(client.get(f"/admin/cases/{case.id}"))
            assert ("下发整改通知" in page.split("办理记录")[-1]) == ("rectify" in allowed), key


# -- reviewing answer sheets -------------------------------------------------------------------

REVIEWS = {  # account → (city-wide wave, 西山县's own wave)
    "admin": (True, True),
    "office": (True, True),
    "west": (False, True),  # a county reviews its own waves only: the city's ranks 西山县 itself
    "west-office": (False, True),
    "west-admin": (False, True),
    "gaoling": (False, False),  # 西山县's wave ranks 高岭乡
    "east": (False, False),
    "analyst": (False, False),
}


def test_nobody_reviews_the_answer_sheets_of_a_wave_that_ranks_their_own_unit(world):
    for username, (city_wide, own) in REVIEWS.items():
        account = user(username)
        assert policy.can(account, "responses.review", wave(Q3)) == city_wide, username
        assert policy.can(account, "responses.review", wave(OWN_WAVE)) == own, username


@pytest.mark.parametrize("username", list(REVIEWS))
def test_the_review_route_follows_the_same_rule(city, world, username):
    from models import Response

    sheet = db.session.scalar(
        select(Response).join(Unit, Response.unit_id == Unit.id).where(Response.wave_id == wave(Q3).id, Unit.code == TOWN).limit(1)
    )
    sheet.review_status, sheet.flags = "flagged", ["speeder"]
    db.session.commit()
    client = client_for(city, username)
    response = post(client, f"/admin/waves/{Q3}/responses/{sheet.id}/review", {"decision": "reject", "reason": "答题过快"})
    db.session.expire_all()
    status = db.session.get(Response, sheet.id).review_status
    if REVIEWS[username][0]:
        assert response.status_code == 302 and status == "rejected"
    else:
        assert response.status_code in (403, 404) and status == "flagged"
        assert response.status_code == (404 if username == "east" else 403)


# -- the whole loop: two rounds, reopening, the history --------------------------------------------


def test_two_rounds_of_rectification_are_kept_and_shown_in_order(city, world):
    app = city
    office, town = client_for(app, "office"), client_for(app, "gaoling")
    case_id = world["A"]
    url = f"/admin/cases/{case_id}"
    assert post(office, url + "/hold", FORMS["hold"]).status_code == 302
    assert post(office, url + "/rectify", {**FORMS["rectify"], "rectification_plan": "第一轮要求:加强夜间巡逻"}).status_code == 302
    # the unit asks for 复查 only once its 整改方案 and its report are in
    early = post(town, url + "/request_recheck", {})
    assert early.status_code == 409 and "请先提交整改方案" in text(early)
    assert post(town, url + "/plan", {"plan": "第一轮方案:每周两次夜巡"}).status_code == 302
    assert post(town, url + "/report", {"report": "第一轮报告:夜巡 8 次"}).status_code == 302
    assert post(town, url + "/request_recheck", {}).status_code == 302
    assert db.session.get(InterviewCase, case_id).status == "recheck_asked"
    # the first 复查 fails: a second 整改通知 opens round 2
    assert post(office, url + "/recheck", {"recheck_on": TODAY.isoformat(), "passed": "no", "recheck_result": "第一轮复查:巡逻记录不全"}).status_code == 302
    assert post(office, url + "/rectify", {**FORMS["rectify"], "rectification_plan": "第二轮要求:补齐巡逻记录"}).status_code == 302
    assert post(town, url + "/plan", {"plan": "第二轮方案:每日巡逻并登记"}).status_code == 302
    assert post(town, url + "/report", {"report": "第二轮报告:记录齐全"}).status_code == 302
    assert post(town, url + "/request_recheck", {}).status_code == 302
    assert post(office, url + "/recheck", {"recheck_on": TODAY.isoformat(), "passed": "yes", "recheck_result": "第二轮复查:整改到位"}).status_code == 302
    unconfirmed = post(office, url + "/close", {"closed_on": TODAY.isoformat()})
    assert unconfirmed.status_code == 422 and "确认" in field_error(unconfirmed, "confirm")
    assert db.session.get(InterviewCase, case_id).status == "rechecked"
    assert post(office, url + "/close", FORMS["close"]).status_code == 302

    db.session.expire_all()
    case = db.session.get(InterviewCase, case_id)
    assert case.status == "closed"
    assert [(r.number, r.requirements, r.plan, r.report, r.passed) for r in case.rounds] == [
        (1, "第一轮要求:加强夜间巡逻", "第一轮方案:每周两次夜巡", "第一轮报告:夜巡 8 次", False),
        (2, "第二轮要求:补齐巡逻记录", "第二轮方案:每日巡逻并登记", "第二轮报告:记录齐全", True),
    ]
    assert case.rounds[0].recheck_result == "第一轮复查:巡逻记录不全" and case.rounds[0].recheck_asked_on == TODAY

    # the case page shows both rounds, in order
    page = text(office.get(url))
    order = ["第 1 轮", "第一轮要求", "第一轮方案", "第一轮报告", "第一轮复查", "第 2 轮", "第二轮要求", "第二轮方案", "第二轮报告", "第二轮复查"]
    at = [page.index(s) for s in order]
    assert at == sorted(at), at
    # and so does the API's case object, which keeps every field it had
    from api.tokens import create_token

    secret = create_token(user("office"), "脚本")[1]
    body = app.test_client().get(f"/api/v1/cases/{case_id}", headers={"Authorization": f"Bearer {secret}"}).get_json()
    assert [r["number"] for r in body["rounds"]] == [1, 2]
    assert [r["passed"] for r in body["rounds"]] == [False, True]
    assert body["rounds"][0]["plan"] == "第一轮方案:每周两次夜巡" and body["rounds"][1]["requirements"] == "第二轮要求:补齐巡逻记录"
    for kept in ("status", "rectification_plan", "responsible", "deadline", "recheck_on", "recheck_result", "recheck_passed",
                 "closed_on", "overdue", "unit", "wave", "reason", "rank"):
        assert kept in body, kept
    assert body["rectification_plan"] == "第二轮要求:补齐巡逻记录" and body["recheck_passed"] is True

    # every step is in the audit log, in order
    actions = list(db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.entity == "case", AuditEntry.entity_id == str(case_id)).order_by(AuditEntry.id)
    ))
    assert actions == ["case.hold", "case.rectify", "case.plan", "case.report", "case.request_recheck", "case.recheck",
                       "case.rectify", "case.plan", "case.report", "case.request_recheck", "case.recheck", "case.close"]


def test_a_closed_case_is_reopened_only_with_a_reason_and_a_new_round_follows(city, world):
    app = city
    office = client_for(app, "office")
    case = reset(world["A"], "reopen")
    url = f"/admin/cases/{case.id}"
    # the unit's own account cannot reopen (nor close) its case
    assert post(client_for(app, "gaoling"), url + "/reopen", FORMS["reopen"]).status_code == 403
    missing = post(office, url + "/reopen", {"reason": "  "})
    assert missing.status_code == 422 and field_error(missing, "reason")
    db.session.expire_all()
    assert db.session.get(InterviewCase, case.id).status == "closed"
    assert post(office, url + "/reopen", {"reason": "群众反映夜间治安问题反弹"}).status_code == 302
    db.session.expire_all()
    case = db.session.get(InterviewCase, case.id)
    assert (case.status, case.reopen_reason, case.closed_on) == ("reopened", "群众反映夜间治安问题反弹", None)
    page = text(office.get(url))
    assert "已重新打开" in page and "群众反映夜间治安问题反弹" in page
    assert post(office, url + "/rectify", {**FORMS["rectify"], "rectification_plan": "重新整改"}).status_code == 302
    db.session.expire_all()
    case = db.session.get(InterviewCase, case.id)
    assert [r.number for r in case.rounds] == [1, 2] and case.status == "rectifying"
    reopened = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "case.reopen"))
    assert reopened.after["reopen_reason"] == "群众反映夜间治安问题反弹" and reopened.before["status"] == "closed"


def test_the_audit_page_reads_in_chinese(city, world):
    app = city
    reset(world["A"], "reopen")  # every step, taken by the system
    office = client_for(app, "office")
    assert post(office, f"/admin/cases/{world['A']}/reopen", {"reason": "问题反弹"}).status_code == 302
    admin = client_for(app, "admin")
    page = text(admin.get(f"/admin/audit?entity=case&entity_id={world['A']}"))
    table = page.split("变更（前 → 后）", 1)[1]
    for said in ("约谈已登记", "整改通知已下发", "整改方案已提交", "整改情况已报告", "已申请复查", "复查已登记", "已销号",
                 "案件已重新打开", "状态 整改中 → 待复查", "状态 待复查 → 已复查", "状态 已销号 → 已重新打开",
                 "重新打开原因 — → 问题反弹", "约谈案件"):
        assert said in table, said
    for code in ("case.", "rectifying", "recheck_asked", "held_on", "recheck_passed", "round_", "bottom_n", "reopen_reason"):
        assert code not in page, code
    assert "原因 排名靠后" in table  # the case's reason, in words


def test_an_existing_single_round_case_migrates_into_round_1(tmp_path):
    """Revision 0016 keeps the one round a case had as round 1; the earlier batch migrations run
    over a SQLite database that holds data (migrations/env.py turns foreign keys off meanwhile)."""
    from flask_migrate import upgrade
    from sqlalchemy import create_engine, text as sql

    from app import create_app

    url = f"sqlite:///{tmp_path / 'old.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x" * 32})
    with app.app_context():
        upgrade(revision="0009")
        engine = create_engine(url)
        with engine.begin() as conn:
            t = "'2026-10-01 00:00:00'"
            for row in (
                f"INSERT INTO units (id, code, name, kind, path, depth, created_at, updated_at) VALUES (1, '1', '市', 'city', '/1/', 0, {t}, {t})",
                f"INSERT INTO units (id, code, name, kind, parent_id, path, depth, created_at, updated_at) VALUES (2, '2', '县', 'county', 1, '/1/2/', 1, {t}, {t})",
                f"INSERT INTO questionnaires (id, slug, created_at) VALUES (1, 'q', {t})",
                "INSERT INTO questionnaire_versions (id, questionnaire_id, version, title, bottom_n, min_n, grades, source, created_at)"
                f" VALUES (1, 1, 1, 'q', 3, 30, '[]', '', {t})",
                "INSERT INTO waves (id, slug, questionnaire_version_id, scope_unit_id, series, period, period_start, period_end,"
                f" target_n, status, created_at) VALUES (1, 'w', 1, 1, 's', '2026Q3', '2026-07-01', '2026-09-30', 10, 'closed', {t})",
            ):
                conn.execute(sql(row))
            conn.execute(sql(
                "INSERT INTO interview_cases (id, wave_id, unit_id, reason, status, rectification_plan, responsible, deadline,"
                " recheck_on, recheck_result, recheck_passed, created_at, updated_at) VALUES"
                " (1, 1, 2, 'bottom_n', 'rechecked', '整改要求', '乡长', '2026-11-30', '2026-12-01', '到位', 1,"
                " '2026-10-01 00:00:00', '2026-12-01 00:00:00'),"
                " (2, 1, 1, 'bottom_n', 'held', NULL, NULL, NULL, NULL, NULL, NULL, '2026-10-01 00:00:00', '2026-10-01 00:00:00')"
            ))
        upgrade()
        with engine.connect() as conn:
            rows = conn.execute(sql(
                "SELECT case_id, number, requirements, responsible, deadline, recheck_on, recheck_result, passed FROM case_rounds"
            )).all()
        engine.dispose()
        db.engine.dispose()
    assert [tuple(r) for r in rows] == [(1, 1, "整改要求", "乡长", "2026-11-30", "2026-12-01", "到位", 1)]
