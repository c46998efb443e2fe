from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from extensions import db
from tests.conftest import DATA


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def setup_wave(runner, slug: str = "2026Q3-city", scope: str = "619900", period: str = "2026Q3", open_it: bool = True):
    """Units, margins, the test questionnaire and one wave, through the CLI."""
    for args in (
        ["units", "import", str(DATA / "units.csv"), "--population", str(DATA / "population.csv")],
        ["questionnaire", "load", str(DATA / "questionnaire.yaml")],
        ["wave", "create", "--slug", slug, "--questionnaire", "safety", "--scope", scope, "--period", period],
    ):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    if open_it:
        assert runner.invoke(args=["wave", "open", slug]).exit_code == 0
