"""Door-to-door collection by a 网格员 (role `collector`): sheets filled on the collector's own phone
for the residents of its village or town, one after another (docs/security.md "Collectors").

A collector is signed in to the console, so the sheet is attributed to its account
(`responses.collector_id`), stored as mode `door`, and none of the resident-phone rules apply:
no device cookie (one phone serves many residents), no per-device or per-address limit, no
burst or repeat-device flag (the collector's address says nothing about the resident). In their
place the collector has its own:

- a rate limit per account (COLLECTOR_RATE_LIMIT, default "20 per hour; 150 per day"): a
  questionnaire read out to an elderly resident takes five minutes or more;
- the `speeder` flag as for residents (server-measured time, scaled to the items shown);
- `collector_pace`: the sheet is the COLLECTOR_PACE_PER_HOUR-th (default 8) or later one of this
  collector in the last 60 minutes, across waves — more than a person can honestly interview;
- the answer-sheet flags (straight_line, all_maximum) as for every sheet.

The form's ticket (survey.intake) is bound to the collector's account instead of a device
cookie, so a double tap stores one sheet and another account's form is refused like an old page.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

import policy
from errors import Conflict, NotFound
from extensions import db
from models import Response, Unit, User, Wave
from models.responses import answer_columns
from models.types import utcnow
from survey.intake import Outcome, Ticket, new_ticket, read_ticket
from survey.integrity import Rules, answer_sheet_flags, is_speeder
from survey.links import wave_spec
from survey.qr import COLLECTION_KINDS

COLLECT_VERB = "responses.collect"
PACE_WINDOW = timedelta(minutes=60)


def collector_device(user: User) -> str:
    """What a collector's tickets are bound to in place of a device cookie: its account."""
    return f"collector:{user.id}"


def collector_ticket(wave: Wave, user: User) -> str:
    return new_ticket(wave.id, device=collector_device(user))


def read_collector_ticket(value: str | None, wave: Wave, user: User) -> Ticket | None:
    return read_ticket(value, wave.id, device=collector_device(user))


@dataclass(frozen=True)
class Assignment:
    """An open wave and the collecting units of the collector's scope it covers."""

    wave: Wave
    units: list[Unit]
    counts: dict[int, int]  # unit id → sheets this collector has filled for it in this wave


def assignments(user: User) -> list[Assignment]:
    """The open waves covering the collector's scope, each with the units it may fill sheets for."""
    policy.require(user, COLLECT_VERB)
    units = list(
        db.session.scalars(
            select(Unit).where(policy.unit_clause(user), Unit.kind.in_(COLLECTION_KINDS)).order_by(Unit.path)
        )
    )
    out = []
    for wave in db.session.scalars(select(Wave).where(Wave.status == "open").order_by(Wave.period_start.desc(), Wave.slug)):
        mine = [u for u in units if u.is_within(wave.scope) and policy.can(user, COLLECT_VERB, u)]
        if not mine:
            continue
        counts = dict(
            db.session.execute(
                select(Response.unit_id, func.count())
                .where(Response.wave_id == wave.id, Response.collector_id == user.id)
                .group_by(Response.unit_id)
            ).all()
        )
        out.append(Assignment(wave, mine, counts))
    return out


def collect_target(user: User, wave_slug: str, unit_code: str) -> tuple[Wave, Unit]:
    """The open wave and the unit a collector fills a sheet for; 404 when either is unknown or
    outside its scope, and a Chinese message when the wave is not open."""
    policy.require(user, COLLECT_VERB)
    wave = db.session.scalar(select(Wave).where(Wave.slug == wave_slug))
    unit = db.session.scalar(select(Unit).where(Unit.code == unit_code))
    if wave is None or unit is None or not unit.is_within(wave.scope):
        raise NotFound("没有找到这个调查或单位，请从入户采集首页重新选择")
    policy.require(user, COLLECT_VERB, unit)
    if unit.kind not in COLLECTION_KINDS:
        raise NotFound("没有找到这个调查或单位，请从入户采集首页重新选择")
    if wave.status != "open":
        raise Conflict(f"调查 “{wave.slug}” 不在进行中，不能填写答卷", code="wave_not_open")
    return wave, unit


def filled_count(wave: Wave, unit: Unit, user: User) -> int:
    """Sheets this collector has filled for this unit in this wave."""
    return db.session.scalar(
        select(func.count()).select_from(Response).where(
            Response.wave_id == wave.id, Response.unit_id == unit.id, Response.collector_id == user.id
        )
    ) or 0


def pace_count(user: User, now: datetime) -> int:
    """Sheets this collector stored in the last hour (any wave)."""
    return db.session.scalar(
        select(func.count()).select_from(Response).where(Response.collector_id == user.id, Response.submitted_at >= now - PACE_WINDOW)
    ) or 0


def store_collected(
    wave: Wave,
    unit: Unit,
    user: User,
    ticket: Ticket,
    answers: dict,
    rules: Rules,
    pace_per_hour: int,
    screened_out: bool = False,
    now: datetime | None = None,
) -> Outcome:
    """Store one door-to-door sheet filled by `user` for a resident of `unit`; STORED, or
    ALREADY_STORED when the same ticket came again (a double tap). Commits."""
    policy.require(user, COLLECT_VERB, unit)
    now = now or utcnow()
    if db.session.scalar(select(Response.id).where(Response.wave_id == wave.id, Response.idempotency_key == ticket.idempotency_key)):
        return Outcome.ALREADY_STORED
    spec = wave_spec(wave)
    duration = max(0.0, (now - ticket.started_at).total_seconds())
    flags = ["speeder"] if is_speeder(duration, rules, len(spec.items)) and not screened_out else []
    flags += answer_sheet_flags(spec, answers)
    if pace_per_hour > 0 and pace_count(user, now) + 1 >= pace_per_hour:
        flags.append("collector_pace")
    db.session.add(
        Response(
            wave_id=wave.id,
            unit_id=unit.id,
            response_key=f"door-{uuid.uuid4().hex}",
            psu=None,
            mode="door",
            **answer_columns(spec, answers),
            submitted_at=now,
            started_at=ticket.started_at,
            duration_s=duration,
            idempotency_key=ticket.idempotency_key,
            # No device, address or User-Agent hash: the phone and its network are the collector's,
            # not the resident's, and must not enter the residents' burst and repeat-device rules.
            device_hash=None,
            ip_hash=None,
            ua_hash=None,
            flags=flags,
            review_status="flagged" if flags else "clean",
            screened_out=screened_out,
            collector_id=user.id,
        )
    )
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if db.session.scalar(select(Response.id).where(Response.wave_id == wave.id, Response.idempotency_key == ticket.idempotency_key)):
            return Outcome.ALREADY_STORED
        raise
    return Outcome.STORED
