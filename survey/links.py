"""The residents' links: a signed token per (wave, unit, mode), and a six-character code for it.

A token is `URLSafeSerializer(SECRET_KEY, salt="survey-link")` over `[wave id, unit code]`
(plus the mode when it is not "qr"). Links never expire by time: the wave's status decides
whether the questionnaire is shown (open), not yet (draft, 403) or no more (closed or
published, 410). A token signed with a key in SECRET_KEY_FALLBACKS still works, so the key
can be rotated without reprinting every poster.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from analysis.spec import QuestionnaireSpec
from errors import NotFound, PinganError
from extensions import db
from models import ShortLink, Unit, Wave
from models.links import LINK_MODES

LINK_SALT = "survey-link"
# No 0/O, 1/I/L, and no U/V pair: what is left is hard to misread on a poster or a card.
SHORT_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTWXYZ23456789"
SHORT_CODE_LENGTH = 6


class LinkError(PinganError):
    """A link that does not lead to an open questionnaire; `code` says why, for the resident's page."""


@dataclass(frozen=True)
class Link:
    wave: Wave
    unit: Unit
    mode: str

    @property
    def spec(self) -> QuestionnaireSpec:
        return wave_spec(self.wave)


def wave_spec(wave: Wave) -> QuestionnaireSpec:
    """The wave's questionnaire, rebuilt from the database once per process and app.

    Safe to keep: a questionnaire version that a wave uses can no longer change
    (survey.questionnaires.store_questionnaire refuses), and a resident link always names a wave.
    """
    cache = current_app.extensions.setdefault("survey_specs", {})
    spec = cache.get(wave.questionnaire_version_id)
    if spec is None:
        spec = cache[wave.questionnaire_version_id] = wave.questionnaire_version.to_spec()
    return spec


def _serializer() -> URLSafeSerializer:
    keys = [*(current_app.config.get("SECRET_KEY_FALLBACKS") or []), current_app.config["SECRET_KEY"]]
    return URLSafeSerializer(keys, salt=LINK_SALT)  # the last key signs, every key verifies


def make_token(wave: Wave, unit: Unit, mode: str = "qr") -> str:
    """The signed token of /s/<token> for residents of `unit` answering `wave`."""
    if mode not in LINK_MODES:
        raise PinganError(f"链接方式 “{mode}” 无效,应为 {'、'.join(LINK_MODES)} 之一")
    payload: list = [wave.id, unit.code]
    if mode != "qr":  # the common case stays short, so the printed QR code stays coarse and easy to scan
        payload.append(mode)
    return _serializer().dumps(payload)


def link_path(wave: Wave, unit: Unit, mode: str = "qr") -> str:
    return f"/s/{make_token(wave, unit, mode)}"


def link_url(base_url: str, wave: Wave, unit: Unit, mode: str = "qr") -> str:
    return base_url.rstrip("/") + link_path(wave, unit, mode)


def read_token(token: str) -> Link:
    """The wave, unit and mode of a token.

    LinkError 404 (code "link_invalid") when the token is tampered with or names nothing;
    403 ("wave_not_started") for a draft wave; 410 ("wave_ended") for a closed or published one.
    """
    invalid = LinkError("链接无效:请检查链接是否完整,或重新扫描二维码。", "link_invalid", 404)
    try:
        payload = _serializer().loads(token)
    except BadSignature:
        raise invalid from None
    if not (
        isinstance(payload, list)
        and len(payload) in (2, 3)
        and isinstance(payload[0], int)
        and isinstance(payload[1], str)
        and (len(payload) == 2 or payload[2] in LINK_MODES)
    ):
        raise invalid
    wave = db.session.get(Wave, payload[0])
    unit = db.session.scalar(select(Unit).where(Unit.code == payload[1]))
    if wave is None or unit is None or not unit.is_within(wave.scope):
        raise invalid
    if wave.status == "draft":
        raise LinkError("本次调查尚未开始,请在调查开始后再扫码填写。", "wave_not_started", 403)
    if wave.status in ("closed", "published"):
        raise LinkError("本次调查已结束,感谢您的关注。", "wave_ended", 410)
    return Link(wave=wave, unit=unit, mode=payload[2] if len(payload) == 3 else "qr")


# -- short codes ----------------------------------------------------------------------------


def normalise_code(text: str) -> str:
    """What a resident typed, upper-cased, without spaces or dashes (codes are printed as ABC-DEF)."""
    return "".join(ch for ch in text.upper() if ch not in " -_\u3000")


def _new_code() -> str:
    return "".join(secrets.choice(SHORT_CODE_ALPHABET) for _ in range(SHORT_CODE_LENGTH))


def short_codes(wave: Wave, units: list[Unit], mode: str = "qr") -> dict[int, str]:
    """unit id → short code for these units, creating the missing ones (and committing them).

    29^6 ≈ 6 × 10^8 codes: a clash with an existing code is rare and simply retried; the
    unique constraints are the final guard when two exports run at once.
    """
    if mode not in LINK_MODES:
        raise PinganError(f"链接方式 “{mode}” 无效,应为 {'、'.join(LINK_MODES)} 之一")
    for _attempt in range(5):
        existing = dict(
            db.session.execute(
                select(ShortLink.unit_id, ShortLink.code).where(ShortLink.wave_id == wave.id, ShortLink.mode == mode)
            ).all()
        )
        missing = [u for u in units if u.id not in existing]
        if not missing:
            return {u.id: existing[u.id] for u in units}
        fresh: set[str] = set()
        while len(fresh) < len(missing):
            fresh.add(_new_code())
        taken = set(db.session.scalars(select(ShortLink.code).where(ShortLink.code.in_(fresh))))
        if taken:
            continue
        try:
            db.session.add_all(
                ShortLink(wave_id=wave.id, unit_id=u.id, mode=mode, code=code) for u, code in zip(missing, fresh)
            )
            db.session.commit()
        except IntegrityError:
            db.session.rollback()  # another export got there first, or a code clashed: look again
    raise PinganError("无法生成短码,请重试")


def short_code(wave: Wave, unit: Unit, mode: str = "qr") -> str:
    """The short code of one unit's link (created on first use)."""
    return short_codes(wave, [unit], mode)[unit.id]


def resolve_short_code(text: str) -> str:
    """The token a typed short code stands for; NotFound (Chinese message) when there is none."""
    code = normalise_code(text)
    link = None
    if len(code) == SHORT_CODE_LENGTH:
        link = db.session.scalar(select(ShortLink).where(ShortLink.code == code))
    if link is None:
        raise NotFound(f"没有找到短码 “{text.strip()[:20]}”,请核对海报或卡片上的 6 位字母数字。", "short_code_unknown")
    return make_token(link.wave, link.unit, link.mode)


def format_code(code: str) -> str:
    """ABCDEF → ABC-DEF, easier to read out and to type."""
    return f"{code[:3]}-{code[3:]}"
