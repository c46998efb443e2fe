"""Benchmark of `responses import` on a very large file (issue "Under load, faults and bad input").

    .venv/bin/python -m bench.imports                                  # 1,000,000 rows (and 100,000), SQLite
    .venv/bin/python -m bench.imports --responses 50000 --compare 0 --runs 1    # smoke test
    .venv/bin/python -m bench.imports --database-url postgresql://postgres@127.0.0.1:5432/import_bench

What it does, on seeded data generated into a temporary directory (deleted at the end):

1. a generated city (1 city, 10 counties, 200 towns, 6 city departments: units.csv) and the demo
   questionnaire (demo/questionnaire.yaml), loaded with the product's own commands into a fresh
   database, with one open wave;
2. responses.csv of `--responses` rows in the format of docs/formats.md (every item, a comment on
   about one row in twelve, some with commas, quotes and a line break; blank psu and blank answers),
   written row by row;
3. `flask --app app responses import --wave SLUG responses.csv` as a subprocess, on a fresh database
   each run (`--runs`, median quoted): wall time, CPU time, rows/s, and its peak RSS (ru_maxrss from
   os.wait4); the same for a file of `--compare` rows (the first rows of the big one), to show that the
   peak does not grow with the file; and the peak RSS of a command that reads nothing
   (`flask --app app wave list`: interpreter, Flask, SQLAlchemy), the floor under every figure.

With --database-url (PostgreSQL), the database named there is wiped before every run
(DROP SCHEMA public CASCADE): give it a database of its own.

The last line is `import_rows=<N> import_s=<median s> import_peak_mb=<median MB>`.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SLUG = "bench-import"
CITY = "510700"
CHOICES = {
    "safety": "ABCDEX", "night_safety": "ABCDEX", "sat_police": "ABCDEX", "sat_justice": "ABCDEX",
    "sat_mediation": "ABCDEX", "sat_prevention": "ABCDEX", "victim": "YNR",
}
AGES = ("18-29", "30-44", "45-59", "60+")
COMMENTS = ("希望加强夜间巡逻", "路灯太少,晚上不安全", "派出所办事效率高", '建议多开展反诈宣传, "进村入户"',
            "小区门口经常有人乱停车\n希望物业管一管", "整体满意")
MODES = ("qr", "door", "phone", "paper")


def mb(kb: float) -> float:
    return kb / 1024.0


def write_units(out: Path, n_counties: int = 10, towns_per_county: int = 20) -> list[str]:
    """units.csv of a generated city; returns the codes a response may name (towns, departments)."""
    codes = []
    with open(out / "units.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["code", "name", "kind", "parent_code"])
        w.writerow([CITY, "示范市", "city", ""])
        for k in range(1, n_counties + 1):
            county = f"{CITY[:4]}{k:02d}"
            w.writerow([county, f"第{k:02d}县", "county", CITY])
            for t in range(1, towns_per_county + 1):
                codes.append(f"{county}{t:03d}")
                w.writerow([codes[-1], f"第{k:02d}县第{t:03d}镇", "town", county])
        for i in range(1, 7):
            codes.append(f"{CITY}9{i:02d}")
            w.writerow([codes[-1], f"市直部门{i}", "department", CITY])
    return codes


def write_responses(path: Path, n: int, units: list[str], seed: int) -> None:
    """`n` rows of responses.csv, generated and written one at a time."""
    rng = random.Random(seed)
    header = ["response_id", "unit_code", "psu", "submitted_at", *CHOICES, "sex", "age_group", "comment", "mode"]
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i in range(1, n + 1):
            r = rng.random()
            answers = [("" if r < 0.03 else rng.choice(options)) for options in CHOICES.values()]
            w.writerow([
                f"R{i:07d}", rng.choice(units), "" if r < 0.05 else f"G{rng.randrange(1, 13):02d}",
                f"2026-{rng.randrange(7, 10):02d}-{rng.randrange(1, 29):02d} "
                f"{rng.randrange(8, 21):02d}:{rng.randrange(60):02d}",
                *answers, rng.choice("MF"), rng.choice(AGES), rng.choice(COMMENTS) if r < 0.08 else "",
                rng.choice(MODES),
            ])


def run_timed(cmd: list[str], env: dict) -> tuple[float, float, float, str]:
    """Wall time, CPU time (user + system), peak RSS (MB, os.wait4) and output of a command; raises if it fails."""
    with tempfile.TemporaryFile("w+") as out:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        out.seek(0)
        text = out.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{text}")
    return wall, usage.ru_utime + usage.ru_stime, mb(usage.ru_maxrss), text


def flask(env: dict, *args: str) -> tuple[float, float, float, str]:
    return run_timed([sys.executable, "-m", "flask", "--app", "app", *args], env)


class Database:
    """A fresh database for every run: a copy of a loaded SQLite template, or a wiped PostgreSQL
    database loaded again."""

    def __init__(self, url: str | None, tmp: Path) -> None:
        self.url, self.tmp = url, tmp
        self.template = tmp / "template.db"

    def _load(self, env: dict) -> None:
        flask(env, "db", "upgrade")
        for args in (["units", "import", str(self.tmp / "units.csv")],
                     ["questionnaire", "load", str(ROOT / "demo" / "questionnaire.yaml")],
                     ["wave", "create", "--slug", SLUG, "--questionnaire", "safety", "--scope", CITY,
                      "--period", "2026Q3"],
                     ["wave", "open", SLUG]):
            flask(env, *args)

    def fresh(self) -> dict:
        """The environment of a command on a freshly loaded database."""
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        if self.url is None:
            if not self.template.exists():
                self._load(dict(env, DATABASE_URL=f"sqlite:///{self.template}"))
            path = self.tmp / "bench.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            shutil.copyfile(self.template, path)
            env["DATABASE_URL"] = f"sqlite:///{path}"
            return env
        from sqlalchemy import create_engine, text

        url = self.url.replace("postgresql://", "postgresql+psycopg://", 1)
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        env["DATABASE_URL"] = self.url
        self._load(env)
        return env


def measure(db: Database, path: Path, rows: int, runs: int) -> tuple[float, float]:
    """Import `path` into a fresh database `runs` times; print each run; return the median time and peak."""
    walls, peaks = [], []
    for i in range(runs):
        env = db.fresh()
        wall, cpu, peak, out = flask(env, "responses", "import", "--wave", SLUG, str(path))
        walls.append(wall)
        peaks.append(peak)
        print(f"  run {i + 1}: {wall:.1f} s (CPU {cpu:.1f} s), {rows / wall:,.0f} rows/s, peak RSS {peak:.0f} MB"
              f" — {out.strip()}")
    wall, peak = statistics.median(walls), statistics.median(peaks)
    print(f"  median of {runs}: {wall:.1f} s, {rows / wall:,.0f} rows/s, peak RSS {peak:.0f} MB "
          f"(peaks {min(peaks):.0f}–{max(peaks):.0f} MB)")
    return wall, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--compare", type=int, default=100_000, help="a smaller file for comparison (0: none)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20260701)
    parser.add_argument("--database-url", default=None, help="a PostgreSQL database of its own (wiped); default SQLite")
    parser.add_argument("--keep", action="store_true", help="keep the generated data (its directory is printed)")
    args = parser.parse_args()

    database = f"PostgreSQL {args.database_url}" if args.database_url else "SQLite (a file in the temporary directory)"
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; python {sys.version.split()[0]}; "
          f"database: {database}")
    tmp = Path(tempfile.mkdtemp(prefix="pingan-import-bench-"))
    try:
        units = write_units(tmp)
        sizes = [args.responses] + ([args.compare] if 0 < args.compare < args.responses else [])
        t = time.perf_counter()
        for n in sizes:
            write_responses(tmp / f"responses-{n}.csv", n, units, args.seed)
        big = tmp / f"responses-{args.responses}.csv"
        print(f"generated {' and '.join(f'{n:,}' for n in sizes)} rows over {len(units)} units in "
              f"{time.perf_counter() - t:.1f} s; {big.name}: {big.stat().st_size / 2**20:.0f} MB")
        db = Database(args.database_url, tmp)
        _, _, floor, _ = flask(db.fresh(), "wave", "list")
        print(f"peak RSS of `flask --app app wave list` (reads nothing: interpreter, Flask, SQLAlchemy): "
              f"{floor:.0f} MB")
        results = {}
        for n in sorted(sizes):
            print(f"\n== flask --app app responses import --wave {SLUG} responses-{n}.csv ({n:,} rows)")
            results[n] = measure(db, tmp / f"responses-{n}.csv", n, args.runs)
        if len(sizes) > 1:
            small, large = results[args.compare], results[args.responses]
            print(f"\npeak RSS {args.compare:,} → {args.responses:,} rows: {small[1]:.0f} → {large[1]:.0f} MB "
                  f"({large[1] - small[1]:+.0f} MB)")
        wall, peak = results[args.responses]
        print(f"import_rows={args.responses} import_s={wall:.1f} import_peak_mb={peak:.0f}")
    finally:
        if args.keep:
            print(f"data kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
