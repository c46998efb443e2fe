"""Benchmark of the analysis (issue 4, "Speed"): 1,000,000 responses over 2,000 towns.

    .venv/bin/python -m bench.analysis                              # full size (~25 min here: svy, the import)
    .venv/bin/python -m bench.analysis --responses 20000 --towns 40   # smoke test (one to two minutes)

What it does, all on seeded data generated into a temporary directory (deleted at the end):

1. compute   `analyse_wave(spec, units, margins, responses)` alone, data frames in, WaveResult out,
             in a fresh subprocess: median of several repetitions (and their CPU time), the peak RSS of
             the step (ru_maxrss, reset through /proc/self/clear_refs once the inputs are loaded: interpreter
             + libraries + input frames + the step), a tracemalloc peak of one further run (Python and numpy
             allocations of the step alone), and a stage breakdown of two profiled runs (wall and CPU).
2. import    the product's own commands build the SQLite database: `flask db upgrade`, `units import`,
             `questionnaire load`, `wave create`, `responses import` (timed: all 1M rows through the
             importer), then reviewer decisions (flagged / rejected) set by an SQL UPDATE.
3. total     `flask --app app analysis run --wave SLUG` as a subprocess (median of a few runs; peak RSS from
             os.wait4), and a stage breakdown of the same work in one process.
4. R         R's survey package (bench/r_analysis.R) on a stated subset of towns, with the same method as
             tests/fixtures/analysis/make_reference.R; its numbers are checked against ours on that subset,
             and its time scaled to the full size (see the printed note).
5. svy       the `svy` package (PyPI, Rust core) where it can do the same job: Taylor SEs of the indicators'
             domain means with our fixed weights, and raking per town; its numbers are checked against ours.

The last line is `compute_s=… total_s=… peak_mb=… r_ratio=…`.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"

SLUG = "bench-2026Q3"
CITY = "510700"
SEXES = ["M", "F"]
AGES = ["18-29", "30-44", "45-59", "60+"]
SCORED = ["safety", "night_safety", "sat_police", "sat_justice", "sat_mediation", "sat_prevention"]
LETTERS = np.array(["A", "B", "C", "D", "E"], dtype=object)
ITEM_OFFSET = {"safety": 0.15, "night_safety": -0.1, "sat_police": 0.1, "sat_justice": -0.05,
               "sat_mediation": 0.05, "sat_prevention": -0.15}
CUTS = (1.0, 0.25, -0.45, -1.15)  # latent > 1.0 → A, > 0.25 → B, > -0.45 → C, > -1.15 → D, else E
P_BLANK, P_UNSURE = 0.03, 0.06
COMMENTS = ["希望加强夜间巡逻", "路灯太少,晚上不安全", "派出所办事效率高", '建议多开展反诈宣传, "进村入户"',
            "小区门口经常有人乱停车", "整体满意"]
CITY_DEPTS = ["市公安局", "市中级人民法院", "市人民检察院", "市司法局", "市信访局", "市民政局"]
COUNTY_DEPTS = ["公安分局", "人民法院"]


def mb(kb: float) -> float:
    return kb / 1024.0


def rss_now_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb_self() -> float:
    return mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def reset_peak() -> bool:
    """Reset this process's peak RSS (VmHWM, hence ru_maxrss) to its current RSS (Linux ≥ 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def fmt_range(xs: list[float]) -> str:
    return f"median {statistics.median(xs):.3f} s (min {min(xs):.3f}, max {max(xs):.3f}, n={len(xs)})"


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------
def split_total(rng: np.random.Generator, total: int, parts: int, lo: float, hi: float) -> np.ndarray:
    """`parts` positive integers summing to `total`, each roughly uniform in [lo, hi] × total/parts."""
    raw = rng.uniform(lo, hi, parts)
    sizes = np.floor(raw / raw.sum() * total).astype(np.int64)
    sizes[rng.choice(parts, total - sizes.sum(), replace=False)] += 1
    return sizes


def generate(n_responses: int, n_towns: int, seed: int, out: Path) -> dict:
    """Write units.csv, population.csv, questionnaire.yaml, responses.csv, review.csv and frames.pkl."""
    rng = np.random.default_rng(seed)
    n_counties = min(20, max(2, n_towns // 20))

    # --- units: city → counties → towns; city departments and county departments -------------
    towns_per_county = split_total(rng, n_towns, n_counties, 0.7, 1.3)
    units = [(CITY, "示范市", "city", "")]
    county_codes = [f"{CITY[:4]}{k:02d}" for k in range(1, n_counties + 1)]
    town_codes: list[str] = []
    town_county: list[int] = []
    for k, (cc, nt) in enumerate(zip(county_codes, towns_per_county)):
        units.append((cc, f"第{k + 1:02d}县", "county", CITY))
        for t in range(1, nt + 1):
            code = f"{cc}{t:03d}"
            units.append((code, f"第{k + 1:02d}县第{t:03d}镇", "town", cc))
            town_codes.append(code)
            town_county.append(k)
    dept_codes: list[str] = []
    for i, name in enumerate(CITY_DEPTS):
        dept_codes.append(f"{CITY}9{i + 1:02d}")
        units.append((dept_codes[-1], name, "department", CITY))
    for k, cc in enumerate(county_codes[: max(1, n_counties // 2)]):
        for i, name in enumerate(COUNTY_DEPTS):
            dept_codes.append(f"{cc}9{i + 1:02d}")
            units.append((dept_codes[-1], f"第{k + 1:02d}县{name}", "department", cc))
    T, Dn = len(town_codes), len(dept_codes)

    # --- special towns (each at least one) ---------------------------------------------------
    order = rng.permutation(T)
    take = iter(np.split(order, np.cumsum([max(1, round(T * p)) for p in (0.01, 0.0025, 0.01, 0.005, 0.005, 0.02, 0.003)]))[:-1])
    no_margins, single_psu, no_young, zero_pop, sex_only, skewed, small = (set(map(int, next(take))) for _ in range(7))

    # --- respondents per unit ----------------------------------------------------------------
    dept_n = rng.integers(60, 241, Dn)
    dept_n[-1] = 24  # one department under min_n
    town_total = n_responses - int(dept_n.sum())
    small_n = {t: int(rng.integers(15, 28)) for t in small}
    is_small = np.isin(np.arange(T), list(small))
    town_n = np.zeros(T, dtype=np.int64)
    town_n[~is_small] = split_total(rng, town_total - sum(small_n.values()), T - len(small), 0.5, 1.5)
    for t, n in small_n.items():
        town_n[t] = n
    assert town_n.sum() + dept_n.sum() == n_responses and (town_n > 0).all()

    unit_of = np.concatenate([np.repeat(np.arange(T), town_n), T + np.repeat(np.arange(Dn), dept_n)])
    unit_of = unit_of[rng.permutation(len(unit_of))]  # responses arrive interleaved, not unit by unit
    N = len(unit_of)
    is_town = unit_of < T
    all_codes = np.array(town_codes + dept_codes, dtype=object)

    # --- demographics (the sample leans older and female; some towns very skewed) -------------
    sex_f = rng.random(N) < 0.56
    age_p = np.tile([0.12, 0.24, 0.30, 0.34], (T + Dn, 1))
    for t in skewed:
        age_p[t] = [0.05, 0.20, 0.33, 0.42]
    for t in no_young:
        age_p[t] = [0.0, 0.30, 0.33, 0.37]
    cum = np.cumsum(age_p, axis=1)[unit_of]
    age = (rng.random(N)[:, None] > cum[:, :3]).sum(axis=1)
    sex = np.where(sex_f, "F", "M").astype(object)
    age_code = np.array(AGES, dtype=object)[age]
    u = rng.random(N)
    sex[u < 0.015] = None
    age_code[(u >= 0.015) & (u < 0.03) & ~np.isin(unit_of, list(no_young))] = None

    # --- PSUs: several per town (G01…), ~5% blank = own PSU; departments: windows or blank -----
    k_psu = rng.integers(4, 17, T + Dn)
    k_psu[list(single_psu)] = 1
    k_psu[T:] = np.where(np.arange(Dn) % 2 == 0, 3, 0)
    psu_idx = (rng.random(N) * np.maximum(k_psu[unit_of], 1)).astype(np.int64)
    psu_names = np.array([f"G{j + 1:02d}" for j in range(16)], dtype=object)
    psu = psu_names[psu_idx]
    dept_rows = ~is_town
    psu[dept_rows] = np.array(["窗口A", "窗口B", "窗口C"], dtype=object)[psu_idx[dept_rows] % 3]
    blank_psu = (rng.random(N) < 0.05) | (k_psu[unit_of] == 0)
    blank_psu &= ~np.isin(unit_of, list(single_psu))
    psu[blank_psu] = None

    # --- answers from a latent score: unit level + PSU effect + person + item noise -----------
    mu = rng.normal(0.55, 0.45, T + Dn)
    psu_eff = rng.normal(0, 0.3, (T + Dn) * 16)[unit_of * 16 + psu_idx]
    psu_eff[blank_psu] = rng.normal(0, 0.3, int(blank_psu.sum()))
    base = mu[unit_of] + psu_eff + rng.normal(0, 0.55, N)
    answers: dict[str, np.ndarray] = {}
    for key in SCORED:
        latent = base + ITEM_OFFSET[key] + rng.normal(0, 0.7, N)
        idx = sum((latent <= c).astype(np.int64) for c in CUTS)
        col = LETTERS[idx]
        v = rng.random(N)
        col[v < P_BLANK + P_UNSURE] = "X"
        col[v < P_BLANK] = None
        answers[key] = col
    v = rng.random(N)
    victim = np.full(N, None, dtype=object)
    victim[v < 0.96] = "R"
    victim[v < 0.93] = "N"
    victim[v < 0.08] = "Y"
    answers["victim"] = victim
    answers["sex"] = sex
    answers["age_group"] = age_code
    comment = np.full(N, None, dtype=object)
    has_c = rng.random(N) < 0.08
    comment[has_c] = np.array(COMMENTS, dtype=object)[rng.integers(0, len(COMMENTS), int(has_c.sum()))]

    # --- population margins: a sex × age table per town ---------------------------------------
    pop_rows = []
    for t in range(T):
        if t in no_margins:
            continue
        total = int(rng.integers(15_000, 80_000))
        shares = rng.dirichlet([20, 28, 28, 24]) if t not in zero_pop else np.array([0.0, 0.35, 0.35, 0.30])
        ages = np.round(total * shares).astype(int)
        male = np.round(ages * rng.uniform(0.47, 0.53, 4)).astype(int)
        table = np.stack([male, ages - male], axis=1)  # rows = ages, cols = M, F
        code = town_codes[t]
        for j, s in enumerate(SEXES):
            pop_rows.append((code, "sex", s, int(table[:, j].sum())))
        if t not in sex_only:
            for a, c in zip(AGES, ages):
                pop_rows.append((code, "age_group", a, int(c)))

    # --- review decisions: 1% flagged (kept, counted), 0.2% rejected (excluded) ----------------
    r = rng.random(N)
    status = np.where(r < 0.002, "rejected", np.where(r < 0.012, "flagged", "clean"))

    ids = np.array([f"R{i:07d}" for i in range(1, N + 1)], dtype=object)
    unit_code = all_codes[unit_of]
    day = rng.integers(0, 92, N)
    ts = (np.datetime64("2026-07-01T08:00:00") + day * np.timedelta64(1, "D")
          + rng.integers(0, 12 * 3600, N) * np.timedelta64(1, "s"))
    modes = np.array(["qr", "door", "phone", "paper"], dtype=object)[rng.integers(0, 4, N)]

    # files, in the formats of docs/formats.md
    pd.DataFrame(units, columns=["code", "name", "kind", "parent_code"]).to_csv(out / "units.csv", index=False)
    pd.DataFrame(pop_rows, columns=["unit_code", "dimension", "category", "count"]).to_csv(
        out / "population.csv", index=False)
    # The demo questionnaire without its optional `concerns` item (added with the notices' 群众反映最集中的
    # 问题): the generated city answers the same items as every earlier run, so figures stay comparable.
    spec_data = yaml.safe_load((ROOT / "demo" / "questionnaire.yaml").read_text(encoding="utf-8"))
    spec_data["items"] = [it for it in spec_data["items"] if it["key"] != "concerns"]
    (out / "questionnaire.yaml").write_text(yaml.safe_dump(spec_data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    csv_cols = {"response_id": ids, "unit_code": unit_code, "psu": psu,
                "submitted_at": np.char.add(ts.astype(str).astype("U19"), "+08:00").astype(object)}
    csv_cols.update(answers)
    csv_cols["comment"] = comment
    csv_cols["mode"] = modes
    pd.DataFrame(csv_cols).to_csv(out / "responses.csv", index=False)
    rev = status != "clean"
    pd.DataFrame({"response_id": ids[rev], "status": status[rev]}).to_csv(out / "review.csv", index=False)

    # the frames `load_wave_data` hands to `analyse_wave`: not-rejected responses, in import order, each choice
    # item a Categorical of its option codes (survey.results decodes the packed answers so, analysis.packing)
    keep = status != "rejected"
    frame = {"response_id": ids[keep], "unit_code": unit_code[keep], "psu": psu[keep],
             "flagged": status[keep] == "flagged"}
    options = {it["key"]: [o["code"] for o in it.get("options", ())] for it in spec_data["items"]}
    frame.update({k: pd.Categorical(v[keep], categories=options[k]) for k, v in answers.items()})
    choice_keys = SCORED + ["victim", "sex", "age_group"]
    frames = {
        "units": pd.DataFrame(units, columns=["code", "name", "kind", "parent_code"]).replace({"parent_code": {"": None}}),
        "margins": pd.DataFrame(pop_rows, columns=["unit_code", "dimension", "category", "count"]),
        "responses": pd.DataFrame(frame)[["response_id", "unit_code", "psu", "flagged"] + choice_keys],
    }
    with open(out / "frames.pkl", "wb") as f:
        pickle.dump(frames, f, protocol=5)
    return {
        "responses": N, "analysed": int(keep.sum()), "flagged": int((status == "flagged").sum()),
        "rejected": int((status == "rejected").sum()), "towns": T, "counties": n_counties, "departments": Dn,
        "units": len(units), "margin_rows": len(pop_rows),
        "special": {"no_margins": len(no_margins), "single_psu": len(single_psu), "empty_18_29": len(no_young),
                    "population_0_18_29": len(zero_pop), "sex_only_margins": len(sex_only),
                    "skewed_sample": len(skewed), "under_min_n": len(small) + 1},
        "blank_psu": float(blank_psu.mean()),
    }


# ----------------------------------------------------------------------------------------------
# Subsets (for R) and comparisons
# ----------------------------------------------------------------------------------------------
def subset_frames(frames: dict, n_towns: int) -> dict:
    """`n_towns` towns spread evenly over the code order (so over the counties), with their counties,
    the city and the city's departments; their margins and their (not rejected) responses."""
    units = frames["units"]
    towns = units.loc[units["kind"] == "town", "code"].sort_values().to_numpy()
    picked = towns[np.linspace(0, len(towns) - 1, min(n_towns, len(towns))).round().astype(int)]
    picked_set = set(picked)
    counties = set(units.loc[units["code"].isin(picked_set), "parent_code"])
    keep = (units["code"].isin(picked_set | counties | {CITY})
            | ((units["kind"] == "department") & (units["parent_code"] == CITY)))
    sub_units = units[keep].reset_index(drop=True)
    codes = set(sub_units["code"])
    margins = frames["margins"]
    resp = frames["responses"]
    return {
        "units": sub_units,
        "margins": margins[margins["unit_code"].isin(codes)].reset_index(drop=True),
        "responses": resp[resp["unit_code"].isin(codes)].reset_index(drop=True),
    }


def write_subset_csv(sub: dict, out: Path) -> None:
    sub["units"].fillna({"parent_code": ""}).to_csv(out / "units_r.csv", index=False)
    sub["margins"].to_csv(out / "population_r.csv", index=False)
    sub["responses"].drop(columns="flagged").to_csv(out / "responses_r.csv", index=False)


def compare_units(ours: dict, theirs: dict[str, dict], with_composite: bool = True) -> dict:
    """Largest absolute differences between our result (its `to_dict()` form) and another tool's
    per-unit numbers ({code: {n, n_eff, indicators: {key: {estimate, se}}, composite: {...}}})."""
    worst = {"estimate": 0.0, "se": 0.0, "n_eff": 0.0, "composite": 0.0, "composite_se": 0.0, "deff": 0.0}
    by_code = {u["code"]: u for u in ours["units"]}
    compared = values = 0
    for code, t in theirs.items():
        u = by_code[code]
        compared += 1
        if t.get("n") is not None and int(t["n"]) != u["n"]:
            raise AssertionError(f"{code}: n {t['n']} ≠ ours {u['n']}")
        if t.get("n_eff") is not None:
            worst["n_eff"] = max(worst["n_eff"], abs(t["n_eff"] - u["n_eff"]))
        for key, e in (t.get("indicators") or {}).items():
            mine = u["indicators"][key]
            worst["estimate"] = max(worst["estimate"], abs(e["estimate"] - mine["estimate"]))
            worst["se"] = max(worst["se"], abs(e["se"] - mine["se"]))
            values += 1
        c = t.get("composite")
        if with_composite and c:
            worst["composite"] = max(worst["composite"], abs(c["estimate"] - u["composite"]["estimate"]))
            worst["composite_se"] = max(worst["composite_se"], abs(c["se"] - u["composite"]["se"]))
            if c.get("deff") is not None:
                worst["deff"] = max(worst["deff"], abs(c["deff"] - u["composite"]["deff"]))
    worst["units"] = compared
    worst["indicator_values"] = values
    return worst


# ----------------------------------------------------------------------------------------------
# Workers: each runs in a fresh subprocess (`bench/analysis.py --worker NAME DIR`) and prints JSON
# ----------------------------------------------------------------------------------------------
def load_inputs(d: Path):
    """The questionnaire and the input frames written by `--worker generate` into `d` (also read by
    bench/items.py and bench/stages.py)."""
    import yaml

    from analysis import parse_questionnaire

    spec = parse_questionnaire(yaml.safe_load((d / "questionnaire.yaml").read_text(encoding="utf-8")))
    with open(d / "frames.pkl", "rb") as f:
        frames = pickle.load(f)
    return spec, frames


STAGES = {  # function name in analysis/ → label, for the breakdown of one profiled run
    "build_hierarchy": "hierarchy",
    "code_responses": "code responses (strings → integers)",
    "rake_weights": "weights (merge, rake, trim)",
    "build_design": "design",
    "indicator_values": "indicator values",
    "estimate_domains": "domain estimates + SEs + composite + deff",
    "share_interval": "share intervals (Korn–Graubard)",
    "item_results": "item results (options, weak items, drivers)",
    "unit_integrity": "integrity checks",
    "interview_list": "interview list",
    "distributions": "answer distributions",
}


def worker_compute(d: Path, repeats: int) -> dict:
    """analyse_wave alone, `repeats` times; then one profiled run for the stage breakdown."""
    import cProfile
    import pstats

    from analysis import analyse_wave

    spec, frames = load_inputs(d)
    gc.collect()
    inputs_rss = rss_now_mb()
    load_peak = peak_mb_self()
    reset = reset_peak()  # so that ru_maxrss is the peak of the step, not of unpickling its inputs
    times, cpu = [], []
    result = None
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        gc.freeze()  # as survey.results.frozen_heap does around analyse_wave in `analysis run` and the worker
        result = analyse_wave(spec, frames["units"], frames["margins"], frames["responses"])
        gc.unfreeze()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    peak = peak_mb_self()

    def profiled(timer) -> tuple[dict[str, float], float]:
        prof = cProfile.Profile(timer)
        prof.enable()
        analyse_wave(spec, frames["units"], frames["margins"], frames["responses"])
        prof.disable()
        found: dict[str, float] = {}
        whole = 0.0
        for (file, _, name), (_, _, _, cum, _) in pstats.Stats(prof).stats.items():
            if name == "analyse_wave" and file.endswith("wave.py"):
                whole = cum
            if name in STAGES and "/analysis/" in file:
                found[name] = found.get(name, 0.0) + cum
        return found, whole

    stages, total_profiled = profiled(time.perf_counter)
    stages_cpu, total_cpu = profiled(time.process_time)  # CPU of all threads
    warnings: dict[str, int] = {}
    for u in result.units:
        for w in u.warnings:
            warnings[w] = warnings.get(w, 0) + 1
    return {
        "times": times, "cpu": cpu, "peak_mb": peak, "load_peak_mb": load_peak, "inputs_rss_mb": inputs_rss,
        "peak_reset": reset,
        "stages": stages, "profiled_total": total_profiled, "stages_cpu": stages_cpu, "profiled_cpu": total_cpu,
        "units": len(result.units),
        "interview_list": len(result.interview_list), "unit_warnings": warnings,
        "flags": sum(1 for u in result.units if u.flags),
    }


def worker_tracemalloc(d: Path) -> dict:
    """Python and numpy allocations of one analyse_wave call (numpy reports its buffers to tracemalloc)."""
    import tracemalloc

    from analysis import analyse_wave

    spec, frames = load_inputs(d)
    analyse_wave(spec, frames["units"], frames["margins"], frames["responses"])  # imports, caches
    tracemalloc.start()
    t = time.perf_counter()
    result = analyse_wave(spec, frames["units"], frames["margins"], frames["responses"])
    elapsed = time.perf_counter() - t
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    return {"peak_mb": peak / 2**20, "retained_mb": current / 2**20, "elapsed_under_tracemalloc": elapsed}


def worker_subset(d: Path, n_towns: int, repeats: int) -> dict:
    """Write a subset for R and analyse it ourselves (timed, the same call as `compute`)."""
    from analysis import analyse_wave

    spec, frames = load_inputs(d)
    sub = subset_frames(frames, n_towns)
    write_subset_csv(sub, d)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        result = analyse_wave(spec, sub["units"], sub["margins"], sub["responses"])
        times.append(time.perf_counter() - t)
    (d / "ours_subset.json").write_text(json.dumps(result.to_dict(wave=SLUG, period="2026Q3", series="safety")))
    return {"times": times, "responses": len(sub["responses"]), "units": len(sub["units"]),
            "towns": int((sub["units"]["kind"] == "town").sum())}


def worker_stages(d: Path) -> dict:
    """`analysis run` in one process, with its stages timed: the same calls as the CLI, wrapped."""
    os.chdir(ROOT)
    t0 = time.perf_counter()
    from app import create_app

    app = create_app()
    t_app = time.perf_counter()
    import survey.results as sr
    from analysis import WaveResult
    from survey.waves import get_wave

    timings: dict[str, float] = {}

    def timed(name, fn):
        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                timings[name] = timings.get(name, 0.0) + time.perf_counter() - t
        return wrapper

    sr._load_responses = timed("load: responses (query, packed answers, frame)", sr._load_responses)
    sr.load_wave_data = timed("load: all (units, margins, responses)", sr.load_wave_data)
    sr.analyse_wave = timed("analyse_wave", sr.analyse_wave)
    to_dict = WaveResult.to_dict
    WaveResult.to_dict = timed("result → JSON payload (to_dict)", to_dict)
    with app.app_context():
        t = time.perf_counter()
        with sr.bulk_loading():  # as `flask analysis run` and the worker load
            stored = sr.run_analysis(get_wave(SLUG))
        t_run = time.perf_counter() - t
        n = stored.n_responses
    timings["store (payload, audit, commit)"] = (
        t_run - timings["load: all (units, margins, responses)"] - timings["analyse_wave"]
        - timings["result → JSON payload (to_dict)"])
    return {"import_and_create_app": t_app - t0, "run_analysis": t_run,
            "timings": timings, "n_responses": n, "peak_mb": peak_mb_self()}


def worker_svy(d: Path) -> dict:
    """svy on the same data: (a) Taylor SEs of the indicators' domain means under the stratified clustered
    design, with our fixed weights, for every town, department, county and the city; (b) raking per town with
    the same merging, trimming and re-raking loop. Timed from prepared polars frames; checked against ours."""
    try:
        import polars as pl
        import svy
    except ImportError as e:
        return {"skipped": f"svy not importable ({e}); pip install -r bench/requirements.txt"}
    from analysis import analyse_wave
    from analysis.hierarchy import build_hierarchy
    from analysis.responses import code_responses, indicator_values
    from analysis.weights import DEFAULT_WEIGHT_CAP, rake_weights

    spec, frames = load_inputs(d)
    units, margins, resp = frames["units"], frames["margins"], frames["responses"]
    ours = analyse_wave(spec, units, margins, resp).to_dict(wave=SLUG, period="2026Q3", series="safety")
    hierarchy = build_hierarchy(units)
    coded = code_responses(spec, hierarchy, resp)
    t = time.perf_counter()
    weights = rake_weights(spec, hierarchy, margins, coded, DEFAULT_WEIGHT_CAP).weights
    our_rake = time.perf_counter() - t
    Y = indicator_values(spec, coded)
    keys = [ind.key for ind in spec.indicators]

    # (a) estimation with fixed weights ----------------------------------------------------------
    by_code = units.set_index("code")
    uc = resp["unit_code"].to_numpy(dtype=object)
    is_dept = by_code["kind"].reindex(uc).to_numpy() == "department"
    psu = resp["psu"].to_numpy(dtype=object)
    blank = pd.isna(psu)
    psu_id = np.array(psu, dtype=object)
    psu_id[blank] = "own:" + resp["response_id"].to_numpy(dtype=object)[blank]
    county = np.array(by_code["parent_code"].reindex(uc).to_numpy(dtype=object), dtype=object)
    county[is_dept] = None
    city = np.where(is_dept, None, CITY).astype(object)
    frame = pl.DataFrame({
        "stratum": uc.astype(str), "psu": psu_id.astype(str), "w": weights,
        **{k: Y[:, i] for i, k in enumerate(keys)},
        "l_unit": uc.astype(str), "l_county": list(county), "l_city": list(city),
    }, nan_to_null=True)
    times = {}
    theirs: dict[str, dict] = {}
    t_all = time.perf_counter()
    sample = svy.Sample(frame, svy.Design(stratum="stratum", psu="psu", wgt="w", singleton="skip"))
    for level in ("l_unit", "l_county", "l_city"):
        t = time.perf_counter()
        out = sample.estimation.mean(keys, by=level, drop_nulls=True)
        rows = [o.to_polars() for o in out]
        times[level] = time.perf_counter() - t
        for k, r in zip(keys, rows):
            for row in r.iter_rows(named=True):
                theirs.setdefault(row[level], {"indicators": {}})["indicators"][k] = {"estimate": row["est"], "se": row["se"]}
    est_time = time.perf_counter() - t_all
    est_check = compare_units(ours, theirs, with_composite=False)

    # (b) raking per town -----------------------------------------------------------------------
    from analysis.weights import (  # the product's own merging rule, prepared for svy
        DEFAULT_WEIGHT_CAP,
        merge_categories,
    )
    # Prepared beforehand (not timed): per weighting unit, its respondents who answered every raking
    # dimension, their answers mapped to the merged category groups, and the groups' population totals.
    dims = [it for it in spec.items if it.dimension]
    m_tab: dict[str, dict[str, dict[str, float]]] = {}
    for code, dim, cat, count in margins.itertuples(index=False):
        m_tab.setdefault(code, {}).setdefault(dim, {})[cat] = float(count)
    groups_of = resp.groupby("unit_code", sort=True).indices
    jobs = []
    for code, rows in groups_of.items():
        if code not in m_tab:
            continue
        tab = m_tab[code]
        unit_dims = [it for it in dims if it.dimension in tab]
        sub = resp.iloc[rows]
        ok = np.ones(len(rows), dtype=bool)
        for it in unit_dims:
            ok &= sub[it.key].notna().to_numpy()
        cols, controls = {}, {}
        for it in unit_dims:
            codes = [o.code for o in it.options]
            ans = sub[it.key].to_numpy(dtype=object)[ok]
            counts = [float((ans == c).sum()) for c in codes]
            pops = [tab[it.dimension].get(c, 0.0) for c in codes]
            label = {}
            for g in merge_categories(counts, pops):
                name = "|".join(codes[i] for i in g)
                for i in g:
                    label[codes[i]] = name
                controls.setdefault(it.dimension, {})[name] = sum(pops[i] for i in g)
            cols[it.dimension] = [label[a] for a in ans]
        jobs.append((rows, ok, pl.DataFrame(cols), controls))
    svy_w = np.ones(len(resp))
    rounds_total = not_converged = 0
    t = time.perf_counter()
    for rows, ok, data, controls in jobs:
        w = np.ones(data.height)
        for round_ in range(21):  # rake from 1, then up to 20 trimming rounds (docs/method.md)
            s = svy.Sample(data.with_columns(pl.Series("w0", w)), svy.Design(wgt="w0"))
            w = s.weighting.rake(controls=controls, tol=1e-10, max_iter=1000, wgt_name="rk",
                                 on_nonconvergence="warn").data["rk"].to_numpy()
            limit = DEFAULT_WEIGHT_CAP * w.mean()
            if w.max() <= limit * (1 + 1e-9):
                break
            if round_ == 20:
                not_converged += 1
                break
            rounds_total += 1
            w = np.minimum(w, limit)
        full = np.empty(len(rows))
        full[ok] = w
        full[~ok] = w.mean()
        svy_w[rows] = full
    rake_time = time.perf_counter() - t
    raked = np.zeros(len(resp), dtype=bool)
    for rows, *_ in jobs:
        raked[rows] = True
    rel = np.abs(svy_w[raked] - weights[raked]) / weights[raked]
    return {
        "estimation_s": est_time, "levels_s": times, "estimation_check": est_check,
        "rake_s": rake_time, "our_rake_s": our_rake, "rake_units": len(jobs), "trim_rounds": rounds_total,
        "trim_not_converged": not_converged, "rake_max_rel_diff": float(rel.max()),
        "domains": len(theirs), "svy_version": svy.__version__ if hasattr(svy, "__version__") else "?",
    }


WORKERS = {
    "generate": lambda d, a: generate(a.responses, a.towns, a.seed, d),
    "compute": lambda d, a: worker_compute(d, a.repeats),
    "tracemalloc": lambda d, a: worker_tracemalloc(d),
    "subset": lambda d, a: worker_subset(d, a.subset_towns, a.repeats),
    "stages": lambda d, a: worker_stages(d),
    "svy": lambda d, a: worker_svy(d),
}


# ----------------------------------------------------------------------------------------------
# Driver
# ----------------------------------------------------------------------------------------------
def run_timed(cmd: list[str], env: dict | None = None) -> tuple[float, float, str, str, float]:
    """Run a command; wall time, peak RSS (MB, from os.wait4), stdout, stderr and CPU time (user + system,
    all threads). Raises if it fails."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{stdout}\n{stderr}")
    return wall, mb(usage.ru_maxrss), stdout, stderr, usage.ru_utime + usage.ru_stime


def run_worker(name: str, d: Path, args: argparse.Namespace, env: dict | None = None, **extra) -> dict:
    cmd = [sys.executable, "-m", "bench.analysis", "--worker", name, str(d),
           "--repeats", str(extra.get("repeats", args.repeats))]
    if "subset_towns" in extra:
        cmd += ["--subset-towns", str(extra["subset_towns"])]
    cmd += extra.get("extra_args", [])
    wall, peak, stdout, _, _ = run_timed(cmd, env)
    result = json.loads(stdout.strip().splitlines()[-1])
    result["process_peak_mb"] = peak
    result["process_wall_s"] = wall
    return result


def flask(env: dict, *args: str) -> tuple[float, float, str, str, float]:
    return run_timed([sys.executable, "-m", "flask", "--app", "app", *args], env)


def machine() -> str:
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) / 2**20
    try:
        r = subprocess.run(["Rscript", "-e", 'cat(R.version$major, ".", R.version$minor, " survey ", '
                            'as.character(packageVersion("survey")), sep="")'], capture_output=True, text=True)
        rv = r.stdout.strip() or "not found"
    except FileNotFoundError:
        rv = "not found"
    return (f"machine: {os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))}), {cpu}, {mem:.1f} GiB RAM; "
            f"load average {os.getloadavg()[0]:.2f}\n"
            f"python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__} "
            f"(string storage in the product's processes: {pd.Series(['a']).dtype.storage}), R {rv}")


def svy_env() -> dict:
    """svy may live outside the venv (BENCH_SVY_PATH), so that its pyarrow does not change pandas'
    string storage in the product's processes; otherwise it is imported from the venv."""
    env = dict(os.environ)
    extra = os.environ.get("BENCH_SVY_PATH")
    if extra:
        env["PYTHONPATH"] = os.pathsep.join([extra] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--towns", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=20260701)
    parser.add_argument("--repeats", type=int, default=None,
                        help="repetitions of the computation (median quoted); default 5, or 3 below 200,000 responses")
    parser.add_argument("--cli-runs", type=int, default=None,
                        help="runs of `analysis run` (median quoted); default 3, or 1 below 200,000 responses")
    parser.add_argument("--r-towns", default=None,
                        help="comma-separated subset sizes (towns) for R; default 50,100, or 10 below 200,000 responses")
    parser.add_argument("--skip-r", action="store_true")
    parser.add_argument("--skip-svy", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the generated data (its directory is printed)")
    parser.add_argument("--worker", nargs=2, metavar=("NAME", "DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--subset-towns", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        args.repeats = args.repeats or 1
        name, d = args.worker
        print(json.dumps(WORKERS[name](Path(d), args)))
        return

    small = args.responses < 200_000
    args.repeats = args.repeats or (3 if small else 5)
    args.cli_runs = args.cli_runs or (1 if small else 3)
    r_sizes = [int(x) for x in (args.r_towns or ("10" if small else "50,100")).split(",")]
    print(machine())
    tmp = Path(tempfile.mkdtemp(prefix="pingan-bench-"))
    try:
        run(args, tmp, r_sizes)
    finally:
        if args.keep:
            print(f"data kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, tmp: Path, r_sizes: list[int]) -> None:
    # Generated in a subprocess, so that this process stays small: a child's ru_maxrss starts from the RSS
    # of the process that forked it.
    t = time.perf_counter()
    info = run_worker("generate", tmp, args, extra_args=["--responses", str(args.responses), "--towns",
                                                         str(args.towns), "--seed", str(args.seed)])
    sp = info["special"]
    print(f"\n== data (seed {args.seed}, generated in {time.perf_counter() - t:.1f} s)\n"
          f"{info['responses']:,} responses ({info['flagged']:,} flagged, {info['rejected']:,} rejected → "
          f"{info['analysed']:,} analysed); {info['units']:,} units: 1 city, {info['counties']} counties, "
          f"{info['towns']:,} towns, {info['departments']} departments; {info['margin_rows']:,} margin rows "
          f"(sex × age_group per town).\nedge cases: {sp['no_margins']} towns without margins, "
          f"{sp['sex_only_margins']} with sex margins only, {sp['empty_18_29']} with no respondent aged 18-29, "
          f"{sp['population_0_18_29']} with population 0 aged 18-29, {sp['skewed_sample']} with a skewed sample "
          f"(trimming binds), {sp['single_psu']} single-PSU towns, {sp['under_min_n']} units under min_n; "
          f"{info['blank_psu']:.1%} blank psu (own PSU); ~3% blank and ~6% 说不清 per scored item; "
          f"~1.5% blank sex, ~1.5% blank age.")

    # 1. the computation alone ----------------------------------------------------------------------
    print("\n== 1. computation: analyse_wave(spec, units, margins, responses), data frames → WaveResult")
    comp = run_worker("compute", tmp, args)
    compute_s = statistics.median(comp["times"])
    print(f"runs: {', '.join(f'{x:.3f}' for x in comp['times'])} s → {fmt_range(comp['times'])}")
    print(f"CPU time of those runs (all threads; ranking draws on 2 threads): "
          f"{', '.join(f'{x:.3f}' for x in comp['cpu'])} s (load average now {os.getloadavg()[0]:.2f})")
    if comp["peak_reset"]:
        print(f"peak RSS during the step (ru_maxrss, reset after loading the inputs through /proc/self/clear_refs): "
              f"{comp['peak_mb']:.0f} MB — interpreter, libraries and the input frames ({comp['inputs_rss_mb']:.0f} MB "
              f"resident before the first run) plus the step; unpickling the inputs had peaked at "
              f"{comp['load_peak_mb']:.0f} MB")
    else:
        print(f"peak RSS of the process (ru_maxrss, could not be reset after loading): {comp['peak_mb']:.0f} MB — "
              f"includes unpickling the inputs (peak {comp['load_peak_mb']:.0f} MB then)")
    tm = run_worker("tracemalloc", tmp, args)
    print(f"tracemalloc peak of one run (allocations of the step alone, inputs excluded): {tm['peak_mb']:.0f} MB")
    print(f"stage breakdown (two more runs under cProfile, profiler overhead included): wall "
          f"{comp['profiled_total']:.2f} s, CPU of all threads {comp['profiled_cpu']:.2f} s")
    print(f"  {'':<45} {'wall':>7}   {'CPU':>7}")
    for name, label in STAGES.items():
        if name in comp["stages"]:
            print(f"  {label:<45} {comp['stages'][name]:7.3f} s {comp['stages_cpu'].get(name, 0.0):7.3f} s")
    print("  (the ranking's draws, rank_groups, run on a thread of their own beside the item results and the\n"
          "   integrity checks: cProfile sees only the main thread; their CPU is in the all-threads total)")
    print(f"result: {comp['units']:,} units, interview list {comp['interview_list']}, "
          f"{comp['flags']} insufficient_sample; unit warnings {comp['unit_warnings']}")

    # 2. the database, through the product's own commands --------------------------------------------
    print("\n== 2. SQLite database built with the product's migrations and importers")
    db_path = tmp / "bench.db"
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{db_path}")
    env.pop("PYTHONPATH", None)
    flask(env, "db", "upgrade")
    for cmd in (["units", "import", str(tmp / "units.csv"), "--population", str(tmp / "population.csv")],
                ["questionnaire", "load", str(tmp / "questionnaire.yaml")],
                ["wave", "create", "--slug", SLUG, "--questionnaire", "safety", "--scope", CITY, "--period", "2026Q3"],
                ["wave", "open", SLUG]):
        flask(env, *cmd)
    imp_s, imp_mb, imp_out, _, imp_cpu = flask(env, "responses", "import", "--wave", SLUG, str(tmp / "responses.csv"))
    print(f"`responses import` of {info['responses']:,} rows: {imp_s:.1f} s (CPU {imp_cpu:.1f} s), peak RSS {imp_mb:.0f} MB "
          f"({imp_out.strip()})")
    review = pd.read_csv(tmp / "review.csv", dtype=str)
    import sqlite3

    con = sqlite3.connect(db_path)
    wave_id = con.execute("SELECT id FROM waves WHERE slug = ?", (SLUG,)).fetchone()[0]
    flags = {"flagged": '["speeder"]', "rejected": '["burst"]'}
    con.executemany("UPDATE responses SET review_status = ?, flags = ? WHERE wave_id = ? AND response_key = ?",
                    [(s, flags[s], wave_id, rid) for rid, s in review.itertuples(index=False)])
    con.commit()
    con.close()
    flask(env, "wave", "close", SLUG)
    print(f"review decisions ({len(review):,}: flagged / rejected) set with one SQL UPDATE; wave closed; "
          f"database {db_path.stat().st_size / 2**20:.0f} MB")

    # 3. the whole `analysis run` ------------------------------------------------------------------
    print(f"\n== 3. whole run: flask --app app analysis run --wave {SLUG} (SQLite, subprocess)")
    runs, peaks, cpus = [], [], []
    for _ in range(args.cli_runs):
        wall, peak, out, _, cpu = flask(env, "analysis", "run", "--wave", SLUG)
        runs.append(wall)
        peaks.append(peak)
        cpus.append(cpu)
    total_s = statistics.median(runs)
    print(f"runs: {', '.join(f'{x:.2f}' for x in runs)} s → {fmt_range(runs)}; peak RSS {max(peaks):.0f} MB")
    print(f"CPU time (user + system) of those runs: {', '.join(f'{x:.2f}' for x in cpus)} s "
          f"(load average now {os.getloadavg()[0]:.2f})")
    print(f"output: {out.strip()}")
    st = run_worker("stages", tmp, args, env=env)
    print(f"stages (one more run in one process, peak RSS {st['peak_mb']:.0f} MB):")
    print(f"  {'import app + create_app':<45} {st['import_and_create_app']:7.3f} s")
    for k, v in st["timings"].items():
        print(f"  {k:<45} {v:7.3f} s")
    print(f"  {'run_analysis total':<45} {st['run_analysis']:7.3f} s  (the rest of the CLI's wall time: "
          f"interpreter start-up, `flask` command loading, schema check)")

    # 4. R -------------------------------------------------------------------------------------------
    r_line = None
    r_ratio = float("nan")
    if not args.skip_r and shutil.which("Rscript"):
        print("\n== 4. R survey on subsets (bench/r_analysis.R; the method of make_reference.R)")
        r_runs = []
        for n_towns in r_sizes:
            ours = run_worker("subset", tmp, args, subset_towns=n_towns)
            wall, peak, out, _, _ = run_timed(["Rscript", str(BENCH / "r_analysis.R"), str(tmp)])
            res = json.loads((tmp / "r_result.json").read_text())
            check = compare_units(json.loads((tmp / "ours_subset.json").read_text()),
                                  {u["code"]: u for u in res["units"]})
            rt = res["timings"]
            ours_s = statistics.median(ours["times"])
            r_runs.append((ours, rt, ours_s))
            print(f"{ours['towns']} towns ({ours['units']} units, {ours['responses']:,} responses): R {rt['total']:.2f} s "
                  f"(weights {rt['weights']:.2f}, design {rt['design']:.2f}, domain estimates {rt['estimates']:.2f}; "
                  f"Rscript wall {wall:.1f} s, peak {peak:.0f} MB); ours {ours_s:.3f} s → ratio on the subset "
                  f"{rt['total'] / ours_s:.0f}")
            print(f"  agreement with ours, max |diff| over {check['units']} units: estimate {check['estimate']:.1e}, "
                  f"SE {check['se']:.1e}, composite {check['composite']:.1e}, composite SE {check['composite_se']:.1e}, "
                  f"deff {check['deff']:.1e}, n_eff {check['n_eff']:.1e}")
        ours, rt, ours_s = r_runs[-1]
        n_full, n_sub = info["analysed"], ours["responses"]
        towns_full = info["towns"]
        linear = rt["total"] * n_full / n_sub
        model = (rt["weights"] * towns_full / ours["towns"] + rt["design"] * n_full / n_sub
                 + rt["estimates"] * (info["units"] / ours["units"]) * (n_full / n_sub))
        r_ratio = linear / compute_s
        print(f"R scaled from {ours['towns']} towns to {n_full:,} responses: linearly (× {n_full / n_sub:.1f}, the "
              f"responses ratio) {linear:.0f} s, a lower bound, since each unit's subset() works on the whole "
              f"design; with the cost model weights ∝ towns, design ∝ responses, domain estimates ∝ units × "
              f"responses: {model:.0f} s")
        if len(r_runs) > 1:
            (o1, r1, _), (o2, r2, _) = r_runs[0], r_runs[-1]
            pred = (r1["weights"] * o2["towns"] / o1["towns"] + r1["design"] * o2["responses"] / o1["responses"]
                    + r1["estimates"] * (o2["units"] / o1["units"]) * (o2["responses"] / o1["responses"]))
            lin = r1["total"] * o2["responses"] / o1["responses"]
            print(f"  check from {o1['towns']} to {o2['towns']} towns: linear scaling predicts {lin:.1f} s, the cost "
                  f"model {pred:.1f} s; measured {r2['total']:.1f} s")
        r_line = (f"r_ratio (R scaled linearly / our computation) = {linear:.0f} / {compute_s:.2f} = {r_ratio:.0f}; "
                  f"with the cost model {model / compute_s:.0f}; measured on the {ours['towns']}-town subset "
                  f"{rt['total'] / ours_s:.0f}. R does weighting and estimation only (no ranking)")
    else:
        print("\n== 4. R: skipped")

    # 5. svy -----------------------------------------------------------------------------------------
    svy_ratio = None
    if not args.skip_svy:
        print("\n== 5. svy (PyPI, Rust core) on the same data")
        sv = run_worker("svy", tmp, args, env=svy_env())
        if "skipped" in sv:
            print(f"skipped: {sv['skipped']}")
        else:
            ec = sv["estimation_check"]
            ours_est = sum(comp["stages"].get(k, 0.0) for k in ("build_design", "indicator_values", "estimate_domains"))
            print(f"svy {sv['svy_version']}: Taylor SEs of the 3 indicators' domain means with our fixed weights "
                  f"(Design(stratum, psu, wgt, singleton='skip' = R's certainty here), mean(by=level, drop_nulls=True)) "
                  f"for {sv['domains']:,} domains: {sv['estimation_s']:.1f} s "
                  f"(towns+departments {sv['levels_s']['l_unit']:.1f}, counties {sv['levels_s']['l_county']:.1f}, "
                  f"city {sv['levels_s']['l_city']:.1f}); ours, the same stage plus the composite and deff: "
                  f"{ours_est:.2f} s")
            print(f"  agreement with ours over {ec['indicator_values']:,} estimates: max |diff| estimate "
                  f"{ec['estimate']:.1e}, SE {ec['se']:.1e}. Not computed by svy: the composite's delta-method SE "
                  f"and deff (no linear combination across variables), ranking, P(bottom N)")
            print(f"svy raking per town ({sv['rake_units']:,} Samples, rake(tol=1e-10, max_iter=1000), our trimming "
                  f"loop around it: {sv['trim_rounds']} re-rakes, {sv['trim_not_converged']} towns not converged): "
                  f"{sv['rake_s']:.1f} s; ours {sv['our_rake_s']:.2f} s; max relative weight difference "
                  f"{sv['rake_max_rel_diff']:.1e}. Merging empty categories and the respondents who left a "
                  f"dimension blank were prepared for svy beforehand, untimed")
            svy_s = sv["estimation_s"] + sv["rake_s"]
            svy_ratio = svy_s / compute_s
            print(f"svy_ratio (svy raking + estimation / our whole computation) = {svy_s:.1f} / {compute_s:.2f} = "
                  f"{svy_ratio:.0f}; like for like (the same two stages of ours): "
                  f"{svy_s / (sv['our_rake_s'] + ours_est):.0f}")

    # summary ------------------------------------------------------------------------------------------
    peak = comp["peak_mb"]
    print("\n== targets (2-core machine): computation ≤ 3 s and ≤ 2 GB; whole run ≤ 30 s on SQLite")
    print(f"computation {compute_s:.2f} s {'OK' if compute_s <= 3 else 'MISSED'}; peak {peak:.0f} MB "
          f"{'OK' if peak <= 2048 else 'MISSED'}; whole run {total_s:.1f} s {'OK' if total_s <= 30 else 'MISSED'} "
          f"(its peak RSS {max(peaks):.0f} MB)")
    if r_line:
        print(r_line)
    if svy_ratio is not None:
        print(f"svy_ratio={svy_ratio:.1f}")
    print(f"(peak RSS of children includes the driver's own peak, {peak_mb_self():.0f} MB, as a floor)")
    print(f"compute_s={compute_s:.3f} total_s={total_s:.2f} peak_mb={peak:.0f} r_ratio={r_ratio:.0f}")


if __name__ == "__main__":
    main()
