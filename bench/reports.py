"""Benchmark of the reports (issue 5, "Speed"): the quarterly report of a wave with 200 units, its
posters, and the notices of 30 listed units.

    .venv/bin/python -m bench.reports              # 3 timed builds of each measure
    .venv/bin/python -m bench.reports --runs 5

The data are seeded and generated into a temporary directory (deleted at the end), then loaded
the way an office loads its own, through the product's command line on a fresh SQLite database:
`db upgrade`, `units import --population`, `questionnaire load`, and for two quarters
`wave create`, `responses import`, `analysis run` (two waves, so that the report has a change
since the last period and a trend).

The city 临川市: 4 counties, 35 towns (乡镇/街道), 151 villages (村/社区) and 10 departments —
200 units under the root — with about 50 forms per village and department (a few villages
fall under min_n), about 9,000 forms a wave.

Measured, each the median of `--runs`:
1. build    the report's own work as the worker does it, `build_report(wave, "quarterly")` in a
            warm process (wall time), with its stages: loading the stored results, HTML and charts,
            layout, PDF. This is `quarterly_s`, the figure the ≤ 5 s target (issue 17) applies to.
2. cli      `flask --app app report build --wave … --kind quarterly --out FILE.pdf` as a subprocess
            (wall time): the same plus starting Python and importing the app (pandas, scipy,
            matplotlib, WeasyPrint: 2–4 s on this machine), for reference.

3. posters `build_report(wave, "posters")`: a poster and a sheet of door cards for every unit residents
            answer for (196 here), median of `--runs`: `posters_s`. The first run also encodes the
            392 QR codes (kept per process after it, caches.QR_SYMBOLS), hence the runs printed one
            by one: the first is what a wave's first build costs (posters are usually built once).
4. notices  `build_report(wave, "interviews")`: the interview list and one 约谈通知书 per listed unit:
            `notices_s`, for 30 listed units, the target's number. 临川市 lists 15 (its peer groups
            of six and more: each county's towns and the city's departments, three each), so the
            notices are built for a second city loaded the same way into a database of its own,
            临海市: 8 counties of 6 towns with 2 villages each and 6 departments (158 units, one wave,
            about 7,500 forms), whose counties, towns of each county and departments list three
            each: 3 + 24 + 3 = 30 (no ranked unit under min_n). Measured in the same warm process.

The last line is `quarterly_s=<s> posters_s=<s> notices_s=<s> pages=<quarterly pages> listed=<notices' units>`.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

QUESTIONNAIRE = ROOT / "tests" / "fixtures" / "analysis" / "questionnaire.yaml"
SEED = 20260930
WAVES = (("bench-2026Q2", "2026Q2"), ("bench-2026Q3", "2026Q3"))
ITEMS = ("safety", "sat_police", "sat_court", "sat_procuratorate", "sat_justice", "sat_government")
SCORES = np.array([100, 80, 60, 30, 0])
AGE_GROUPS = ("18-29", "30-44", "45-59", "60-74", "75+")
COUNTY_NAMES = ("临江区", "东湖区", "青山县", "石门县")
TOWN_SUFFIX = ("街道", "镇", "镇", "乡")
SYLLABLES = "安宁和平康乐丰源泰兴隆福寿新华长青云白石桥河湾坪坝岭塘林溪山水东西南北中上下"


def _name(rng: np.random.Generator, used: set[str], suffix: str) -> str:
    while True:
        name = "".join(rng.choice(list(SYLLABLES), 2)) + suffix
        if name not in used:
            used.add(name)
            return name


@dataclass(frozen=True)
class City:
    """A generated city: its root, its counties (name, towns), villages per town in order, the
    departments under the root and under the first county, the waves, and the share of villages
    and departments with fewer forms than min_n."""

    code: str
    name: str
    counties: tuple[tuple[str, int], ...]
    villages_per_town: tuple[int, ...]
    city_departments: tuple[str, ...]
    county_departments: tuple[str, ...]
    waves: tuple[tuple[str, str], ...]
    small_share: float
    units: int  # under the root, checked


# 临川市: the report's and the posters' city, 200 units.
LINCHUAN = City("431000", "临川市", tuple(zip(COUNTY_NAMES, (9, 9, 9, 8))), (5,) * 11 + (4,) * 24,
                ("公安局", "中级人民法院", "人民检察院", "司法局", "信访局", "市场监督管理局"),
                ("公安分局", "人民法院", "人民检察院", "司法局"), WAVES, 0.06, 200)
# 临海市: the notices' city. Eight counties, six towns each, six departments: with bottom_n 3 every
# peer group lists three (the counties, each county's towns, the departments), 3 + 8 × 3 + 3 = 30
# listed units; no ranked unit under min_n, so none listed for a small sample.
LINHAI = City("432000", "临海市", tuple((f"{n}区" if i < 2 else f"{n}县", 6) for i, n in enumerate(
    ("海滨", "望江", "长乐", "永安", "清河", "白沙", "凤山", "云台"))), (2,) * 48,
    ("公安局", "中级人民法院", "人民检察院", "司法局", "信访局", "市场监督管理局"), (),
    (("notices-2026Q3", "2026Q3"),), 0.0, 158)


def generate(out: Path, seed: int = SEED, city: City = LINCHUAN) -> dict[str, Path]:
    """units.csv, population.csv and one responses CSV per wave of `city`; returns their paths."""
    rng = np.random.default_rng(seed)
    used: set[str] = set()
    units = [(city.code, city.name, "city", "")]
    towns: list[str] = []
    villages: list[str] = []
    departments: list[str] = []
    t = 0
    for c, (name, n_towns) in enumerate(city.counties, start=1):
        county = f"{city.code[:4]}{c:02d}"
        units.append((county, name, "county", city.code))
        for k in range(1, n_towns + 1):
            town = f"{county}{k:03d}"
            units.append((town, _name(rng, used, TOWN_SUFFIX[k % 4]), "town", county))
            towns.append(town)
            for v in range(1, city.villages_per_town[t] + 1):
                village = f"{town}{v:03d}"
                units.append((village, _name(rng, used, "社区" if k % 4 == 0 else "村"), "village", town))
                villages.append(village)
            t += 1
    for d, name in enumerate(city.city_departments, start=1):
        units.append((f"{city.code}{900 + d}", f"{city.name}{name}", "department", city.code))
        departments.append(units[-1][0])
    first_county = f"{city.code[:4]}01"
    for d, name in enumerate(city.county_departments, start=1):
        units.append((f"{first_county}{900 + d}", f"{city.counties[0][0]}{name}", "department", first_county))
        departments.append(units[-1][0])
    assert len(units) == city.units + 1, len(units)  # the root and the units under it

    paths = {"units": out / "units.csv", "population": out / "population.csv"}
    with paths["units"].open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(("code", "name", "kind", "parent_code"))
        w.writerows(units)
    age_share = np.array([0.17, 0.26, 0.28, 0.21, 0.08])
    with paths["population"].open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(("unit_code", "dimension", "category", "count"))
        for town in towns:
            total = int(rng.integers(12_000, 60_000))
            men = int(total * rng.uniform(0.48, 0.52))
            w.writerows([(town, "sex", "M", men), (town, "sex", "F", total - men)])
            ages = np.floor(total * rng.dirichlet(age_share * 60)).astype(int)
            ages[-1] += total - ages.sum()
            w.writerows((town, "age_group", a, int(n)) for a, n in zip(AGE_GROUPS, ages))

    level = {u: rng.normal(0.4, 0.35) for u in villages + departments}  # latent mood of each unit
    for w_i, (slug, period) in enumerate(city.waves):
        path = out / f"responses-{period}.csv"
        paths[slug] = path
        month = 4 + 3 * w_i
        with path.open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(("response_id", "unit_code", "psu", "submitted_at", *ITEMS, "sex", "age_group", "comment", "mode"))
            rid = 0
            for unit in villages + departments:
                n = int(rng.integers(18, 28)) if rng.random() < city.small_share else int(rng.integers(38, 62))
                mood = level[unit] + 0.08 * w_i + rng.normal(0, 0.05)
                for _ in range(n):
                    rid += 1
                    person = mood + rng.normal(0, 0.6)
                    answers = []
                    for _item in ITEMS:
                        if rng.random() < 0.05:
                            answers.append("X")
                            continue
                        z = person + rng.normal(0, 0.5)
                        answers.append("ABCDE"[int(np.clip(np.digitize(-z, [-1.1, -0.1, 0.7, 1.4]), 0, 4))])
                    comment = ""
                    if rng.random() < 0.08:
                        comment = "希望加强夜间巡逻" if person < 0 else "治安不错,继续保持"
                    day = int(rng.integers(1, 28))
                    w.writerow((
                        f"{slug}-{rid:05d}", unit, f"{int(rng.integers(1, 7))}组" if rng.random() < 0.9 else "",
                        f"2026-{month + int(rng.integers(0, 3)):02d}-{day:02d}T{int(rng.integers(8, 21)):02d}:00:00+08:00",
                        *answers, rng.choice(["M", "F"]), rng.choice(AGE_GROUPS, p=[0.15, 0.25, 0.3, 0.2, 0.1]),
                        comment, rng.choice(["qr", "door", "phone", "paper"]),
                    ))
    return paths


def flask(env: dict[str, str], *args: str) -> float:
    """Run one `flask --app app …` command; its wall time in seconds."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.exit(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return time.perf_counter() - started


def setup(env: dict[str, str], paths: dict[str, Path], city: City) -> None:
    """Load a generated city into the database of `env` the way an office does, and analyse its waves."""
    flask(env, "db", "upgrade")
    flask(env, "units", "import", str(paths["units"]), "--population", str(paths["population"]))
    flask(env, "questionnaire", "load", str(QUESTIONNAIRE))
    for slug, period in city.waves:
        flask(env, "wave", "create", "--slug", slug, "--questionnaire", "safety", "--scope", city.code, "--period", period)
        flask(env, "responses", "import", "--wave", slug, str(paths[slug]))
        flask(env, "analysis", "run", "--wave", slug)


def timed_builds(build, runs: int) -> tuple[list[float], list[float], bytes]:
    """`build()` `runs` times: the wall and CPU seconds of each run, and the last PDF."""
    times, cpu, pdf = [], [], b""
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        pdf = build()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return times, cpu, pdf


def runs_text(values: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in values)


def pdf_pages(path: Path) -> int:
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[-1] for line in out.splitlines() if line.startswith("Pages:")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed builds of each measure (default 3)")
    args = parser.parse_args()
    print(f"平安测评 reports benchmark · Python {platform.python_version()} · {platform.machine()} · "
          f"{os.cpu_count()} CPUs · load average {os.getloadavg()[0]:.2f}")

    with tempfile.TemporaryDirectory(prefix="pingan-bench-reports-") as tmp:
        tmp_dir = Path(tmp)
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp_dir / 'bench.db'}",
            "INSTANCE_PATH": str(tmp_dir),  # nothing into the checkout's instance/
            "SECRET_KEY": "bench-reports-not-a-secret",
            "OFFICE_NAME": "临川市社会治安综合治理委员会办公室",
        }
        started = time.perf_counter()
        setup(env, generate(tmp_dir), LINCHUAN)
        slug = WAVES[-1][0]
        print(f"data: {LINCHUAN.name}, 200 units, 2 waves, generated, imported and analysed through the CLI in "
              f"{time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        notices_env = {**env, "DATABASE_URL": f"sqlite:///{tmp_dir / 'notices.db'}",
                       "OFFICE_NAME": "临海市社会治安综合治理委员会办公室"}
        (tmp_dir / "notices").mkdir()
        setup(notices_env, generate(tmp_dir / "notices", city=LINHAI), LINHAI)
        print(f"data: {LINHAI.name}, {LINHAI.units} units, 1 wave, for the notices, in {time.perf_counter() - started:.1f} s")

        out = tmp_dir / "quarterly.pdf"
        cli = [flask(env, "report", "build", "--wave", slug, "--kind", "quarterly", "--out", str(out))
               for _ in range(args.runs)]
        pages = pdf_pages(out)
        print(f"cli    flask report build --kind quarterly: median {statistics.median(cli):.2f} s "
              f"(runs {', '.join(f'{t:.2f}' for t in cli)}), {pages} pages, {out.stat().st_size // 1024} KB")

        os.environ.update({k: env[k] for k in ("DATABASE_URL", "INSTANCE_PATH", "SECRET_KEY", "OFFICE_NAME")})
        from weasyprint import HTML, URLFetcher

        from app import create_app
        from reports import data as report_data
        from reports.render import render_quarterly_html
        from survey.waves import get_wave

        app = create_app()
        with app.app_context():
            from reports.build import build_report

            wave = get_wave(slug)
            build_report(wave, "quarterly")  # warm-up: fonts, templates, matplotlib caches
            builds, cpu, _ = timed_builds(lambda: build_report(wave, "quarterly"), args.runs)
            stages: dict[str, list[float]] = {"load": [], "html": [], "layout": [], "pdf": []}
            for _ in range(args.runs):  # the same steps one by one, to see where the time goes
                t0 = time.perf_counter()
                data = report_data.load(wave, "quarterly")
                t1 = time.perf_counter()
                html = render_quarterly_html(data)
                t2 = time.perf_counter()
                document = HTML(string=html, url_fetcher=URLFetcher(allowed_protocols={"data"})).render()
                t3 = time.perf_counter()
                document.write_pdf()
                t4 = time.perf_counter()
                for key, value in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                    stages[key].append(value)
            med = {k: statistics.median(v) for k, v in stages.items()}
            build_s = statistics.median(builds)
            print(f"build  build_report(wave, 'quarterly') in a warm process: median {build_s:.2f} s "
                  f"(runs {runs_text(builds)}; CPU time {statistics.median(cpu):.2f} s, "
                  f"so the rest is waiting for a CPU: load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs)")
            print(f"       stages: load {med['load']:.2f} + html and charts {med['html']:.2f} + layout "
                  f"{med['layout']:.2f} + pdf {med['pdf']:.2f} s")
            other = {}
            times, cpu, pdf = timed_builds(lambda: build_report(wave, "posters"), args.runs)
            other["posters"] = statistics.median(times)
            (tmp_dir / "posters.pdf").write_bytes(pdf)
            print(f"posters build_report(wave, 'posters'): median {other['posters']:.2f} s (runs "
                  f"{runs_text(times)}; CPU {statistics.median(cpu):.2f} s, runs "
                  f"{runs_text(cpu)}), {len(report_data.load(wave, 'posters').posters)} units "
                  f"(a poster and a sheet of cards each), {pdf_pages(tmp_dir / 'posters.pdf')} pages")
        # The notices: 临海市's wave, its 30 listed units, in the same warm process (another app on
        # the second database, as a worker of another office would be).
        notices_app = create_app({"SQLALCHEMY_DATABASE_URI": notices_env["DATABASE_URL"],
                                  "OFFICE_NAME": notices_env["OFFICE_NAME"]}, instance_path=tmp_dir)
        with notices_app.app_context():
            from reports.build import build_report

            notices_wave = get_wave(LINHAI.waves[-1][0])
            listed = len(report_data.load(notices_wave, "interviews").result.interview_list)
            build_report(notices_wave, "interviews")  # warm-up: this database's first read
            times, cpu, pdf = timed_builds(lambda: build_report(notices_wave, "interviews"), args.runs)
            other["notices"] = statistics.median(times)
            (tmp_dir / "interviews.pdf").write_bytes(pdf)
            print(f"notices build_report(wave, 'interviews'): median {other['notices']:.2f} s (runs "
                  f"{runs_text(times)}; CPU {statistics.median(cpu):.2f} s, runs "
                  f"{runs_text(cpu)}), {listed} listed units (the list and a notice each), "
                  f"{pdf_pages(tmp_dir / 'interviews.pdf')} pages")
        print(f"quarterly_s={build_s:.2f} posters_s={other['posters']:.2f} notices_s={other['notices']:.2f} "
              f"pages={pages} listed={listed}")


if __name__ == "__main__":
    main()
