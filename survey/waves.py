"""Waves: creating them and moving them through draft → open → closed → published."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select

import audit
import caches
from errors import Conflict, NotFound, PinganError
from extensions import db
from models import Unit, Wave
from models.types import utcnow
from survey.periods import parse_period
from survey.questionnaires import latest_version

SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
# Which status each transition starts from, and where it leads.
TRANSITIONS = {
    "open": ("draft", "open", "opened_at"),
    "close": ("open", "closed", "closed_at"),
    "publish": ("closed", "published", "published_at"),
}
ACTION_LABELS = {"open": "开始", "close": "结束", "publish": "发布"}


def get_wave(slug: str) -> Wave:
    """The wave with this slug; NotFound otherwise."""
    wave = db.session.scalar(select(Wave).where(Wave.slug == slug))
    if wave is None:
        raise NotFound(f"调查 “{slug}” 不存在")
    return wave


def get_unit(code: str) -> Unit:
    unit = db.session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        raise NotFound(f"单位 “{code}” 不存在")
    return unit


def create_wave(
    slug: str,
    questionnaire: str,
    scope: str,
    period: str,
    series: str | None = None,
    target_n: int = 100,
    title: str | None = None,
) -> Wave:
    """A new draft wave over `scope`'s subtree using the latest version of `questionnaire`;
    `title` defaults to default_title (安澜市2026年第四季度公众安全感和群众满意度调查)."""
    if not SLUG.match(slug):
        raise PinganError(f"调查标识 “{slug}” 无效:只能用字母、数字、- 和 _,最长 64 位")
    parsed = parse_period(period)  # PeriodError (code bad_period, 400) when malformed
    if target_n < 1:
        raise PinganError("每个单位的目标样本量应为正整数")
    version = latest_version(questionnaire)
    scope_unit = get_unit(scope)
    series = series or version.slug
    if not SLUG.match(series):
        raise PinganError(f"系列名 “{series}” 无效:只能用字母、数字、- 和 _")
    if db.session.scalar(select(Wave.id).where(Wave.slug == slug)):
        raise Conflict(f"调查 “{slug}” 已存在")
    clash = db.session.scalar(
        select(Wave).where(Wave.series == series, Wave.scope_unit_id == scope_unit.id, Wave.period == parsed.code)
    )
    if clash:
        raise Conflict(f"系列 {series} 在 {scope_unit.name} 的 {parsed.code} 期已有调查 “{clash.slug}”")
    wave = Wave(
        slug=slug,
        title=clean_title(title) if title and title.strip() else default_title(scope_unit.name, parsed.label, version.title),
        questionnaire_version=version,
        scope=scope_unit,
        series=series,
        period=parsed.code,
        period_start=parsed.start,
        period_end=parsed.end,
        target_n=target_n,
        status="draft",
    )
    db.session.add(wave)
    db.session.flush()
    # Short codes now (a draft's QR codes may be printed early), so that every download only reads.
    audit.record("wave.create", "wave", slug, None, {**wave_state(wave), "short_links_created": _add_short_links(wave)})
    db.session.commit()
    return wave


MAX_TITLE = 200


def default_title(scope_name: str, period_label: str, questionnaire_title: str) -> str:
    """安澜市 + 2026年第四季度 + the questionnaire's title (公众安全感调查), ending in 调查."""
    title = questionnaire_title.strip()
    if not title.endswith("调查"):
        title += "调查"
    return f"{scope_name}{period_label}{title}"[:MAX_TITLE]


def clean_title(title: str) -> str:
    """A title as typed, spaces trimmed; PinganError when empty or too long."""
    title = " ".join((title or "").split())
    if not title:
        raise PinganError("请填写调查名称", code="bad_title")
    if len(title) > MAX_TITLE:
        raise PinganError(f"调查名称最长 {MAX_TITLE} 字", code="bad_title")
    return title


def rename_wave(wave: Wave, title: str) -> Wave:
    """Change the wave's title (any status: it names the wave, it changes no result); audited."""
    title = clean_title(title)
    if title != wave.title:
        before = {"title": wave.title}
        wave.title = title
        audit.record("wave.rename", "wave", wave.slug, before, {"title": title})
        db.session.commit()
    return wave


def set_collection_dates(wave: Wave, start: date | None, end: date | None) -> Wave:
    """The days residents are asked, within the wave's period (None, None: the whole period); audited.
    Printed on posters; the analysis still covers every sheet of the wave."""
    if (start is None) != (end is None):
        raise PinganError("请同时填写开始和结束日期,或都不填(整个期间)", code="bad_collection_dates")
    if start is not None:
        if not (wave.period_start <= start <= end <= wave.period_end):
            raise PinganError(
                f"收集时间应在调查期间({wave.period_start} 至 {wave.period_end})之内,且开始不晚于结束",
                code="bad_collection_dates",
            )
    before = {"collection_start": _iso(wave.collection_start), "collection_end": _iso(wave.collection_end)}
    after = {"collection_start": _iso(start), "collection_end": _iso(end)}
    if before != after:
        wave.collection_start, wave.collection_end = start, end
        audit.record("wave.collection_dates", "wave", wave.slug, before, after)
        db.session.commit()
    return wave


def _iso(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def transition(wave: Wave, action: str) -> Wave:
    """Open, close or publish; refuses any other order of steps."""
    source, target, stamp = TRANSITIONS[action]
    if wave.status != source:
        raise Conflict(
            f"“{wave.title}” 当前状态为“{wave.status_label}”,不能{ACTION_LABELS[action]}", code="bad_status"
        )
    if action == "publish":
        from models import AnalysisResult

        if db.session.scalar(select(AnalysisResult.id).where(AnalysisResult.wave_id == wave.id)) is None:
            raise Conflict(f"“{wave.title}” 还没有分析结果,请先运行分析再发布", code="no_results")
        waiting = awaiting_review(wave)
        if waiting:
            raise Conflict(
                f"“{wave.title}” 还有 {waiting} 份答卷待审核，审核完并重新运行分析后才能发布", code="awaiting_review"
            )
    before = wave_state(wave)
    wave.status = target
    setattr(wave, stamp, utcnow())
    after = wave_state(wave)
    if action == "publish":
        after["resident_hashes_cleared"] = clear_resident_hashes(wave)
        from survey.calls import clear_call_numbers

        after["phone_numbers_erased"] = clear_call_numbers(wave)
    if action == "open":  # the printed links' short codes, made now so that downloads only read
        after["short_links_created"] = _add_short_links(wave)
    audit.record(f"wave.{action}", "wave", wave.slug, before, after)
    db.session.commit()
    caches.WAVE_STATUS.clear()  # the residents' pages of this process see the new status at once
    return wave


def awaiting_review(wave: Wave) -> int:
    """The wave's answer sheets flagged and not yet accepted or rejected (the review queue)."""
    from sqlalchemy import func

    from models import Response

    return db.session.scalar(
        select(func.count()).select_from(Response).where(Response.wave_id == wave.id, Response.review_status == "flagged")
    ) or 0


def open_siblings(wave: Wave) -> list[Wave]:
    """The other open waves of the same series and scope: opening this one beside them splits the
    residents' answers between two links (the console asks before it does)."""
    return list(db.session.scalars(
        select(Wave).where(Wave.series == wave.series, Wave.scope_unit_id == wave.scope_unit_id,
                           Wave.status == "open", Wave.id != wave.id).order_by(Wave.period_start)
    ))


MAX_REASON = 1000


def reopen_wave(wave: Wave, reason: str) -> Wave:
    """Open a closed wave again (an admin's decision, with its reason in the audit log): residents'
    links work again until it is closed once more. A published wave stays published."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise PinganError("请填写重新开放的理由", code="bad_reason")
    if len(reason) > MAX_REASON:
        raise PinganError(f"理由最长 {MAX_REASON} 字", code="bad_reason")
    if wave.status != "closed":
        raise Conflict(f"“{wave.title}” 当前状态为“{wave.status_label}”，只有已结束的调查可以重新开放", code="bad_status")
    before = wave_state(wave)
    wave.status = "open"
    wave.closed_at = None
    audit.record("wave.reopen", "wave", wave.slug, before, {**wave_state(wave), "reason": reason})
    db.session.commit()
    caches.WAVE_STATUS.clear()
    return wave


def _add_short_links(wave: Wave) -> int:
    from survey.links import add_short_codes
    from survey.qr import collection_units

    return add_short_codes(wave, collection_units(wave))


def create_short_links(wave: Wave) -> int:
    """"生成短码": the missing short codes of a draft or open wave (one opened before short codes were
    made on opening, or units added since), audited; returns how many were made."""
    if wave.status not in ("draft", "open"):
        raise Conflict(f"“{wave.title}” 已结束,不再需要短码", code="bad_status")
    created = _add_short_links(wave)
    audit.record("wave.short_links", "wave", wave.slug, None, {"short_links_created": created})
    db.session.commit()
    return created


def clear_resident_hashes(wave: Wave) -> int:
    """Forget the keyed hashes of the residents' device, address and browser (PIPL: keep no more
    than the purpose needs). They serve the intake's checks (one answer per phone, bursts) and
    the review while the wave is open or closed; a published wave needs neither. The flags they
    raised stay. Returns the number of responses cleared."""
    from sqlalchemy import or_, update

    from models import Response

    result = db.session.execute(
        update(Response)
        .where(Response.wave_id == wave.id)
        .where(or_(Response.device_hash.is_not(None), Response.ip_hash.is_not(None), Response.ua_hash.is_not(None)))
        .values(device_hash=None, ip_hash=None, ua_hash=None)
    )
    return result.rowcount


def previous_wave(wave: Wave) -> Wave | None:
    """The wave of the same series and scope for the latest earlier period."""
    return db.session.scalar(
        select(Wave)
        .where(Wave.series == wave.series, Wave.scope_unit_id == wave.scope_unit_id, Wave.period_start < wave.period_start)
        .order_by(Wave.period_start.desc())
        .limit(1)
    )


def wave_state(wave: Wave) -> dict:
    return {
        "slug": wave.slug,
        "title": wave.title,
        "status": wave.status,
        "period": wave.period,
        "series": wave.series,
        "scope": wave.scope.code,
        "questionnaire": f"{wave.questionnaire_version.slug}@{wave.questionnaire_version.version}",
        "target_n": wave.target_n,
    }
