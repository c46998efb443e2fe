"""Due dates counted from the issue date (docs/method.md "Due dates"): cases get their 约谈 due
date when issued, N is set per wave on the wave page, and an unscheduled case is overdue once
its due date passed — in the list, the counts, the dashboard and the case page alike."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from admin import cases as case_service
from extensions import db
from models import AuditEntry, InterviewCase
from tests.admin.console import Q3, city, city_template, client_for, post, text, user, wave  # noqa: F401

TODAY = case_service.today()


def issue(client, slug: str = Q3):
    response = post(client, f"/admin/waves/{slug}/interviews")
    assert response.status_code == 302, text(response)


def cases_of(slug: str = Q3) -> list[InterviewCase]:
    db.session.expire_all()
    return list(db.session.scalars(select(InterviewCase).where(InterviewCase.wave_id == wave(slug).id).order_by(InterviewCase.id)))


def test_issued_cases_are_due_n_days_after_the_issue_date(city):
    issue(client_for(city, "office"))
    issued = cases_of()
    assert issued
    for case in issued:
        assert case.issued_on == TODAY
        assert case.interview_due == TODAY + timedelta(days=15)  # INTERVIEW_DUE_DAYS' default


def test_the_setting_gives_n_when_the_wave_does_not(make_app, city):
    city.config["INTERVIEW_DUE_DAYS"] = 4
    issue(client_for(city, "office"))
    assert {c.interview_due for c in cases_of()} == {TODAY + timedelta(days=4)}


def test_the_office_sets_n_on_the_wave_page_and_waiting_cases_follow(city):
    office = client_for(city, "office")
    issue(office)
    first, second, *_ = cases_of()
    # one case is past the 约谈: its due date no longer moves
    second.status, second.held_on = "held", TODAY
    db.session.commit()
    page = office.get(f"/admin/waves/{Q3}")
    assert "下发约谈名单后 15 天内约谈" in text(page) and 'id="form-interview-days"' in page.get_data(as_text=True)

    response = post(office, f"/admin/waves/{Q3}/interview-days", {"interview_days": "7"})
    assert response.status_code == 302
    assert wave(Q3).interview_days == 7
    waiting = [c for c in cases_of() if c.status == "scheduled"]
    assert waiting and all(c.interview_due == TODAY + timedelta(days=7) for c in waiting)
    assert next(c for c in cases_of() if c.id == second.id).interview_due == TODAY + timedelta(days=15)
    page = office.get(f"/admin/waves/{Q3}")
    assert "下发约谈名单后 7 天内约谈" in text(page) and f"{len(waiting)} 件待约谈案件的期限已重新计算" in text(page)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "wave.interview_days"))
    assert entry.before == {"interview_days": None, "effective": 15}
    assert entry.after == {"interview_days": 7, "effective": 7, "cases_moved": len(waiting)}

    # blank: back to the setting
    assert post(office, f"/admin/waves/{Q3}/interview-days", {"interview_days": ""}).status_code == 302
    assert wave(Q3).interview_days is None
    assert all(c.interview_due == TODAY + timedelta(days=15) for c in cases_of() if c.status == "scheduled")


def test_bad_numbers_are_refused_in_chinese_and_nothing_changes(city):
    office = client_for(city, "office")
    for value, message in [("0", "应为 1 到 365 之间的天数"), ("366", "应为 1 到 365 之间的天数"), ("七", "应为整数天数")]:
        response = post(office, f"/admin/waves/{Q3}/interview-days", {"interview_days": value})
        assert response.status_code == 422, value
        assert message in text(response)
        assert wave(Q3).interview_days is None
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "wave.interview_days")) is None


def test_only_the_issuing_office_sets_n(city):
    for username, status in [("west", 403), ("analyst", 403)]:
        response = post(client_for(city, username), f"/admin/waves/{Q3}/interview-days", {"interview_days": "5"})
        assert response.status_code == status, username
        assert wave(Q3).interview_days is None
    assert 'id="form-interview-days"' not in client_for(city, "west").get(f"/admin/waves/{Q3}").get_data(as_text=True)
    assert post(client_for(city, "admin"), f"/admin/waves/{Q3}/interview-days", {"interview_days": "5"}).status_code == 302


def test_an_unscheduled_case_is_overdue_once_its_due_date_passed(city):
    office = client_for(city, "office")
    issue(office)
    late, scheduled, fresh, *_ = cases_of()
    late.issued_on, late.interview_due = TODAY - timedelta(days=20), TODAY - timedelta(days=5)
    scheduled.issued_on, scheduled.interview_due = TODAY - timedelta(days=20), TODAY - timedelta(days=5)
    scheduled.scheduled_for = TODAY + timedelta(days=2)  # a date is set: that date decides
    db.session.commit()
    admin = user("admin")
    overdue = case_service.list_cases(admin, case_service.CaseFilter(overdue=True))
    assert [c.id for c in overdue] == [late.id]
    assert case_service.case_counts(admin).overdue == 1
    dashboard = text(office.get("/admin/"))
    assert f"约谈期限 {TODAY - timedelta(days=5)} 已过，尚未安排约谈" in dashboard
    assert '<strong class="late">逾期</strong>' in office.get(f"/admin/cases/{late.id}").get_data(as_text=True)
    assert '<strong class="late">逾期</strong>' not in office.get(f"/admin/cases/{fresh.id}").get_data(as_text=True)
    assert f"应于 {TODAY - timedelta(days=5)} 前约谈" in text(office.get("/admin/cases"))
