"""Bulk review: a flagged group (here: one collector's sheets) inspected on its own page and rejected
with one reason; every sheet decided and audited on its own; only the sheets that were shown."""

from __future__ import annotations

from sqlalchemy import select

from extensions import db
from models import AuditEntry
from tests.admin.console import text
from tests.collect.helpers import PASSWORD, collector_world, door_sheets, fill, invoke, signed_in
from tests.conftest import csrf_token
from tests.survey.resident import ANSWERS, VILLAGE

REVIEW = "/admin/waves/2026Q3-city/review"


def test_a_collectors_flagged_sheets_are_rejected_as_a_group(make_app):
    app = make_app(SPEEDER_SECONDS=0, COLLECTOR_PACE_PER_HOUR=2)
    with app.app_context():
        collector_world(app, ("wang", VILLAGE))
        invoke(app.test_cli_runner(), "user", "create", "shiqiao", "--role", "county", "--scope", "619902", "--password", PASSWORD)
        wang = signed_in(app, "wang")
        for safety in ("B", "A", "C"):
            assert fill(wang, {**ANSWERS, "safety": safety}).status_code == 303
        first, second, third = door_sheets()
        first_id, second_id, third_id = first.id, second.id, third.id
        assert [s.review_status for s in (first, second, third)] == ["clean", "flagged", "flagged"]

        admin = signed_in(app, "admin")
        queue = admin.get(REVIEW)
        assert "同一采集人：采集人 wang （2 份）" in text(queue)
        url = f"/admin/waves/2026Q3-city/review/group?group=collector:{second.collector_id}"
        page = admin.get(url)
        assert page.status_code == 200 and text(page).count("网格员一小时内提交过多") == 2
        token = csrf_token(page.get_data(as_text=True))

        # no reason: nothing decided
        refused = admin.post(url, data={"csrf_token": token, "decision": "reject", "reason": " ", "response": [second.id, third.id]})
        assert refused.status_code == 422 and "请填写审核理由" in text(refused)
        assert {s.review_status for s in door_sheets()} == {"clean", "flagged"}
        # a county outside the village sees no such group
        outside = signed_in(app, "shiqiao")
        assert outside.get(url).status_code == 303
        assert outside.post(url, data={"csrf_token": token, "decision": "accept", "reason": "x", "response": [second_id]}).status_code in (400, 404)

        # a sheet that joins the group after the page was shown is not decided unseen
        assert fill(wang, {**ANSWERS, "safety": "D"}).status_code == 303
        done = admin.post(url, data={"csrf_token": token, "decision": "reject", "reason": "经回访，这两份为网格员代填", "response": [second_id, third_id]})
        assert done.status_code == 302
        statuses = [s.review_status for s in door_sheets()]
        assert statuses == ["clean", "rejected", "rejected", "flagged"]
        gone = admin.get(url)  # one sheet left: no group any more, reviewed on its own
        assert gone.status_code == 303 and "已全部审核完毕" in text(admin.get(REVIEW))

        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "response.reject").order_by(AuditEntry.id)).all()
        assert [int(e.entity_id) for e in entries] == [second_id, third_id]  # one entry per sheet
        assert {e.after["group"] for e in entries} == {f"collector:{second.collector_id}"}
        assert {e.after["review_reason"] for e in entries} == {"经回访，这两份为网格员代填"}
        assert first_id not in [int(e.entity_id) for e in entries]
        db.session.remove()
        db.engine.dispose()
