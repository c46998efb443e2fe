"""The product run as production runs it, for bench/load.py, bench/faults.py and the fault test.

A PostgreSQL database of its own (dropped and created), migrated with `flask db upgrade`, an open
wave (the demo city's, or the test data's), signed resident links to it, and gunicorn with the
repository's gunicorn.conf.py behind a pretend reverse proxy (PROXY_COUNT=1, so the load client's
X-Forwarded-For gives every simulated resident an address of its own).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
PG_SERVER = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
SECRET_KEY = "bench-secret-key-not-for-production"
TEST_DATA = ROOT / "tests" / "data"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_database(name: str, server: str = PG_SERVER) -> str:
    """Drop and create database `name` on the local PostgreSQL (or `server`); its URL."""
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def server_of(database_url: str) -> str:
    """postgresql://user@host:port of a database URL, so that a test can put a database of its
    own on the server TEST_DATABASE_URL names."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(database_url)
    return urlunsplit(("postgresql", parts.netloc, "", "", ""))


def app_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN_", "FLASK_"))}
    # Several gunicorn workers need a shared rate-limit store (gunicorn.conf.py refuses memory://);
    # if Redis is down the limits fall back to each process (RATELIMIT_IN_MEMORY_FALLBACK_ENABLED).
    env.setdefault("RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379/15")
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY=SECRET_KEY,
        PROXY_COUNT="1",
        PYTHONPATH=str(ROOT),
        PUBLIC_BASE_URL="http://127.0.0.1",
    )
    env.update(extra)
    return env


def flask(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "app", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def prepare(database_url: str, demo: bool = True) -> str:
    """Migrate and fill the database; the slug of the open wave residents will answer."""
    env = app_env(database_url)
    flask(["db", "upgrade"], env)
    if demo:
        flask(["demo", "seed"], env)
    else:
        slug = "fault-2026Q3"
        flask(["units", "import", str(TEST_DATA / "units.csv"), "--population", str(TEST_DATA / "population.csv")], env)
        flask(["questionnaire", "load", str(TEST_DATA / "questionnaire.yaml")], env)
        flask(["wave", "create", "--slug", slug, "--questionnaire", "safety", "--scope", "619900", "--period", "2026Q3"], env)
        flask(["wave", "open", slug], env)
    return open_wave_slug(database_url)


def prepare_in_process(database_url: str) -> str:
    """What prepare(url, demo=False) does, in this process: the test data's wave, open; its slug.

    For the test suite, which has the app imported already: five `flask` subprocesses take about
    20 s on two busy cores, this takes a few.
    """
    from flask_migrate import upgrade

    from extensions import db

    slug = "fault-2026Q3"
    app = _app(database_url)
    with app.app_context():
        upgrade()
        runner = app.test_cli_runner()
        for args in (
            ["units", "import", str(TEST_DATA / "units.csv"), "--population", str(TEST_DATA / "population.csv")],
            ["questionnaire", "load", str(TEST_DATA / "questionnaire.yaml")],
            ["wave", "create", "--slug", slug, "--questionnaire", "safety", "--scope", "619900", "--period", "2026Q3"],
            ["wave", "open", slug],
        ):
            result = runner.invoke(args=args)
            if result.exit_code != 0:
                raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.output}")
        db.session.remove()  # return the connection first: dispose() closes only the idle ones
        db.engine.dispose()
    return slug


def _app(database_url: str):
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": _sqlalchemy_url(database_url), "SECRET_KEY": SECRET_KEY})


def _sqlalchemy_url(url: str) -> str:
    from app import database_url

    return database_url(url, str(ROOT / "instance"))


def open_wave_slug(database_url: str) -> str:
    from sqlalchemy import select

    from extensions import db
    from models import Wave

    app = _app(database_url)
    with app.app_context():
        slug = db.session.scalar(select(Wave.slug).where(Wave.status == "open").order_by(Wave.id))
        db.session.remove()  # return the connection first: dispose() closes only the idle ones
        db.engine.dispose()
    if slug is None:
        raise RuntimeError("no open wave in the prepared database")
    return slug


@dataclass
class Questionnaire:
    """What a load client needs to answer validly: the link paths and some answer sheets."""

    paths: list[str]
    answer_bodies: list[str] = field(default_factory=list)


def resident_links(database_url: str, slug: str, sheets: int = 500, seed: int = 7) -> Questionnaire:
    """/s/<token> for every collection unit of the wave, and `sheets` valid, varied answer sheets
    (form-encoded, without the csrf_token and ticket fields the form page hands out)."""
    from sqlalchemy import select

    from extensions import db
    from models import Wave
    from survey.forms import field_name
    from survey.links import link_path, wave_spec
    from survey.qr import collection_units

    rng = random.Random(seed)
    app = _app(database_url)
    with app.app_context():
        wave = db.session.scalar(select(Wave).where(Wave.slug == slug))
        paths = [link_path(wave, unit) for unit in collection_units(wave)]
        spec = wave_spec(wave)
        bodies = []
        for _ in range(sheets):
            answers: dict[str, str] = {}
            for item in spec.items:
                if item.options:
                    if not item.required and rng.random() < 0.5:
                        continue
                    answers[field_name(item)] = rng.choice([o.code for o in item.options])
                elif rng.random() < 0.3:
                    answers[field_name(item)] = rng.choice(["希望加强夜间巡逻", "路灯太少,晚上不安全", "整体满意 <b>好</b>"])
            bodies.append(urlencode(answers))
        db.session.remove()  # return the connection first: dispose() closes only the idle ones
        db.engine.dispose()
    return Questionnaire(paths=paths, answer_bodies=bodies)


class Server:
    """gunicorn with gunicorn.conf.py on 127.0.0.1:<port>, in a process group of its own."""

    def __init__(self, app_spec: str, env: dict[str, str], port: int | None = None, log: Path | None = None,
                 workers: int | None = None, threads: int | None = None) -> None:
        self.app_spec = app_spec
        self.port = port or free_port()
        self.env = dict(env, GUNICORN_BIND=f"127.0.0.1:{self.port}")
        if workers:
            self.env["GUNICORN_WORKERS"] = str(workers)
        if threads:
            self.env["GUNICORN_THREADS"] = str(threads)
        self.log_path = log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> Server:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), self.app_spec],
            cwd=ROOT, env=self.env, stdout=log, stderr=log, start_new_session=True,
        )
        if self.log_path:
            log.close()  # gunicorn has its own copy; ours would leak (a ResourceWarning, an error in the tests)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer /healthz within {timeout} s")

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        master = self.proc.pid
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == master:
                pids.append(int(entry.name))
        return sorted(pids)

    def kill_worker(self) -> int:
        """SIGKILL one worker (gunicorn's master replaces it); its pid."""
        pid = self.worker_pids()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def kill(self) -> None:
        """SIGKILL the master and every worker at once: a crash, not a shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> Server:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc) -> None:
        self.stop()


def why_not_restart_postgresql(database_url: str | None = None) -> str | None:
    """None when this process may restart the local cluster (restart_postgresql), else why not.

    FAULTS_RESTART_POSTGRESQL=0 turns the step off, for a machine where others use the cluster.
    """
    if os.environ.get("FAULTS_RESTART_POSTGRESQL") == "0":
        return "FAULTS_RESTART_POSTGRESQL=0"
    if os.geteuid() != 0:
        return "not root"
    if not Path("/usr/bin/pg_ctlcluster").exists() or not Path("/etc/postgresql").is_dir():
        return "no pg_ctlcluster (Debian's postgresql-common)"
    if database_url is not None:
        from sqlalchemy.engine import make_url

        host = make_url(database_url).host or "localhost"
        if host not in ("127.0.0.1", "localhost", "::1"):
            return f"the database is on {host}, not on this machine's cluster"
    return None


def restart_postgresql() -> None:
    """Restart the local cluster (the machine's own, as root); waits until it accepts connections."""
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart", "-m", "fast"],
                   check=True, capture_output=True)
    for _ in range(60):
        if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"]).returncode == 0:
            return
        time.sleep(0.5)
    raise RuntimeError("PostgreSQL did not come back within 30 s")
