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
from clock import local
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


def review_queue(wave: Wave, user: User, queue: str = "flagged", page: int = 1, collector: int | None = None) -> ReviewPage:
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
    query = _reviewable(wave, user).options(
        joinedload(Response.unit), joinedload(Response.reviewed_by), joinedload(Response.collector)
    )
    if collector is not None:  # one collector's sheets (the wave page's 按采集人 links here)
        query = query.where(Response.collector_id == collector)
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


def _checked_decision(wave: Wave, decision: str, reason: str | None) -> str:
    """The trimmed reason of a review decision that may be taken: one of DECISIONS, a reason of at most
    1000 characters, a wave not yet published. One sheet and a whole group are decided by these rules."""
    if decision not in DECISIONS:
        raise FieldError("decision", "请选择采纳或剔除")
    reason = (reason or "").strip()
    if not reason:
        raise FieldError("reason", "请填写审核理由")
    if len(reason) > 1000:
        raise FieldError("reason", "审核理由最多 1000 字")
    if wave.status == "published":
        raise Conflict(f"“{wave.title}”已发布，审核结论不能再改", code="published")
    return reason


def decide(response: Response, decision: str, reason: str | None, reviewer: User) -> Response:
    """Accept or reject a flagged response with a reason; audited."""
    policy.require(reviewer, "responses.review", response)
    reason = _checked_decision(response.wave, decision, reason)
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


# -- groups: decide a whole flagged group at once ---------------------------------------------------

GROUP_KINDS = {"burst": "同一网络同一天集中提交", "address": "同一网络地址", "collector": "同一采集人"}
MIN_GROUP = 2  # a "group" of one sheet is reviewed on its own page


@dataclass(frozen=True)
class Group:
    kind: str
    key: str
    label: str  # what the sheets share, in plain Chinese
    responses: list[Response]

    @property
    def kind_label(self) -> str:
        return GROUP_KINDS[self.kind]


def _group_keys(response: Response) -> list[tuple[str, str, str]]:
    """(kind, key, label) of each group a flagged sheet belongs to. The address key is a prefix of
    the keyed hash (no address is kept); a burst is one address on one Beijing day."""
    keys = []
    if response.ip_hash:
        address = response.ip_hash[:16]
        keys.append(("address", address, f"网络地址标识 {address[:8]}"))
        if "burst" in (response.flags or []) and response.submitted_at is not None:
            day = local(response.submitted_at).date()
            keys.append(("burst", f"{address}-{day:%Y%m%d}", f"网络地址标识 {address[:8]}（{day:%Y-%m-%d}）"))
    if response.collector_id is not None:
        who = response.collector
        name = (who.display_name or who.username) if who is not None else str(response.collector_id)
        keys.append(("collector", str(response.collector_id), f"采集人 {name}"))
    return keys


def flagged_groups(wave: Wave, user: User) -> list[Group]:
    """The groups of two or more sheets awaiting review that share an address, a burst or a collector,
    within the account's scope; largest first."""
    rows = db.session.scalars(
        _reviewable(wave, user)
        .where(Response.review_status == "flagged")
        .options(joinedload(Response.unit), joinedload(Response.collector))
        .order_by(Response.submitted_at, Response.id)
    ).all()
    found: dict[tuple[str, str], tuple[str, list[Response]]] = {}
    for r in rows:
        for kind, key, label in _group_keys(r):
            found.setdefault((kind, key), (label, []))[1].append(r)
    groups = [Group(kind, key, label, members) for (kind, key), (label, members) in found.items() if len(members) >= MIN_GROUP]
    return sorted(groups, key=lambda g: (-len(g.responses), list(GROUP_KINDS).index(g.kind), g.key))


def get_group(wave: Wave, user: User, kind: str, key: str) -> Group:
    """One flagged group, or NotFound (no such group, or none of it left to review)."""
    for group in flagged_groups(wave, user):
        if group.kind == kind and group.key == key:
            return group
    raise NotFound("这一组答卷不存在，或已全部审核完毕")


def decide_group(wave: Wave, user: User, kind: str, key: str, shown: list[int], decision: str, reason: str | None) -> int:
    """Accept or reject, with one reason, the sheets of a group the reviewer was shown (`shown`: their
    ids, so that a sheet that joined the group since is not decided unseen); one audit entry per
    sheet, all in one transaction. Returns how many were decided."""
    policy.require(user, "responses.review", wave)
    reason = _checked_decision(wave, decision, reason)
    group = get_group(wave, user, kind, key)
    chosen = [r for r in group.responses if r.id in set(shown)]
    if not chosen:
        raise Conflict("这一组答卷已有变化，请刷新页面后重新查看", code="group_changed")
    target = DECISIONS[decision]
    try:
        for response in chosen:
            policy.require(user, "responses.review", response)
            before = _state(response)
            response.review_status = target
            response.review_reason = reason
            response.reviewed_by_id = user.id
            response.reviewed_at = utcnow()
            after = {**_state(response), "group": f"{kind}:{key}"}
            audit.record(f"response.{decision}", "response", response.id, before, after)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return len(chosen)


# -- 数据可信度提示: the unit-level integrity figures of the stored analysis --------------------------


@dataclass(frozen=True)
class IntegrityHint:
    code: str
    name: str
    lines: list[str]  # one plain-Chinese sentence per raised signal, with the figures behind it


def _pct(value) -> str:
    return "—" if value is None else f"{value:.0%}"


def integrity_lines(integrity: dict | None) -> list[str]:
    """The raised unit-level signals (analysis.integrity, docs/method.md) in plain Chinese."""
    if not integrity or not integrity.get("flags"):
        return []
    flags, out = integrity["flags"], []
    if "near_duplicates" in flags:
        out.append(f"近似重复答卷占 {_pct(integrity.get('near_duplicate_share'))}（同类单位通常不超过 {_pct(integrity.get('near_duplicate_null_p99'))}）")
    if "all_maximum" in flags:
        out.append(f"所有题目都选最高分的答卷占 {_pct(integrity.get('all_maximum_share'))}（同类单位通常不超过 {_pct(integrity.get('all_maximum_null_p99'))}）")
    if "same_text" in flags:
        out.append(f"{integrity.get('same_text_n')} 份答卷的意见文字完全相同，占 {_pct(integrity.get('same_text_share'))}（同类单位通常不超过 {_pct(integrity.get('same_text_null_p99'))}）")
    cluster = integrity.get("time_cluster") or {}
    if "time_cluster" in flags and cluster:
        from datetime import datetime

        start = local(datetime.fromisoformat(cluster["start"])).strftime("%Y-%m-%d %H:%M")
        out.append(
            f"{start} 起 {cluster['hours']:g} 小时内集中提交 {cluster['n']} 份扫码答卷（占本单位 {_pct(cluster.get('share_of_unit'))}），"
            f"答案与本单位其他答卷明显不同（最常见答案组合占 {_pct(cluster.get('pattern_share'))}，其他答卷 {_pct(cluster.get('pattern_share_rest'))}）"
        )
    gap = integrity.get("mode_gap") or {}
    if "mode_gap" in flags and gap:
        peer = f"；同类单位平均差 {gap['peer_diff']:+.1f} 分" if gap.get("peer_diff") is not None else ""
        out.append(
            f"扫码答卷（{gap['n_qr']} 份）比入户、电话、纸质答卷（{gap['n_other']} 份）平均高 {gap['diff']:+.1f} 分"
            f"（95%置信区间 {gap['ci_low']:+.1f} 至 {gap['ci_high']:+.1f}{peer}）"
        )
    return out


def integrity_hints(wave: Wave, user: User) -> list[IntegrityHint]:
    """Units of the stored analysis within the account's scope whose answer sheets look unlike their
    peers', with the figures; empty when the wave has not been analysed."""
    from analysis import WaveResult
    from survey.results import stored_result

    stored = stored_result(wave)
    if stored is None:
        return []
    visible = None
    if user.scope is not None:
        visible = set(db.session.scalars(select(Unit.code).where(unit_clause(user))))
    hints = []
    for unit in WaveResult.from_dict(stored.payload).units:
        if visible is not None and unit.code not in visible:
            continue
        lines = integrity_lines(unit.integrity)
        if lines:
            hints.append(IntegrityHint(unit.code, unit.name, lines))
    return hints


@dataclass(frozen=True)
class QueuePage:
    """What the review queue page shows (admin/review.html)."""

    page: ReviewPage
    queue: str  # flagged, accepted, rejected or all
    collector: int | None
    groups: list[Group]
    hints: list[IntegrityHint]


def queue_page(user: User, wave: Wave, args) -> QueuePage:
    """The review queue of a wave within the account's scope (?queue=flagged|accepted|rejected|all,
    ?page=, ?collector=), with the groups awaiting review and the integrity hints."""
    queue = args.get("queue", "flagged")
    queue = queue if queue in QUEUES else "flagged"
    collector = args.get("collector", type=int)
    return QueuePage(review_queue(wave, user, queue, args.get("page", 1, type=int), collector), queue, collector,
                     flagged_groups(wave, user), integrity_hints(wave, user))
