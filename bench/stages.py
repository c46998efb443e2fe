"""The cost of four stages of analyse_wave, each alone, on the data of bench/analysis.py.

    .venv/bin/python -m bench.analysis --worker generate D --responses 1000000 --towns 2000 --seed 20260701
    .venv/bin/python -m bench.stages D                     # this tree's analysis/
    cp bench/stages.py /tmp/old/bench/ && (cd /tmp/old && /work/main/.venv/bin/python -m bench.stages D)
                                                          # another tree's analysis/ (git archive …)
    .venv/bin/python -m bench.stages D --full              # with submitted_at, mode and the comment

`compute_s` (bench/analysis.py) times the whole of analyse_wave, whose stage breakdown comes from
cProfile (which inflates Python-heavy stages). This prints, for each stage computed on the inputs
analyse_wave gives it, the CPU time of the calling thread (time.thread_time, so a busy machine
inflates it less than wall time), `--repeats` times, with the garbage collector off:

- coding: analysis.responses.code_responses (answers, units and PSUs as integers);
- weights: analysis.weights.rake_weights (merging, raking, trimming);
- integrity: analysis.integrity.unit_integrity (with `--full`: also the time, mode and free-text
  signals, the columns given as survey.results loads them: times as datetime64, the mode a Categorical);
- ranking: analysis.ranking.rank_groups on one thread (it runs on THREADS threads in analyse_wave,
  beside the main thread): P(bottom N) from 20,000 draws and the rank intervals from 2,000.

The stages alternate within each repeat. The last line is
`coding_s=… weights_s=… integrity_s=… ranking_s=…` (medians).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="a directory written by bench.analysis --worker generate")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--full", action="store_true", help="add submitted_at, mode and comment from responses.csv")
    args = parser.parse_args()
    import numpy as np
    import pandas as pd

    import analysis.ranking as ranking_module
    from analysis import wave
    from analysis.design import build_design
    from analysis.estimates import estimate_domains
    from analysis.hierarchy import build_hierarchy
    from analysis.integrity import unit_integrity
    from analysis.ranking import rank_groups
    from analysis.responses import code_responses, indicator_values
    from analysis.weights import DEFAULT_WEIGHT_CAP, rake_weights
    from bench.analysis import load_inputs

    print(f"analysis/ from {Path(wave.__file__).resolve().parents[1]}; load average {os.getloadavg()[0]:.2f}")
    spec, frames = load_inputs(args.data)
    units, margins, responses = frames["units"], frames["margins"], frames["responses"]
    if args.full:
        extra = pd.read_csv(
            args.data / "responses.csv", usecols=["response_id", "submitted_at", "comment", "mode"], dtype=str
        )
        responses = responses.merge(extra, on="response_id", how="left")
        responses["submitted_at"] = pd.to_datetime(responses["submitted_at"], utc=True, format="ISO8601")
        responses["mode"] = pd.Categorical(responses["mode"], categories=["qr", "door", "phone", "paper"])

    # the inputs as analyse_wave builds them
    hierarchy = build_hierarchy(units)
    coded = code_responses(spec, hierarchy, responses)
    weights = rake_weights(spec, hierarchy, margins, coded, DEFAULT_WEIGHT_CAP).weights
    design = build_design(coded, weights, hierarchy.size)
    Y = indicator_values(spec, coded)
    a = np.array([spec.composite_weights.get(i.key, 0.0) for i in spec.indicators])
    table = estimate_domains(design, hierarchy.domains, hierarchy.depth, Y, a, coded.flagged)
    parents = [hierarchy.parent_code(u) for u in range(hierarchy.size)]
    r = spec.ranking
    ranking_module.THREADS = 1

    stages = {
        "coding": lambda: code_responses(spec, hierarchy, responses),
        "weights": lambda: rake_weights(spec, hierarchy, margins, coded, DEFAULT_WEIGHT_CAP),
        "integrity": lambda: unit_integrity(spec, hierarchy, coded, responses, 20260701, Y),
        "ranking": lambda: rank_groups(
            hierarchy.codes,
            hierarchy.kinds,
            parents,
            table.n,
            table.composite,
            table.composite_se,
            table.estimate[:, 0],
            r.min_n,
            r.bottom_n,
            20260701,
            20000,
            ranked_kinds=r.kinds,
        ),
    }
    for run in stages.values():  # imports (scipy.stats), first-touch of the allocator
        run()
    times: dict[str, list[float]] = {name: [] for name in stages}
    gc.disable()
    try:
        for _ in range(args.repeats):
            for name, run in stages.items():
                t = time.thread_time()
                run()
                times[name].append(time.thread_time() - t)
    finally:
        gc.enable()
    for name, xs in times.items():
        print(f"{name:<10} " + " ".join(f"{x:.3f}" for x in xs) + f" (median {statistics.median(xs):.3f} s)")
    print(f"load average now {os.getloadavg()[0]:.2f}")
    print(" ".join(f"{name}_s={statistics.median(xs):.3f}" for name, xs in times.items()))


if __name__ == "__main__":
    main()
