"""The report screenshots of the README: docs/report-quarterly.png, report-interviews.png and
report-board.png, the first page of each of the demo's 2026Q3 reports.

The demo city is seeded (demo.seed.seed_demo, as `flask demo seed`) into a temporary SQLite
database with a temporary instance folder (so that no admin password or key lands in instance/),
each report is built dated 2026-10-15 (as tests/reports do), and its first page is drawn at 60 dpi
by pdftoppm (poppler). docs/report-posters.png is a draft wave's poster and shows no figures; the
console's screenshots come from the browser tests (UPDATE_SCREENSHOTS=1, tests/browser).

    .venv/bin/python scripts/report_screenshots.py
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WAVE = "2026Q3-city"
ISSUED = date(2026, 10, 15)
KINDS = ("quarterly", "interviews", "board")


def main(tmp: str) -> None:
    os.environ["JOBS_QUEUE_URL"] = f"sqlite:///{tmp}/jobs-queue.db"  # read when jobs.queue is imported
    from flask_migrate import upgrade

    from app import create_app
    from demo.seed import seed_demo
    from extensions import db
    from reports.build import build_report
    from survey.waves import get_wave

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/demo.db", "SECRET_KEY": "screenshots",
                      "JOBS_DIR": f"{tmp}/jobs"})
    app.instance_path = tmp
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        seed_demo(echo=lambda _: None)
        wave = get_wave(WAVE)
        for kind in KINDS:
            pdf = Path(tmp) / f"{kind}.pdf"
            pdf.write_bytes(build_report(wave, kind, ISSUED))
            out = ROOT / "docs" / f"report-{kind}"
            subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(out)],
                           check=True)
            print(f"{out.relative_to(ROOT)}.png")
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="pingan-shots-") as tmp_dir:
        main(tmp_dir)
