"""Comparing an analysis (the JSON of `analysis export`, or `WaveResult.to_dict()`) with the R references of
tests/fixtures/analysis (make_reference.R): shared by tests/analysis and tests/survey/test_analysis_cli.py."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis import analyse_wave, parse_questionnaire
from analysis.ranking import rank_critical_value, rank_intervals

FIXTURES = Path(__file__).parents[1] / "fixtures" / "analysis"
DATASETS = {"city": FIXTURES, "practice": FIXTURES / "practice"}
TOL = 1e-8
SEED = 20260701  # analyse_wave's default seed


def reference(dataset: str, wave: int) -> dict:
    return json.loads((DATASETS[dataset] / f"reference_w{wave}.json").read_text(encoding="utf-8"))


def frames(dataset: str):
    """spec, units, margins and the two waves' responses, as `analyse_wave` takes them."""
    d = DATASETS[dataset]
    spec = parse_questionnaire(yaml.safe_load((d / "questionnaire.yaml").read_text(encoding="utf-8")))
    units = pd.read_csv(d / "units.csv", dtype=str, keep_default_na=False).replace({"": None})
    margins = pd.read_csv(d / "population.csv", dtype={"unit_code": str, "category": str}, keep_default_na=False,
                          encoding="utf-8-sig")

    def responses(wave: int) -> pd.DataFrame:
        r = pd.read_csv(d / f"responses_w{wave}.csv", dtype=str, keep_default_na=False)
        r = r.astype(object).where(r != "", None)
        r["flagged"] = False
        return r

    return spec, units, margins, responses(1), responses(2)


def analyse_both(dataset: str):
    """Wave 1, then wave 2 with wave 1 as `previous` and the issued set R used (`previous_issued`)."""
    spec, units, margins, r1, r2 = frames(dataset)
    w1 = analyse_wave(spec, units, margins, r1)
    issued = reference(dataset, 2)["previous_issued"]
    w2 = analyse_wave(spec, units, margins, r2, previous=w1, previous_issued=issued)
    return w1, w2


def _close(got, want, what, rel=0.0):
    if want is None:
        assert got is None, (what, got)
    else:
        assert got is not None, what
        assert got == pytest.approx(want, abs=TOL, rel=rel), what


def _group_key(u: dict) -> str:
    return f"{u['kind']}:{u['parent_code']}"


def assert_matches_reference(ours: dict, ref: dict, seed: int = SEED, check_change: bool = True) -> dict:
    """Every number of `ref` (R) in `ours` at 1e-8 (p_bottom to 0.02; rank_ci as described below).

    rank_ci: the critical value c comes from random draws (R's and numpy's differ), so (1) our interval formula
    applied with R's c (`rank_critical`) must give R's intervals exactly, and (2) our own intervals must equal
    R's in every group where no pair's |x_j − x_k| / s_jk lies between the two critical values (the result does
    not depend on the draws there). Returns counts of what was compared."""
    units = {u["code"]: u for u in ours["units"]}
    assert set(units) == {u["code"] for u in ref["units"]}
    for r in ref["units"]:
        u = units[r["code"]]
        c = r["code"]
        assert u["n"] == r["n"], c
        # n_eff is a count in the hundreds; weights agree to the raking tolerance (relative 1e-10)
        _close(u["n_eff"], r["n_eff"], (c, "n_eff"), rel=1e-10)
        for key, e in r["indicators"].items():
            for f in ("estimate", "se", "ci_low", "ci_high"):
                _close(u["indicators"][key][f], e[f], (c, key, f))
            assert u["indicators"][key]["n"] == e["n"], (c, key)
            if e["ci_low"] is not None:
                assert 0 <= e["ci_low"] <= e["estimate"] <= e["ci_high"] <= 100, (c, key)
        for f in ("estimate", "se", "ci_low", "ci_high", "deff"):
            _close(u["composite"][f], r["composite"][f], (c, "composite", f))
        for f in ("rank", "group_size", "grade", "color", "flags", "warnings"):
            assert u[f] == r[f], (c, f, u[f], r[f])
        if r["p_bottom"] is None:
            assert u["p_bottom"] is None, c
        else:
            assert u["p_bottom"] == pytest.approx(r["p_bottom"], abs=0.02), c
        assert (u["rank_ci"] is None) == (r["rank_ci"] is None), c
        if check_change and "change" in r:
            rc, oc = r["change"], u["change"]
            assert (oc is None) == (rc is None), c
            if rc is not None:
                pairs = [("composite", oc["composite"], rc["composite"])]
                pairs += [(k, oc["indicators"][k], v) for k, v in rc["indicators"].items()]
                for what, o, x in pairs:
                    assert (o is None) == (x is None), (c, what)
                    if x is not None:
                        for f in ("estimate", "se", "ci_low", "ci_high", "previous"):
                            _close(o[f], x[f], (c, "change", what, f))
                        assert o["significant"] == x["significant"], (c, "change", what)

    # rank intervals, per peer group
    groups: dict[str, list[dict]] = {}
    for u in ours["units"]:
        if u["rank"] is not None:
            groups.setdefault(_group_key(u), []).append(u)
    ref_by = {u["code"]: u for u in ref["units"]}
    compared = insensitive = 0
    for key, members in groups.items():
        members.sort(key=lambda u: u["rank"])
        x = np.array([u["composite"]["estimate"] for u in members])
        s = np.array([u["composite"]["se"] for u in members])
        want = [tuple(ref_by[u["code"]]["rank_ci"]) for u in members]
        c_r = ref["rank_critical"][key]
        lo, hi = rank_intervals(x, s, c_r) if len(members) > 1 else ([1], [1])
        assert list(zip(map(int, lo), map(int, hi))) == want, (key, "formula with R's c")
        compared += 1
        got = [tuple(u["rank_ci"]) for u in members]
        if len(members) == 1:
            assert got == want == [(1, 1)]
            continue
        c_py = rank_critical_value(s, np.random.default_rng([seed, zlib.crc32(key.encode("utf-8"))]))
        assert c_py == pytest.approx(c_r, rel=0.1), key  # Monte Carlo error of 2,000 draws
        with np.errstate(invalid="ignore", divide="ignore"):  # a pair with SE 0 on both sides: no threshold
            t = np.abs(x[:, None] - x[None, :]) / np.sqrt(s[:, None] ** 2 + s[None, :] ** 2)
        between = (t > min(c_py, c_r)) & (t <= max(c_py, c_r))
        if not between.any():
            assert got == want, (key, got, want)
            insensitive += 1
        for (a, b), u in zip(got, members):
            assert 1 <= a <= u["rank"] <= b <= len(members), key

    # the list: equal but for rank_ci (compared through the units above); each entry's rank_ci is its unit's
    def strip(entries):
        return [{k: v for k, v in e.items() if k != "rank_ci"} for e in entries]

    assert strip(ours["interview_list"]) == strip(ref["interview_list"])
    for side, by in ((ours["interview_list"], units), (ref["interview_list"], ref_by)):
        for e in side:
            assert e["rank_ci"] == by[e["code"]]["rank_ci"], e
    return {"groups": compared, "insensitive": insensitive}
