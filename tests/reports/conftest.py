"""Shared data for the report tests, built once per module through the CLI and read-only after.

Rendering a report takes seconds, so each test module loads its data once (`module_app`)
and the tests of a module only read it. The database is this module's own: a copy of the
migrated SQLite template, or the PostgreSQL test database truncated (TEST_DATABASE_URL),
exactly as tests/conftest.py does per test. A module using these fixtures must not also
use the per-test `app` fixture (on PostgreSQL it would truncate the shared data).
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from app import create_app
from extensions import db
from tests.conftest import TEST_DATABASE_URL, _config, truncate_all

FIXTURES = Path(__file__).parents[1] / "fixtures" / "analysis"
OFFICE = "安澜市社会治安综合治理委员会办公室"
ISSUED = date(2026, 10, 15)  # the date printed on every report the tests build


def invoke(runner, *args: str):
    result = runner.invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def module_app(database_template, tmp_path_factory):
    """An app, inside its app context, on an empty migrated database of this module's own."""
    instance = tmp_path_factory.mktemp("instance")
    if TEST_DATABASE_URL:
        truncate_all(database_template)
        url = database_template
    else:
        path = tmp_path_factory.mktemp("db") / "reports.db"
        shutil.copyfile(database_template, path)
        url = f"sqlite:///{path}"
    app = create_app({**_config(url, instance), "OFFICE_NAME": OFFICE, "PUBLIC_BASE_URL": "https://pingan.example.cn"},
                     instance_path=instance)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def demo(module_app):
    """The demo city 安澜市 (`flask demo seed`): 2026Q2 published, 2026Q3 closed, both analysed; 2026Q4 open."""
    invoke(module_app.test_cli_runner(), "demo", "seed")
    return module_app


@pytest.fixture(scope="module")
def reference(module_app):
    """The R reference dataset (tests/fixtures/analysis): two quarterly waves of 示例市, both analysed,
    2026Q2 published and its interview list issued. Small, and full of edge cases (a unit with no
    respondents, single-PSU strata, units under min_n, 重点管理 escalations)."""
    runner = module_app.test_cli_runner()
    invoke(runner, "units", "import", str(FIXTURES / "units.csv"), "--population", str(FIXTURES / "population.csv"))
    invoke(runner, "questionnaire", "load", str(FIXTURES / "questionnaire.yaml"))
    for slug, period, file in (("2026Q2-city", "2026Q2", "responses_w1.csv"), ("2026Q3-city", "2026Q3", "responses_w2.csv")):
        invoke(runner, "wave", "create", "--slug", slug, "--questionnaire", "safety", "--scope", "510700", "--period", period)
        invoke(runner, "responses", "import", "--wave", slug, str(FIXTURES / file))
        invoke(runner, "analysis", "run", "--wave", slug)
        if slug == "2026Q2-city":  # the office issues wave 1's list: wave 2's 重点管理 follows it
            for action in ("open", "close"):
                invoke(runner, "wave", action, slug)
            invoke(runner, "interviews", "issue", "--wave", slug)
    accept_flagged("2026Q2-city")  # publishing waits for the review of flagged sheets
    invoke(runner, "wave", "publish", "2026Q2-city")
    return module_app


def accept_flagged(slug: str) -> None:
    """The office's review, done: the wave's flagged sheets accepted (counted as they were)."""
    from sqlalchemy import select, update

    from models import Response, Wave

    wave_id = db.session.scalar(select(Wave.id).where(Wave.slug == slug))
    db.session.execute(update(Response).where(Response.wave_id == wave_id, Response.review_status == "flagged")
                       .values(review_status="accepted"))
    db.session.commit()


def pdf_pages(pdf: bytes, tmp_dir: Path, layout: bool = False) -> list[str]:
    """The text of every page (pdftotext, poppler): in reading order, or with `layout` one printed
    line per text line, so that a table row reads as one line."""
    path = tmp_dir / "report.pdf"
    path.write_bytes(pdf)
    mode = ["-layout"] if layout else []
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", *mode, str(path), "-"], capture_output=True, check=True)
    pages = out.stdout.decode("utf-8").split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def flat(text: str) -> str:
    """Text without line breaks and spaces, so that a phrase wrapped across lines still matches."""
    return "".join(text.split())
