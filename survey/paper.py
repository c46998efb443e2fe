"""Paper sheets keyed by hand (docs/method.md "Paper entry"): the keyer types the sheet number,
the unit code and then each item's option code as printed on the sheet (or the option's number,
1 for the first), Enter to the next. The sheet is stored at once as a response of mode `paper`
with the answer-sheet flags (survey.integrity). An optional second keying of the same sheet by
another account is compared item by item; differences wait for someone to resolve them, and
the resolution rewrites the stored response (its flags recomputed)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

import audit
import policy
from analysis.spec import Item, QuestionnaireSpec
from clock import now as clock_now
from errors import Conflict, Forbidden, NotFound, PinganError
from extensions import db
from models import PaperSheet, Response, Unit, User, Wave
from models.responses import answer_columns
from survey.integrity import answer_sheet_checker

SHEET_NO = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,31}$")
_SPLIT = re.compile(r"[\s,,;;、]+")


class EntryErrors(PinganError):
    """Problems beside their fields (field name → message); nothing was stored."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("请按提示修改后再保存(本张答卷尚未保存)", code="bad_sheet", status=422)
        self.errors = errors


def field_name(item: Item) -> str:
    return f"a_{item.key}"


def _parse_item(item: Item, raw: str) -> Any:
    """The answer typed for `item`: its option code (any case) or option number; for a `multiple`
    item several, separated by spaces or commas; text as typed. None when left blank."""
    value = raw.strip()
    if not value:
        return None
    if not item.is_choice:
        if len(value) > item.max_length:
            raise ValueError(f"超过 {item.max_length} 字的上限")
        return value
    codes = [o.code for o in item.options]
    by_upper = {c.upper(): c for c in codes}

    def one(token: str) -> str:
        if token in codes:
            return token
        if token.upper() in by_upper:
            return by_upper[token.upper()]
        if token.isdigit() and 1 <= int(token) <= len(codes):
            return codes[int(token) - 1]
        raise ValueError(f"“{token}” 不是选项代码(可填 {'、'.join(codes)} 或 1–{len(codes)})")

    if item.is_multiple:
        picked = [one(t) for t in _SPLIT.split(value) if t]
        if len(set(picked)) != len(picked):
            raise ValueError("同一选项填了两次")
        if len(picked) > item.multiple:
            raise ValueError(f"最多选 {item.multiple} 项")
        return picked
    return one(value)


@dataclass(frozen=True)
class Keyed:
    sheet_no: str
    unit_code: str
    answers: dict[str, Any]
    screened_out: bool


def check_sheet(account: Any, wave: Wave, spec: QuestionnaireSpec, sheet_no: str, unit_code: str,
                typed: dict[str, str]) -> Keyed:
    """Everything typed for one sheet, checked; EntryErrors names each field that is wrong."""
    errors: dict[str, str] = {}
    sheet_no = sheet_no.strip()
    if not SHEET_NO.match(sheet_no):
        errors["sheet_no"] = "答卷编号只能用字母、数字、- 和 _,最长 32 位"
    unit_code = unit_code.strip()
    unit = db.session.scalar(select(Unit).where(Unit.code == unit_code)) if unit_code else None
    if unit is None or not unit.is_within(wave.scope) or not policy.sees_unit(account, unit):
        errors["unit_code"] = "请填写本次调查中、您管辖范围内的单位代码" if unit_code else "请填写单位代码"
    answers: dict[str, Any] = {}
    for item in spec.items:
        try:
            value = _parse_item(item, typed.get(field_name(item), ""))
        except ValueError as e:
            errors[field_name(item)] = str(e)
            continue
        if value is not None:
            answers[item.key] = value
    for item in spec.items:
        if item.key in answers and not item.applies(answers):
            errors[field_name(item)] = f"只在题目 {item.show_if.item} 答 {'、'.join(item.show_if.codes)} 时回答,本题应留空"
    if not answers and "sheet_no" not in errors:
        errors.setdefault(field_name(spec.items[0]), "整张答卷都是空的")
    if errors:
        raise EntryErrors(errors)
    screened = any(isinstance(answers.get(it.key), str) and answers[it.key] in it.screen_out for it in spec.items if it.screen_out)
    return Keyed(sheet_no, unit.code, answers, screened)


def _wave_open_for_entry(wave: Wave) -> None:
    if wave.status == "published":
        raise Conflict(f"调查 “{wave.slug}” 已发布,不能再录入答卷", code="bad_status")


def _flags(spec: QuestionnaireSpec, keyed: Keyed) -> list[str]:
    return [] if keyed.screened_out else answer_sheet_checker(spec)(keyed.answers)


def key_first(account: User, wave: Wave, sheet_no: str, unit_code: str, typed: dict[str, str]) -> PaperSheet:
    """The first keying of a sheet: stored at once as a response of mode `paper`."""
    policy.require(account, "responses.enter", wave)
    _wave_open_for_entry(wave)
    spec = wave.questionnaire_version.to_spec()
    keyed = check_sheet(account, wave, spec, sheet_no, unit_code, typed)
    if db.session.scalar(select(PaperSheet.id).where(PaperSheet.wave_id == wave.id, PaperSheet.sheet_no == keyed.sheet_no)):
        raise EntryErrors({"sheet_no": f"答卷 {keyed.sheet_no} 已经录入过;如要核对,请用“二次录入”"})
    key = f"paper-{keyed.sheet_no}"
    if db.session.scalar(select(Response.id).where(Response.wave_id == wave.id, Response.response_key == key)):
        raise EntryErrors({"sheet_no": f"答卷编号 {keyed.sheet_no} 已被导入的答卷使用"})
    flags = _flags(spec, keyed)
    now = clock_now()
    unit_id = db.session.scalar(select(Unit.id).where(Unit.code == keyed.unit_code))
    response = Response(
        wave_id=wave.id, unit_id=unit_id, response_key=key, mode="paper", **answer_columns(spec, keyed.answers),
        submitted_at=None, flags=flags, review_status="flagged" if flags else "clean", screened_out=keyed.screened_out,
    )
    db.session.add(response)
    db.session.flush()
    sheet = PaperSheet(
        wave_id=wave.id, sheet_no=keyed.sheet_no, response_id=response.id, status="single", first_by_id=account.id,
        first_unit=keyed.unit_code, first_answers=keyed.answers, first_at=now,
    )
    db.session.add(sheet)
    audit.record("paper.key", "wave", wave.slug, None, {"sheet_no": keyed.sheet_no, "unit": keyed.unit_code, "flags": flags})
    db.session.commit()
    return sheet


def get_sheet(account: User, wave: Wave, sheet_no: str) -> PaperSheet:
    sheet = db.session.scalar(select(PaperSheet).where(PaperSheet.wave_id == wave.id, PaperSheet.sheet_no == sheet_no))
    if sheet is None or not policy.visible(account, sheet.response):
        raise NotFound(f"答卷 {sheet_no} 还没有录入")
    return sheet


def key_second(account: User, wave: Wave, sheet_no: str, unit_code: str, typed: dict[str, str]) -> PaperSheet:
    """The second keying, by another account, blind to the first: compared item by item."""
    policy.require(account, "responses.enter", wave)
    _wave_open_for_entry(wave)
    spec = wave.questionnaire_version.to_spec()
    keyed = check_sheet(account, wave, spec, sheet_no, unit_code, typed)
    sheet = db.session.scalar(select(PaperSheet).where(PaperSheet.wave_id == wave.id, PaperSheet.sheet_no == keyed.sheet_no))
    if sheet is None or not policy.visible(account, sheet.response):
        raise EntryErrors({"sheet_no": f"答卷 {keyed.sheet_no} 还没有首次录入"})
    if sheet.second_by_id is not None:
        raise EntryErrors({"sheet_no": f"答卷 {keyed.sheet_no} 已经二次录入过"})
    if sheet.first_by_id == account.id:
        raise Forbidden("二次录入须由另一个账号完成(核对不能由首次录入的人自己做)")
    sheet.second_by_id, sheet.second_unit, sheet.second_answers, sheet.second_at = account.id, keyed.unit_code, keyed.answers, clock_now()
    sheet.status = "matched" if not differences(sheet, spec) else "differs"
    audit.record("paper.verify", "wave", wave.slug, None, {"sheet_no": sheet.sheet_no, "status": sheet.status})
    db.session.commit()
    return sheet


@dataclass(frozen=True)
class Difference:
    field: str  # "unit_code" or an item key
    label: str
    first: str
    second: str


def _shown(value: Any) -> str:
    if value is None:
        return "(空)"
    return ";".join(value) if isinstance(value, list) else str(value)


def differences(sheet: PaperSheet, spec: QuestionnaireSpec) -> list[Difference]:
    if sheet.second_answers is None:
        return []
    out = []
    if sheet.first_unit != sheet.second_unit:
        out.append(Difference("unit_code", "单位代码", sheet.first_unit, sheet.second_unit or ""))
    for item in spec.items:
        a, b = sheet.first_answers.get(item.key), sheet.second_answers.get(item.key)
        if a != b:
            out.append(Difference(item.key, f"{item.key} {item.text}", _shown(a), _shown(b)))
    return out


def resolve(account: User, wave: Wave, sheet_no: str, choices: dict[str, str]) -> PaperSheet:
    """Settle each difference with the first or the second keying ('first' / 'second'); the
    stored response takes the settled answers and its flags are recomputed."""
    policy.require(account, "responses.enter", wave)
    _wave_open_for_entry(wave)
    sheet = get_sheet(account, wave, sheet_no)
    if sheet.status != "differs":
        raise Conflict(f"答卷 {sheet.sheet_no} 没有待处理的不一致", code="nothing_to_resolve")
    spec = wave.questionnaire_version.to_spec()
    diffs = differences(sheet, spec)
    missing = [d.field for d in diffs if choices.get(d.field) not in ("first", "second")]
    if missing:
        raise EntryErrors({f: "请选择以哪一次录入为准" for f in missing})
    answers = dict(sheet.first_answers)
    unit_code = sheet.first_unit
    for d in diffs:
        if choices[d.field] != "second":
            continue
        if d.field == "unit_code":
            unit_code = sheet.second_unit
        elif d.field in sheet.second_answers:
            answers[d.field] = sheet.second_answers[d.field]
        else:
            answers.pop(d.field, None)
    keep = {it.key for it in spec.items if it.applies(answers)}
    answers = {k: v for k, v in answers.items() if k in keep}
    keyed = Keyed(sheet.sheet_no, unit_code, answers,
                  any(isinstance(answers.get(it.key), str) and answers[it.key] in it.screen_out for it in spec.items if it.screen_out))
    response = sheet.response
    before = {"unit": sheet.first_unit, "answers": response.answers}
    for column, value in answer_columns(spec, answers).items():  # the packed columns with the JSON
        setattr(response, column, value)
    response.unit_id = db.session.scalar(select(Unit.id).where(Unit.code == unit_code))
    response.screened_out = keyed.screened_out
    if response.review_status in ("clean", "flagged"):
        response.flags = _flags(spec, keyed)
        response.review_status = "flagged" if response.flags else "clean"
    sheet.status, sheet.resolved_by_id, sheet.resolved_at = "resolved", account.id, clock_now()
    audit.record("paper.resolve", "wave", wave.slug, before, {"sheet_no": sheet.sheet_no, "unit": unit_code, "answers": answers})
    db.session.commit()
    return sheet


def recent_sheets(account: User, wave: Wave, limit: int = 30) -> tuple[list[PaperSheet], list[PaperSheet]]:
    """The sheets with differences to resolve, and the latest sheets keyed (within the account's units)."""
    base = select(PaperSheet).join(Response, Response.id == PaperSheet.response_id).join(Unit, Unit.id == Response.unit_id) \
        .where(PaperSheet.wave_id == wave.id, policy.unit_clause(account))
    differ = list(db.session.scalars(base.where(PaperSheet.status == "differs").order_by(PaperSheet.sheet_no)))
    latest = list(db.session.scalars(base.order_by(PaperSheet.id.desc()).limit(limit)))
    return differ, latest
