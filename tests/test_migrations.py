"""`flask db upgrade` from an empty database, on SQLite and (with TEST_DATABASE_URL) PostgreSQL."""

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from app import create_app, database_url
from extensions import db
from tests.conftest import DATA, TEST_DATABASE_URL

TABLES = {
    "units", "population_margins", "questionnaires", "questionnaire_versions", "items", "options", "indicators",
    "waves", "responses", "analysis_results", "interview_cases", "users", "api_tokens", "audit_log",
}


@pytest.fixture
def empty_database(tmp_path):
    """A database that has never seen the schema."""
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    base = make_url(database_url(TEST_DATABASE_URL, str(tmp_path)))
    name = f"pingan_migrate_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_upgrade_from_empty_matches_the_models_and_downgrades(empty_database, tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database, "SECRET_KEY": "x" * 32})
    with app.app_context():
        upgrade()
        assert TABLES <= set(inspect(db.engine).get_table_names())
        with db.engine.connect() as conn:
            drift = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
        assert drift == []
        downgrade(revision="base")
        assert not TABLES & set(inspect(db.engine).get_table_names())
        upgrade()
        db.engine.dispose()


def test_one_chain_of_migrations_with_unique_revisions():
    """Every file's revision is unique and named by its file's number, and the chain has one head:
    branches that each add a migration must re-chain theirs before they land."""
    import re
    from pathlib import Path

    files = sorted((Path(__file__).resolve().parents[1] / "migrations" / "versions").glob("*.py"))
    revisions, downs = {}, set()
    for path in files:
        source = path.read_text(encoding="utf-8")
        revision = re.search(r"^revision = ['\"]([^'\"]+)['\"]", source, re.M).group(1)
        down = re.search(r"^down_revision = (?:['\"]([^'\"]+)['\"]|None)", source, re.M).group(1)
        assert revision not in revisions, f"{path.name} repeats revision {revision} of {revisions[revision]}"
        assert path.name.startswith(revision + "_"), f"{path.name} holds revision {revision}"
        revisions[revision] = path.name
        downs.add(down)
    assert downs - {None} <= set(revisions)
    heads = set(revisions) - downs
    assert len(heads) == 1, f"more than one head: {sorted(heads)}"


def test_the_answers_migration_packs_the_stored_answers(empty_database, tmp_path):
    """0019 adds responses.answer_codes and answer_texts and fills them from the JSON of every stored
    response: after a downgrade past it and an upgrade, the imported responses are packed again."""
    from sqlalchemy import update

    from models import Response
    from tests.survey.helpers import setup_wave
    from tests.survey.packed import assert_packed

    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database, "SECRET_KEY": "x" * 32})
    with app.app_context():
        upgrade()
        runner = app.test_cli_runner()
        setup_wave(runner)
        result = runner.invoke(args=["responses", "import", "--wave", "2026Q3-city", str(DATA / "responses.csv")])
        assert result.exit_code == 0, result.output
        db.session.execute(update(Response).values(answer_codes=None, answer_texts=None))
        db.session.commit()
        db.session.remove()
        downgrade(revision="0019-1")
        assert "answer_codes" not in {c["name"] for c in inspect(db.engine).get_columns("responses")}
        upgrade()
        assert assert_packed() == 6
        assert db.session.scalar(text("SELECT count(*) FROM responses WHERE answer_texts IS NOT NULL")) >= 1
        db.session.remove()
        db.engine.dispose()


def test_the_job_kinds_migration_gives_the_qr_zip_and_the_answer_sheets_kinds_of_their_own(empty_database):
    """0020: a `posters` job of format zip becomes a `qr_zip` job, an `xlsx` job of the table
    answer_sheets an `answer_sheets` job of format xlsx; other jobs stay as they were. Downgrading
    gives the old kinds and inputs back, and drops the CSV jobs the older schema never had."""
    from datetime import UTC, datetime

    import sqlalchemy as sa

    from models.types import JSONType

    now = datetime(2026, 12, 1, tzinfo=UTC)
    jobs = sa.table("jobs", sa.column("id", sa.Integer()), sa.column("kind", sa.String()), sa.column("inputs", JSONType),
                    sa.column("fingerprint", sa.String()), sa.column("status", sa.String()),
                    sa.column("progress", sa.Integer()), sa.column("attempts", sa.Integer()),
                    sa.column("requested_by_name", sa.String()), sa.column("created_at", sa.DateTime(timezone=True)))
    before = {
        1: ("posters", {"wave": "w", "unit": None, "within": "510701", "format": "zip", "mode": "door"}),
        2: ("xlsx", {"wave": "w", "scope": None, "table": "answer_sheets"}),
        3: ("posters", {"wave": "w", "unit": "510701001", "within": None, "date": "2026-12-01"}),
        4: ("xlsx", {"wave": "w", "scope": "510701"}),
    }
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database, "SECRET_KEY": "x" * 32})
    with app.app_context():
        upgrade(revision="0019")
        with db.engine.begin() as conn:
            conn.execute(jobs.insert(), [
                {"id": i, "kind": kind, "inputs": inputs, "fingerprint": f"{i:064d}", "status": "done", "progress": 100,
                 "attempts": 1, "requested_by_name": "cli", "created_at": now}
                for i, (kind, inputs) in before.items()
            ])

        def stored() -> dict:
            with db.engine.connect() as conn:
                return {i: (k, v) for i, k, v in conn.execute(sa.select(jobs.c.id, jobs.c.kind, jobs.c.inputs))}

        upgrade(revision="0020")
        after = stored()
        assert after[1] == ("qr_zip", {"wave": "w", "unit": None, "within": "510701", "mode": "door"})
        assert after[2] == ("answer_sheets", {"wave": "w", "scope": None, "format": "xlsx"})
        assert after[3] == before[3] and after[4] == before[4]
        with db.engine.begin() as conn:  # a CSV of the answer sheets, which only 0020 knows
            conn.execute(jobs.insert().values(id=5, kind="answer_sheets", inputs={"wave": "w", "scope": None, "format": "csv"},
                                              fingerprint=f"{5:064d}", status="done", progress=100, attempts=1,
                                              requested_by_name="cli", created_at=now))
        downgrade(revision="0019")
        assert stored() == before
        db.engine.dispose()
