"""Integrity flags: signs that a response may not be one resident's own, considered answer.

A flag never rejects a response: it is stored with `review_status="flagged"` and the codes
in `flags` (labels in models.responses.FLAG_LABELS), and a reviewer decides.

The rules, with the app config keys that tune them:

- `speeder`: the server-measured time from serving the form to receiving it is below
  SPEEDER_SECONDS_PER_ITEM (default 3) × the items shown, and never below SPEEDER_SECONDS
  (default 10; 0 turns the rule off).
- `burst`: this response makes BURST_COUNT (default 10) or more responses of the wave from one
  keyed-IP hash within BURST_MINUTES (default 10), AND those responses are unusually alike: the
  share of them with a near-identical answer pattern (analysis.integrity) reaches BURST_ALIKE_SHARE
  (default 0.5) and the 99th percentile of that share among as many of the unit's sheets from other
  addresses (or, with too few, the wave's; with neither, 0.9). Volume alone (a village session
  behind one carrier NAT) is never flagged. This one and the earlier ones of that window are flagged.
- `repeat_device`: the response's device cookie is new to the wave, but an earlier response of
  the wave with a different device came from the same keyed-IP hash and the same
  User-Agent hash within REPEAT_DEVICE_MINUTES (default 30): most likely the same phone with
  its cookies cleared, or a private tab. (A response whose cookie *is* known is not stored.)
- `straight_line` and `all_maximum`: `answer_sheet_flags` below, a pure function of the
  questionnaire and the answers, so that imported responses can be checked the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, or_, select

from analysis.integrity import alike_null_p99, alike_share, sheet_patterns
from analysis.spec import QuestionnaireSpec
from extensions import db
from models import Response

FLAG_ORDER = ("speeder", "burst", "repeat_device", "straight_line", "all_maximum", "collector_pace")
MIN_ITEMS = 3  # fewer answers than this say too little about a pattern to flag it
REFERENCE_SHEETS = 300  # recent sheets from other addresses that show how alike honest sheets are
MIN_REFERENCE = 30
ALIKE_WITHOUT_REFERENCE = 0.9  # with no reference: honest windows of 10+ stay below this (docs/security.md)


def answer_sheet_flags(spec: QuestionnaireSpec, answers: Mapping[str, str], min_items: int = MIN_ITEMS) -> list[str]:
    """The flags an answer sheet earns by itself.

    straight_line: some indicator that averages items (e.g. 满意度指数 over four satisfaction
      questions) got at least `min_items` scored answers, and all of them carry the same score —
      every police, court, mediation and patrol question answered alike.
    all_maximum: at least `min_items` scored items were answered, and every scored answer is its
      item's highest score (安全/满意 throughout: the 标准答案 a coached campaign hands out).
    Answers without a score (说不清) and unanswered items are left out of both.
    """
    return answer_sheet_checker(spec, min_items)(answers)


def answer_sheet_checker(spec: QuestionnaireSpec, min_items: int = MIN_ITEMS) -> Callable[[Mapping[str, Any]], list[str]]:
    """`answer_sheet_flags` for one questionnaire, prepared once: an import checks every row with it."""
    scored = [(it.key, it.scores, max(it.scores.values())) for it in spec.items if it.is_scored]
    groups = [tuple(ind.items) for ind in spec.indicators if not ind.is_share]

    def flags(answers: Mapping[str, Any]) -> list[str]:
        values: dict[str, float] = {}
        all_maximum = True
        for key, scores, top in scored:
            code = answers.get(key)
            if code in scores:
                values[key] = score = scores[code]
                all_maximum = all_maximum and score == top
        out = []
        for keys in groups:
            given = {values[k] for k in keys if k in values}
            if len(given) == 1 and sum(k in values for k in keys) >= min_items:
                out.append("straight_line")
                break
        if len(values) >= min_items and all_maximum:
            out.append("all_maximum")
        return out

    return flags


@dataclass(frozen=True)
class Rules:
    speeder_seconds: float = 10
    burst_count: int = 10
    burst_minutes: float = 10
    repeat_device_minutes: float = 30
    speeder_seconds_per_item: float = 3
    burst_alike_share: float = 0.5

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Rules:
        return cls(
            speeder_seconds=float(config["SPEEDER_SECONDS"]),
            burst_count=int(config["BURST_COUNT"]),
            burst_minutes=float(config["BURST_MINUTES"]),
            repeat_device_minutes=float(config["REPEAT_DEVICE_MINUTES"]),
            speeder_seconds_per_item=float(config.get("SPEEDER_SECONDS_PER_ITEM", 3)),
            burst_alike_share=float(config.get("BURST_ALIKE_SHARE", 0.5)),
        )


def speeder_threshold(rules: Rules, items_shown: int = 0) -> float:
    """Seconds below which a response is a speeder: scaled to the items shown, with a floor; 0 = off."""
    if rules.speeder_seconds <= 0:
        return 0.0
    return max(rules.speeder_seconds, rules.speeder_seconds_per_item * items_shown)


def is_speeder(duration_s: float, rules: Rules, items_shown: int = 0) -> bool:
    threshold = speeder_threshold(rules, items_shown)
    return threshold > 0 and duration_s < threshold


# Built once, as the statements of survey.intake. Columns, not the Response entity: setting up the
# ORM's row processor for the whole (wide) row cost a third of a submission's CPU even when no row
# came back (py-spy, docs/performance.md); the burst's partners are loaded as entities only when flagged.
# The table's columns, not the entity's attributes: a Core statement skips the ORM's compile step.
_R = Response.__table__.c
_FROM_ADDRESS = select(_R.id, _R.submitted_at, _R.ua_hash, _R.device_hash, _R.answers).where(
    _R.wave_id == bindparam("wave"), _R.ip_hash == bindparam("ip"), _R.submitted_at >= bindparam("since")
)
_REFERENCE_IN_UNIT = (
    select(Response.answers)
    .where(Response.wave_id == bindparam("wave"), Response.unit_id == bindparam("unit"), Response.ip_hash != bindparam("ip"))
    .order_by(Response.id.desc())
    .limit(REFERENCE_SHEETS)
)
_REFERENCE_IN_WAVE = (
    select(Response.answers)
    .where(Response.wave_id == bindparam("wave"), Response.ip_hash != bindparam("ip"))
    .order_by(Response.id.desc())
    .limit(REFERENCE_SHEETS)
)


def alike_threshold(spec: QuestionnaireSpec, size: int, reference: list[dict], rules: Rules) -> float:
    """How alike `size` sheets must be to call their burst unusual: the larger of BURST_ALIKE_SHARE
    and the 99th percentile among `size` of the reference sheets; ALIKE_WITHOUT_REFERENCE without one."""
    keys, eligible = sheet_patterns(spec, reference)
    p99 = alike_null_p99(keys, eligible, size) if reference else None
    if p99 is None:
        return max(rules.burst_alike_share, ALIKE_WITHOUT_REFERENCE)
    return max(rules.burst_alike_share, p99)


def burst_is_alike(
    spec: QuestionnaireSpec, window: list[dict], wave_id: int, unit_id: int, ip_hash: str, rules: Rules
) -> bool:
    """Are the window's answer sheets (this address, this wave) unusually alike? (docs/security.md)"""
    keys, eligible = sheet_patterns(spec, window)
    share = alike_share(keys, eligible)
    if share is None or int(eligible.sum()) < rules.burst_count or share < rules.burst_alike_share:
        return False
    params = {"wave": wave_id, "unit": unit_id, "ip": ip_hash}
    reference = list(db.session.scalars(_REFERENCE_IN_UNIT, params))
    if len(reference) < MIN_REFERENCE:
        reference = list(db.session.scalars(_REFERENCE_IN_WAVE, params))
    return share >= alike_threshold(spec, int(eligible.sum()), reference, rules)


def address_flags(
    wave_id: int,
    device_hash: str,
    ip_hash: str,
    ua_hash: str,
    now: datetime,
    rules: Rules,
    spec: QuestionnaireSpec | None = None,
    answers: Mapping[str, str] | None = None,
    unit_id: int | None = None,
) -> tuple[list[str], list[Response]]:
    """`burst` and `repeat_device` for a new response (its `answers`, to questionnaire `spec`, for
    unit `unit_id`), and the earlier responses the burst also flags.

    One query (the wave's recent responses from this keyed-IP hash, within the longer of the two
    windows) serves both rules; only a window of BURST_COUNT or more asks for reference sheets.
    Without `spec` and `answers` there is nothing to compare, and no burst is flagged.
    """
    burst_on = rules.burst_count >= 2 and rules.burst_minutes > 0
    windows = [m for m, on in ((rules.burst_minutes, burst_on), (rules.repeat_device_minutes, True)) if on and m > 0]
    if not windows:
        return [], []
    params = {"wave": wave_id, "ip": ip_hash, "since": now - timedelta(minutes=max(windows))}
    recent = db.session.execute(_FROM_ADDRESS, params).all()
    flags: list[str] = []
    partners: list[Response] = []
    if burst_on:
        since = now - timedelta(minutes=rules.burst_minutes)
        window = [r for r in recent if r.submitted_at >= since]
        if (
            len(window) + 1 >= rules.burst_count
            and spec is not None
            and answers is not None
            and burst_is_alike(spec, [*(r.answers for r in window), dict(answers)], wave_id, unit_id or -1, ip_hash, rules)
        ):
            flags.append("burst")
            partners = list(db.session.scalars(select(Response).where(Response.id.in_([r.id for r in window]))))
    since = now - timedelta(minutes=rules.repeat_device_minutes)
    if any(r.ua_hash == ua_hash and r.device_hash != device_hash and r.submitted_at >= since for r in recent):
        flags.append("repeat_device")
    return flags, partners


def address_flags_fit_sql(rules: Rules) -> bool:
    """Whether `address_flags` can be decided inside an INSERT (survey.intake) by the two conditions
    below, NO_BURST_POSSIBLE and REPEAT_DEVICE: when both rules are on. (A rule switched off gives
    `address_flags` edge cases the conditions do not spell out.)

    NO_BURST_POSSIBLE: the burst window holds fewer than BURST_COUNT - 1 earlier responses of the
    wave from this address, so `address_flags` cannot flag a burst; when it is false the response
    may be one of a burst, which only `address_flags` can judge (the answers' likeness), so that
    INSERT must store nothing. REPEAT_DEVICE: `address_flags` would flag `repeat_device`.
    Bind parameters: wave_id, ip_hash, ua_hash, device_hash, burst_since, repeat_since, burst_below
    (= BURST_COUNT - 1)."""
    return rules.burst_count >= 2 and rules.burst_minutes > 0 and rules.repeat_device_minutes > 0


_FROM_THIS_ADDRESS = (_R.wave_id == bindparam("wave_id"), _R.ip_hash == bindparam("ip_hash"))
# `address_flags` compares in Python, where a stored NULL device hash differs from any device.
REPEAT_DEVICE = (
    select(_R.id)
    .where(*_FROM_THIS_ADDRESS, _R.submitted_at >= bindparam("repeat_since"), _R.ua_hash == bindparam("ua_hash"),
           or_(_R.device_hash.is_(None), _R.device_hash != bindparam("device_hash")))
    .correlate(None)
    .exists()
)
NO_BURST_POSSIBLE = (
    select(func.count())
    .select_from(Response.__table__)
    .where(*_FROM_THIS_ADDRESS, _R.submitted_at >= bindparam("burst_since"))
    .correlate(None)
    .scalar_subquery()
    < bindparam("burst_below")
)


def add_flag(response: Response, flag: str) -> None:
    """Flag a stored response (once); a reviewer's decision already taken is left alone."""
    if flag in response.flags:
        return
    response.flags = sorted([*response.flags, flag], key=FLAG_ORDER.index)  # a new list, so the JSON column is saved
    if response.review_status == "clean":
        response.review_status = "flagged"
