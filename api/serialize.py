"""The JSON objects of the API (described in `api.openapi`); dates ISO 8601, times in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from survey.periods import period_label
from models import InterviewCase, Unit, User, Wave
from models.interviews import case_state, is_overdue, round_state


def timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat()


def day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def unit_ref(unit: Unit) -> dict[str, Any]:
    return {"code": unit.code, "name": unit.name, "kind": unit.kind}


def wave_json(wave: Wave, has_results: bool) -> dict[str, Any]:
    version = wave.questionnaire_version
    return {
        "slug": wave.slug,
        "title": wave.title,
        "questionnaire": {"slug": version.slug, "version": version.version, "title": version.title},
        "series": wave.series,
        "period": wave.period,
        "period_label": period_label(wave.period),
        "period_start": day(wave.period_start),
        "period_end": day(wave.period_end),
        "status": wave.status,
        "scope": unit_ref(wave.scope),
        "target_n": wave.target_n,
        "opened_at": timestamp(wave.opened_at),
        "closed_at": timestamp(wave.closed_at),
        "published_at": timestamp(wave.published_at),
        "has_results": has_results,
    }


def case_json(case: InterviewCase) -> dict[str, Any]:
    """A 约谈 case: the audited state (models.interviews.case_state) with its id, the unit as an
    object, `overdue` (models.interviews.is_overdue, the console's rule), its times, and `rounds`:
    every round of 整改通知 and 复查 in order (the case's own fields repeat the latest round)."""
    return {
        "id": case.id,
        **case_state(case),
        "unit": unit_ref(case.unit),  # replaces the code, in the same place
        "overdue": is_overdue(case),
        "created_at": timestamp(case.created_at),
        "updated_at": timestamp(case.updated_at),
        "rounds": [round_state(r) for r in case.rounds],  # every 整改通知 and 复查, in order
    }


def user_json(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "scope": None if user.scope is None else unit_ref(user.scope),
    }
