"""Reviewing flagged responses: accept (it counts) or reject (the next analysis leaves it out).

A decision never deletes anything: the response keeps its answers and flags, the decision,
the reviewer, the time and the reason are stored on it, and every decision (a change of mind
included, until the wave is published) is audited with the state before and after.
`survey.results` already leaves `review_status = "rejected"` out of the indices.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

import audit
import policy
from admin.errors import FieldError
from analysis.spec import QuestionnaireSpec
from errors import Conflict, NotFound
from policy import unit_clause
from extensions import db
from models import Response, Unit, User, Wave
from models.responses import FLAG_LABELS
from models.types import utcnow

DECISIONS = {"accept": "accepted", "reject": "rejected"}
DECISION_LABELS = {"accepted": "已采纳", "rejected": "已剔除", "flagged": "待审核", "clean": "正常"}
QUEUES = ("flagged", "accepted", "rejected", "all")
PAGE_SIZE = 100


@dataclass(frozen=True)
class ReviewPage:
    responses: list[Response]
    counts: dict[str, int]  # flagged, accepted, rejected, all (all = ever flagged)
    page: int
    pages: int


def _reviewable(wave: Wave, user: User):
    """Responses of the wave that were flagged at some point (a decision keeps the flags), in scope."""
    return (
        select(Response)
        .join(Unit, Response.unit_id == Unit.id)
        .where(Response.wave_id == wave.id, unit_clause(user), Response.review_status != "clean")
    )


def review_queue(wave: Wave, user: User, queue: str = "flagged", page: int = 1) -> ReviewPage:
    queue = queue if queue in QUEUES else "flagged"
    counts = dict(
        db.session.execute(
            select(Response.review_status, func.count())
            .join(Unit, Response.unit_id == Unit.id)
            .where(Response.wave_id == wave.id, unit_clause(user), Response.review_status != "clean")
            .group_by(Response.review_status)
        ).all()
    )
    counts = {s: counts.get(s, 0) for s in ("flagged", "accepted", "rejected")}
    counts["all"] = sum(counts.values())
    total = counts[queue]
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    query = _reviewable(wave, user).options(joinedload(Response.unit), joinedload(Response.reviewed_by))
    if queue != "all":
        query = query.where(Response.review_status == queue)
    query = query.order_by(Response.submitted_at.desc(), Response.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    return ReviewPage(list(db.session.scalars(query)), counts, page, pages)


def get_response(user: User, wave: Wave, response_id: int) -> Response:
    """A response of this wave within the account's scope (its unit and its wave); 404 otherwise."""
    response = db.session.get(Response, response_id)
    if response is None or response.wave_id != wave.id:
        raise NotFound(f"答卷 {response_id} 不存在")
    return policy.require(user, "read", response)


@dataclass(frozen=True)
class Answer:
    number: int
    text: str
    answer: str | None  # the option's label, or the free text; None when unanswered
    code: str | None
    score: float | None


def answer_sheet(response: Response, spec: QuestionnaireSpec) -> list[Answer]:
    """The answers in questionnaire order, with the labels the resident saw."""
    out = []
    for number, item in enumerate(spec.items, start=1):
        value = response.answers.get(item.key)
        if value is None or value == "":
            out.append(Answer(number, item.text, None, None, None))
        elif item.is_choice:
            option = item.option(value)
            out.append(Answer(number, item.text, option.label if option else value, value, option.score if option else None))
        else:
            out.append(Answer(number, item.text, value, None, None))
    return out


def flag_labels(flags: list[str]) -> list[str]:
    return [FLAG_LABELS.get(f, f) for f in flags or []]


def decide(response: Response, decision: str, reason: str | None, reviewer: User) -> Response:
    """Accept or reject a flagged response with a reason; audited."""
    policy.require(reviewer, "responses.review", response)
    if decision not in DECISIONS:
        raise FieldError("decision", "请选择采纳或剔除")
    reason = (reason or "").strip()
    if not reason:
        raise FieldError("reason", "请填写审核理由")
    if len(reason) > 1000:
        raise FieldError("reason", "审核理由最多 1000 字")
    if response.wave.status == "published":
        raise Conflict(f"“{response.wave.title}” 已发布,审核结论不能再改", code="published")
    if response.review_status == "clean":
        raise Conflict("这份答卷没有被标记,无需审核", code="not_flagged")
    target = DECISIONS[decision]
    if response.review_status == target:
        raise Conflict(f"这份答卷已经是“{DECISION_LABELS[target]}”", code="unchanged")
    before = _state(response)
    try:
        response.review_status = target
        response.review_reason = reason
        response.reviewed_by_id = reviewer.id
        response.reviewed_at = utcnow()
        audit.record(f"response.{decision}", "response", response.id, before, _state(response))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return response


def _state(response: Response) -> dict:
    return {
        "wave": response.wave.slug,
        "unit": response.unit.code,
        "response_key": response.response_key,
        "flags": list(response.flags or []),
        "review_status": response.review_status,
        "review_reason": response.review_reason,
    }
