"""Taking in a resident's response: the form ticket, the device, keyed hashes, and storing once.

The ticket. When the form is served, the server signs `<wave id>:<uuid4>:<device tag>` with a
TimestampSigner: the uuid is the idempotency key, the signature's timestamp the start time.
So the client can neither choose its start time nor reuse a ticket for another wave, and
the server measures the completion time itself. The ticket is bound to the device cookie it was
issued to: the payload carries a keyed hash of the device id, and a ticket posted without that
cookie (another phone's, or none) is treated like an expired form (the page comes back with every
answer kept, a fresh ticket and a cookie), unless it was already stored, when the retry is thanked
as usual. That binding also makes the ticket the form's CSRF token (docs/security.md "The resident
form's token"): no Flask session is kept for an anonymous resident. The view's device is taken from
the request (`device_from_cookie` notes it in `flask.g`), so that `new_ticket` and `read_ticket`
bind and check without being handed it.

Storing once. `submit` is the resident POST's one service call. A retried POST (double tap, flaky
network, reload of the thank-you page) carries the same ticket, hence the same idempotency key;
one device answers a wave once (the device cookie holds a random id, of which only an HMAC is
stored). Both rules are the table's unique constraints (wave_id, idempotency_key) and (wave_id,
device_hash), and one `INSERT … ON CONFLICT DO NOTHING RETURNING id` applies them: a row comes
back, or the constraint said no and a look at the two keys says which (thanked again, or 您已提交).
Two copies racing each other meet the same constraint; nothing is checked before the INSERT.
"""

from __future__ import annotations

import enum
import hmac
import secrets
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app, g, has_app_context, request
from itsdangerous import BadSignature, TimestampSigner, URLSafeSerializer
from sqlalchemy import Integer, String, bindparam, case, exists, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import Compiled

import caches
from analysis.packing import Packer, packer
from analysis.spec import QuestionnaireSpec
from errors import Conflict
from extensions import db
from models import Response, Wave
from models.responses import answer_columns
from models.types import utcnow
from survey.integrity import (
    NO_BURST_POSSIBLE,
    REPEAT_DEVICE,
    Rules,
    add_flag,
    address_flags,
    address_flags_fit_sql,
    answer_sheet_checker,
    is_speeder,
)
from survey.links import Link, require_open

TICKET_SALT = "survey-start"
DEVICE_SALT = "survey-device"
DEVICE_COOKIE = "pingan_device"


def _secret() -> bytes:
    return current_app.config["SECRET_KEY"].encode()


def keyed_hash(kind: str, value: str) -> str:
    """HMAC-SHA256 of `value` with the secret key (hex, 64 characters); `kind` keeps the uses apart.
    (`hmac.digest`: OpenSSL's one-shot HMAC, the same value as `hmac.new(...).hexdigest()` without
    building an HMAC object; a submission computes seven of these.)"""
    return hmac.digest(_secret(), f"{kind}:{value}".encode(), "sha256").hex()


# -- the ticket ------------------------------------------------------------------------------


def _signer() -> TimestampSigner:
    return _made_once("survey.ticket_signer", lambda key: TimestampSigner(key, salt=TICKET_SALT))


def _made_once(name: str, make):
    """A signer or serializer of this app's SECRET_KEY, made once per key and kept in the app:
    itsdangerous objects are immutable, and making one (key checks, is-text probe) took a tenth
    of a GET's CPU when each request made its own."""
    key = current_app.config["SECRET_KEY"]
    found = current_app.extensions.get(name)
    if found is None or found[0] != key:
        found = current_app.extensions[name] = (key, make(key))
    return found[1]


def device_tag(device: str) -> str:
    """The keyed hash of a device id a ticket carries (16 hex characters: enough to tell devices apart)."""
    return keyed_hash("ticket-device", device)[:16]


def _request_device() -> str | None:
    return g.get("survey_device") if has_app_context() else None


def new_ticket(wave_id: int, device: str | None = None) -> str:
    """A signed ticket for a blank form, bound to `device` (default: this request's device, if known)."""
    device = device or _request_device()
    tag = f":{device_tag(device)}" if device else ""
    return _signer().sign(f"{wave_id}:{uuid.uuid4()}{tag}").decode()


@dataclass(frozen=True)
class Ticket:
    idempotency_key: str
    started_at: datetime
    device_tag: str | None = None  # the device it was issued to (None: a ticket issued outside a request)


def read_ticket(value: str | None, wave_id: int, device: str | None = None) -> Ticket | None:
    """The idempotency key and start time of a ticket, or None if it is missing, forged, for another
    wave, or issued to another device than `device` (default: this request's) and not stored yet."""
    if not value:
        return None
    try:
        payload, started = _signer().unsign(value, return_timestamp=True)
    except BadSignature:
        return None
    wave, _, rest = payload.decode().partition(":")
    key, _, tag = rest.partition(":")
    if wave != str(wave_id) or not key:
        return None
    ticket = Ticket(idempotency_key=key, started_at=started.astimezone(UTC), device_tag=tag or None)
    if device is None and has_app_context() and g.get("survey_device_new"):
        # The POST came without the device cookie the ticket was issued to (a cross-site form, which
        # a SameSite=Lax cookie does not follow; another browser; or cleared cookies): not this
        # ticket's holder, so the ticket is no CSRF token here (docs/security.md).
        device = ""
    device = _request_device() if device is None else device
    if ticket.device_tag and device is not None and device_tag(device) != ticket.device_tag and not _stored(wave_id, key):
        return None  # another phone's form, or no phone's: like an expired one
    return ticket


# -- the device -------------------------------------------------------------------------------


def _device_serializer() -> URLSafeSerializer:
    return _made_once("survey.device_serializer", lambda key: URLSafeSerializer(key, salt=DEVICE_SALT))


def read_device_cookie(cookie: str | None) -> str | None:
    """The device id in a signed device cookie, or None if there is none or it was tampered with."""
    if not cookie:
        return None
    # A POST reads its cookie twice (its rate limit's key, then the device): checked once.
    seen = g.get("survey_cookie_read") if has_app_context() else None
    if seen is not None and seen[0] == cookie:
        return seen[1]
    try:
        device = _device_serializer().loads(cookie)
    except BadSignature:
        device = None
    device = device if isinstance(device, str) and device else None
    if has_app_context():
        g.survey_cookie_read = (cookie, device)
    return device


def device_from_cookie(cookie: str | None) -> tuple[str, str | None]:
    """The phone's device id, and the signed cookie value to set when it had none (or a forged one)."""
    device = read_device_cookie(cookie)
    new = None
    if device is None:
        device = secrets.token_urlsafe(16)
        new = _device_serializer().dumps(device)
    if has_app_context():
        g.survey_device = device  # the device this request's tickets are bound to
        g.survey_device_new = new is not None
    return device, new


def device_rate_key() -> str:
    """The per-device rate limit's key: a keyed hash of the device cookie's id; a POST without a valid
    device cookie (a resident's phone always has one from the form's GET) counts against its address."""
    from extensions import hashed_remote_address

    device = read_device_cookie(request.cookies.get(DEVICE_COOKIE))
    if device is None:
        return "nodevice:" + hashed_remote_address()
    return "device:" + keyed_hash("ratelimit-device", device)[:32]


# The residents' statements are built once: building a statement and its cache key on every
# request cost more CPU than running it (py-spy, bench/load.py --profile). On the table's columns,
# not the entity's attributes: a Core statement skips the ORM's compile step in Session.execute.
_R = Response.__table__.c
_BY_DEVICE = select(_R.id).where(_R.wave_id == bindparam("wave"), _R.device_hash == bindparam("device")).limit(1)
_BY_KEY = select(_R.id).where(_R.wave_id == bindparam("wave"), _R.idempotency_key == bindparam("key"))
_REPEAT_OF_TICKET = select(_R.idempotency_key).where(_R.wave_id == bindparam("wave"), _R.idempotency_key == bindparam("key"))
_REPEAT_OF_TICKET_OR_DEVICE = (
    select(_R.idempotency_key)
    .where(_R.wave_id == bindparam("wave"), or_(_R.idempotency_key == bindparam("key"), _R.device_hash == bindparam("device")))
    .limit(2)
)
# The one INSERT of a resident's response, which also checks that the wave is open:
#   INSERT INTO responses (…) SELECT :wave_id, … WHERE EXISTS (SELECT 1 FROM waves WHERE id = :wave_id
#   AND status = 'open') ON CONFLICT DO NOTHING RETURNING id
# A row whose idempotency key or device hash the wave already holds is not written (the unique
# constraints decide), nor one for a wave that is not open (any more), and RETURNING says whether it
# was. The POST reads the wave's status only when no row comes back (survey.links.read_token,
# `deferred`): one round trip less on every stored response. Both dialects spell it the same (SQLite
# needs the SELECT's WHERE to tell ON CONFLICT from a join); chosen by the session's dialect.
_COLUMNS = [c for c in Response.__table__.c if c.name != "id"]
_WAVE_OPEN = exists().where(Wave.__table__.c.id == bindparam("wave_id", type_=Integer), Wave.__table__.c.status == bindparam("open", "open", type_=String))
_INSERTS = {
    name: dialect.insert(Response.__table__)
    .from_select(_COLUMNS, select(*(bindparam(c.name, type_=c.type) for c in _COLUMNS)).where(_WAVE_OPEN))
    .on_conflict_do_nothing()
    .returning(_R.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}

# The same INSERT deciding the address flags itself (survey.integrity.address_flags_in_sql): the
# `repeat_device` flag by a CASE between the two flag lists the caller computed, and no row at all
# when the response may be one of a burst (then `address_flags` judges, and the INSERT above stores).
# One statement for a whole POST instead of two, when no rule is switched off.
def _one_statement_insert(dialect):
    columns = []
    for c in _COLUMNS:
        if c.name == "flags":
            columns.append(case((REPEAT_DEVICE, bindparam("flags_repeat", type_=c.type)), else_=bindparam("flags", type_=c.type)))
        elif c.name == "review_status":
            columns.append(case((REPEAT_DEVICE, bindparam("flagged", "flagged", type_=c.type)), else_=bindparam("review_status", type_=c.type)))
        else:
            columns.append(bindparam(c.name, type_=c.type))
    return (
        dialect.insert(Response.__table__)
        .from_select(_COLUMNS, select(*columns).where(_WAVE_OPEN, NO_BURST_POSSIBLE))
        .on_conflict_do_nothing()
        .returning(_R.id)
    )


_ONE_STATEMENT_INSERTS = {name: _one_statement_insert(dialect) for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))}


@dataclass(frozen=True)
class _DriverStatement:
    """A Core statement compiled once for one dialect: its SQL text and each parameter's
    conversion (the column types' bind processors, e.g. JSON), to run on the driver's cursor."""

    compiled: Compiled
    sql: str
    processors: dict[str, Callable]


_DRIVER_STATEMENTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # dialect → {statement id: _DriverStatement}


def _driver_statement(statement, dialect) -> _DriverStatement:
    made = _DRIVER_STATEMENTS.setdefault(dialect, {})
    found = made.get(id(statement))
    if found is None:  # a race makes it twice, the same: harmless
        compiled = statement.compile(dialect=dialect)
        processors = {}
        for name, bind in compiled.binds.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                processors[name] = process
        found = made[id(statement)] = _DriverStatement(compiled, compiled.string, processors)
    return found


def _on_driver(dialect) -> bool:
    """Whether the resident POST's INSERT runs on the driver's cursor (`_first_row`): psycopg only."""
    return dialect.name == "postgresql" and dialect.driver == "psycopg"


def _first_row(connection, statement, params: dict):
    """`connection.execute(statement, params).first()` for the resident POST's INSERT (connection
    None: the session's), on PostgreSQL run on the connection's psycopg cursor: the same compiled
    SQL, the same parameter conversions, the same connection, transaction (or autocommit) and
    prepared statement, without SQLAlchemy's per-execution machinery (result objects, execution
    context, cache key), which cost about as much CPU as psycopg and the round trip together
    (py-spy, docs/performance.md). A driver error is raised as SQLAlchemy's would be
    (DBAPIError.instance, the connection invalidated when it is gone), so `retry_on_stale_connection`
    works unchanged. Other dialects (SQLite in tests and small offices): the ordinary execute."""
    if connection is None:
        connection = db.session.connection()
        if not _on_driver(connection.dialect):
            return db.session.execute(statement, params).first()
    dialect = connection.dialect
    if not _on_driver(dialect):
        return connection.execute(statement, params).first()
    return _run_on_driver(dialect, connection.connection.driver_connection, connection.invalidate, statement, params)


def _run_on_driver(dialect, driver_connection, invalidate: Callable[[BaseException], None], statement, params: dict):
    """Run `statement` on `driver_connection`'s psycopg cursor and return its first row (see `_first_row`)."""
    prepared = _driver_statement(statement, dialect)
    values = prepared.compiled.construct_params(params)
    for name, process in prepared.processors.items():
        values[name] = process(values[name])
    cursor = None
    try:
        cursor = driver_connection.cursor()
        cursor.execute(prepared.sql, values)
        return cursor.fetchone()
    except dialect.loaded_dbapi.Error as exc:
        gone = dialect.is_disconnect(exc, driver_connection, cursor)
        if gone:
            invalidate(exc)
        raise DBAPIError.instance(
            prepared.sql, values, exc, dialect.loaded_dbapi.Error, connection_invalidated=gone, dialect=dialect
        ) from exc
    finally:
        if cursor is not None:
            cursor.close()


def _first_row_autocommit(engine, statement, params: dict):
    """`_first_row` on a pool connection of its own in autocommit (PostgreSQL, psycopg): checked out
    of the engine's pool as it is (the pool's checkout events run, as for `engine.connect()`),
    switched to autocommit for this one statement and back, and returned. `engine.connect()` with the
    AUTOCOMMIT isolation level did the same through SQLAlchemy's Connection, whose set-up, isolation
    bookkeeping and reset cost a third more CPU than the statement's own driver call
    (docs/performance.md). A driver error is raised as SQLAlchemy's, the connection invalidated
    when it is gone, as `_first_row` does."""
    dialect = engine.dialect
    pooled = engine.raw_connection()
    try:
        driver_connection = pooled.driver_connection
        driver_connection.autocommit = True
        try:
            return _run_on_driver(dialect, driver_connection, pooled.invalidate, statement, params)
        finally:
            if pooled.is_valid:
                driver_connection.autocommit = False  # back as the pool gives it to sessions
    finally:
        pooled.close()


@dataclass(frozen=True)
class _Plan:
    """What storing a response to one questionnaire needs from it, made once per spec object
    (caches.INTAKE_PLANS): the answer-sheet flags and the packer of the answer columns."""

    sheet_flags: Callable[[dict], list[str]]
    packer: Packer
    items: int


def _plan(spec: QuestionnaireSpec) -> _Plan:
    return caches.INTAKE_PLANS.get_or_make_for(spec, lambda: _Plan(answer_sheet_checker(spec), packer(spec), len(spec.items)))


def device_has_answered(link: Link, device: str) -> bool:
    params = {"wave": link.wave_id, "device": keyed_hash("device", device)}
    return db.session.execute(_BY_DEVICE, params).first() is not None


# -- storing ----------------------------------------------------------------------------------


class Outcome(enum.Enum):
    STORED = "stored"
    ALREADY_STORED = "already_stored"  # the same ticket came again: show the thank-you page, store nothing
    DEVICE_DONE = "device_done"  # this device has answered the wave: 您已提交
    INVALID = "invalid"  # the answers did not validate, and the POST is no repeat: the form again, nothing stored


@dataclass(frozen=True)
class Submission:
    link: Link
    ticket: Ticket
    answers: dict[str, str] | None  # None: the answers did not validate (the form says why)
    device: str
    ip: str | None
    user_agent: str
    new_device: bool = False  # the cookie was made for this request: no stored response can have it
    screened_out: bool = False  # an answer ended the questionnaire (an item's screen_out codes)


def _stored(wave_id: int, idempotency_key: str) -> bool:
    return db.session.execute(_BY_KEY, {"wave": wave_id, "key": idempotency_key}).first() is not None


def check_repeat(link: Link, ticket: Ticket, device: str, new_device: bool = False) -> Outcome | None:
    """ALREADY_STORED or DEVICE_DONE when this POST must store nothing, else None. One query; `submit`
    asks it only for answers that did not validate (a retry is thanked whatever state its answers are
    in): valid answers go straight to the INSERT, whose constraints say the same."""
    params = {"wave": link.wave_id, "key": ticket.idempotency_key}
    if new_device:
        found = db.session.scalars(_REPEAT_OF_TICKET, params).all()
    else:
        found = db.session.scalars(_REPEAT_OF_TICKET_OR_DEVICE, {**params, "device": keyed_hash("device", device)}).all()
    if ticket.idempotency_key in found:
        return Outcome.ALREADY_STORED
    if found:
        return Outcome.DEVICE_DONE
    return None


def submit(sub: Submission, rules: Rules, now: datetime | None = None) -> Outcome:
    """The resident POST, after its ticket was read and its answers validated: store the response
    with its flags and commit (STORED), or say why nothing was stored (ALREADY_STORED, DEVICE_DONE,
    INVALID). The view calls this and renders what it returns."""
    if sub.answers is None:
        require_open(sub.link.wave_id)  # as the INSERT would: nothing is said about a wave not open
        return check_repeat(sub.link, sub.ticket, sub.device, sub.new_device) or Outcome.INVALID
    return store(sub, rules, now)


def store(sub: Submission, rules: Rules, now: datetime | None = None) -> Outcome:
    """Write one resident response: its flags, then one INSERT that the unique constraints may
    turn down (a repeat of the ticket, or a device that has answered), then commit. The only place
    a resident's response is written.

    Usually one statement: an INSERT that also decides the address flags (`repeat_device`, and
    that no burst is possible: survey.integrity.address_flags_fit_sql), checks that the wave is open
    and applies the unique constraints. When it stores nothing (a possible burst, a repeat, a wave
    not open), the address query and the plain INSERT below decide, and say why.

    Without a transaction when none is open yet (the resident POST): a response that flags no
    earlier one is a single write, the INSERT, which is atomic on its own, and so the POST saves
    the BEGIN and COMMIT round trips (the address query before it reads committed rows either
    way). A burst, which also flags the earlier responses of its window, is written in one
    transaction as before: the flags are read again inside it."""
    assert sub.answers is not None, "store() takes validated answers"
    return _store(sub, rules, now or utcnow(), autocommit=not _in_transaction())


def _in_transaction() -> bool:
    """Whether this request's session has a transaction open; a request that has not used its session
    yet (the resident POST) has none, and asking would make one (a Session, closed again at teardown)."""
    registry = db.session.registry
    return registry.has() and registry().in_transaction()


def _store(sub: Submission, rules: Rules, now: datetime, autocommit: bool, one_statement: bool = True) -> Outcome:
    engine = db.engine  # the session's bind (no per-table binds), without making a session to ask
    # Outside a transaction on PostgreSQL the one-statement INSERT takes a connection of its own from
    # the pool rather than the session's: the session's bookkeeping (its transaction states, commit,
    # release) cost more CPU than the INSERT's execution on the driver. The session then takes one
    # (the same pool, AUTOCOMMIT as before) only when the INSERT stored nothing.
    own_connection = autocommit and _on_driver(engine.dialect)
    if autocommit and not own_connection:
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    link = sub.link
    spec = link.spec
    plan = _plan(spec)
    duration = max(0.0, (now - sub.ticket.started_at).total_seconds())
    device_hash = keyed_hash("device", sub.device)
    ip_hash = keyed_hash("ip", sub.ip or "unknown")
    ua_hash = keyed_hash("ua", sub.user_agent)

    # A screened-out resident is meant to be done in seconds: no speeder flag.
    flags = ["speeder"] if is_speeder(duration, rules, plan.items) and not sub.screened_out else []
    sheet = plan.sheet_flags(sub.answers)
    row = _row(sub, now, duration, device_hash, ip_hash, ua_hash, plan)
    if one_statement and address_flags_fit_sql(rules):
        # One statement: the INSERT decides `repeat_device` and stores nothing when the response
        # may be one of a burst (or is a repeat, or the wave is not open); then the way below.
        plain, repeat = [*flags, *sheet], [*flags, "repeat_device", *sheet]  # in FLAG_ORDER
        params = {
            **row, "flags": plain, "flags_repeat": repeat, "review_status": "flagged" if plain else "clean",
            "burst_since": now - timedelta(minutes=rules.burst_minutes), "burst_below": rules.burst_count - 1,
            "repeat_since": now - timedelta(minutes=rules.repeat_device_minutes),
        }
        insert = _ONE_STATEMENT_INSERTS[engine.dialect.name]
        if own_connection:
            stored = _first_row_autocommit(engine, insert, params) is not None
        else:
            stored = _first_row(None, insert, params) is not None
            if stored:
                db.session.commit()
        if stored:
            return Outcome.STORED
    if own_connection:
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    address, partners = address_flags(
        link.wave_id, device_hash, ip_hash, ua_hash, now, rules,
        spec=spec, answers=sub.answers, unit_id=link.place.unit_id,
    )
    if partners and autocommit:
        db.session.rollback()  # the autocommit connection goes back to the pool
        return _store(sub, rules, now, autocommit=False, one_statement=False)
    flags += address
    flags += sheet

    row["flags"] = flags
    row["review_status"] = "flagged" if flags else "clean"
    insert = _INSERTS[db.session.get_bind().dialect.name]
    if db.session.execute(insert, row).first() is None:
        # The wave is not open (any more), or a constraint turned the row down: a copy of this POST,
        # or another tab of this phone, was stored first (maybe a moment ago, by a request racing
        # this one). Which one? The wave's status first, as the POST asked it first before.
        db.session.rollback()
        require_open(link.wave_id)
        if _stored(link.wave_id, sub.ticket.idempotency_key):
            return Outcome.ALREADY_STORED
        if device_has_answered(link, sub.device):
            return Outcome.DEVICE_DONE
        # The row that conflicted is gone again (deleted in between): rare enough to ask for a retry.
        raise Conflict("提交未能保存，请再点一次“提交”。", "retry")
    for earlier in partners:  # the burst also flags the earlier responses of its window
        add_flag(earlier, "burst")
    db.session.commit()
    return Outcome.STORED


def _row(sub: Submission, now: datetime, duration: float, device_hash: str, ip_hash: str, ua_hash: str, plan: _Plan) -> dict:
    """The new response's columns but its flags and review status. A Core INSERT: the unit of
    work's bookkeeping for one new row cost as much as the rest of the submission's SQL (py-spy);
    the row's Python-side defaults (created_at) are given here."""
    link = sub.link
    return {
        "wave_id": link.wave_id,
        "unit_id": link.place.unit_id,
        "response_key": f"{link.mode}-{uuid.uuid4().hex}",
        "psu": None,
        "mode": link.mode,
        **answer_columns(link.spec, sub.answers, plan.packer),
        "submitted_at": now,
        "started_at": sub.ticket.started_at,
        "duration_s": duration,
        "idempotency_key": sub.ticket.idempotency_key,
        "device_hash": device_hash,
        "ip_hash": ip_hash,
        "ua_hash": ua_hash,
        "screened_out": sub.screened_out,
        "collector_id": None,
        "interviewer_id": None,
        "reviewed_by_id": None,
        "reviewed_at": None,
        "review_reason": None,
        "created_at": now,
    }
