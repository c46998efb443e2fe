"""The 约谈 loop: issuing the interview list, every step of a case, refusals, overdue cases,
re-issuing after a re-run, 重点管理, and the scope of county accounts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from admin import cases as case_service
from extensions import db
from models import AnalysisResult, AuditEntry, InterviewCase, Unit
from survey.results import wave_result
from tests.admin.console import (  # noqa: F401  (fixtures)
    Q2,
    Q3,
    city,
    city_template,
    client_for,
    field_error,
    post,
    text,
    user,
    wave,
)

TODAY = case_service.today()


def issue(client, slug: str = Q3, data: dict | None = None):
    return post(client, f"/admin/waves/{slug}/interviews", data)


def case_of(code: str, slug: str = Q3) -> InterviewCase:
    db.session.expire_all()
    return db.session.scalar(
        select(InterviewCase).join(Unit, InterviewCase.unit_id == Unit.id).where(Unit.code == code, InterviewCase.wave_id == wave(slug).id)
    )


def cases_of(slug: str = Q3) -> list[InterviewCase]:
    db.session.expire_all()
    return list(db.session.scalars(select(InterviewCase).where(InterviewCase.wave_id == wave(slug).id)))


def listed(slug: str = Q3):
    """The lines of the wave's interview list a case is issued for: units with respondents
    (a unit without respondents is not a result, docs/method.md)."""
    result = wave_result(wave(slug))
    return [e for e in result.interview_list if result.unit(e.code).n > 0]


def audit_actions(case: InterviewCase) -> list[str]:
    return list(db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.entity == "case", AuditEntry.entity_id == str(case.id)).order_by(AuditEntry.id)
    ))


def test_issuing_the_list_creates_one_case_per_entry_and_is_idempotent(city):
    office = client_for(city, "office")
    response = issue(office)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/admin/cases?wave={Q3}")
    lines = listed()
    n = len(lines)
    created = cases_of()
    assert len(created) == n and n >= 5
    by_code = {c.unit.code: c for c in created}
    for entry in lines:
        c = by_code[entry.code]
        assert (c.status, c.reason, c.rank, c.escalation) == ("scheduled", entry.reason, entry.rank, entry.escalation)
        assert audit_actions(c) == ["case.issue"]
    page = office.get(f"/admin/cases?wave={Q3}")
    assert f"约谈名单已下发：新建 {n} 件" in text(page)

    again = issue(office)
    assert again.status_code == 302 and len(cases_of()) == n
    assert f"未变 {n} 件" in text(office.get("/admin/cases"))


def test_the_list_is_issued_only_for_a_closed_and_analysed_wave(city):
    office = client_for(city, "office")
    response = issue(office, Q2)  # published: fine
    assert response.status_code == 302 and len(cases_of(Q2)) == len(listed(Q2)) > 0

    admin = client_for(city, "admin")
    assert post(admin, "/admin/waves/new", {
        "slug": "2026Q4-city", "questionnaire": "safety", "scope": "510700", "period": "2026Q4", "target_n": "50",
    }).status_code == 302
    refused = issue(office, "2026Q4-city")
    assert refused.status_code == 409 and "尚未结束" in text(refused)
    assert cases_of("2026Q4-city") == []


def test_a_case_goes_from_the_interview_to_closure_with_every_step_audited(city):
    office = client_for(city, "office")
    issue(office)
    c = case_of("510702003")  # 高岭乡
    url = f"/admin/cases/{c.id}"
    page = office.get(url)
    assert page.status_code == 200 and "安排约谈时间" in text(page) and "登记约谈" in text(page)

    assert post(office, url + "/schedule", {"scheduled_for": (TODAY + timedelta(days=7)).isoformat()}).status_code == 302
    assert case_of("510702003").scheduled_for == TODAY + timedelta(days=7)
    held = TODAY - timedelta(days=1)
    assert post(office, url + "/hold", {
        "held_on": held.isoformat(), "attendees": "乡党委书记；市创建办", "notes": "通报排名，要求限期整改",
    }).status_code == 302
    c = case_of("510702003")
    assert (c.status, c.held_on, c.attendees) == ("held", held, "乡党委书记；市创建办")

    assert post(office, url + "/rectify", {
        "rectification_plan": "增加夜间巡逻；矛盾纠纷月排查", "responsible": "乡长 赵某", "deadline": (TODAY + timedelta(days=30)).isoformat(),
    }).status_code == 302
    assert case_of("510702003").status == "rectifying"

    # A failed 复查 sends the case back for another round with a new deadline.
    assert post(office, url + "/recheck", {"recheck_on": TODAY.isoformat(), "passed": "no", "recheck_result": "巡逻记录不全"}).status_code == 302
    c = case_of("510702003")
    assert (c.status, c.recheck_passed) == ("rechecked", False)
    refused = post(office, url + "/close", {"closed_on": TODAY.isoformat()})
    assert refused.status_code == 409 and "复查未通过" in text(refused)
    assert post(office, url + "/rectify", {
        "rectification_plan": "补齐巡逻记录", "responsible": "乡长 赵某", "deadline": (TODAY + timedelta(days=10)).isoformat(),
    }).status_code == 302
    c = case_of("510702003")
    assert (c.status, c.recheck_on, c.recheck_passed) == ("rectifying", None, None)

    assert post(office, url + "/recheck", {"recheck_on": TODAY.isoformat(), "passed": "yes", "recheck_result": "整改到位"}).status_code == 302
    assert post(office, url + "/close", {"closed_on": TODAY.isoformat(), "confirm": "y"}).status_code == 302
    c = case_of("510702003")
    assert (c.status, c.closed_on) == ("closed", TODAY)
    assert audit_actions(c) == [
        "case.issue", "case.schedule", "case.hold", "case.rectify", "case.recheck", "case.rectify", "case.recheck", "case.close",
    ]
    # The history keeps the failed 复查 although the case now shows the passed one.
    failed = db.session.scalar(select(AuditEntry).where(AuditEntry.entity == "case", AuditEntry.entity_id == str(c.id), AuditEntry.action == "case.recheck").order_by(AuditEntry.id))
    assert failed.after["recheck_passed"] is False and failed.after["recheck_result"] == "巡逻记录不全"
    page = text(office.get(url))
    assert "已销号" in page and "案件已办结" in page and "未通过" in page


@pytest.mark.parametrize("status, action", [
    ("scheduled", "rectify"), ("scheduled", "recheck"), ("scheduled", "close"),
    ("held", "hold"), ("held", "schedule"), ("rectifying", "close"), ("closed", "hold"), ("withdrawn", "hold"),
])
def test_steps_out_of_order_are_refused_with_409(city, status, action):
    office = client_for(city, "office")
    issue(office)
    c = case_of("510702003")
    c.status = status
    db.session.commit()
    data = {"held_on": TODAY.isoformat(), "attendees": "x", "notes": "x", "rectification_plan": "x", "responsible": "x",
            "deadline": (TODAY + timedelta(days=9)).isoformat(), "recheck_on": TODAY.isoformat(), "passed": "yes",
            "recheck_result": "x", "closed_on": TODAY.isoformat(), "scheduled_for": (TODAY + timedelta(days=1)).isoformat()}
    response = post(office, f"/admin/cases/{c.id}/{action}", data)
    assert response.status_code == 409 and "不能" in text(response)
    assert case_of("510702003").status == status
    assert audit_actions(case_of("510702003")) == ["case.issue"]


def test_bad_input_is_shown_beside_its_field_and_nothing_is_stored(city):
    office = client_for(city, "office")
    issue(office)
    c = case_of("510702003")
    url = f"/admin/cases/{c.id}"
    missing = post(office, url + "/hold", {"held_on": "", "attendees": "", "notes": "记录"})
    assert missing.status_code == 422
    assert field_error(missing, "held_on") == "请填写约谈日期" and field_error(missing, "attendees") == "请填写参加人员"
    malformed = post(office, url + "/hold", {"held_on": "2026-13-45", "attendees": "a", "notes": "b"})
    assert malformed.status_code == 422 and field_error(malformed, "held_on") == "日期格式应为 2026-10-15"
    future = post(office, url + "/hold", {"held_on": (TODAY + timedelta(days=1)).isoformat(), "attendees": "a", "notes": "b"})
    assert future.status_code == 422 and "不能晚于今天" in field_error(future, "held_on")
    past = post(office, url + "/schedule", {"scheduled_for": (TODAY - timedelta(days=1)).isoformat()})
    assert past.status_code == 422 and "不能早于今天" in field_error(past, "scheduled_for")
    assert case_of("510702003").status == "scheduled" and case_of("510702003").held_on is None

    held = TODAY - timedelta(days=3)
    post(office, url + "/hold", {"held_on": held.isoformat(), "attendees": "a", "notes": "b"})
    early = post(office, url + "/rectify", {"rectification_plan": "p", "responsible": "r", "deadline": held.isoformat()})
    assert early.status_code == 422 and "整改时限应晚于约谈日期" in field_error(early, "deadline")
    no_choice = post(office, url + "/rectify", {"rectification_plan": "p", "responsible": "", "deadline": TODAY.isoformat()})
    assert no_choice.status_code == 422 and field_error(no_choice, "responsible") == "请填写整改责任人"
    c = case_of("510702003")
    assert (c.status, c.deadline, c.rectification_plan) == ("held", None, None)
    assert audit_actions(c) == ["case.issue", "case.hold"]


def test_a_missing_csrf_token_is_refused(city):
    office = client_for(city, "office")
    issue(office)
    c = case_of("510702003")
    response = office.post(f"/admin/cases/{c.id}/hold", data={"held_on": TODAY.isoformat(), "attendees": "a", "notes": "b"})
    assert response.status_code == 400 and case_of("510702003").status == "scheduled"
    assert office.post(f"/admin/waves/{Q3}/interviews").status_code == 400


def test_overdue_cases_are_counted_listed_and_highlighted(city):
    office = client_for(city, "office")
    issue(office)
    late_interview, late_rectification, on_time = case_of("510702003"), case_of("510701004"), case_of("510701006")
    late_interview.scheduled_for = TODAY - timedelta(days=2)
    late_rectification.status, late_rectification.held_on = "rectifying", TODAY - timedelta(days=40)
    late_rectification.deadline = TODAY - timedelta(days=1)
    on_time.status, on_time.held_on, on_time.deadline = "rectifying", TODAY - timedelta(days=5), TODAY
    db.session.commit()

    overdue = office.get("/admin/cases?overdue=1")
    assert overdue.status_code == 200
    assert overdue.get_data(as_text=True).count('<tr class="overdue">') == 2
    page = text(overdue)
    assert "高岭乡" in page and "石桥镇" in page and "新城镇" not in page
    dashboard = office.get("/admin/")
    assert "约谈日期" in text(dashboard) and "整改时限" in text(dashboard)
    assert case_service.case_counts(user("office")).overdue == 2
    detail = office.get(f"/admin/cases/{late_rectification.id}")
    assert "逾期" in text(detail)


def test_reissuing_after_a_rerun_withdraws_reinstates_and_keeps_progressed_cases(city):
    office = client_for(city, "office")
    issue(office)
    progressed = case_of("510702003")  # 高岭乡: held, then drops off the list
    post(office, f"/admin/cases/{progressed.id}/hold", {"held_on": TODAY.isoformat(), "attendees": "a", "notes": "b"})
    # A re-run whose list no longer holds 高岭乡 and 石桥镇, and ranks 新城镇 differently.
    stored = db.session.scalar(select(AnalysisResult).where(AnalysisResult.wave_id == wave(Q3).id))
    payload = dict(stored.payload)
    entries = [e for e in payload["interview_list"] if e["code"] not in ("510702003", "510701004")]
    for e in entries:
        if e["code"] == "510701006":
            e["rank"] = 3
    payload["interview_list"] = entries
    stored.payload = payload
    db.session.commit()

    # Nothing is withdrawn silently: without the number the confirm step showed, nothing changes.
    refused = issue(office)
    assert refused.status_code == 409 and "将撤销 1 件" in text(refused)
    assert case_of("510701004").status == "scheduled" and case_of("510701006").rank != 3
    response = issue(office, data={"confirm_withdrawals": "1"})
    assert response.status_code == 302
    message = text(office.get("/admin/cases"))
    assert "按最新名单更新 1 件" in message and "撤销 1 件" in message and "1 件已在办理" in message
    assert case_of("510701004").status == "withdrawn"  # was scheduled: withdrawn, not deleted
    assert case_of("510702003").status == "held"  # progressed: kept as it is
    assert case_of("510701006").rank == 3
    assert len(cases_of()) == len(listed()) + 2
    assert "已不在本期约谈名单中" in text(office.get(f"/admin/cases/{progressed.id}"))

    stored.payload = {**payload, "interview_list": [*entries, {"code": "510701004", "reason": "bottom_n", "rank": 2, "escalation": "key_management"}]}
    db.session.commit()
    issue(office)
    back = case_of("510701004")
    assert back.status == "scheduled" and audit_actions(back) == ["case.issue", "case.withdraw", "case.reinstate"]


def test_county_accounts_see_only_their_own_cases_and_do_not_issue_the_citys_list(city):
    """The city-wide wave's list is issued by an account whose scope covers the wave (policy.py
    cases.issue): a county account is refused, and sees only its own subtree's cases."""
    west = client_for(city, "west")
    assert issue(west).status_code == 403 and cases_of() == []
    assert west.get(f"/admin/waves/{Q3}/interviews/issue").status_code == 403
    office = client_for(city, "office")
    issue(office)
    assert len(cases_of()) == len(listed())
    own = {c.unit.code for c in case_service.list_cases(user("west"))}
    assert own == {e.code for e in listed() if e.code.startswith("510702")} == {"510702003"}  # 高岭乡
    east_case = case_of("510701005")
    assert west.get(f"/admin/cases/{east_case.id}").status_code == 404
    assert post(west, f"/admin/cases/{east_case.id}/plan", {"plan": "x"}).status_code == 404
    assert post(west, f"/admin/cases/{east_case.id}/hold", {"held_on": TODAY.isoformat(), "attendees": "a", "notes": "b"}).status_code == 404
    listing = text(west.get("/admin/cases"))
    assert "高岭乡" in listing and "青山镇" not in listing
    assert "青山镇" not in text(west.get("/admin/key-management"))


def test_read_only_accounts_see_cases_but_cannot_change_them(city):
    issue(client_for(city, "office"))
    analyst = client_for(city, "analyst")
    c = case_of("510702003")
    page = analyst.get(f"/admin/cases/{c.id}")
    assert page.status_code == 200 and "登记约谈" not in text(page)
    assert post(analyst, f"/admin/cases/{c.id}/hold", {"held_on": TODAY.isoformat(), "attendees": "a", "notes": "b"}).status_code == 403
    assert issue(analyst).status_code == 403


def test_key_management_lists_escalated_units_with_their_history(city):
    office = client_for(city, "office")
    issue(office, Q2)  # escalation follows the ISSUED list of the previous wave
    assert post(office, f"/admin/waves/{Q3}/analysis", {"weight_cap": "5", "confirmed": "1"}).status_code == 302
    issue(office)
    page = office.get("/admin/key-management")
    assert page.status_code == 200
    body = text(page)
    escalated = {e.code for e in wave_result(wave(Q3)).interview_list if e.escalation == "key_management"}
    assert escalated == {"510701004", "510701006"}  # 石桥镇，新城镇: issued in Q2 for bottom_n, listed again
    names = {u.code: u.name for u in wave_result(wave(Q3)).units}
    for code in escalated:
        assert names[code] in body
    assert "青山镇" not in body  # listed in Q3 only: not (yet) in 重点管理
    units = case_service.key_management(user("office"))
    town = next(k for k in units if k.unit.code == "510701006")
    assert [h.wave.slug for h in town.history] == [Q2, Q3]
    assert [h.entry.rank for h in town.history] == [3, 2]
    assert town.history[1].case is not None and town.history[0].case is not None
    assert db.session.scalar(select(func.count()).select_from(InterviewCase)) == len(listed()) + len(listed(Q2))


def test_issuing_in_three_steps_preview_exclude_with_a_reason_confirm(city):
    office = client_for(city, "office")
    lines = listed()
    bottom = next(e for e in lines if e.reason == "bottom_n")
    unit = wave_result(wave(Q3)).unit(bottom.code)
    # 1. Preview: every line with its composite, CI, 倒数第 k, P(末N), reason and what issuing does.
    page = office.get(f"/admin/waves/{Q3}/interviews/issue")
    assert page.status_code == 200
    body = text(page)
    assert "1. 预览名单" in body and "3. 确认下发" in body
    assert body.count("新建案件") == len(lines)
    assert f"{unit.composite.estimate:.2f}" in body and f"{unit.composite.ci_low:.1f}–{unit.composite.ci_high:.1f}" in body
    assert f"倒数第 {bottom.rank} 名（共 {unit.group_size} 名）" in body and f"{100 * unit.p_bottom:.0f}%" in body
    assert cases_of() == []  # a preview stores nothing
    # 2. Taking a unit off without a reason is refused at its line; nothing is stored.
    url = f"/admin/waves/{Q3}/interviews/issue"
    missing = post(office, url, {"exclude": bottom.code, f"reason-{bottom.code}": "  "})
    assert missing.status_code == 422 and f"撤下单位 {bottom.code} 须写明理由" in text(missing)
    assert f'id="reason-{bottom.code}-error"' in missing.get_data(as_text=True)
    assert office.post(url, data={"exclude": bottom.code, f"reason-{bottom.code}": "x"}).status_code == 400  # no CSRF token
    # 3. Confirm: how many cases issuing creates, and the exclusion with its reason.
    reason = "该单位已于上月整体撤并，由市委政法委另行督办"
    review = post(office, url, {"exclude": bottom.code, f"reason-{bottom.code}": reason})
    assert review.status_code == 200
    body = text(review)
    assert f"将新建约谈案件 {len(lines) - 1} 件" in body and "将撤销已下发的案件 0 件" in body and "撤下 1 个单位" in body
    assert reason in body and cases_of() == []
    done = issue(office, data={"exclude": bottom.code, f"reason-{bottom.code}": reason, "confirm_withdrawals": "0"})
    assert done.status_code == 302
    assert {c.unit.code for c in cases_of()} == {e.code for e in lines} - {bottom.code}
    excluded = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "interviews.exclude"))
    assert excluded.entity_id == bottom.code and excluded.after["exclusion_reason"] == reason
    issued = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "interviews.issue"))
    assert issued.after["excluded"] == {bottom.code: reason} and issued.after["created"] == len(lines) - 1

    # Taking an issued (scheduled) unit off later withdraws its case: the preview says so first.
    other = next(e for e in lines if e.code != bottom.code)
    again = text(post(office, url, {"exclude": other.code, f"reason-{other.code}": "复核后确认测评组织无误"}))
    assert "将新建约谈案件 1 件" in again and "将撤销已下发的案件 1 件" in again  # bottom back on, other withdrawn
    refused = issue(office, data={"exclude": other.code, f"reason-{other.code}": "复核后确认测评组织无误"})
    assert refused.status_code == 409 and case_of(other.code).status == "scheduled"
    issue(office, data={"exclude": other.code, f"reason-{other.code}": "复核后确认测评组织无误", "confirm_withdrawals": "1"})
    assert case_of(other.code).status == "withdrawn" and case_of(bottom.code).status == "scheduled"


def test_the_preview_diff_after_a_reanalysis_shows_added_and_withdrawn(city):
    office_user = user("office")
    case_service.issue_interview_list(wave(Q3), office_user)
    stored = db.session.scalar(select(AnalysisResult).where(AnalysisResult.wave_id == wave(Q3).id))
    lines = listed()
    gone = lines[0].code
    stored.payload = {**stored.payload, "interview_list": [e for e in stored.payload["interview_list"] if e["code"] != gone]}
    db.session.commit()
    preview = case_service.preview_issue(wave(Q3), office_user)
    assert preview.to_create == 0 and preview.to_withdraw == 1 and preview.unchanged == len(lines) - 1
    assert [w.case.unit.code for w in preview.off_list] == [gone]
    with pytest.raises(case_service.Conflict):
        case_service.issue_interview_list(wave(Q3), office_user)
    assert case_of(gone).status == "scheduled"
    summary = case_service.issue_interview_list(wave(Q3), office_user, confirm_withdrawals=1)
    assert summary.withdrawn == 1 and case_of(gone).status == "withdrawn"


def test_the_command_line_issues_with_exclusions_or_refuses_and_stores_nothing(city):
    runner = city.test_cli_runner()
    lines = listed()
    bottom = next(e for e in lines if e.reason == "bottom_n")
    for args, message in (
        (["--exclude", "999999", "--reason", "x"], "错误: 单位代码 “999999” 不存在"),
        (["--exclude", "510700", "--reason", "x"], "错误: 单位 510700 不在本期约谈名单中"),
        (["--exclude", bottom.code], "错误: --exclude 与 --reason 应一一对应"),
        (["--exclude", bottom.code, "--reason", " "], f"错误: 撤下单位 {bottom.code} 须写明理由"),
    ):
        result = runner.invoke(args=["interviews", "issue", "--wave", Q3, *args])
        assert result.exit_code == 1 and message in result.output, result.output
        assert "Traceback" not in result.output
    assert cases_of() == [] and db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action.like("interviews.%"))) == 0
    result = runner.invoke(args=["interviews", "issue", "--wave", Q3, "--exclude", bottom.code, "--reason", "已并入相邻乡镇"])
    assert result.exit_code == 0, result.output
    assert f"约谈名单已下发：新建 {len(lines) - 1} 件" in result.output and "撤下 1 个单位" in result.output
    assert "倒数第" in result.output
    assert {c.unit.code for c in cases_of()} == {e.code for e in lines} - {bottom.code}
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "interviews.exclude"))
    assert entry.actor == "cli" and entry.after["exclusion_reason"] == "已并入相邻乡镇"
    # Re-issuing without the exclusion: no withdrawal, so no confirmation needed.
    again = runner.invoke(args=["interviews", "issue", "--wave", Q3])
    assert again.exit_code == 0 and "新建 1 件" in again.output
    # Taking a scheduled unit off withdraws its case: only with --yes.
    other = next(e for e in lines if e.code != bottom.code)
    refused = runner.invoke(args=["interviews", "issue", "--wave", Q3, "--exclude", other.code, "--reason", "复核"])
    assert refused.exit_code == 1 and "加 --yes 确认" in refused.output and case_of(other.code).status == "scheduled"
    ok = runner.invoke(args=["interviews", "issue", "--wave", Q3, "--exclude", other.code, "--reason", "复核", "--yes"])
    assert ok.exit_code == 0 and case_of(other.code).status == "withdrawn"
