"""Who may do what, and over which units: the one access policy of the console, the API and the CLI.

`can(account, verb, target)` answers; `require(account, verb, target)` raises a domain error:
`NotFound` (404) when the target lies outside what the account may even see — worded as if it
did not exist, so that an account cannot learn what exists elsewhere — and `Forbidden` (403)
when it may see the target but not do `verb` to it. Views never decide access themselves.

Roles (docs/security.md "One access policy"; docs/security.md):
- admin: everything within its scope — an admin scoped to a county is that county's admin;
  only an unscoped admin manages what belongs to nobody's subtree (questionnaires, unscoped
  accounts, audit entries that name no unit);
- county: its own subtree — its units, its waves, its responses, results and cases;
- office: the creation office — results, reports, reviewing answer sheets and the 约谈 cases;
- analyst: read-only;
- collector (网格员): fills door-to-door sheets for residents of the units in its scope (a town,
  village or grid), nothing else — it reads no results, no responses, no other page of the console
  (docs/security.md "Collectors").
- interviewer: a phone interviewer (电话访问员) — takes calls from the call lists of its subtree's
  waves and nothing else; a number is shown only to the interviewer holding its call (survey.calls).

Separation of duties (docs/security.md "Separation of duties"): the steps of a 约谈 case are
verbs of their own. The office's steps (OFFICE_CASE_VERBS: 安排、登记约谈、整改通知、复查、销号、
重新打开) need an `office` or `admin` account whose scope covers the wave that issued the list and
that does not judge itself (`judges_itself`); the unit's steps (UNIT_CASE_VERBS: 整改方案、整改
报告、申请复查) need the unit's side (`answers_for`: scope contains the case's unit, and not the
office issuing the wave). Reviewing answer sheets
(`responses.review`) needs the whole of the wave within the account's scope: a wave ranks units
strictly inside its scope, so an account never reviews the sheets that rank its own unit.

The scope is checked for every verb. Targets: a Unit, a Wave, an InterviewCase, a Response, a CallCase, a
User (an account; also a not yet stored one, for creating it), an AuditEntry, or None for the
verb itself (the role alone; lists are then filtered by the clauses below). The command line
acts as the system (`SYSTEM`), which may do everything.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import aliased

from errors import Forbidden, NotFound
from extensions import db
from models import AuditEntry, CallCase, InterviewCase, Response, Unit, User, Wave

# role → the verbs it holds. A new role is one line here (and its name in models.accounts.ROLES).
# The office's steps of a case (the creation office of the wave that issued the list).
OFFICE_CASE_VERBS = frozenset({
    "cases.schedule", "cases.hold", "cases.notify", "cases.recheck", "cases.close", "cases.reopen",
})
# The steps of the unit under 约谈: its 整改方案, its reports, its request for 复查.
UNIT_CASE_VERBS = frozenset({"cases.plan", "cases.report", "cases.request_recheck"})
# `cases.manage`: the role takes some step of a case at all (a page's buttons); each step is
# checked with its own verb above. `cases.issue`: issuing a wave's interview list.
GRANTS: dict[str, frozenset[str]] = {
    "admin": frozenset({
        "read", "units.manage", "questionnaires.manage", "waves.manage", "waves.reopen", "responses.review",
        "analysis.run", "cases.manage", "cases.issue", "users.manage", "audit.read", "api.tokens",
        "responses.collect", "calls.manage", "responses.enter",
    }) | OFFICE_CASE_VERBS | UNIT_CASE_VERBS,
    "county": frozenset({
        "read", "waves.manage", "responses.review", "analysis.run", "cases.manage", "cases.issue", "api.tokens",
        "calls.manage", "responses.enter",
    }) | UNIT_CASE_VERBS,
    "office": frozenset({"read", "analysis.run", "responses.review", "cases.manage", "cases.issue", "api.tokens"})
    | OFFICE_CASE_VERBS,
    "analyst": frozenset({"read", "api.tokens"}),
    "collector": frozenset({"responses.collect"}),
    "interviewer": frozenset({"calls.take"}),
}
VERBS = frozenset().union(*GRANTS.values())
# Verbs over things that belong to no unit's subtree: only an unscoped account holds them.
GLOBAL_VERBS = frozenset({"questionnaires.manage"})


class System:
    """The command line: no account, every permission (`flask --app app user create …`)."""

    is_authenticated = True
    role = "system"
    scope = None
    id = None

    def __repr__(self) -> str:
        return "<System>"


SYSTEM = System()


def permissions() -> dict[str, frozenset[str]]:
    """verb → the roles that hold it (the table the other way round)."""
    return {verb: frozenset(role for role, verbs in GRANTS.items() if verb in verbs) for verb in sorted(VERBS)}


def holds(account: Any, verb: str) -> bool:
    """The role alone: whether the account's role holds `verb` at all."""
    if verb not in VERBS:
        raise ValueError(f"unknown verb {verb!r}")
    if account is SYSTEM:
        return True
    return bool(account is not None and account.is_authenticated and verb in GRANTS.get(account.role, ()))


# -- scope: what an account may see ----------------------------------------------------------


def unit_clause(account: Any) -> ColumnElement[bool]:
    """A WHERE clause on Unit selecting the units this account may see."""
    return account.scope.subtree_clause() if account.scope is not None else true()


def wave_clause(account: Any) -> ColumnElement[bool]:
    """A WHERE clause on Wave selecting the waves this account may see (`sees_wave` in SQL)."""
    scope = account.scope
    if scope is None:
        return true()
    above = [code for code in scope.path.strip("/").split("/") if code]
    unit = aliased(Unit)  # never correlated with a Unit of the enclosing query
    inside = unit.path.startswith(scope.path, autoescape=True)
    return Wave.scope_unit_id.in_(select(unit.id).where(or_(inside, unit.code.in_(above))).correlate(None))


def sees_unit(account: Any, unit: Unit) -> bool:
    return account.scope is None or unit.is_within(account.scope)


def within(account: Any, unit: Unit | None) -> bool:
    """The unit lies in the account's subtree; no unit (the whole tree) lies in none but the whole."""
    if account.scope is None:
        return True
    return unit is not None and unit.is_within(account.scope)


def sees_wave(account: Any, wave: Wave) -> bool:
    """A wave is visible when it covers part of the account's subtree: one scoped inside it,
    or one above it (a city-wide wave, of which a county account sees its own units)."""
    if account.scope is None:
        return True
    return wave.scope.is_within(account.scope) or account.scope.is_within(wave.scope)


def manages_wave(account: Any, wave: Wave) -> bool:
    """Opening, closing and publishing a wave needs the whole of its scope within the account's."""
    return can(account, "waves.manage", wave)


def visible_waves(account: Any) -> list[Wave]:
    """The waves covering part of the account's subtree, newest period first (console and API)."""
    waves = db.session.scalars(select(Wave).order_by(Wave.period_start.desc(), Wave.slug))
    return [w for w in waves if sees_wave(account, w)]


def sees_case(account: Any, case: InterviewCase) -> bool:
    """A case is visible only when both its unit and its wave are."""
    return sees_unit(account, case.unit) and sees_wave(account, case.wave)


def sees_entry(account: Any, entry: AuditEntry) -> bool:
    """An audit entry is about something in the account's subtree (its `unit_path`, filled by
    audit.record); an entry about nothing in the tree (a questionnaire, an unscoped account, a
    wave or unit since re-parented out) only for an unscoped account."""
    if account.scope is None:
        return True
    return entry.unit_path is not None and entry.unit_path.startswith(account.scope.path)


def audit_clause(account: Any) -> ColumnElement[bool]:
    """`sees_entry` as a WHERE clause on AuditEntry."""
    if account.scope is None:
        return true()
    return AuditEntry.unit_path.startswith(account.scope.path, autoescape=True)


def user_clause(account: Any) -> ColumnElement[bool]:
    """A WHERE clause on User: the accounts whose scope lies inside this account's."""
    if account.scope is None:
        return true()
    return User.scope_unit_id.in_(select(Unit.id).where(account.scope.subtree_clause()).correlate(None))


def visible(account: Any, target: Any) -> bool:
    """Whether the account may know that `target` exists at all (any verb)."""
    if account is SYSTEM or target is None:
        return True
    if isinstance(target, Unit):
        return sees_unit(account, target)
    if isinstance(target, Wave):
        return sees_wave(account, target)
    if isinstance(target, InterviewCase):
        return sees_case(account, target)
    if isinstance(target, Response | CallCase):
        return sees_unit(account, target.unit) and sees_wave(account, target.wave)
    if isinstance(target, User):
        return account.scope is None or target.id == account.id or within(account, target.scope)
    if isinstance(target, AuditEntry):
        return sees_entry(account, target)
    raise TypeError(f"no access rule for {type(target).__name__}")


# -- the check -----------------------------------------------------------------------------------


def _in_scope(account: Any, verb: str, target: Any) -> bool:
    """The scope part of `can`: the role holds the verb, the target is visible."""
    if account is SYSTEM:
        return True
    if isinstance(target, InterviewCase) and verb in OFFICE_CASE_VERBS | UNIT_CASE_VERBS:
        return _case_step(account, verb, target)
    if verb == "responses.review" and isinstance(target, (Wave, Response)):
        # nobody reviews the sheets of a wave that ranks their own unit: the wave lies within
        # the account's scope (a county reviews its own waves; the city, city-wide waves)
        return _covers(account, target if isinstance(target, Wave) else target.wave)
    if isinstance(target, Wave) and verb == "cases.issue":
        return _covers(account, target)
    if account.scope is None:
        return True
    if target is None:
        return verb not in GLOBAL_VERBS
    if verb in GLOBAL_VERBS:
        return False
    if isinstance(target, Wave) and verb in ("waves.manage", "waves.reopen", "analysis.run"):
        # changing the wave itself (its status, its stored results) needs all of it in scope
        return target.scope.is_within(account.scope)
    if isinstance(target, Unit) and verb in ("units.manage", "responses.collect"):
        return target.is_within(account.scope)
    if isinstance(target, User):
        # an account's scope must lie inside the acting account's: never an empty scope
        # (the whole tree), never one beside or above it
        return within(account, target.scope) and target.scope is not None
    return True


def judges_itself(account: Any, case: InterviewCase) -> bool:
    """The account would judge its own unit: its scope is the case's unit, or lies inside it
    (a town's account judging the county's case). An unscoped account judges no unit."""
    scope = account.scope
    return scope is not None and scope.is_within(case.unit)


def _covers(account: Any, wave: Wave) -> bool:
    """The whole of the wave lies within the account's scope."""
    return account.scope is None or wave.scope.is_within(account.scope)


def _case_step(account: Any, verb: str, case: InterviewCase) -> bool:
    """Separation of duties on one case (docs/security.md "Separation of duties")."""
    if verb in OFFICE_CASE_VERBS:
        return _covers(account, case.wave) and not judges_itself(account, case)
    if verb in UNIT_CASE_VERBS:
        return answers_for(account, case)
    return True


def can(account: Any, verb: str, target: Any = None) -> bool:
    """Whether `account` may do `verb` to `target` (None: the verb itself, lists filtered by scope)."""
    return holds(account, verb) and visible(account, target) and _in_scope(account, verb, target)


def require(account: Any, verb: str, target: Any = None, message: str | None = None) -> Any:
    """The target, when `can`; NotFound when the account may not even know it exists,
    Forbidden when it may see it but not do `verb` to it."""
    if account is not SYSTEM and (account is None or not account.is_authenticated):
        raise Forbidden(message or "请先登录")
    if not visible(account, target):
        raise NotFound(_not_found(target))
    if not can(account, verb, target):
        raise Forbidden(message or "您没有权限执行此操作")
    return target


def _not_found(target: Any) -> str:
    if isinstance(target, Unit):
        return f"单位 “{target.code}” 不存在"
    if isinstance(target, Wave):
        return f"调查 “{target.slug}” 不存在"
    if isinstance(target, InterviewCase):
        return f"约谈案件 {target.id} 不存在"
    if isinstance(target, User):
        return "账号不存在"
    return "页面不存在,请检查链接是否完整。"


def check_unit(account: Any, unit: Unit | None) -> Unit:
    """The unit, or NotFound when it does not exist or lies outside the account's scope."""
    if unit is None:
        raise NotFound("单位不存在")
    return require(account, "read", unit)


def check_wave(account: Any, wave: Wave | None) -> Wave:
    """The wave, or NotFound when it does not exist or lies outside the account's scope."""
    if wave is None:
        raise NotFound("调查不存在")
    return require(account, "read", wave)


def check_case(account: Any, case: InterviewCase | None) -> InterviewCase:
    """The case, or NotFound unless both its unit and its wave are visible to the account."""
    if case is None:
        raise NotFound("约谈案件不存在")
    return require(account, "read", case)


def find_unit(account: Any, code: str) -> Unit:
    """The unit with this code, if the account may see it; NotFound otherwise."""
    return check_unit(account, db.session.scalar(select(Unit).where(Unit.code == code)))


# -- due dates and 待办 (admin.due_dates, admin.todo) --------------------------------------------


def issues_cases_of(account: Any, wave: Wave) -> bool:
    """The office that issues a wave's interview list and holds its 约谈: an `office` or `admin`
    account whose scope covers the whole wave (docs/security.md "Separation of duties"). It sets
    the wave's 约谈 due days and its 待办 lists the wave's cases to schedule, hold, notify, recheck."""
    if account is SYSTEM:
        return True
    return (
        holds(account, "cases.manage")
        and account.role in ("office", "admin")
        and (account.scope is None or wave.scope.is_within(account.scope))
    )


def sets_due_dates(account: Any, wave: Wave) -> bool:
    """Who may change a wave's 约谈 due days (waves.interview_days): the office that issues its list."""
    return issues_cases_of(account, wave)


def answers_for(account: Any, case: InterviewCase) -> bool:
    """The unit's side of a case (docs/security.md "Separation of duties"): an account whose scope
    contains the case's unit — the county account for its county's cases and its towns', a
    town-scoped account for that town's — and that does not issue the case's wave itself. It
    records the 整改方案 and reports, asks for 复查 (UNIT_CASE_VERBS, for roles that hold them), and
    uploads the 整改报告, photos and scans."""
    if account is SYSTEM:
        return True
    return (
        holds(account, "cases.manage")
        and account.role in ("county", "admin")
        and account.scope is not None
        and case.unit.is_within(account.scope)
        and not issues_cases_of(account, case.wave)
    )


# Attachment kinds (models.attachments) each side may upload: the unit its 整改 material, the
# issuing office the signed 约谈记录 (and, for a unit that hands in paper, its scans).
UNIT_ATTACHMENTS = frozenset({"report", "photo", "scan", "other"})
OFFICE_ATTACHMENTS = frozenset({"interview_record", "report", "photo", "scan", "other"})


def attachment_kinds(account: Any, case: InterviewCase) -> frozenset[str]:
    """The kinds of file `account` may attach to `case` (empty: none); the case must be visible."""
    if not visible(account, case):
        return frozenset()
    kinds: set[str] = set()
    if issues_cases_of(account, case.wave):
        kinds |= OFFICE_ATTACHMENTS
    if answers_for(account, case):
        kinds |= UNIT_ATTACHMENTS
    return frozenset(kinds)
