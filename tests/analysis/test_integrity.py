"""Unit-level integrity checks (analysis.integrity): true and false positive rates on simulations of a
demo-like population, and the pieces on small hand-made inputs.

The simulation follows demo/model.py: per town a latent level (high-satisfaction places included), a
village effect, a person effect shared by all of a resident's answers (so honest answers are strongly
correlated), item noise, cut into A–E with a little 说不清; modes as in a rural town; QR sheets at any
hour of a 50-day fieldwork, door and paper on three team days, phone in office hours.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis import analyse_wave
from analysis.hierarchy import build_hierarchy
from analysis.integrity import FLAG_ORDER, unit_integrity
from analysis.responses import code_responses
from analysis.spec import parse_questionnaire
from demo.model import AGE_EFFECT, CUTS, DONT_KNOW, ITEM_OFFSET, MODE_EFFECT, MODE_MIX, SCORED

SPEC = parse_questionnaire(
    yaml.safe_load((Path(__file__).parents[2] / "demo" / "questionnaire.yaml").read_text("utf-8"))
)
LETTERS = np.array(list("EDCBA"), dtype=object)
START = np.datetime64("2026-08-04T00:00:00", "s")
DAYS = 50
VILLAGES = 11  # per town
REFERENCE = {
    "safety": "A",
    "night_safety": "A",
    "sat_police": "A",
    "sat_justice": "B",
    "sat_mediation": "A",
    "sat_prevention": "A",
}


def _sheets(rng, n: int, level: float, modes: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """`n` honest answer sheets around a latent `level` (demo/model.py, simplified)."""
    age = rng.choice(4, size=n, p=[0.15, 0.25, 0.3, 0.3])
    sex = rng.integers(2, size=n)
    if modes is None:
        mix = np.array(MODE_MIX["rural"])
        modes = rng.choice(4, size=n, p=mix / mix.sum())
    person = rng.normal(0, 0.55, n)
    common = level + AGE_EFFECT[age] - 0.05 * (sex == 1) + MODE_EFFECT[modes] + person
    out: dict[str, np.ndarray] = {}
    for item in SCORED:
        z = common + ITEM_OFFSET[item] + rng.normal(0, 0.6, n)
        letters = LETTERS[np.searchsorted(CUTS, z)]
        letters[rng.random(n) < DONT_KNOW[item]] = "X"
        out[item] = letters
    out["victim"] = np.where(rng.random(n) < 0.1, "Y", "N").astype(object)
    out["concerns"] = np.full(n, "", dtype=object)  # optional and unscored: left unanswered
    out["sex"] = np.array(["M", "F"], dtype=object)[sex]
    out["age_group"] = np.array(["18-29", "30-44", "45-59", "60+"], dtype=object)[age]
    out["mode"] = np.array(["qr", "door", "phone", "paper"], dtype=object)[modes]
    return out


def _times(rng, modes: np.ndarray) -> np.ndarray:
    """Seconds after START: QR any day 7–23 h, door/paper on three team days, phone in office hours."""
    n = len(modes)
    team = rng.choice(DAYS, size=3, replace=False)
    visit = np.isin(modes, ("door", "paper"))
    phone = modes == "phone"
    day = np.where(visit, team[rng.integers(3, size=n)], rng.integers(DAYS, size=n))
    minute = np.where(phone | visit, rng.integers(9 * 60, 18 * 60, size=n), rng.integers(7 * 60, 23 * 60, size=n))
    return (day * 1440 + minute) * 60 + rng.integers(60, size=n)


def simulate(seed: int, coached: str | None = None, sessions: int = 3):
    """Two towns of VILLAGES villages each. In town 1, village 1 is coached (`coached`: "all_max" or
    "reference": a third of its sheets, QR, within one day) or honest; in both towns `sessions`
    villages hold an organised honest session (30 residents scanning within ten minutes)."""
    rng = np.random.default_rng(seed)
    units = [("C", "县", "county", None)]
    frames = []
    for t in (1, 2):
        town = f"T{t}"
        units.append((town, town, "town", "C"))
        level = rng.uniform(0.9, 1.4)  # contented places, some very
        session_villages = set(rng.choice(np.arange(2 if t == 1 else 1, VILLAGES + 1), size=sessions, replace=False))
        for v in range(1, VILLAGES + 1):
            code = f"{town}V{v:02d}"
            units.append((code, code, "village", town))
            n = int(np.clip(round(rng.normal(64, 12)), 40, 90))
            lv = level + rng.normal(0, 0.12)
            sheets = _sheets(rng, n, lv)
            sheets["t"] = _times(rng, sheets["mode"])
            parts = [sheets]
            if v in session_villages:
                session = _sheets(rng, 30, lv, modes=np.zeros(30, dtype=np.int64))
                day = rng.integers(DAYS)
                session["t"] = (day * 1440 + 9 * 60) * 60 + rng.integers(600, size=30)
                parts.append(session)
            if coached and t == 1 and v == 1:
                k = n // 2  # a third of the unit's sheets: n honest + n/2 coached
                fake = _sheets(rng, k, lv, modes=np.zeros(k, dtype=np.int64))
                for item in SCORED:
                    fake[item] = np.full(k, "A" if coached == "all_max" else REFERENCE[item], dtype=object)
                day = rng.integers(DAYS)
                fake["t"] = (day * 1440 + 8 * 60) * 60 + rng.integers(14 * 3600, size=k)
                parts.append(fake)
            frame = pd.concat([pd.DataFrame(p) for p in parts], ignore_index=True)
            frame["unit_code"] = code
            frames.append(frame)
    responses = pd.concat(frames, ignore_index=True)
    responses["submitted_at"] = START + responses.pop("t").to_numpy().astype("timedelta64[s]")
    responses.insert(0, "response_id", [f"r{i}" for i in range(len(responses))])
    responses["psu"] = None
    responses["comment"] = None
    units = pd.DataFrame(units, columns=["code", "name", "kind", "parent_code"])
    return units, responses


def integrity_of(units: pd.DataFrame, responses: pd.DataFrame, seed: int = 1) -> dict[str, dict]:
    hierarchy = build_hierarchy(units)
    coded = code_responses(SPEC, hierarchy, responses)
    found = unit_integrity(SPEC, hierarchy, coded, responses, seed)
    return dict(zip(hierarchy.codes, found))


SEEDS = 30  # 60 simulated waves, about 15 s; 1,260 honest villages, 180 of them with a session


@pytest.fixture(scope="module")
def rates():
    """Flag counts over SEEDS simulated waves per scenario: honest villages (sessions included) and
    the coached village."""
    honest = {f: 0 for f in FLAG_ORDER}
    n_honest = 0
    caught = {"all_max": 0, "reference": 0}
    sessions = [0, 0]  # honest villages whose densest day was tested, and how many were flagged
    for seed in range(SEEDS):
        for scenario in ("all_max", "reference"):
            units, responses = simulate(seed * 2 + (scenario == "reference"), coached=scenario)
            found = integrity_of(units, responses, seed)
            caught[scenario] += bool(found["T1V01"]["flags"])
            for code, d in found.items():
                if code.startswith("T2V") or (code.startswith("T1V") and code != "T1V01"):
                    n_honest += 1
                    for f in d["flags"]:
                        honest[f] += 1
                    if d["time_cluster"] is not None and d["time_cluster"]["p_pattern"] is not None:
                        sessions[0] += 1
                        sessions[1] += d["time_cluster"]["flag"]
    return honest, n_honest, caught, sessions


def test_a_coached_third_within_one_day_is_caught_in_at_least_90_percent_of_seeds(rates):
    _, _, caught, _ = rates
    assert caught["all_max"] / SEEDS >= 0.9, caught
    assert caught["reference"] / SEEDS >= 0.9, caught


def test_honest_units_sessions_included_are_flagged_at_most_1_percent_per_signal(rates):
    honest, n, _, sessions = rates
    assert n >= 1000
    for flag, count in honest.items():
        assert count / n <= 0.01, (flag, count, n)
    tested, flagged = sessions
    assert tested >= 6 * SEEDS  # every organised session is seen as a cluster in time ...
    assert flagged / tested <= 0.01  # ... and passes, because it answers like everyone else


# -- the pieces ---------------------------------------------------------------------------------


def _peers(n_units: int = 6, n: int = 40, seed: int = 5):
    """A town of `n_units` honest villages (no time, mode or text columns)."""
    rng = np.random.default_rng(seed)
    units = [("T", "T", "town", None)] + [(f"V{v}", f"V{v}", "village", "T") for v in range(n_units)]
    frames = []
    for v in range(n_units):
        sheets = _sheets(rng, n, 0.6)
        del sheets["mode"]
        frame = pd.DataFrame(sheets)
        frame["unit_code"] = f"V{v}"
        frames.append(frame)
    return pd.DataFrame(units, columns=["code", "name", "kind", "parent_code"]), pd.concat(frames, ignore_index=True)


def test_signals_whose_columns_are_absent_are_left_out():
    units, responses = _peers()
    found = integrity_of(units, responses)
    for d in found.values():
        assert d["time_cluster"] is None and d["mode_gap"] is None and d["same_text_share"] is None
    assert found["T"]["near_duplicate_null_p99"] is None  # the root has no peers
    v = found["V0"]
    assert v["flags"] == []
    assert 0 <= v["near_duplicate_share"] <= 1 and v["near_duplicate_null_p99"] is not None
    assert 0 <= v["all_maximum_share"] <= v["all_maximum_null_p99"]


def test_near_duplicates_and_all_maximum_are_counted_exactly():
    """6 scored items: k = ⌊0.15·6⌋ = 0, so near-duplicates agree on every item (说不清 and blank
    included); a sheet with fewer than 3 scored answers is left out."""
    units, responses = _peers()
    v0 = responses[responses["unit_code"] == "V0"].copy()
    rows = v0.index[:4]
    for item in SCORED:
        v0.loc[rows[:2], item] = "A"  # two all-maximum sheets, duplicates of each other
        v0.loc[rows[2:4], item] = "C"
    v0.loc[rows[3], "sat_police"] = "X"  # now differs from rows[2]
    rest = v0.drop(rows)
    for item in SCORED:  # the rest: all different from each other and from the four
        rest[item] = "B"
    codes = ["A", "B", "C", "D", "E"]
    for i, idx in enumerate(rest.index):
        digits = np.base_repr(i + 1, 5).rjust(6, "0")
        for j, item in enumerate(SCORED):
            rest.loc[idx, item] = codes[int(digits[j])]
    frame = pd.concat([v0.loc[rows], rest])
    responses = pd.concat([frame, responses[responses["unit_code"] != "V0"]], ignore_index=True)
    d = integrity_of(units, responses)["V0"]
    n = len(frame)
    assert d["near_duplicate_share"] == pytest.approx(2 / n)
    all_max = sum(all(frame.loc[i, it] == "A" for it in SCORED) for i in frame.index)
    assert d["all_maximum_share"] == pytest.approx(all_max / n)


def test_one_differing_item_is_a_near_duplicate_from_seven_scored_items():
    """7 scored items: k = ⌊0.15·7⌋ = 1 (6 of 7 = 86% agree)."""
    data = yaml.safe_load((Path(__file__).parents[2] / "demo" / "questionnaire.yaml").read_text("utf-8"))
    extra = dict(data["items"][2], key="sat_extra")
    data["items"].insert(6, extra)
    spec = parse_questionnaire(data)
    units = pd.DataFrame(
        [("T", "T", "town", None), ("V", "V", "village", "T")], columns=["code", "name", "kind", "parent_code"]
    )
    base = dict.fromkeys([*SCORED, "sat_extra"], "B")
    sheets = [
        base,
        {**base, "safety": "A"},
        {**base, "safety": "A", "night_safety": "A", "sat_police": "C", "sat_justice": "C"},
    ]
    sheets += [{**base, "safety": "C", "night_safety": "C"}]  # two away from the first: not a near-duplicate of it
    responses = pd.DataFrame(sheets)
    responses["unit_code"] = "V"
    for key in ("victim", "concerns", "sex", "age_group", "comment"):
        responses[key] = None
    hierarchy = build_hierarchy(units)
    coded = code_responses(spec, hierarchy, responses)
    found = dict(zip(hierarchy.codes, unit_integrity(spec, hierarchy, coded, responses)))
    # 0 and 1 differ in one item; 3 differs from 0 in two and from 1 in two; 2 in three or more
    assert found["V"]["near_duplicate_share"] == pytest.approx(2 / 4)


def test_identical_free_text_is_flagged_against_peers_without_it():
    units, responses = _peers(n_units=8)
    responses["comment"] = None
    v0 = responses.index[responses["unit_code"] == "V0"]
    responses.loc[v0[:8], "comment"] = "我村治安很好，干部作风扎实，群众非常满意"  # a handed-out text
    responses.loc[v0[8:10], "comment"] = "好"  # short: never counts
    other = responses.index[responses["unit_code"] == "V1"]
    responses.loc[other[:2], "comment"] = ["路灯坏了很久没人修", "希望多安排夜间巡逻"]
    found = integrity_of(units, responses)
    assert found["V0"]["same_text_share"] == pytest.approx(8 / 40)
    assert found["V0"]["same_text_n"] == 8
    assert "same_text" in found["V0"]["flags"]
    assert found["V1"]["same_text_share"] == 0 and found["V1"]["flags"] == []


def test_results_are_deterministic_and_travel_through_the_json():
    units, responses = simulate(7, coached="all_max")
    first = analyse_wave(SPEC, units, None, responses, draws=200)
    again = analyse_wave(SPEC, units, None, responses, draws=200)
    assert [u.integrity for u in first.units] == [u.integrity for u in again.units]
    coached = first.unit("T1V01")
    assert "time_cluster" in coached.integrity["flags"]
    d = first.to_dict()
    assert d["units"][[u["code"] for u in d["units"]].index("T1V01")]["integrity"] == coached.integrity
    assert type(first).from_dict(d).unit("T1V01").integrity == coached.integrity
