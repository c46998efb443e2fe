"""The item results' own cost (analysis.items.item_results) on the data of bench/analysis.py.

    .venv/bin/python -m bench.analysis --worker generate D --responses 1000000 --towns 2000 --seed 20260701
    .venv/bin/python -m bench.items D                     # this tree's analysis/
    cp bench/items.py /tmp/old/bench/ && (cd /tmp/old && /work/main/.venv/bin/python -m bench.items D)
                                                          # another tree's analysis/ (git archive …)

`compute_s` (bench/analysis.py) times the whole of analyse_wave; the item results are one part of its
main thread, beside the ranking's draws on other threads. This prints, as CPU time of the calling
thread (time.thread_time, so a busy machine inflates it less than wall time):

- alone: item_results on its inputs, computed once, `--repeats` times, with the garbage collector
  off (one full collection costs ~60 ms in this process and lands in whichever call crosses its
  threshold; with it on, the runs alternate between two values).
- in the wave: item_results inside `--waves` calls of analyse_wave (the first of each set is left out
  of the median, as a warm-up), with the collector on (as the product runs) and off, and the main
  thread's CPU and the process's CPU (all threads) of those calls.

The last line is `items_alone_s=… items_in_wave_s=… items_in_wave_nogc_s=…` (medians).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from pathlib import Path


def _fmt(xs: list[float]) -> str:
    return " ".join(f"{x:.3f}" for x in xs) + f" (median {statistics.median(xs):.3f} s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="a directory written by bench.analysis --worker generate")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--waves", type=int, default=5)
    args = parser.parse_args()
    import numpy as np

    from analysis import analyse_wave, wave
    from analysis.design import build_design
    from analysis.estimates import estimate_domains
    from analysis.hierarchy import build_hierarchy
    from analysis.ranking import ranked_units
    from analysis.responses import code_responses, indicator_values
    from analysis.weights import DEFAULT_WEIGHT_CAP, rake_weights
    from bench.analysis import load_inputs

    print(f"analysis/ from {Path(wave.__file__).resolve().parents[1]}; load average {os.getloadavg()[0]:.2f}")
    spec, frames = load_inputs(args.data)
    units, margins, responses = frames["units"], frames["margins"], frames["responses"]

    # alone: the inputs as analyse_wave builds them
    hierarchy = build_hierarchy(units)
    coded = code_responses(spec, hierarchy, responses)
    design = build_design(coded, rake_weights(spec, hierarchy, margins, coded, DEFAULT_WEIGHT_CAP).weights, hierarchy.size)
    Y = indicator_values(spec, coded)
    a = spec.composite_weights
    table = estimate_domains(
        design, hierarchy.domains, hierarchy.depth, Y, np.array([a.get(i.key, 0.0) for i in spec.indicators]), coded.flagged
    )
    parents = [hierarchy.parent_code(u) for u in range(hierarchy.size)]
    ranking = spec.ranking
    is_ranked = ranked_units(hierarchy.kinds, parents, table.n, table.composite, ranking.min_n, ranking.kinds)
    item_results = wave.item_results
    item_results(spec, hierarchy, coded, design, Y, is_ranked)  # imports statsmodels, scipy.stats
    alone = []
    gc.collect()
    gc.disable()
    for _ in range(args.repeats):
        t = time.thread_time()
        item_results(spec, hierarchy, coded, design, Y, is_ranked)
        alone.append(time.thread_time() - t)
    gc.enable()
    print(f"alone (collector off): {_fmt(alone)}")

    # in the wave
    spent: list[float] = []

    def timed(*a, **k):
        t = time.thread_time()
        try:
            return item_results(*a, **k)
        finally:
            spent.append(time.thread_time() - t)

    wave.item_results = timed
    medians = {}
    for label, collector in (("collector on", True), ("collector off", False)):
        spent.clear()
        main_cpu, process_cpu = [], []
        (gc.enable if collector else gc.disable)()
        for _ in range(args.waves):
            t, p = time.thread_time(), time.process_time()
            analyse_wave(spec, units, margins, responses)
            main_cpu.append(time.thread_time() - t)
            process_cpu.append(time.process_time() - p)
        gc.enable()
        keep = slice(1, None) if args.waves > 1 else slice(None)
        medians[collector] = statistics.median(spent[keep])
        print(f"in the wave ({label}): item_results {_fmt(spent[keep])}; main thread {_fmt(main_cpu[keep])}; "
              f"process {_fmt(process_cpu[keep])}")
    wave.item_results = item_results
    print(f"load average {os.getloadavg()[0]:.2f}")
    print(f"items_alone_s={statistics.median(alone):.3f} items_in_wave_s={medians[True]:.3f} "
          f"items_in_wave_nogc_s={medians[False]:.3f}")


if __name__ == "__main__":
    main()
