"""Phone interviews (电话调查): call lists, the next call, outcomes, the interview, response rates.

Numbers are personal data (docs/security.md "Phone numbers"): stored only as Fernet tokens under
the key PHONE_NUMBER_KEY (never in the code or the database), with a keyed hash that refuses
the same number twice in a wave; shown only to the interviewer holding the call; erased when the
wave is published (`clear_call_numbers`, called by survey.waves.transition); in no export.

Dispositions and the rates: docs/method.md "Response rates" (analysis/rates.py).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import or_, select, update

import audit
import policy
from analysis.rates import Rates, count, eligibility_share, final_category, rates
from analysis.spec import Item, QuestionnaireSpec
from clock import now as clock_now
from errors import Conflict, FileProblem, Forbidden, NotFound, PinganError
from extensions import db
from models import CallAttempt, CallCase, Response, Unit, User, Wave
from models.calls import DISPOSITION_LABELS, DISPOSITIONS, FINAL
from models.responses import answer_columns
from survey.csvfiles import CsvRows
from survey.integrity import answer_sheet_checker

HOLD_MINUTES = 60  # a call held longer than this without an outcome goes back to the list
RETRY_MINUTES = 30  # busy, no answer, not reached: dialled again no sooner than this
MAX_ATTEMPTS = 6  # dials per number before it is left alone (AAPOR: the case stays NC or UH)
# Mainland mobile numbers (11 digits, 1[3-9]…) and fixed lines with their area code (0 + 2–3
# digits, then 7–8 digits); spaces, dashes, brackets and a leading +86 / 0086 are ignored.
MOBILE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE = re.compile(r"^0\d{9,11}$")
_SEPARATORS = re.compile(r"[\s\-()()]")
NO_KEY = (
    "未配置电话号码加密密钥(环境变量 PHONE_NUMBER_KEY),不能导入或显示电话号码;"
    "请用 flask --app app calls keygen 生成密钥并在启动前设置"
)


# -- the key -------------------------------------------------------------------------------------


def _fernet():
    from cryptography.fernet import Fernet

    key = current_app.config.get("PHONE_NUMBER_KEY")
    if not key:
        raise PinganError(NO_KEY, code="no_phone_key", status=409)
    try:
        return Fernet(key)
    except (ValueError, TypeError):
        raise PinganError(
            "电话号码加密密钥(PHONE_NUMBER_KEY)格式不对:应为 flask --app app calls keygen 生成的 44 位密钥",
            code="bad_phone_key", status=409,
        ) from None


def new_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _hash_key() -> bytes:
    key = current_app.config.get("PHONE_NUMBER_KEY") or ""
    return hashlib.sha256(b"pingan-phone-number-hash:" + str(key).encode()).digest()


def number_hash(number: str) -> str:
    return hmac.new(_hash_key(), number.encode(), hashlib.sha256).hexdigest()


def normalise_number(text: str) -> str | None:
    """The digits of a mainland mobile or fixed-line number, or None when it is not one."""
    digits = _SEPARATORS.sub("", text)
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix):]
    if MOBILE.match(digits) or LANDLINE.match(digits):
        return digits
    return None


# -- importing a call list -----------------------------------------------------------------------

COLUMNS = ("phone", "unit_code")
OPTIONAL = ("quota_cell",)


@dataclass(frozen=True)
class CallImportSummary:
    wave: str
    imported: int
    by_unit: dict[str, int]

    def __str__(self) -> str:
        units = ",".join(f"{code} {n}" for code, n in sorted(self.by_unit.items()))
        return f"调查 {self.wave}:导入 {self.imported} 个电话号码({units})"


def import_call_list(wave_slug: str, path: str | Path, account: Any = policy.SYSTEM) -> CallImportSummary:
    """Every row of the file into the wave's call list, or none and a FileProblem naming the
    first bad row (docs/formats.md "Call lists"). Refused without PHONE_NUMBER_KEY."""
    wave = policy.check_wave(account, db.session.scalar(select(Wave).where(Wave.slug == wave_slug)))
    policy.require(account, "calls.manage", wave)
    fernet = _fernet()
    if wave.status not in ("draft", "open"):
        raise Conflict(f"调查 “{wave.slug}” 已{wave.status_label},不能再导入电话号码", code="bad_status")
    path = Path(path)
    units = {u.code: u for u in db.session.scalars(select(Unit).where(wave.scope.subtree_clause()))}
    stored = set(db.session.scalars(select(CallCase.number_hash).where(CallCase.wave_id == wave.id)))
    seen: dict[str, int] = {}
    cases: list[CallCase] = []
    by_unit: dict[str, int] = {}
    try:
        with CsvRows(path, COLUMNS, OPTIONAL) as rows:
            for row in rows:
                number = normalise_number(row.values["phone"])
                if number is None:
                    raise row.problem("phone", "不是有效的电话号码:应为 11 位手机号或带区号的固定电话(如 028-12345678)")
                code = row.check_text("unit_code")
                unit = units.get(code)
                if unit is None or not policy.sees_unit(account, unit):
                    known = db.session.scalar(select(Unit.id).where(Unit.code == code)) is not None
                    if known and unit is None:
                        raise row.problem("unit_code", f"单位 “{code}” 不在本次调查的范围({wave.scope.name} {wave.scope.code})之内")
                    raise row.problem("unit_code", f"单位代码 “{code}” 不存在" if not known else f"单位 “{code}” 不在您的管辖范围之内")
                cell = row.check_text("quota_cell") if "quota_cell" in row.values else ""
                if len(cell) > 64:
                    raise row.problem("quota_cell", "配额格最长 64 个字符")
                digest = number_hash(number)
                if digest in seen:
                    raise row.problem("phone", f"这个号码与第 {seen[digest]} 行重复")
                if digest in stored:
                    raise row.problem("phone", "这个号码已在本次调查的电话名单中")
                seen[digest] = row.line
                cases.append(CallCase(
                    wave_id=wave.id, unit_id=unit.id, quota_cell=cell or None, line=row.line,
                    number_enc=fernet.encrypt(number.encode()).decode(), number_hash=digest,
                    status="open", attempts=0,
                ))
                by_unit[code] = by_unit.get(code, 0) + 1
        if not cases:
            raise FileProblem(path.name, None, None, "文件里没有电话号码")
        db.session.add_all(cases)
        audit.record("calls.import", "wave", wave.slug, None, {"file": path.name, "imported": len(cases), "by_unit": by_unit})
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return CallImportSummary(wave=wave.slug, imported=len(cases), by_unit=by_unit)


def clear_call_numbers(wave: Wave) -> int:
    """Erase the wave's phone numbers (token and hash); the calls and their outcomes stay.
    Called when the wave is published. Returns the number of cases cleared."""
    result = db.session.execute(
        update(CallCase)
        .where(CallCase.wave_id == wave.id, or_(CallCase.number_enc.is_not(None), CallCase.number_hash.is_not(None)))
        .values(number_enc=None, number_hash=None, holder_id=None, held_at=None)
    )
    return result.rowcount


# -- taking calls ----------------------------------------------------------------------------------


def _takeable(account: Any, now: datetime):
    """Cases the account may be given: open, of an open wave in its view, unit in its subtree,
    not held by another interviewer (or held past HOLD_MINUTES)."""
    return (
        select(CallCase)
        .join(Wave, Wave.id == CallCase.wave_id)
        .join(Unit, Unit.id == CallCase.unit_id)
        .where(
            Wave.status == "open", CallCase.status == "open", CallCase.number_enc.is_not(None),
            policy.wave_clause(account), policy.unit_clause(account),
            or_(CallCase.holder_id.is_(None), CallCase.holder_id == account.id,
                CallCase.held_at < now - timedelta(minutes=HOLD_MINUTES)),
        )
    )


def _claim(account: Any, case: CallCase, now: datetime) -> bool:
    """Hold the case for the account unless another interviewer took it a moment ago."""
    stale = now - timedelta(minutes=HOLD_MINUTES)
    result = db.session.execute(
        update(CallCase)
        .where(CallCase.id == case.id, or_(CallCase.holder_id.is_(None), CallCase.holder_id == account.id, CallCase.held_at < stale))
        .values(holder_id=account.id, held_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def next_call(account: Any, now: datetime | None = None) -> CallCase | None:
    """The next number for this interviewer, held for it: a call it already holds; else the
    call-back due earliest; else the first number never dialled (file order); else the number
    busy, unanswered or not reached longest ago (at least RETRY_MINUTES ago, under MAX_ATTEMPTS
    dials). A call-back not yet due is never offered. None when nothing is due."""
    policy.require(account, "calls.take")
    now = now or clock_now()
    base = _takeable(account, now)
    queries = [
        base.where(CallCase.holder_id == account.id).order_by(CallCase.held_at),
        base.where(CallCase.disposition == "callback", CallCase.callback_at <= now).order_by(CallCase.callback_at, CallCase.id),
        base.where(CallCase.attempts == 0).order_by(CallCase.wave_id, CallCase.line, CallCase.id),
        base.where(
            CallCase.disposition.in_(("busy", "no_answer", "non_contact")),
            CallCase.attempts < MAX_ATTEMPTS,
            CallCase.last_call_at <= now - timedelta(minutes=RETRY_MINUTES),
        ).order_by(CallCase.last_call_at, CallCase.id),
    ]
    for query in queries:
        for _ in range(5):  # another interviewer may claim the same case first: take the next one
            case = db.session.scalars(query.limit(1)).first()
            if case is None:
                break
            if _claim(account, case, now):
                db.session.refresh(case)
                return case
    return None


def held_case(account: Any, case_id: int) -> CallCase:
    """A case the account holds; NotFound outside its view, Forbidden when another holds it."""
    case = db.session.get(CallCase, case_id)
    if case is None:
        raise NotFound("电话任务不存在")
    policy.require(account, "calls.take", case)
    if case.holder_id != account.id or case.status != "open" or case.number_enc is None:
        raise Forbidden("这个电话不在您手上:请从“拨打下一个”领取电话")
    return case


def phone_number(account: Any, case: CallCase) -> str:
    """The number, decrypted for the interviewer holding the call and for nobody else."""
    if case.holder_id != account.id or case.number_enc is None:
        raise Forbidden("只有正在拨打这个电话的访问员能看到号码")
    from cryptography.fernet import InvalidToken

    try:
        return _fernet().decrypt(case.number_enc.encode()).decode()
    except InvalidToken:
        raise PinganError("电话号码无法解密:PHONE_NUMBER_KEY 与导入时的密钥不同", code="bad_phone_key", status=409) from None


def display_number(number: str) -> str:
    if len(number) == 11 and number.startswith("1"):
        return f"{number[:3]} {number[3:7]} {number[7:]}"
    return number


def parse_callback(text: str, now: datetime | None = None) -> datetime:
    """A call-back time typed in the console (Beijing time, 2026-07-15T18:30 or 2026-07-15 18:30)."""
    from clock import LOCAL_TZ

    now = now or clock_now()
    try:
        value = datetime.fromisoformat(text.strip().replace("/", "-"))
    except ValueError:
        raise PinganError("回拨时间无法识别,应为 2026-07-15 18:30", code="bad_callback", status=422) from None
    value = value if value.tzinfo else value.replace(tzinfo=LOCAL_TZ)
    if value <= now:
        raise PinganError("回拨时间应在现在之后", code="bad_callback", status=422)
    if value > now + timedelta(days=60):
        raise PinganError("回拨时间不能晚于 60 天之后", code="bad_callback", status=422)
    return value


def record_outcome(account: Any, case: CallCase, disposition: str, callback_at: datetime | None = None,
                   now: datetime | None = None) -> CallAttempt:
    """One dial's outcome: the attempt is stored, the case released; a final outcome (refusal,
    partial, ineligible) closes it, a call-back waits for its time. `complete` comes only from
    finishing the interview (`finish_interview`)."""
    now = now or clock_now()
    if disposition not in DISPOSITIONS or disposition == "complete":
        raise PinganError("请选择通话结果", code="bad_disposition", status=422)
    if disposition == "callback" and callback_at is None:
        raise PinganError("约定回拨需要填写回拨时间", code="bad_callback", status=422)
    return _attempt(account, case, disposition, now, callback_at if disposition == "callback" else None)


def _attempt(account: Any, case: CallCase, disposition: str, now: datetime, callback_at: datetime | None) -> CallAttempt:
    attempt = CallAttempt(case_id=case.id, interviewer_id=account.id, disposition=disposition, called_at=now, callback_at=callback_at)
    db.session.add(attempt)
    case.attempts = (case.attempts or 0) + 1
    case.disposition = disposition
    case.last_call_at = now
    case.callback_at = callback_at
    case.holder_id = None
    case.held_at = None
    if disposition in FINAL:
        case.status = "closed"
    if disposition != "callback":  # an interview broken off for a call-back resumes where it stopped
        case.draft = None
    db.session.commit()
    return attempt


def attempts_of(case: CallCase) -> list[CallAttempt]:
    return list(db.session.scalars(select(CallAttempt).where(CallAttempt.case_id == case.id).order_by(CallAttempt.called_at, CallAttempt.id)))


# -- the interview: one item per screen ---------------------------------------------------------


@dataclass
class Screen:
    """Where an interview stands: the item to read out (None: all asked), its number among the
    items asked so far, and the answers."""

    item: Item | None
    position: int
    answers: dict[str, Any]
    asked: list[str]
    screened_out: bool = False
    error: str | None = None
    labels: dict[str, str] = field(default_factory=dict)


def spec_of(case: CallCase) -> QuestionnaireSpec:
    from survey.links import questionnaire_spec

    return questionnaire_spec(case.wave.questionnaire_version_id)


def _draft(case: CallCase) -> dict:
    draft = dict(case.draft or {})
    draft.setdefault("answers", {})
    draft.setdefault("asked", [])
    return draft


def screen(case: CallCase) -> Screen:
    spec = spec_of(case)
    draft = _draft(case)
    answers, asked = draft["answers"], draft["asked"]
    out = any(answers.get(it.key) in it.screen_out for it in spec.items if it.screen_out and isinstance(answers.get(it.key), str))
    item = None
    if not out:
        item = next((it for it in spec.items if it.key not in asked and it.applies(answers)), None)
    return Screen(item=item, position=len(asked) + 1, answers=answers, asked=asked, screened_out=out)


def start_interview(account: Any, case: CallCase, now: datetime | None = None) -> None:
    if case.draft is None:
        case.draft = {"answers": {}, "asked": [], "started_at": (now or clock_now()).isoformat()}
        db.session.commit()


def _parse_answer(item: Item, choice: list[str], key: str, text: str) -> Any:
    """The answer to `item` from the radio/checkbox values or the typed digits (option number
    as read out: 1 for the first option …) or the text; None for a skipped optional item."""
    if not item.is_choice:
        value = text.strip()
        if len(value) > item.max_length:
            raise PinganError(f"回答超过 {item.max_length} 字的上限", code="bad_answer", status=422)
        if not value and item.required:
            raise PinganError("请记录受访者的回答", code="bad_answer", status=422)
        return value or None
    codes = [o.code for o in item.options]
    picked = [c for c in choice if c]
    if key.strip():  # what was typed wins over a box ticked before (without JavaScript they may differ)
        picked = []
        digits = [d for d in re.split(r"[\s,,、]+", key.strip()) if d]
        if len(digits) == 1 and item.is_multiple and digits[0].isdigit() and len(digits[0]) > 1 and len(codes) <= 9:
            digits = list(digits[0])  # "13": the first and third option
        for d in digits:
            if not d.isdigit() or not 1 <= int(d) <= len(codes):
                raise PinganError(f"“{d}” 不是选项编号:请按 1–{len(codes)}", code="bad_answer", status=422)
            picked.append(codes[int(d) - 1])
    for c in picked:
        if c not in codes:
            raise PinganError("请选择列出的选项", code="bad_answer", status=422)
    if len(set(picked)) != len(picked):
        raise PinganError("同一选项选了两次", code="bad_answer", status=422)
    if not picked:
        if item.required:
            raise PinganError("请选择一个选项(按数字键)", code="bad_answer", status=422)
        return None
    if item.is_multiple:
        if len(picked) > item.multiple:
            raise PinganError(f"最多选 {item.multiple} 项", code="bad_answer", status=422)
        return picked
    if len(picked) > 1:
        raise PinganError("只能选一个选项", code="bad_answer", status=422)
    return picked[0]


def answer(account: Any, case: CallCase, item_key: str, choice: list[str], key: str = "", text: str = "") -> Screen:
    """Record the answer to the item on screen and move on; a stale form (another item on
    screen) changes nothing."""
    current = screen(case)
    if current.item is None or current.item.key != item_key:
        raise Conflict("这一题已经记录过了,请看当前题目", code="stale_item")
    value = _parse_answer(current.item, choice, key, text)
    draft = _draft(case)
    draft["asked"] = [*draft["asked"], item_key]
    if value is not None:
        draft["answers"] = {**draft["answers"], item_key: value}
    case.draft = draft
    db.session.commit()
    return screen(case)


def back(account: Any, case: CallCase) -> Screen:
    """Go back one item: its answer is forgotten and it is read out again."""
    draft = _draft(case)
    if draft["asked"]:
        key = draft["asked"][-1]
        draft["asked"] = draft["asked"][:-1]
        draft["answers"] = {k: v for k, v in draft["answers"].items() if k != key}
        # answers that only applied because of the forgotten one go too (they are asked again)
        spec = spec_of(case)
        keep = {it.key for it in spec.items if it.applies(draft["answers"])}
        draft["asked"] = [k for k in draft["asked"] if k in keep]
        draft["answers"] = {k: v for k, v in draft["answers"].items() if k in keep}
        case.draft = draft
        db.session.commit()
    return screen(case)


def finish_interview(account: Any, case: CallCase, now: datetime | None = None) -> Response:
    """Store the interview as a response of mode `phone` with its interviewer, the answer-sheet
    flags (survey.integrity) and the disposition `complete` (`ineligible` when screened out)."""
    now = now or clock_now()
    current = screen(case)
    if current.item is not None:
        raise Conflict("还有题目没有问完", code="not_finished")
    spec = spec_of(case)
    draft = _draft(case)
    started = datetime.fromisoformat(draft["started_at"]) if draft.get("started_at") else None
    flags = [] if current.screened_out else answer_sheet_checker(spec)(current.answers)
    response = Response(
        wave_id=case.wave_id, unit_id=case.unit_id, response_key=f"phone-{uuid.uuid4().hex}", mode="phone",
        **answer_columns(spec, current.answers), submitted_at=now, started_at=started,
        duration_s=(now - started).total_seconds() if started else None,
        flags=flags, review_status="flagged" if flags else "clean", screened_out=current.screened_out,
        interviewer_id=account.id,
    )
    db.session.add(response)
    db.session.flush()
    case.response_id = response.id
    _attempt(account, case, "ineligible" if current.screened_out else "complete", now, None)
    return response


# -- what an interviewer sees on its home page -------------------------------------------------------


@dataclass(frozen=True)
class Desk:
    waves: list[dict]  # per wave: slug, open cases, due call-backs, later call-backs
    done_today: dict[str, int]  # this interviewer's dispositions today (Beijing)


def desk(account: Any, now: datetime | None = None) -> Desk:
    from clock import LOCAL_TZ

    policy.require(account, "calls.take")
    now = now or clock_now()
    rows = db.session.execute(
        select(Wave.slug, Wave.title, CallCase.status, CallCase.disposition, CallCase.callback_at, CallCase.attempts)
        .join(Wave, Wave.id == CallCase.wave_id).join(Unit, Unit.id == CallCase.unit_id)
        .where(Wave.status == "open", policy.wave_clause(account), policy.unit_clause(account))
    ).all()
    waves: dict[str, dict] = {}
    for slug, title, status, disposition, callback_at, attempts in rows:
        w = waves.setdefault(slug, {"slug": slug, "title": title, "cases": 0, "open": 0, "fresh": 0, "due": 0, "later": 0})
        w["cases"] += 1
        if status == "open":
            w["open"] += 1
            w["fresh"] += attempts == 0
            if disposition == "callback":
                w["due" if callback_at <= now else "later"] += 1
    start = now.astimezone(LOCAL_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    mine: dict[str, int] = {}
    for (d,) in db.session.execute(select(CallAttempt.disposition).where(CallAttempt.interviewer_id == account.id, CallAttempt.called_at >= start)):
        mine[DISPOSITION_LABELS[d]] = mine.get(DISPOSITION_LABELS[d], 0) + 1
    return Desk(waves=sorted(waves.values(), key=lambda w: w["slug"]), done_today=mine)


# -- response rates ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupRates:
    key: str  # unit code or username
    name: str
    rates: Rates


@dataclass(frozen=True)
class WaveRates:
    e: float
    total: Rates
    by_unit: list[GroupRates]
    by_interviewer: list[GroupRates]
    cases: int  # on the call list (within view), dialled or not
    dialled: int

    def to_dict(self) -> dict:
        return {
            "e": self.e, "total": self.total.to_dict(), "cases": self.cases, "dialled": self.dialled,
            "by_unit": [{"code": g.key, "name": g.name, **g.rates.to_dict()} for g in self.by_unit],
            "by_interviewer": [{"username": g.key, "name": g.name, **g.rates.to_dict()} for g in self.by_interviewer],
        }


def wave_rates(wave: Wave, account: Any = policy.SYSTEM) -> WaveRates | None:
    """RR1, RR3 and COOP1 of the wave's phone cases per unit (the unit each number was drawn for)
    and per interviewer (the one who made a case's last call), over the units the account sees;
    e over the whole wave. None when the wave has no call list."""
    cases = db.session.execute(
        select(CallCase.id, CallCase.unit_id).where(CallCase.wave_id == wave.id)
    ).all()
    if not cases:
        return None
    calls: dict[int, list[tuple[str, int]]] = {}
    for case_id, disposition, interviewer_id in db.session.execute(
        select(CallAttempt.case_id, CallAttempt.disposition, CallAttempt.interviewer_id)
        .join(CallCase, CallCase.id == CallAttempt.case_id)
        .where(CallCase.wave_id == wave.id)
        .order_by(CallAttempt.case_id, CallAttempt.called_at, CallAttempt.id)
    ):
        calls.setdefault(case_id, []).append((disposition, interviewer_id))
    category = {cid: final_category([d for d, _ in calls.get(cid, [])]) for cid, _ in cases}
    e = eligibility_share(count(category.values()))
    visible = {u.id: u for u in db.session.scalars(select(Unit).where(
        Unit.id.in_({uid for _, uid in cases}), policy.unit_clause(account)))}
    mine = [(cid, uid) for cid, uid in cases if uid in visible]
    per_unit: dict[int, list] = {}
    per_interviewer: dict[int, list] = {}
    for cid, uid in mine:
        per_unit.setdefault(uid, []).append(category[cid])
        if calls.get(cid):
            per_interviewer.setdefault(calls[cid][-1][1], []).append(category[cid])
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(per_interviewer)))}
    by_unit = sorted(
        (GroupRates(visible[uid].code, visible[uid].name, rates(count(cats), e)) for uid, cats in per_unit.items()),
        key=lambda g: g.key,
    )
    by_interviewer = sorted(
        (GroupRates(users[iid].username, users[iid].display_name or users[iid].username, rates(count(cats), e))
         for iid, cats in per_interviewer.items()),
        key=lambda g: g.key,
    )
    return WaveRates(
        e=e, total=rates(count(category[cid] for cid, _ in mine), e), by_unit=by_unit, by_interviewer=by_interviewer,
        cases=len(mine), dialled=sum(1 for cid, _ in mine if calls.get(cid)),
    )


def call_list_state(wave: Wave, account: Any = policy.SYSTEM) -> dict[str, int]:
    """How many numbers of the list are open, closed, waiting for a call-back, never dialled."""
    rows = db.session.execute(
        select(CallCase.status, CallCase.disposition, CallCase.attempts, CallCase.number_enc.is_(None))
        .join(Unit, Unit.id == CallCase.unit_id)
        .where(CallCase.wave_id == wave.id, policy.unit_clause(account))
    ).all()
    return {
        "cases": len(rows),
        "open": sum(1 for s, *_ in rows if s == "open"),
        "closed": sum(1 for s, *_ in rows if s == "closed"),
        "fresh": sum(1 for s, _, a, _ in rows if s == "open" and a == 0),
        "callback": sum(1 for s, d, _, _ in rows if s == "open" and d == "callback"),
        "erased": sum(1 for *_, gone in rows if gone),
    }


def format_rates(r: WaveRates) -> str:
    """The rates as a plain-text table for the command line."""

    def pct(x: float | None) -> str:
        return f"{100 * x:5.1f}%" if x is not None else "     —"

    head = f"{'':<24}{'I':>5}{'P':>5}{'R':>5}{'NC':>5}{'UH':>5}{'NE':>5}{'RR1':>8}{'RR3':>8}{'COOP1':>8}"
    lines = [f"已拨 {r.dialled} / {r.cases} 个号码,e = {r.e:.3f}", head]

    def row(label: str, rates_: Rates) -> str:
        c = rates_.counts
        cells = "".join(f"{c[k]:>5}" for k in ("I", "P", "R", "NC", "UH", "NE"))
        return f"{label[:24]:<24}{cells}{pct(rates_.rr1):>8}{pct(rates_.rr3):>8}{pct(rates_.coop1):>8}"

    lines.append(row("全部", r.total))
    lines += [row(f"{g.key} {g.name}", g.rates) for g in r.by_unit]
    lines += [row(f"访问员 {g.key}", g.rates) for g in r.by_interviewer]
    return "\n".join(lines)

