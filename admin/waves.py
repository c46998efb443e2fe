"""Waves in the console: the ones an account can see, creating and moving them through their
statuses (survey.waves), fieldwork progress within the account's scope (survey.progress), and
the downloads of QR codes (survey.qr) and reports (reports.build).
"""

from __future__ import annotations

import csv
import io
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from flask import abort
from sqlalchemy import select

import policy
from admin.errors import FieldError
from errors import Forbidden, PinganError
from policy import check_wave, sees_wave, unit_clause
from extensions import db
from models import Questionnaire, Unit, User, Wave
from reports.cells import safe_cell, safe_dict
from survey.periods import next_period, parse_period
from survey.progress import UnitProgress, wave_progress
from survey.qr import export_wave_qr
from survey.waves import create_wave, rename_wave, transition

# Units a wave may be scoped to: an aggregate whose subtree holds the units that collect.
SCOPE_KINDS = ("city", "county", "town")


def get_wave(user: User, slug: str) -> Wave:
    """The wave, or 404 when it does not exist or lies outside the account's scope."""
    return check_wave(user, db.session.scalar(select(Wave).where(Wave.slug == slug)))


def covers_wave(user: User, wave: Wave) -> bool:
    """The whole wave lies within the account's scope. Whole-wave outputs (the PDF reports, the
    posters) and re-running its analysis need this; a county account on a city-wide wave gets
    its own units' share of the pages, the XLSX and the QR codes instead."""
    return user.scope is None or wave.scope.is_within(user.scope)


def period_label(wave: Wave) -> str:
    return parse_period(wave.period).label


# -- creating and moving -------------------------------------------------------------------------


def questionnaire_choices() -> list[tuple[str, str]]:
    return [
        (q.slug, f"{q.latest.title}({q.slug},第 {q.latest.version} 版)")
        for q in db.session.scalars(select(Questionnaire).order_by(Questionnaire.slug))
        if q.versions
    ]


def scope_choices(user: User) -> list[tuple[str, str]]:
    units = db.session.scalars(
        select(Unit).where(unit_clause(user), Unit.kind.in_(SCOPE_KINDS)).order_by(Unit.path)
    )
    top = user.scope.depth if user.scope else 0
    return [(u.code, ("\u3000" * (u.depth - top)) + f"{u.name}({u.code})") for u in units]


def slug_problem(user: User, slug: str) -> str | None:
    """Why `slug` cannot name a new wave, or None. The new-wave form asks this while it validates,
    so a taken slug is shown at once with the form's other errors."""
    taken = db.session.scalar(select(Wave).where(Wave.slug == slug))
    if taken is None:
        return None
    if not sees_wave(user, taken):
        # Slugs are unique over the whole tree; one taken outside the account's view is refused
        # without saying that it exists (a "已存在" would tell a county what others run).
        return "调查标识不可用,请换一个"
    return f"调查标识 {slug} 已被“{taken.title}”使用,请换一个"


@dataclass(frozen=True)
class WaveCopy:
    """What "copy the last wave" fills in: the same questionnaire, scope, series and target, the
    next period, and the old slug with its period moved on when it holds one."""

    slug: str
    questionnaire: str
    scope: str
    period: str
    series: str
    target_n: int


def copy_of(user: User, slug: str) -> WaveCopy:
    wave = policy.require(user, "waves.manage", get_wave(user, slug), "只能复制您管理的调查")
    period = next_period(wave.period)
    new_slug = wave.slug.replace(wave.period, period) if wave.period in wave.slug else ""
    if new_slug and slug_problem(user, new_slug):
        new_slug = ""
    return WaveCopy(new_slug, wave.questionnaire_version.slug, wave.scope.code, period, wave.series or "", wave.target_n)


def create(user: User, slug: str, questionnaire: str, scope_code: str, period: str, series: str | None, target_n: int,
           title: str | None = None) -> Wave:
    """A new draft wave, scoped within the account's subtree (survey.waves.create_wave)."""
    scope = db.session.scalar(select(Unit).where(Unit.code == scope_code))
    if scope is None or (user.scope is not None and not scope.is_within(user.scope)):
        raise FieldError("scope", "请选择您管辖范围内的单位")
    if scope.kind not in SCOPE_KINDS:
        raise FieldError("scope", "调查范围应为市、县(区)或乡镇(街道)")
    problem = slug_problem(user, slug)
    if problem:
        raise FieldError("slug", problem)
    try:
        return create_wave(slug, questionnaire, scope_code, period, series or None, target_n, title=title or None)
    except PinganError as e:
        if e.code == "bad_period":
            raise FieldError("period", e.message) from None
        if e.code == "bad_title":
            raise FieldError("title", e.message) from None
        if e.code == "not_found":
            raise FieldError("questionnaire", e.message) from None
        raise


def rename(user: User, wave: Wave, title: str) -> Wave:
    """A new title for the wave (survey.waves.rename_wave); 403 unless the account manages the wave."""
    policy.require(user, "waves.manage", wave)
    try:
        return rename_wave(wave, title)
    except PinganError as e:
        if e.code == "bad_title":
            raise FieldError("title", e.message) from None
        raise


def change_status(user: User, wave: Wave, action: str) -> Wave:
    """Open, close or publish; 403 unless the whole wave lies within the account's scope."""
    policy.require(user, "waves.manage", wave)
    return transition(wave, action)


# -- progress --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    rows: list[UnitProgress]  # depth counted from the first row
    top: UnitProgress  # the wave's scope, or the account's own unit on a wider wave
    behind: int  # collecting units under half their target

    def to_dict(self) -> dict:
        return {
            "top": self.top.to_dict(),
            "behind": self.behind,
            "rows": [r.to_dict() for r in self.rows],
        }


def progress(user: User, wave: Wave) -> Progress:
    """The wave's progress per unit, only the units the account can see."""
    rows = wave_progress(wave)
    if user.scope is not None and not wave.scope.is_within(user.scope):
        visible = set(db.session.scalars(select(Unit.code).where(unit_clause(user))))
        rows = [r for r in rows if r.code in visible]
    if not rows:
        abort(404)
    base = rows[0].depth
    rows = [r if base == 0 else UnitProgress(**{**r.to_dict(), "depth": r.depth - base}) for r in rows]
    behind = sum(1 for r in rows if r.collects and r.share < 0.5)
    return Progress(rows=rows, top=rows[0], behind=behind)


# -- downloads -------------------------------------------------------------------------------------


def qr_zip(user: User, wave: Wave, mode: str = "qr") -> bytes:
    """A zip of one PNG per collecting unit and index.csv (survey.qr.export_wave_qr), holding only
    the units within the account's scope."""
    # index.csv holds codes as written for spreadsheets (reports.cells): "-A1" reads "'-A1" there.
    visible = {safe_cell(code): code for code in db.session.scalars(select(Unit.code).where(unit_clause(user)))}
    with tempfile.TemporaryDirectory(prefix="pingan-qr-") as tmp:
        export_wave_qr(wave.slug, tmp, mode=mode)
        directory = Path(tmp)
        with open(directory / "index.csv", encoding="utf-8-sig", newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["unit_code"] in visible]
        if not rows:
            raise PinganError("您的管辖范围内没有可填报的单位", code="no_units")
        index = io.StringIO()
        writer = csv.DictWriter(index, fieldnames=list(rows[0]), lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(safe_dict(r) for r in rows)  # safe already (export_wave_qr); idempotent
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("index.csv", "\ufeff" + index.getvalue())
            for row in rows:
                code = visible[row["unit_code"]]
                archive.write(directory / f"{code}.png", f"{code}.png")
    return out.getvalue()


def qr_zip_name(wave: Wave, mode: str) -> str:
    return f"{wave.slug}-{'qr' if mode == 'qr' else 'door'}-codes.zip"


def report_pdf(user: User, wave: Wave, kind: str) -> tuple[bytes, str]:
    """A whole-wave PDF (reports.build) and its download name; 404 for an unknown kind,
    403 when the wave reaches beyond the account's scope."""
    from reports.build import KINDS, build_report, report_filename  # WeasyPrint: loaded on first use

    if kind not in KINDS:
        abort(404)
    if not covers_wave(user, wave):
        raise Forbidden("此报告涵盖您管辖范围以外的单位")
    return build_report(wave, kind), report_filename(wave, kind)
