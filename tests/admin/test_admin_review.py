"""Reviewing flagged responses: the queue with reasons, the answers, decisions with a reason, the audit,
and rejected responses leaving the indices at the next analysis."""

from __future__ import annotations

from sqlalchemy import select

from extensions import db
from models import AnalysisResult, AuditEntry, Response, Unit
from tests.admin.console import (  # noqa: F401  (fixtures)
    Q2,
    Q3,
    city,
    city_template,
    client_for,
    field_error,
    post,
    text,
    wave,
)


def flag(slug: str, unit_code: str, count: int, flags: list[str]) -> list[int]:
    """Mark the first `count` responses of a unit as flagged by the intake."""
    unit = db.session.scalar(select(Unit).where(Unit.code == unit_code))
    rows = db.session.scalars(
        select(Response).where(Response.wave_id == wave(slug).id, Response.unit_id == unit.id).order_by(Response.id).limit(count)
    ).all()
    for r in rows:
        r.review_status, r.flags, r.duration_s = "flagged", flags, 12.0
    db.session.commit()
    return [r.id for r in rows]


def response(response_id: int) -> Response:
    db.session.expire_all()
    return db.session.get(Response, response_id)


def test_the_queue_lists_flagged_responses_with_their_reasons(city):
    ids = flag(Q3, "510701005", 2, ["speeder", "straight_line"])
    admin = client_for(city, "admin")
    page = admin.get(f"/admin/waves/{Q3}/review")
    body = text(page)
    assert page.status_code == 200 and "待审核(2)" in body
    assert "答题过快" in body and "满意度题目答案完全一致" in body and "12 秒" in body and "青山镇" in body
    detail = admin.get(f"/admin/waves/{Q3}/responses/{ids[0]}")
    body = text(detail)
    assert detail.status_code == 200
    assert "采纳（计入指数）" in body and "剔除（不计入指数）" in body
    answers = response(ids[0]).answers
    spec = wave(Q3).questionnaire_version.to_spec()
    first = next(it for it in spec.items if it.is_choice and it.key in answers)
    assert first.text in body and first.option(answers[first.key]).label in body


def test_a_decision_needs_a_reason_is_stored_audited_and_counts_at_the_next_run(city):
    ids = flag(Q3, "510701005", 3, ["burst"])
    admin = client_for(city, "admin")
    url = f"/admin/waves/{Q3}/responses/{ids[0]}/review"
    missing = post(admin, url, {"decision": "reject", "reason": "  "})
    assert missing.status_code == 422 and field_error(missing, "reason") == "请填写审核理由"
    no_choice = post(admin, url, {"reason": "x"})
    assert no_choice.status_code == 422 and field_error(no_choice, "decision") == "请选择采纳或剔除"
    assert response(ids[0]).review_status == "flagged"

    assert post(admin, url, {"decision": "reject", "reason": "同一网络十分钟内提交九份，回访确认重复"}).status_code == 302
    assert post(admin, f"/admin/waves/{Q3}/responses/{ids[1]}/review", {"decision": "accept", "reason": "回访确认为不同住户"}).status_code == 302
    rejected, accepted = response(ids[0]), response(ids[1])
    assert (rejected.review_status, rejected.reviewed_by.username) == ("rejected", "admin")
    assert rejected.review_reason.startswith("同一网络") and rejected.reviewed_at is not None
    assert accepted.review_status == "accepted" and rejected.answers  # nothing deleted
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "response.reject"))
    assert entry.entity_id == str(ids[0]) and entry.before["review_status"] == "flagged" and entry.after["review_status"] == "rejected"
    again = post(admin, url, {"decision": "reject", "reason": "x"})
    assert again.status_code == 409 and "已经是" in text(again)
    queue = text(admin.get(f"/admin/waves/{Q3}/review?queue=rejected"))
    assert "已剔除(1)" in queue and "已采纳(1)" in queue and "待审核(1)" in queue

    before = db.session.scalar(select(AnalysisResult.n_responses).where(AnalysisResult.wave_id == wave(Q3).id))
    post(admin, f"/admin/waves/{Q3}/analysis", {"weight_cap": "5", "confirmed": "1"})
    db.session.expire_all()
    result = db.session.scalar(select(AnalysisResult).where(AnalysisResult.wave_id == wave(Q3).id))
    assert (result.n_responses, result.n_rejected) == (before - 1, 1)


def test_clean_and_published_responses_are_not_reviewed(city):
    admin = client_for(city, "admin")
    clean = db.session.scalar(select(Response.id).where(Response.wave_id == wave(Q3).id).order_by(Response.id).limit(1))
    refused = post(admin, f"/admin/waves/{Q3}/responses/{clean}/review", {"decision": "reject", "reason": "x"})
    assert refused.status_code == 409 and "没有被标记" in text(refused)
    [published] = flag(Q2, "510701005", 1, ["speeder"])
    closed = post(admin, f"/admin/waves/{Q2}/responses/{published}/review", {"decision": "reject", "reason": "x"})
    assert closed.status_code == 409 and "已发布" in text(closed) and response(published).review_status == "flagged"
    assert admin.get(f"/admin/waves/{Q3}/responses/{published}").status_code == 404  # not this wave's


def test_review_is_scoped_and_needs_the_permission(city):
    east_ids = flag(Q3, "510701005", 1, ["speeder"])
    west_ids = flag(Q3, "510702002", 1, ["speeder"])
    west = client_for(city, "west")
    queue = text(west.get(f"/admin/waves/{Q3}/review"))
    assert "白水乡" in queue and "青山镇" not in queue and "待审核(1)" in queue
    assert west.get(f"/admin/waves/{Q3}/responses/{east_ids[0]}").status_code == 404
    assert post(west, f"/admin/waves/{Q3}/responses/{east_ids[0]}/review", {"decision": "reject", "reason": "x"}).status_code == 404
    # The city-wide wave ranks 西山县 itself: its county account reads its sheets but does not
    # review them (separation of duties, policy.py responses.review); the city's office does.
    page = west.get(f"/admin/waves/{Q3}/responses/{west_ids[0]}")
    assert page.status_code == 200 and "保存审核结论" not in text(page)
    assert post(west, f"/admin/waves/{Q3}/responses/{west_ids[0]}/review", {"decision": "accept", "reason": "核实无误"}).status_code == 403
    assert response(west_ids[0]).review_status == "flagged"
    analyst = client_for(city, "analyst")
    assert post(analyst, f"/admin/waves/{Q3}/responses/{east_ids[0]}/review", {"decision": "reject", "reason": "x"}).status_code == 403
    office = client_for(city, "office")
    page = office.get(f"/admin/waves/{Q3}/responses/{east_ids[0]}")
    assert page.status_code == 200 and "保存审核结论" in text(page)
    assert post(office, f"/admin/waves/{Q3}/responses/{west_ids[0]}/review", {"decision": "accept", "reason": "核实无误"}).status_code == 302
    assert response(east_ids[0]).review_status == "flagged" and response(west_ids[0]).review_status == "accepted"
