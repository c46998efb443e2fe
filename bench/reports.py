"""Benchmark of the reports (issue 5, "Speed"): the quarterly report of a wave with 200 units.

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
            `notices_s`. This city lists 15 units; the target is for 30, so the CPU time of one more
            notice (the whole document less one unit's notice built alone, over the other notices; the list's
            page is counted in, so the figure errs high) is printed too.

The last line is `quarterly_s=<s> posters_s=<s> notices_s=<s> pages=<quarterly pages>`.
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


def generate(out: Path, seed: int = SEED) -> dict[str, Path]:
    """units.csv, population.csv and one responses CSV per wave; returns their paths."""
    rng = np.random.default_rng(seed)
    used: set[str] = set()
    units = [("431000", "临川市", "city", "")]
    towns: list[str] = []
    villages: list[str] = []
    departments: list[str] = []
    towns_per_county = (9, 9, 9, 8)
    villages_per_town = [5] * 11 + [4] * 24
    t = 0
    for c, (name, n_towns) in enumerate(zip(COUNTY_NAMES, towns_per_county), start=1):
        county = f"4310{c:02d}"
        units.append((county, name, "county", "431000"))
        for k in range(1, n_towns + 1):
            town = f"{county}{k:03d}"
            units.append((town, _name(rng, used, TOWN_SUFFIX[k % 4]), "town", county))
            towns.append(town)
            for v in range(1, villages_per_town[t] + 1):
                village = f"{town}{v:03d}"
                units.append((village, _name(rng, used, "社区" if k % 4 == 0 else "村"), "village", town))
                villages.append(village)
            t += 1
    for d, name in enumerate(("公安局", "中级人民法院", "人民检察院", "司法局", "信访局", "市场监督管理局"), start=1):
        units.append((f"431000{900 + d}", f"临川市{name}", "department", "431000"))
        departments.append(units[-1][0])
    for d, name in enumerate(("公安分局", "人民法院", "人民检察院", "司法局"), start=1):
        units.append((f"431001{900 + d}", f"临江区{name}", "department", "431001"))
        departments.append(units[-1][0])
    assert len(units) == 201, len(units)  # the root and 200 units under it

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
    for w_i, (slug, period) in enumerate(WAVES):
        path = out / f"responses-{period}.csv"
        paths[slug] = path
        month = 4 + 3 * w_i
        with path.open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(("response_id", "unit_code", "psu", "submitted_at", *ITEMS, "sex", "age_group", "comment", "mode"))
            rid = 0
            for unit in villages + departments:
                n = int(rng.integers(18, 28)) if rng.random() < 0.06 else int(rng.integers(38, 62))
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
        paths = generate(tmp_dir)
        flask(env, "db", "upgrade")
        flask(env, "units", "import", str(paths["units"]), "--population", str(paths["population"]))
        flask(env, "questionnaire", "load", str(QUESTIONNAIRE))
        for slug, period in WAVES:
            flask(env, "wave", "create", "--slug", slug, "--questionnaire", "safety", "--scope", "431000", "--period", period)
            flask(env, "responses", "import", "--wave", slug, str(paths[slug]))
            flask(env, "analysis", "run", "--wave", slug)
        slug = WAVES[-1][0]
        print(f"data: 200 units, 2 waves, generated, imported and analysed through the CLI in "
              f"{time.perf_counter() - started:.1f} s")

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
            builds, cpu = [], []
            for _ in range(args.runs):
                t0, c0 = time.perf_counter(), time.process_time()
                build_report(wave, "quarterly")
                builds.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
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
                  f"(runs {', '.join(f'{t:.2f}' for t in builds)}; CPU time {statistics.median(cpu):.2f} s, "
                  f"so the rest is waiting for a CPU: load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs)")
            print(f"       stages: load {med['load']:.2f} + html and charts {med['html']:.2f} + layout "
                  f"{med['layout']:.2f} + pdf {med['pdf']:.2f} s")
            other = {}
            for kind, label in (("posters", "posters"), ("interviews", "notices")):
                times, cpu = [], []
                for _ in range(args.runs):
                    t0, c0 = time.perf_counter(), time.process_time()
                    pdf = build_report(wave, kind)
                    times.append(time.perf_counter() - t0)
                    cpu.append(time.process_time() - c0)
                other[label] = statistics.median(times)
                (tmp_dir / f"{kind}.pdf").write_bytes(pdf)
                n_pages = pdf_pages(tmp_dir / f"{kind}.pdf")
                data = report_data.load(wave, kind)
                what = (f"{len(data.posters)} units (a poster and a sheet of cards each)" if kind == "posters"
                        else f"{len(data.result.interview_list)} listed units (the list and a notice each)")
                print(f"{label:<8}build_report(wave, '{kind}'): median {other[label]:.2f} s (runs "
                      f"{', '.join(f'{t:.2f}' for t in times)}; CPU {statistics.median(cpu):.2f} s, runs "
                      f"{', '.join(f'{t:.2f}' for t in cpu)}), {what}, {n_pages} pages")
                if kind == "interviews" and data.result.interview_list:
                    listed = len(data.result.interview_list)
                    first = data.result.interview_list[0].code
                    one = []  # one unit's notice alone: what the document costs besides its notices
                    for _ in range(args.runs):
                        c0 = time.process_time()
                        build_report(wave, kind, unit=first)
                        one.append(time.process_time() - c0)
                    per = (statistics.median(cpu) - statistics.median(one)) / max(listed - 1, 1)
                    print(f"        one notice alone: CPU {statistics.median(one):.2f} s; each further notice "
                          f"{per:.3f} s of CPU, so 30 listed units ≈ {statistics.median(cpu) + (30 - listed) * per:.2f} s of CPU")
        print(f"quarterly_s={build_s:.2f} posters_s={other['posters']:.2f} notices_s={other['notices']:.2f} pages={pages}")


if __name__ == "__main__":
    main()
