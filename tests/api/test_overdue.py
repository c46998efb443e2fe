"""One overdue rule (models.interviews.is_overdue): the console and the API agree on every case.

They once drifted: the console called a scheduled case with a passed interview date overdue and
the API did not; the API called a held case with an old deadline overdue and the console did not.
And a case nobody scheduled was never overdue (issue 14): now it is once its 约谈 due date passed.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

import clock
from admin import cases as case_service
from extensions import db
from models import InterviewCase, Unit
from models.interviews import is_overdue
from tests.api.routes import sign_in

TODAY = clock.today()
DAY = timedelta(days=1)
# status, scheduled_for, interview_due, deadline → overdue?
SITUATIONS = [
    ("scheduled", TODAY - DAY, None, None, True),  # the interview date passed: the console's rule, kept
    ("scheduled", TODAY, None, None, False),
    ("scheduled", None, None, None, False),  # no date at all (issued before due dates existed)
    ("scheduled", None, TODAY - DAY, None, True),  # never scheduled, and the 约谈 due date passed
    ("scheduled", None, TODAY, None, False),  # due today: not yet
    ("scheduled", TODAY + DAY, TODAY - DAY, None, False),  # a date is set: the date decides
    ("scheduled", TODAY - DAY, TODAY + DAY, None, True),
    ("held", TODAY - 30 * DAY, TODAY - 40 * DAY, TODAY - DAY, False),  # waits on the office's notice, not on a date
    ("rectifying", TODAY - 30 * DAY, TODAY - 40 * DAY, TODAY - DAY, True),
    ("rectifying", TODAY - 30 * DAY, None, TODAY, False),
    ("rechecked", TODAY - 30 * DAY, None, TODAY - DAY, False),
    ("closed", TODAY - 30 * DAY, TODAY - 40 * DAY, TODAY - DAY, False),
]


def test_the_console_and_the_api_see_the_same_overdue_cases(web, world):
    cases = list(db.session.scalars(select(InterviewCase).order_by(InterviewCase.id)))
    # The world lists a few units per wave; give the city-wide wave more cases so every situation has one.
    wave = world.wave("2026Q3-city")
    taken = {c.unit_id for c in cases if c.wave_id == wave.id}
    spare = [u for u in db.session.scalars(select(Unit).order_by(Unit.code)) if u.id not in taken]
    for unit in spare[: max(0, len(SITUATIONS) - len(cases))]:
        db.session.add(InterviewCase(wave_id=wave.id, unit_id=unit.id, reason="bottom_n", rank=1))
    db.session.commit()
    cases = list(db.session.scalars(select(InterviewCase).order_by(InterviewCase.id)))
    assert len(cases) >= len(SITUATIONS)
    expected: dict[int, bool] = {}
    for case, (status, scheduled_for, due, deadline, overdue) in zip(cases, SITUATIONS):
        case.status, case.scheduled_for, case.interview_due, case.deadline = status, scheduled_for, due, deadline
        expected[case.id] = overdue
    for case in cases[len(SITUATIONS):]:
        case.status, case.scheduled_for, case.interview_due, case.deadline = "scheduled", TODAY + DAY, TODAY + DAY, None
        expected[case.id] = False
    db.session.commit()
    late = {i for i, o in expected.items() if o}

    # the rule itself, and its SQL twin in the console's list and counts
    assert {c.id for c in cases if is_overdue(c, TODAY)} == late
    admin = world.user("admin")
    assert {c.id for c in case_service.list_cases(admin, case_service.CaseFilter(overdue=True))} == late
    assert case_service.case_counts(admin).overdue == len(late)

    # the console's page highlights exactly those rows
    console = web.test_client()
    sign_in(console, "admin")
    page = console.get("/admin/cases?status=")
    assert page.status_code == 200
    assert page.get_data(as_text=True).count('<tr class="overdue">') == len(late)
    for case_id in expected:
        detail = console.get(f"/admin/cases/{case_id}").get_data(as_text=True)
        assert ('<strong class="late">逾期</strong>' in detail) == expected[case_id], case_id

    # the API says the same, in the list and case by case
    token = {"Authorization": f"Bearer {world.tokens['admin']}"}
    listed = web.test_client().get("/api/v1/cases", headers=token).json["cases"]
    assert {c["id"]: c["overdue"] for c in listed} == expected
    for case_id, overdue in expected.items():
        assert web.test_client().get(f"/api/v1/cases/{case_id}", headers=token).json["overdue"] is overdue
