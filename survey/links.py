"""The residents' links: a signed token per (wave, unit, mode), and a six-character code for it.

A token is `URLSafeSerializer(SECRET_KEY, salt="survey-link")` over `[wave id, unit code]`
(plus the mode when it is not "qr"). Links never expire by time: the wave's status decides
whether the questionnaire is shown (open), not yet (draft, 403) or no more (closed or
published, 410). A token signed with a key in SECRET_KEY_FALLBACKS still works, so the key
can be rotated without reprinting every poster.
"""

from __future__ import annotations

import functools

import secrets
import time
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import bindparam, select
from sqlalchemy.orm import aliased

import caches
from analysis.spec import QuestionnaireSpec
from errors import Conflict, NotFound, PinganError
from extensions import db
from models import QuestionnaireVersion, ShortLink, Unit, Wave
from models.links import LINK_MODES

LINK_SALT = "survey-link"
# No 0/O, 1/I/L, and no U/V pair: what is left is hard to misread on a poster or a card.
SHORT_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTWXYZ23456789"
SHORT_CODE_LENGTH = 6


class LinkError(PinganError):
    """A link that does not lead to an open questionnaire; `code` says why, for the resident's page."""


@dataclass(frozen=True)
class Place:
    """What a resident's pages show and the intake stores for one (wave, unit): fixed facts,
    read with one query and kept per process for caches.PLACE_TTL seconds (a renamed unit shows its
    new name within that time). The wave's status is not among them: it is read on every request.
    `questionnaire_stamp` is the version row's created_at: with its id, the key of its spec."""

    wave_id: int
    questionnaire_version_id: int
    scope_unit_id: int
    scope_name: str
    unit_id: int
    unit_code: str
    unit_name: str
    unit_kind: str
    parent_name: str | None
    questionnaire_stamp: datetime | None = None


PLACE_MISS_INTERVAL = 5.0  # a token of an unknown unit re-reads the wave's places at most this often


@dataclass(frozen=True)
class Link:
    place: Place
    mode: str

    @property
    def wave_id(self) -> int:
        return self.place.wave_id

    @functools.cached_property  # read several times by a request; a Link lives for one request
    def spec(self) -> QuestionnaireSpec:
        return questionnaire_spec(self.place.questionnaire_version_id, self.place.questionnaire_stamp)

    # The ORM objects, for callers off the residents' hot path (the views use `place`).
    @property
    def wave(self) -> Wave:
        return db.session.get(Wave, self.place.wave_id)

    @property
    def unit(self) -> Unit:
        return db.session.get(Unit, self.place.unit_id)


def questionnaire_spec(version_id: int, stamp: datetime | None = None) -> QuestionnaireSpec:
    """A questionnaire version as a spec, rebuilt from the database once per process (caches.SPECS).

    Keyed by the row's id and its created_at (`stamp`, read here when the caller has none): a
    version a wave uses can no longer change (survey.questionnaires.store_questionnaire refuses),
    and a row deleted and written again under the same id has another stamp.
    """
    if stamp is None:
        stamp = db.session.scalar(select(QuestionnaireVersion.created_at).where(QuestionnaireVersion.id == version_id))
    key = (caches.app_scope(current_app), version_id, stamp)
    return caches.SPECS.get_or_make(key, lambda: db.session.get(QuestionnaireVersion, version_id).to_spec())


def wave_spec(wave: Wave) -> QuestionnaireSpec:
    return questionnaire_spec(wave.questionnaire_version_id)


def _wave_places(wave_id: int) -> dict[str, Place]:
    """Unit code → Place for every unit in the wave's scope, in one query: a worker fills its
    cache for a whole wave at once instead of one query per village."""
    scope, parent = aliased(Unit), aliased(Unit)
    rows = db.session.execute(
        select(
            Wave.questionnaire_version_id, QuestionnaireVersion.created_at, scope.id, scope.name, scope.path,
            Unit.id, Unit.code, Unit.name, Unit.kind, Unit.path, parent.name,
        )
        .select_from(Wave)
        .join(QuestionnaireVersion, QuestionnaireVersion.id == Wave.questionnaire_version_id)
        .join(scope, scope.id == Wave.scope_unit_id)
        .join(Unit, Unit.path.startswith(scope.path))  # LIKE: a code's "_" is a wildcard, checked below
        .outerjoin(parent, parent.id == Unit.parent_id)
        .where(Wave.id == wave_id)
    ).all()
    return {
        code: Place(wave_id, version_id, scope_id, scope_name, unit_id, code, name, kind, parent_name, stamp)
        for version_id, stamp, scope_id, scope_name, scope_path, unit_id, code, name, kind, path, parent_name in rows
        if path.startswith(scope_path)
    }


def place(wave_id: int, unit_code: str) -> Place | None:
    """The Place of a unit in a wave's scope, or None; read through the per-process cache of the
    wave's places (caches.PLACES), refreshed after caches.PLACE_TTL seconds or when a code is
    missing (a unit imported since), at most every PLACE_MISS_INTERVAL seconds."""
    key = (caches.app_scope(current_app), wave_id)
    hit = caches.PLACES.get(key)
    now = time.monotonic()
    if hit is None or (unit_code not in hit[0] and hit[1] <= now):
        # (places, earliest time a missing code may trigger another read)
        hit = caches.PLACES.put(key, (_wave_places(wave_id), now + PLACE_MISS_INTERVAL))
    return hit[0].get(unit_code)


def _keys() -> tuple[str, ...]:
    return (*(current_app.config.get("SECRET_KEY_FALLBACKS") or []), current_app.config["SECRET_KEY"])


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(list(_keys()), salt=LINK_SALT)  # the last key signs, every key verifies


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


_WAVE_STATUS = select(Wave.status).where(Wave.id == bindparam("wave"))  # built once: read on every request


def wave_status(wave_id: int, exact: bool = True) -> str | None:
    """The wave's status: read from the database (`exact`, what every POST does: nothing is stored
    in a wave that is not open), or as read by this process within caches.WAVE_STATUS_TTL seconds
    (a blank form's GET: the page then costs no database round trip at all). A status changed in
    this process clears the cache (survey.waves); another worker shows the old page a few seconds
    at most, and the POST from it is refused."""
    key = (caches.app_scope(current_app), wave_id)
    if exact:
        return caches.WAVE_STATUS.put(key, db.session.scalar(_WAVE_STATUS, {"wave": wave_id}))
    return caches.WAVE_STATUS.get_or_make(key, lambda: db.session.scalar(_WAVE_STATUS, {"wave": wave_id}))


def read_token(token: str, exact: bool = True, deferred: bool = False) -> Link:
    """The wave, unit and mode of a token.

    LinkError 404 (code "link_invalid") when the token is tampered with or names nothing;
    403 ("wave_not_started") for a draft wave; 410 ("wave_ended") for a closed or published one.
    `exact=False` (a GET) may take the wave's status from a few seconds ago (`wave_status`).
    `deferred` (the resident POST) reads no status here: the caller must, before it answers —
    survey.intake's INSERT stores a row only while the wave is open, and every path that stores
    nothing calls `require_open` — so a POST costs one statement less and answers as before.
    """
    invalid = LinkError("链接无效:请检查链接是否完整,或重新扫描二维码。", "link_invalid", 404)
    payload = _token_payload(token)
    if payload is None:
        raise invalid
    found = place(payload[0], payload[1])
    if found is None:
        raise invalid
    if not deferred:
        _check_status(wave_status(payload[0], exact))
    return Link(place=found, mode=payload[2] if len(payload) == 3 else "qr")


def require_open(wave_id: int) -> None:
    """The LinkError `read_token` raises for this wave's status as the database has it now; nothing
    when the wave is open (the POST's check, see `read_token`'s `deferred`)."""
    _check_status(wave_status(wave_id, exact=True))


def _check_status(status: str | None) -> None:
    if status is None:  # the wave is gone
        raise LinkError("链接无效:请检查链接是否完整,或重新扫描二维码。", "link_invalid", 404)
    if status == "draft":
        raise LinkError("本次调查尚未开始,请在调查开始后再扫码填写。", "wave_not_started", 403)
    if status in ("closed", "published"):
        raise LinkError("本次调查已结束,感谢您的关注。", "wave_ended", 410)


def _token_payload(token: str) -> tuple | None:
    """[wave id, unit code(, mode)] of a validly signed token, else None. Verified tokens are kept
    per process (caches.LINK_TOKENS, keyed by the token and the signing keys): every GET and POST of
    a village reads the same token, and checking its signature and parsing its JSON cost more than
    the dictionary look-up; a token that fails is not kept (a flood of forged ones fills nothing)."""
    keys = _keys()
    key = (token, keys)
    payload = caches.LINK_TOKENS.get(key)
    if payload is not None:
        return payload
    try:
        payload = URLSafeSerializer(list(keys), salt=LINK_SALT).loads(token)
    except BadSignature:
        return None
    if not (
        isinstance(payload, list)
        and len(payload) in (2, 3)
        and isinstance(payload[0], int)
        and isinstance(payload[1], str)
        and (len(payload) == 2 or payload[2] in LINK_MODES)
    ):
        return None
    return caches.LINK_TOKENS.put(key, tuple(payload))


# -- short codes ----------------------------------------------------------------------------


def normalise_code(text: str) -> str:
    """What a resident typed, upper-cased, without spaces or dashes (codes are printed as ABC-DEF)."""
    return "".join(ch for ch in text.upper() if ch not in " -_\u3000")


def _new_code() -> str:
    return "".join(secrets.choice(SHORT_CODE_ALPHABET) for _ in range(SHORT_CODE_LENGTH))


def short_codes(wave: Wave, units: list[Unit], mode: str = "qr") -> dict[int, str]:
    """unit id → short code for these units. Read-only (downloads are GET requests): the codes are
    made when the wave opens, or by the wave page's "生成短码" (`add_short_codes`); a Conflict
    says so when a unit has none yet (a wave opened before that, or a unit added since)."""
    if mode not in LINK_MODES:
        raise PinganError(f"链接方式 “{mode}” 无效,应为 {'、'.join(LINK_MODES)} 之一")
    existing = dict(
        db.session.execute(
            select(ShortLink.unit_id, ShortLink.code).where(ShortLink.wave_id == wave.id, ShortLink.mode == mode)
        ).all()
    )
    missing = [u for u in units if u.id not in existing]
    if missing:
        raise Conflict(
            f"调查 “{wave.slug}” 有 {len(missing)} 个单位还没有短码(如 {missing[0].name}):"
            "请先在调查页点击“生成短码”,再下载二维码或海报",
            code="no_short_codes",
        )
    return {u.id: existing[u.id] for u in units}


def add_short_codes(wave: Wave, units: list[Unit], modes: tuple[str, ...] = LINK_MODES) -> int:
    """Create the missing short codes of these units, for every mode; returns how many. Flushed,
    not committed: the caller commits them with its audit entry (opening the wave, or "生成短码").

    29^6 ≈ 6 × 10^8 codes: a fresh code that is already taken is rare and simply drawn again;
    the unique constraints are the final guard when two of these run at once (an IntegrityError
    rolls the caller's transaction back, and the office tries again)."""
    added = 0
    for mode in modes:
        existing = set(db.session.scalars(select(ShortLink.unit_id).where(ShortLink.wave_id == wave.id, ShortLink.mode == mode)))
        missing = [u for u in units if u.id not in existing]
        if not missing:
            continue
        fresh: set[str] = set()
        while len(fresh) < len(missing):
            candidates = {_new_code() for _ in range(len(missing) - len(fresh))} - fresh
            taken = set(db.session.scalars(select(ShortLink.code).where(ShortLink.code.in_(candidates))))
            fresh |= candidates - taken
        db.session.add_all(ShortLink(wave_id=wave.id, unit_id=u.id, mode=mode, code=code) for u, code in zip(missing, sorted(fresh)))
        db.session.flush()
        added += len(missing)
    return added


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
