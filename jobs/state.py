"""The fingerprint of a job: its inputs and every piece of stored state its result is read from.

A document is cached under its fingerprint and found again while nothing it shows has changed; a
change to the results, the wave or the units (or, per kind, the cases, the comments, the earlier
waves of the series) gives a new fingerprint, hence a new build (docs/jobs.md lists what each kind
depends on). The fingerprint is computed in the request, from a few indexed queries; the build
happens in the worker.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from extensions import db
from models import AnalysisResult, InterviewCase, PaperSheet, PopulationMargin, Response, ShortLink, Unit, Wave

# Version of the builders: bump when a change to the code changes what a build of the same inputs gives.
BUILD_VERSION = 1


def _rows(query) -> list[list[str]]:
    return [[str(v) for v in row] for row in db.session.execute(query)]


def _columns(obj: Any) -> list[str]:
    return [str(getattr(obj, c.key)) for c in obj.__table__.columns]


def _units(wave: Wave) -> list[list[str]]:
    """Every column of every unit of the wave's scope (a rename, a move, a new village …)."""
    return _rows(select(Unit.__table__).where(wave.scope.subtree_clause()).order_by(Unit.id))


def _result(wave: Wave) -> list[str] | None:
    stored = db.session.execute(
        select(AnalysisResult.id, AnalysisResult.computed_at).where(AnalysisResult.wave_id == wave.id)
    ).first()
    return None if stored is None else [str(v) for v in stored]


def _responses(wave: Wave) -> list[list[str]]:
    """How many responses by review status, and the newest: new answers, and review decisions."""
    return _rows(
        select(Response.review_status, func.count(), func.max(Response.id), func.max(Response.reviewed_at))
        .where(Response.wave_id == wave.id).group_by(Response.review_status).order_by(Response.review_status)
    )


def _paper(wave: Wave) -> list[list[str]]:
    """The paper sheets keyed in the console, by status, with their newest keying and resolution:
    resolving two keyings that differ rewrites the answers (and maybe the unit) of a stored sheet."""
    return _rows(
        select(PaperSheet.status, func.count(), func.max(PaperSheet.id), func.max(PaperSheet.second_at),
               func.max(PaperSheet.resolved_at))
        .where(PaperSheet.wave_id == wave.id).group_by(PaperSheet.status).order_by(PaperSheet.status)
    )


def _series_results(wave: Wave) -> list[list[str]]:
    """The stored results of the waves of the same series and scope (the trend, 重点管理)."""
    return _rows(
        select(Wave.id, Wave.period, AnalysisResult.computed_at)
        .join(AnalysisResult, AnalysisResult.wave_id == Wave.id)
        .where(Wave.series == wave.series, Wave.scope_unit_id == wave.scope_unit_id, Wave.id != wave.id)
        .order_by(Wave.id)
    )


def _cases(wave: Wave) -> list[list[str]]:
    return _rows(select(InterviewCase.__table__).where(InterviewCase.wave_id == wave.id).order_by(InterviewCase.id))


def state(kind: str, wave: Wave, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a job of `kind` on `wave` reads besides its inputs."""
    out: dict[str, Any] = {"wave": _columns(wave), "units": _units(wave), "build": BUILD_VERSION}
    if kind == "answer_sheets":
        # The raw sheets: every sheet's answers, flags and review status. A new sheet moves the
        # newest id (the burst flag it puts on earlier sheets comes with it), a review decision the
        # newest review, a reclassification the counts by status, a resolved paper keying _paper.
        out["responses"] = _responses(wave)
        out["paper"] = _paper(wave)
        return out
    if kind == "analysis":
        out["responses"] = _responses(wave)
        out["margins"] = _rows(
            select(PopulationMargin.__table__).join(Unit, PopulationMargin.unit_id == Unit.id)
            .where(wave.scope.subtree_clause()).order_by(PopulationMargin.id)
        )
        out["questionnaire"] = wave.questionnaire_version_id
        out["series"] = _series_results(wave)
        out["result"] = _result(wave)  # a re-run after a run is a new job
        return out
    out["office"] = current_app.config.get("OFFICE_NAME")
    if kind in ("posters", "qr_zip"):
        out["base_url"] = current_app.config.get("PUBLIC_BASE_URL")
        out["short_links"] = _rows(select(func.count(), func.max(ShortLink.id)).where(ShortLink.wave_id == wave.id))
        return out
    out["result"] = _result(wave)
    if kind == "quarterly":
        out["responses"] = _responses(wave)  # the comments and the count by mode
        out["series"] = _series_results(wave)
    if kind == "interviews":
        out["responses"] = _responses(wave)  # each notice quotes residents
        out["cases"] = _cases(wave)  # the dates printed on the notices
    return out


def fingerprint(kind: str, inputs: dict[str, Any], wave: Wave | None) -> str:
    """sha256 over the kind, the inputs and the state they are read from."""
    blob = {"kind": kind, "inputs": inputs, "state": state(kind, wave, inputs) if wave is not None else None}
    return hashlib.sha256(json.dumps(blob, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()
