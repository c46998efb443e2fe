"""Route-wide test helpers: every /admin and /api/v1 route of `app.url_map`, its URL
parameters filled by name from the world's objects, and a snapshot of the database.

A parameter this module does not know fails the test that meets it (never a skip):
teach `FILLERS` its name, in the console's conventions — `<unit_code>`, `<wave_slug>`,
`<int:response_id>`, `<int:case_id>`, `<int:user_id>`, `<questionnaire_slug>` +
`<int:version>`, `<kind>`, `<fmt>` — or `<int:token_id>` (an API token, /admin/tokens), `<int:attachment_id>`
(a file on a case), `<int:job_id>` (a background job, docs/jobs.md).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from typing import Callable

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.routing import Rule

from extensions import db
from models import ApiToken, Job, QuestionnaireVersion
from tests.api.world import OTHER, OWN, PASSWORD, World
from tests.conftest import _config, csrf_token

STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")
# Only these may answer without an account.
PUBLIC = {("/admin/login", "GET"), ("/admin/login", "POST"), ("/api/v1/openapi.json", "GET")}
# Object parameters tied to a county: the ones a county account must not reach across.
SCOPED_PARAMS = ("unit_code", "wave_slug", "response_id", "case_id", "user_id", "token_id", "attachment_id", "job_id")
# Values tried for `<kind>` (report kinds, export formats, …): the first an admin can open is used.
KIND_CANDIDATES = ("quarterly", "interviews", "board", "posters", "xlsx", "csv", "json", "pdf", "png", "svg", "zip")
# What a state-changing request sends besides the CSRF token: plausible values for the
# console's forms, so that a view that forgets its scope check would really change something.
FORM = {
    "reason": "安全测试", "note": "安全测试", "notes": "安全测试", "comment": "安全测试", "attendees": "安全测试",
    "rectification_plan": "安全测试", "responsible": "安全测试", "recheck_result": "安全测试", "name": "安全测试",
    "display_name": "安全测试", "decision": "accept", "action": "accept", "status": "closed", "recheck_passed": "y",
    "scheduled_for": "2026-12-01", "held_on": "2026-12-01", "deadline": "2026-12-31", "recheck_on": "2026-12-31",
    "closed_on": "2026-12-31", "date": "2026-12-01", "weight_cap": "5", "target_n": "40", "active": "y",
    "role": "admin", "scope": "", "password": "another-long-password", "confirm": "y", "confirmed": "1",
}


@dataclass(frozen=True)
class Route:
    rule: str
    method: str
    endpoint: str
    params: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.method} {self.rule}"

    @property
    def is_api(self) -> bool:
        return self.rule.startswith("/api/")


def routes(prefixes: tuple[str, ...] = ("/admin", "/api/v1"), methods: tuple[str, ...] | None = None) -> list[Route]:
    """Every (rule, method) under the prefixes, HEAD and OPTIONS aside, from a fresh app."""
    from app import create_app

    app = create_app(_config("sqlite://", None))
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(prefixes):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if methods is None or method in methods:
                found.append(Route(rule.rule, method, rule.endpoint, tuple(rule.arguments)))
    return sorted(found, key=lambda r: (r.rule, r.method))


def by_id(found: list[Route]) -> dict:
    """pytest.mark.parametrize arguments: the routes, named `METHOD /rule`."""
    return {"argvalues": found, "ids": [r.id for r in found]}


# --- the objects that fill the parameters -------------------------------------------------

def _token_of(username: str) -> Callable[[World], int]:
    def token_id(world: World) -> int:
        user = world.user(username)
        return db.session.scalar(
            select(ApiToken.id).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).order_by(ApiToken.id)
        )

    return token_id


def _questionnaire(world: World) -> QuestionnaireVersion:
    return db.session.scalars(select(QuestionnaireVersion).order_by(QuestionnaireVersion.id)).first()


def _job_in(slug: str, scope: str | None) -> Callable[[World], int]:
    """A background job (docs/jobs.md): the county's own XLSX of the city-wide wave, or the other
    county's whole-wave report; the row only (nothing is built)."""
    def job_id(world: World) -> int:
        kind = "xlsx" if scope else "quarterly"
        inputs = {"wave": slug, "scope": scope} if scope else {"wave": slug, "unit": None, "date": "2026-10-15"}
        mark = f"routes-{slug}-{scope}".ljust(64, "0")[:64]
        job = db.session.scalar(select(Job).where(Job.fingerprint == mark))
        if job is None:
            job = Job(kind=kind, inputs=inputs, fingerprint=mark, wave_id=world.wave(slug).id, status="queued",
                      progress=0, attempts=0, requested_by_name="cli")
            db.session.add(job)
            db.session.commit()
        return job.id

    return job_id


# name → (own: an object the county account 石桥县 may reach, or anyone may for global objects;
#         foreign: the same kind of object in the other county, 临江区 — None when not county-bound)
FILLERS: dict[str, tuple[Callable[[World], object], Callable[[World], object] | None]] = {
    "unit_code": (lambda w: f"{OWN}001", lambda w: f"{OTHER}001"),
    "wave_slug": (lambda w: "2026Q3-city", lambda w: "2026Q3-linjiang"),
    "response_id": (lambda w: w.response_in("2026Q3-city", OWN, flagged=True).id,
                    lambda w: w.response_in("2026Q3-city", OTHER, flagged=True).id),
    "case_id": (lambda w: w.case_in("2026Q3-city", OWN).id, lambda w: w.case_in("2026Q3-city", OTHER).id),
    "attachment_id": (lambda w: w.attachment_in("2026Q3-city", OWN).id, lambda w: w.attachment_in("2026Q3-city", OTHER).id),
    "user_id": (lambda w: w.user("shiqiao").id, lambda w: w.user("linjiang").id),
    "token_id": (_token_of("shiqiao"), _token_of("linjiang")),
    "questionnaire_slug": (lambda w: _questionnaire(w).slug, None),
    "version": (lambda w: _questionnaire(w).version, None),
    "kind": (lambda w: KIND_CANDIDATES[0], None),
    "fmt": (lambda w: "xlsx", None),  # a download's file format (answer-sheets.<fmt>)
    "job_id": (_job_in("2026Q3-city", OWN), _job_in("2026Q3-linjiang", None)),
}
# With every parameter foreign at once, objects that belong together: the other county's own wave.
ALL_FOREIGN = {
    "wave_slug": lambda w: "2026Q3-linjiang",
    "response_id": lambda w: w.response_in("2026Q3-linjiang", OTHER, flagged=True).id,
    "case_id": lambda w: w.case_in("2026Q3-linjiang", OTHER).id,
    "attachment_id": lambda w: w.attachment_in("2026Q3-linjiang", OTHER).id,
}


def unknown_params(route: Route) -> None:
    """Fail (never skip) on a parameter this module cannot fill."""
    unknown = [p for p in route.params if p not in FILLERS]
    if unknown:
        pytest.fail(
            f"{route.id}: cannot fill URL parameter(s) {unknown}; name them by the conventions "
            f"({', '.join(FILLERS)}) or teach tests/api/routes.py FILLERS the new name",
            pytrace=False,
        )


def fill(route: Route, world: World, foreign: tuple[str, ...] = (), all_foreign: bool = False, **given) -> dict:
    """Values for the route's parameters: own objects, but the foreign object for the names in
    `foreign`, or the other county's own wave and its objects throughout with `all_foreign`."""
    unknown_params(route)
    values = {}
    for name in route.params:
        own, other = FILLERS[name]
        if name in given:
            values[name] = given[name]
        elif all_foreign and other is not None:
            values[name] = ALL_FOREIGN.get(name, other)(world)
        elif name in foreign:
            values[name] = other(world)
        else:
            values[name] = own(world)
    return values


def url_for_route(app: Flask, route: Route, values: dict) -> str:
    rule = next(r for r in app.url_map.iter_rules() if r.rule == route.rule and route.method in r.methods)
    return build(rule, values)


def build(rule: Rule, values: dict) -> str:
    out = rule.rule
    for name, value in values.items():
        out = re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?" + re.escape(name) + ">", str(value), out)
    return out


def pick_kind(app: Flask, route: Route, world: World) -> dict:
    """For a GET route with `<kind>`: the first candidate an admin can open (so that a 404 later
    means the object, not the kind); the first candidate when none opens."""
    if "kind" not in route.params or route.method != "GET":
        return {}
    if route.rule not in _KINDS:  # a report may take seconds to render: probe once per session
        _KINDS[route.rule] = {}
        client = app.test_client()
        sign_in(client, "admin")
        for kind in KIND_CANDIDATES:
            url = url_for_route(app, route, fill(route, world, kind=kind))
            if client.get(url).status_code < 400:
                _KINDS[route.rule] = {"kind": kind}
                break
    return _KINDS[route.rule]


_KINDS: dict[str, dict] = {}


# --- signing in, sending ------------------------------------------------------------------

def sign_in(client, username: str) -> None:
    page = client.get("/admin/login").get_data(as_text=True)
    response = client.post("/admin/login", data={"csrf_token": csrf_token(page), "username": username, "password": PASSWORD})
    assert response.status_code == 302, f"{username} could not sign in: {response.status_code}"


def session_csrf(client) -> str:
    """A CSRF token valid for this client's session (from the login page, which always has one)."""
    return csrf_token(client.get("/admin/login").get_data(as_text=True))


def send(client, method: str, url: str, csrf: str | None = None, token: str | None = None, extra: dict | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if method == "GET":
        return client.get(url, headers=headers)
    data = dict(FORM, **(extra or {}))
    if csrf is not None:
        data["csrf_token"] = csrf
    return client.open(url, method=method, data=data, headers=headers)


# --- the database, before and after -------------------------------------------------------

VOLATILE = {("api_tokens", "last_used_at")}  # written when a token is used, by design


def _raw_rows(conn, table) -> tuple[list[str], list[tuple]]:
    """A table's rows through the driver (no ORM, no JSON decoding on SQLite): fast."""
    columns = [c.name for c in table.columns if (table.name, c.name) not in VOLATILE]
    order = ", ".join(f'"{c.name}"' for c in table.primary_key.columns)
    selected = ", ".join(f'"{c}"' for c in columns)
    sql = f'SELECT {selected} FROM "{table.name}" ORDER BY {order}'
    return columns, [tuple(r) for r in conn.exec_driver_sql(sql)]


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every table (volatile columns aside), read on a connection of its own."""
    db.session.rollback()
    with db.engine.connect() as conn:
        return {table.name: _raw_rows(conn, table)[1] for table in db.metadata.sorted_tables}


def changes(before: dict, after: dict) -> list[str]:
    """What differs, table by table."""
    found = []
    for table in before:
        old, new = before[table], after[table]
        if old != new:
            changed = sum(1 for a, b in zip(old, new) if a != b)
            found.append(f"{table}: {len(old)} → {len(new)} rows, {changed} of the first {min(len(old), len(new))} differ")
    return found


# --- what a body says -----------------------------------------------------------------------

def body_text(response) -> str:
    """The text of a response, whatever its type: HTML, JSON (with \\u escapes decoded), CSV,
    XLSX and other ZIPs (every member's name and content), PDF (the text of every page)."""
    data = response.get_data()
    mimetype = response.mimetype or ""
    if mimetype == "application/json":
        try:
            return json.dumps(json.loads(data), ensure_ascii=False)
        except ValueError:
            return data.decode("utf-8", "replace")
    if data[:4] == b"PK\x03\x04":  # XLSX, or a ZIP of QR codes: member names and contents
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return "\n".join(n + "\n" + z.read(n).decode("utf-8", "replace") for n in z.namelist())
    if data[:5] == b"%PDF-":
        from pypdf import PdfReader

        return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)
    return data.decode("utf-8", "replace")




# --- whose rows changed ---------------------------------------------------------------------

def table_rows() -> dict[str, dict[tuple, dict]]:
    """Every row of every table, keyed by primary key (volatile columns aside)."""
    db.session.rollback()
    out = {}
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            keys = [c.name for c in table.primary_key.columns]
            columns, rows = _raw_rows(conn, table)
            records = [dict(zip(columns, r)) for r in rows]
            out[table.name] = {tuple(r[k] for k in keys): r for r in records}
    return out


def rows_changed_outside(before: dict, after: dict, scope_code: str) -> list[str]:
    """Rows added, changed or removed that belong outside `scope_code`'s subtree: rows of units
    outside it (cases, responses, margins, links, the units themselves), waves, results and
    accounts whose scope is not inside it, and global rows (questionnaires). The audit log is
    the record of the account's own actions and is left out."""
    units = {r["id"]: r["path"] for r in after["units"].values()} | {r["id"]: r["path"] for r in before["units"].values()}
    own = next(r["path"] for r in after["units"].values() if r["code"] == scope_code)
    waves = {r["id"]: r["scope_unit_id"] for r in (before["waves"] | after["waves"]).values()}
    users = {r["id"]: r["scope_unit_id"] for r in (before["users"] | after["users"]).values()}

    def inside(unit_id) -> bool:
        return unit_id is not None and units.get(unit_id, "").startswith(own)

    def owner_inside(table: str, row: dict) -> bool:
        if "unit_id" in row:
            return inside(row["unit_id"])
        if table == "units":
            return inside(row["id"])
        if table in ("waves", "users"):
            return inside(row["scope_unit_id"])
        if table == "analysis_results":
            return inside(waves.get(row["wave_id"]))
        if table == "api_tokens":
            return inside(users.get(row["user_id"]))
        if table == "jobs":  # a background job: of a wave inside, or the account's own request (its part of a wave)
            return inside(waves.get(row["wave_id"])) or inside(users.get(row["requested_by_id"]))
        return False  # questionnaires and everything else shared by all

    found = []
    for table in before:
        if table == "audit_log":
            continue
        old, new = before[table], after[table]
        for key in set(old) | set(new):
            if old.get(key) == new.get(key):
                continue
            rows = [r for r in (old.get(key), new.get(key)) if r is not None]
            if not all(owner_inside(table, r) for r in rows):
                what = "added" if key not in old else "removed" if key not in new else "changed"
                found.append(f"{table} {key} {what}")
    return sorted(found)
