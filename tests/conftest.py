"""Fixtures: an app on a freshly migrated database.

SQLite by default: the schema is migrated once per session into a template file,
copied for every test. With TEST_DATABASE_URL set (PostgreSQL), the schema is
dropped and migrated up from empty once per session, and every table is
truncated before each test.

No test writes into the repository's own instance/ folder: every app of a fixture gets an instance
folder in tmp_path, and INSTANCE_PATH (set here, before the app or the queue is imported) sends
every other app — one a test builds itself, a `flask --app app …`, gunicorn or worker subprocess —
and the default queue file to a temporary folder of the session. `_repo_instance_untouched` fails
the test that creates anything there.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable, TypeVar

import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from app import create_app, database_url
from extensions import db

T = TypeVar("T")
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
DATA = Path(__file__).parent / "data"

REPO_INSTANCE = Path(__file__).resolve().parents[1] / "instance"
# Set before `jobs.queue` is imported (it opens its default SQLite file on import; app.py imports it
# only in create_app); inherited by every subprocess a test starts.
os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="pingan-test-instance-")
atexit.register(shutil.rmtree, os.environ["INSTANCE_PATH"], True)


def _instance_entries() -> set[str]:
    """The repository's instance/ ("." when it exists) and every file and folder under it (it may
    hold a developer's own)."""
    found: set[str] = {"."} if REPO_INSTANCE.is_dir() else set()
    for root, dirs, files in os.walk(REPO_INSTANCE):
        found.update(os.path.relpath(os.path.join(root, name), REPO_INSTANCE) for name in dirs + files)
    return found


_instance_seen = [_instance_entries()]  # as the session found it, before any test module was imported


def _config(url: str, instance: Path) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "RATELIMIT_ENABLED": False,
        "JOBS_IMMEDIATE": True,  # Huey's immediate mode: a job runs as it is enqueued (tests/jobs: a real worker)
        "JOBS_WARM_CHARTS": False,  # no chart drawn after each analysis run (tests/jobs: drawn)
    }


def _migrate(url: str, instance: Path) -> None:
    from flask_migrate import upgrade

    app = create_app(_config(url, instance), instance_path=instance)
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _repo_instance_untouched():
    """Fails the test after which something new is in the repository's instance/ (what collecting
    the tests created counts against the first test). New entries only: a developer's server running
    from the same checkout may still write to its own database and log while the tests run."""
    yield
    before, after = _instance_seen[0], _instance_entries()
    _instance_seen[0] = after
    written = sorted(after - before)
    assert not written, f"written into the repository's instance/ ({REPO_INSTANCE}): {written}; give the app or the " \
        "subprocess an instance folder of its own (create_app(instance_path=…) or INSTANCE_PATH)"


@pytest.fixture(scope="session")
def database_template(tmp_path_factory) -> str:
    """Migrate from empty once: returns the SQLite template path or the PostgreSQL URL."""
    instance = tmp_path_factory.mktemp("instance")
    if TEST_DATABASE_URL:
        url = database_url(TEST_DATABASE_URL, str(instance))
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        _migrate(url, instance)
        return url
    template = tmp_path_factory.mktemp("db") / "template.db"
    _migrate(f"sqlite:///{template}", instance)
    return str(template)


def built_once(database_template: str, tmp_path_factory, name: str, build: Callable[[Flask], T]) -> tuple[Path, T] | None:
    """For a session fixture: on SQLite, a copy of the migrated template with `build(app)` run on
    it once, and what `build` returned (each test copies the file, see `use_built`); None on
    PostgreSQL, where every test builds its data in its freshly truncated database."""
    if TEST_DATABASE_URL:
        return None
    path = tmp_path_factory.mktemp(name) / f"{name}.db"
    shutil.copyfile(database_template, path)
    instance = tmp_path_factory.mktemp("instance")
    app = create_app(_config(f"sqlite:///{path}", instance), instance_path=instance)
    with app.app_context():
        result = build(app)
        db.session.remove()
        db.engine.dispose()
    return path, result


def use_built(template: tuple[Path, T] | None, database: str) -> None:
    """Put a `built_once` database in place of this test's empty one (SQLite only)."""
    if template is not None:
        shutil.copyfile(template[0], database.removeprefix("sqlite:///"))


def truncate_all(url: str) -> None:
    """Empty every table of the PostgreSQL database at `url` (the schema and its version stay)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")
        ).scalars().all()
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def database(database_template, tmp_path) -> str:
    """A URL to an empty, migrated database of its own for this test."""
    if TEST_DATABASE_URL:
        truncate_all(database_template)
        return database_template
    path = tmp_path / "test.db"
    shutil.copyfile(database_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def make_app(database, tmp_path):
    """Build an app on this test's database with config overrides, e.g. RATELIMIT_ENABLED=True."""
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)

    def make(**overrides):
        return create_app({**_config(database, instance), **overrides}, instance_path=instance)

    return make


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def csrf_token(html: str) -> str:
    """The CSRF token of the first form in a page."""
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(r'value="([^"]+)"[^>]*name="csrf_token"', html)
    assert m, "no csrf_token in page"
    return m.group(1)
