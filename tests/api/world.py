"""A small world for the API and the route-wide security tests.

Two counties under one city (tests/data/units.csv): 临江区 619901 and 石桥县 619902, each
with towns, villages and a department, plus two city departments. Waves:

- `2026Q2-city`: the whole city, closed and analysed, its interview list not yet issued
  (no cases: a county must not be able to issue it for the other county's units);
- `2026Q3-city`: the whole city, closed and analysed (a county account may open it and
  must see only its own units in it); no 重点管理, since 2026Q2's list was never issued;
- `2026Q3-linjiang`: scoped to 临江区 alone, closed and analysed (石桥县 must not see it);
- `2026Q3-shiqiao`: scoped to 石桥县 alone, closed and analysed;
- `2026Q4-city`: the whole city, open, no results yet (409 on the results routes).

Every analysed wave has responses in every collecting unit (one village short of
`min_n`, so both reasons appear), some flagged for review in both counties, and a 约谈
case for every line of its interview list. Accounts: `admin` (whole tree), `shiqiao` and
`linjiang` (county accounts), `office`, `analyst`, all with the password PASSWORD (hashed
with scrypt at a low work factor, so that the tests sign in hundreds of times quickly); each
with one live API token and one revoked. Built through the product's own services, as the
demo seed is.
"""

from __future__ import annotations

import csv
import io
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Table, select, text
from werkzeug.security import generate_password_hash

from admin.accounts import create_user
from api.tokens import create_token, revoke_token
from extensions import db, limiter
from models import CaseAttachment, InterviewCase, Response, Unit, User, Wave
from survey.questionnaires import load_questionnaire
from survey.responses import import_responses
from survey.results import run_analysis
from survey.units import import_units
from survey.waves import create_wave, transition

from app import create_app
from tests.conftest import DATA, TEST_DATABASE_URL, _config

PASSWORD = "correct-horse-battery"
CITY, OWN, OTHER = "619900", "619902", "619901"  # the acting county is 石桥县; the other one 临江区
COLLECTING = {  # unit code → forms per wave (≥ 30 = min_n of the test questionnaire, else unranked)
    "619901001001": 34, "619901001002": 31, "619901002": 33, "619901501": 32,
    "619902001001": 35, "619902002": 12, "619902501": 32,
    "619900501": 31, "619900502": 30,
}
WAVES = (  # slug, scope, period, analysed, cases opened
    ("2026Q2-city", CITY, "2026Q2", True, False),
    ("2026Q3-city", CITY, "2026Q3", True, True),
    ("2026Q3-linjiang", OTHER, "2026Q3", True, True),
    ("2026Q3-shiqiao", OWN, "2026Q3", True, True),
    ("2026Q4-city", CITY, "2026Q4", False, False),
)
ACCOUNTS = (("admin", "admin", None), ("shiqiao", "county", OWN), ("linjiang", "county", OTHER),
            ("office", "office", None), ("analyst", "analyst", None))
ITEMS = ("safety", "night_safety", "sat_police", "sat_justice", "sat_mediation", "sat_prevention")
AGES = ("18-29", "30-44", "45-59", "60+")


@dataclass
class World:
    tokens: dict[str, str] = field(default_factory=dict)  # username → live token secret
    revoked: dict[str, str] = field(default_factory=dict)  # username → revoked token secret

    def user(self, username: str) -> User:
        return db.session.scalar(select(User).where(User.username == username))

    def unit(self, code: str) -> Unit:
        return db.session.scalar(select(Unit).where(Unit.code == code))

    def wave(self, slug: str) -> Wave:
        return db.session.scalar(select(Wave).where(Wave.slug == slug))

    def names_outside(self, scope: str) -> list[str]:
        """Names of the units a `scope` account must never be shown: outside its subtree and
        not above it (the city's name may appear as a wave's scope)."""
        own = self.unit(scope)
        return sorted(u.name for u in db.session.scalars(select(Unit)) if not u.is_within(own) and not own.is_within(u))

    def response_in(self, wave: str, county: str, flagged: bool | None = None) -> Response:
        query = (
            select(Response).join(Unit, Response.unit_id == Unit.id)
            .where(Response.wave_id == self.wave(wave).id, Unit.path.contains(f"/{county}/"))
            .order_by(Response.id)
        )
        if flagged is not None:
            query = query.where((Response.review_status == "flagged") == flagged)
        return db.session.scalars(query).first()

    def case_in(self, wave: str, county: str) -> InterviewCase:
        return db.session.scalars(
            select(InterviewCase).join(Unit, InterviewCase.unit_id == Unit.id)
            .where(InterviewCase.wave_id == self.wave(wave).id, Unit.path.contains(f"/{county}/"))
            .order_by(InterviewCase.id)
        ).first()

    def attachment_in(self, wave: str, county: str) -> CaseAttachment:
        """A file on the first case of `county` in `wave`, stored as the console stores one."""
        from admin.attachments import storage_dir

        case = self.case_in(wave, county)
        found = db.session.scalars(select(CaseAttachment).where(CaseAttachment.case_id == case.id)).first()
        if found is not None and (storage_dir() / found.stored_name).is_file():
            return found
        from pypdf import PdfWriter

        writer, buffer = PdfWriter(), io.BytesIO()
        writer.add_blank_page(width=72, height=72)
        writer.write(buffer)
        data = buffer.getvalue()
        stored = f"{county}{case.id:08d}".ljust(32, "0") + ".pdf"
        (storage_dir() / stored).write_bytes(data)
        if found is None:
            found = CaseAttachment(case_id=case.id, kind="report", filename="整改报告.pdf", stored_name=stored,
                                   content_type="application/pdf", size=len(data), sha256="0" * 64)
            db.session.add(found)
        found.stored_name = stored
        db.session.commit()
        return found


def _responses_csv(path: Path, codes: dict[str, int], rng: random.Random) -> Path:
    """Forms for every collecting unit in `codes`: every sex and age group present, and a
    unit-specific level so that the ranking has something to rank."""
    header = ("response_id", "unit_code", "psu", "submitted_at", *ITEMS, "victim", "sex", "age_group", "comment", "mode")
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for u, (code, n) in enumerate(sorted(codes.items())):
            for i in range(n):
                level = 1 + (u % 3)  # 0 = A (best) … 4 = E
                answers = ["ABCDEX"[min(4, max(0, level + rng.choice((-1, 0, 0, 1))))] if rng.random() > 0.03 else "X" for _ in ITEMS]
                writer.writerow(
                    (f"{code}-{i:03d}", code, f"G{i % 3 + 1:02d}", f"2026-08-{1 + i % 28:02d} 10:00", *answers,
                     rng.choice("NNNY"), "MF"[i % 2], AGES[(i // 2) % 4], "", rng.choice(("door", "qr", "paper")))
                )
    return path


def build_world(tmp_path: Path, seed: int = 6) -> World:
    """Create the world in the current (empty, migrated) database."""
    rng = random.Random(seed)
    units = tmp_path / "units.csv"
    units.write_text((DATA / "units.csv").read_text(encoding="utf-8") + "619901501,临江区公安分局,department,619901\n", encoding="utf-8")
    import_units(units, DATA / "population.csv")
    # The world's peer groups hold two units: list the bottom one of each pair (bottom_n 1,
    # min_group 2), so that both counties have 约谈 cases under the ranking rules of docs/method.md.
    questionnaire = tmp_path / "questionnaire.yaml"
    source = (DATA / "questionnaire.yaml").read_text(encoding="utf-8")
    assert "ranking: {bottom_n: 3, min_n: 30}" in source
    questionnaire.write_text(
        source.replace("ranking: {bottom_n: 3, min_n: 30}", "ranking: {bottom_n: 1, min_n: 30, min_group: 2}"),
        encoding="utf-8",
    )
    load_questionnaire(questionnaire)
    for slug, scope, period, analysed, cases in WAVES:
        wave = create_wave(slug, "safety", scope, period, target_n=40)
        transition(wave, "open")
        scope_unit = wave.scope
        codes = {c: n for c, n in COLLECTING.items() if db.session.scalar(
            select(Unit).where(Unit.code == c)).is_within(scope_unit)}
        if not analysed:
            codes = {c: n // 2 for c, n in codes.items()}
        import_responses(slug, _responses_csv(tmp_path / f"{slug}.csv", codes, rng))
        _flag_some(wave)
        if analysed:
            transition(wave, "close")
            stored = run_analysis(wave)
            if cases:
                _open_cases(wave, stored.payload)
    world = World()
    cheap = generate_password_hash(PASSWORD, method="scrypt:1024:8:1")  # the same scrypt, 32× cheaper to check
    for username, role, scope in ACCOUNTS:
        user = create_user(username, PASSWORD, role, scope)
        user.password_hash = cheap
        world.tokens[username] = create_token(user, "脚本")[1]
        old, world.revoked[username] = create_token(user, "旧脚本")
        revoke_token(user, old.id)
    return world


def _flag_some(wave: Wave) -> None:
    """Every fifth response is flagged as a speeder, awaiting review."""
    for i, response in enumerate(db.session.scalars(select(Response).where(Response.wave_id == wave.id).order_by(Response.id))):
        if i % 5 == 0:
            response.review_status = "flagged"
            response.flags = ["speeder"]
    db.session.commit()


def _open_cases(wave: Wave, payload: dict) -> None:
    units = {u.code: u for u in db.session.scalars(select(Unit))}
    for entry in payload["interview_list"]:
        db.session.add(
            InterviewCase(wave_id=wave.id, unit_id=units[entry["code"]].id, reason=entry["reason"],
                          rank=entry["rank"], escalation=entry["escalation"])
        )
    db.session.commit()


# --- fixtures -----------------------------------------------------------------------------
#
# The world is built once per session. Each test gets it afresh in a database that two
# session-wide apps share: `web` serves the test's requests and `reader` holds the app context
# in which the test body reads the database. Two apps, because a request made inside an app
# context of the same app reuses it, and with it `g` — Flask-Login's user, Flask-WTF's CSRF
# token, the API's token — across every request and client of the test; requests to `web`
# push a context (and a `g`) of their own, as under a real server. Session-wide, because
# building an app compiles every URL rule (a quarter of a second with the console's routes).

Rows = list[tuple[Table, list[dict]]]


def dump_rows() -> Rows:
    """Every row of every table, parents before children."""
    with db.engine.connect() as conn:
        return [
            (table, [dict(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns)).mappings()])
            for table in db.metadata.sorted_tables
        ]


def load_rows(rows: Rows) -> None:
    """Insert dumped rows into the current (empty) database; on PostgreSQL, move the id
    sequences past them so that rows a test creates do not collide."""
    with db.engine.begin() as conn:
        for table, records in rows:
            if records:
                conn.execute(table.insert(), records)
        if conn.dialect.name == "postgresql":
            for table, records in rows:
                if "id" in table.c:
                    conn.execute(text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :n, :called)"),
                                 {"t": table.name, "n": max((r["id"] for r in records), default=1), "called": bool(records)})


def _empty_postgres() -> None:
    """Every table emptied; DELETE, children first, is far quicker than TRUNCATE on small tables."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())


@dataclass
class Site:
    world: World
    rows: Rows
    web: Flask  # serves the requests
    reader: Flask  # the test body's app context
    live: Path | None  # SQLite: the database file both apps open; None on PostgreSQL
    built: Path | None  # SQLite: the world, ready to copy over `live`

    def reset(self) -> None:
        """The world as built, in the shared database, and no rate limits: Flask-Limiter is one
        module-level object whose `enabled` the last app initialised decides, so a test that
        built a rate-limited app would otherwise leave the limits on for these apps too."""
        limiter.enabled = False
        for app in (self.web, self.reader):
            with app.app_context():
                db.session.remove()
                if self.live is not None:
                    db.engine.dispose()
        if self.live is not None:
            for suffix in ("-wal", "-shm"):
                Path(f"{self.live}{suffix}").unlink(missing_ok=True)
            shutil.copyfile(self.built, self.live)
        else:
            with self.reader.app_context():
                _restore_postgres()


PRISTINE = "pingan_test_world"  # PostgreSQL: a schema holding the world's rows, copied back server-side


def _keep_postgres() -> None:
    with db.engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {PRISTINE} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {PRISTINE}"))
        for table in db.metadata.sorted_tables:
            conn.execute(text(f'CREATE TABLE {PRISTINE}."{table.name}" AS SELECT * FROM public."{table.name}"'))


def _restore_postgres() -> None:
    """Empty every table, children first, and copy the world back: a few milliseconds a table."""
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())
        for table in db.metadata.sorted_tables:
            conn.execute(text(f'INSERT INTO public."{table.name}" SELECT * FROM {PRISTINE}."{table.name}"'))
            if "id" in table.c:
                conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f'COALESCE((SELECT max(id) FROM public."{table.name}"), 0) + 1, false)'
                ))


_SITES: dict[str, Site] = {}


@pytest.fixture(scope="session")
def site(database_template, tmp_path_factory):
    """Build the world once (the fixture is imported into several test modules, which makes
    one fixture each: the cache keeps it to one build)."""
    if database_template in _SITES:
        yield _SITES[database_template]
        return
    tmp = tmp_path_factory.mktemp("world")
    if TEST_DATABASE_URL:
        url, live, built = database_template, None, None
    else:
        built, live = tmp / "world.db", tmp / "live.db"
        shutil.copyfile(database_template, built)
        url = f"sqlite:///{built}"
    builder = create_app(_config(url, tmp), instance_path=tmp)
    with builder.app_context():
        _empty_postgres()
        world = build_world(tmp)
        rows = dump_rows()
        if TEST_DATABASE_URL:
            _keep_postgres()
            _empty_postgres()
        db.session.remove()
        db.engine.dispose()
    if live is not None:
        url = f"sqlite:///{live}"
    site = Site(world, rows, create_app(_config(url, tmp), instance_path=tmp), create_app(_config(url, tmp), instance_path=tmp),
                live, built)
    _SITES[database_template] = site
    yield site
    for app in (site.web, site.reader):
        with app.app_context():
            if TEST_DATABASE_URL and app is site.reader:
                with db.engine.begin() as conn:
                    conn.execute(text(f"DROP SCHEMA IF EXISTS {PRISTINE} CASCADE"))
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="session")
def world_rows(site) -> tuple[World, Rows]:
    """The world and its rows, for tests that build an app of their own (`make_app`) and load them."""
    return site.world, site.rows


@pytest.fixture
def world(site) -> World:
    """The world, afresh; the test body runs in the `reader` app's context."""
    site.reset()
    with site.reader.app_context():
        yield site.world
        db.session.remove()


@pytest.fixture
def web(site, world) -> Flask:
    """The app that serves the test's requests (see above)."""
    return site.web
