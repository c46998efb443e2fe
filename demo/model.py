"""The latent model behind the demo answers.

Every town has a true safety level and a true satisfaction level per wave (a few
towns weak in every wave, a few improving from wave to wave, the rest steady
around the level of their kind of place); villages vary a little around their
town, departments have levels of their own. A respondent's answer to an item is
an ordered-probit draw around

    level(unit, wave) + village effect + age + sex + interview mode + victim + person + item noise

cut into A–E, with 说不清 (X) and blanks a few percent. Older people and women
answer more readily than their share of the population, so the raw sample is
skewed and the town weights have work to do. Pure numpy, no database.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from demo import comments
from demo.city import AGE_GROUPS, SEXES, City, Department, Town, Village

SCORED = ("safety", "night_safety", "sat_police", "sat_justice", "sat_mediation", "sat_prevention")
COLUMNS = (
    "response_id", "unit_code", "psu", "submitted_at", *SCORED, "victim", "concerns", "sex", "age_group", "comment", "mode",
)
ITEM_KEYS = (*SCORED, "victim", "concerns", "sex", "age_group", "comment")
MODES = ("qr", "door", "phone", "paper")
LETTERS = np.array(list("EDCBA"))
CUTS = np.array([-2.0, -1.0, 0.0, 1.0])  # latent ≤ −2: E, … > 1: A

# Per item: shift of the latent value (night-time and courts fare worse), and the rate of 说不清.
ITEM_OFFSET = dict(zip(SCORED, (0.05, -0.10, 0.05, -0.10, 0.0, -0.12)))
DONT_KNOW = dict(zip(SCORED, (0.015, 0.02, 0.03, 0.07, 0.04, 0.03)))
AGE_EFFECT = np.array([-0.18, -0.08, 0.0, 0.15])  # the old are more content
MODE_EFFECT = np.array([-0.05, 0.12, 0.05, 0.05])  # an interviewer at the door draws politer answers
# How readily each group answers, relative to its share of the population.
RESPONSE_PROPENSITY = {"sex": np.array([1.0, 1.25]), "age_group": np.array([0.55, 0.8, 1.1, 1.45])}
DEPARTMENT_PROPENSITY = {"sex": np.array([1.0, 1.1]), "age_group": np.array([0.8, 1.3, 1.2, 0.7])}
# Interview mode by kind of place (qr, door, phone, paper); the over-60s rarely scan a code.
MODE_MIX = {
    "street": (0.55, 0.25, 0.12, 0.08),
    "seat": (0.45, 0.33, 0.12, 0.10),
    "suburban": (0.42, 0.36, 0.10, 0.12),
    "rural": (0.30, 0.45, 0.10, 0.15),
    "remote": (0.22, 0.50, 0.10, 0.18),
    "department": (0.40, 0.05, 0.35, 0.20),
}
QR_HOURS = np.arange(7, 23)
QR_HOUR_WEIGHTS = np.array([2, 4, 5, 4, 3, 3, 5, 4, 3, 3, 4, 6, 9, 10, 8, 4], dtype=float)
COMMENT_RATE = 0.008
# 最希望解决的问题 (codes A–F, N = none): how often each comes up by kind of place. Drawn from a
# generator of its own (seeded by wave and unit), so adding the item left every other answer as it was.
CONCERN_CODES = np.array(list("ABCDEF"))
CONCERN_WEIGHTS = {
    "street": (0.30, 0.15, 0.10, 0.20, 0.05, 0.20),
    "seat": (0.30, 0.20, 0.12, 0.18, 0.08, 0.12),
    "suburban": (0.28, 0.25, 0.15, 0.15, 0.07, 0.10),
    "rural": (0.25, 0.30, 0.22, 0.10, 0.08, 0.05),
    "remote": (0.22, 0.32, 0.25, 0.08, 0.10, 0.03),
    "department": (0.35, 0.20, 0.15, 0.10, 0.10, 0.10),
}
CONCERN_STREAM = 20261206


@dataclass(frozen=True)
class WavePlan:
    slug: str
    period: str
    index: int  # 0, 1, 2: position in the series, drives the trends
    fieldwork: tuple[date, date]  # first and last day forms were collected
    closes: bool  # closed waves are complete; the open one is still collecting


TARGET_N = 60
WAVES = (
    WavePlan("2026Q2-city", "2026Q2", 0, (date(2026, 5, 6), date(2026, 6, 26)), True),
    WavePlan("2026Q3-city", "2026Q3", 1, (date(2026, 8, 4), date(2026, 9, 25)), True),
    WavePlan("2026Q4-city", "2026Q4", 2, (date(2026, 10, 9), date(2026, 11, 21)), False),  # today: 2026-11-22
)


@dataclass
class Levels:
    """True levels (latent scale, ≈ 0.9 for a good place) per unit code and wave index."""

    safety: dict[str, np.ndarray] = field(default_factory=dict)
    satisfaction: dict[str, np.ndarray] = field(default_factory=dict)
    village: dict[str, float] = field(default_factory=dict)
    psus: dict[str, list[str]] = field(default_factory=dict)  # unit code → its 村民小组 / survey teams
    story: dict[str, str] = field(default_factory=dict)  # town code → "weak" | "improving" | "steady"


BASE_LEVEL = {"street": 0.95, "seat": 0.85, "suburban": 0.90, "rural": 0.85, "remote": 0.80}
CITY_TREND = np.array([0.0, 0.04, 0.07])


def draw_levels(rng: np.random.Generator, city: City) -> Levels:
    levels = Levels()
    waves = len(WAVES)
    by_county: dict[str, list[Town]] = {}
    for town in city.towns:
        by_county.setdefault(town.county_code, []).append(town)
    for i, (county, towns) in enumerate(by_county.items()):
        candidates = [t for t in towns if t.profile != "seat"]
        picks = rng.choice(len(candidates), size=2, replace=False)
        levels.story[candidates[picks[0]].code] = "weak"
        if i < 3:  # three of the four counties have a town that is turning round
            levels.story[candidates[picks[1]].code] = "improving"
    for town in city.towns:
        story = levels.story.setdefault(town.code, "steady")
        usual = BASE_LEVEL[town.profile] + rng.normal(0, 0.14)
        if story == "weak":  # weak in every wave
            safety = rng.uniform(-0.15, 0.15) + rng.uniform(-0.03, 0.05) * np.arange(waves) + rng.normal(0, 0.07, waves)
        elif story == "improving":  # weak in the first wave, back to normal after 约谈 and 整改
            after = usual + np.array([rng.uniform(-0.05, 0.05), rng.uniform(0.05, 0.12)])
            safety = np.concatenate([[rng.uniform(0.15, 0.35)], after])[:waves] + rng.normal(0, 0.04, waves)
        else:
            safety = usual + rng.normal(0, 0.03) * np.arange(waves) + rng.normal(0, 0.10, waves)
        safety = safety + CITY_TREND
        levels.safety[town.code] = safety
        levels.satisfaction[town.code] = safety + rng.normal(0, 0.15) + rng.normal(0, 0.05, waves)
        for village in town.villages:
            levels.village[village.code] = float(rng.normal(0, 0.12))
            levels.psus[village.code] = [f"G{g:02d}" for g in range(1, int(rng.integers(3, 7)) + 1)]
    for dept in city.departments:
        # The city's 信访局 hears the grievances nobody else settled: low in every wave.
        base = 0.05 if dept.name == f"{city.name}信访局" else rng.normal(0.75, 0.15)
        satisfaction = base + rng.normal(0, 0.05) * np.arange(waves) + rng.normal(0, 0.10, waves)
        levels.satisfaction[dept.code] = satisfaction
        levels.safety[dept.code] = 0.85 + CITY_TREND + 0.3 * (satisfaction - 0.75)
        levels.psus[dept.code] = [f"T{g:02d}" for g in range(1, int(rng.integers(2, 4)) + 1)]
    return levels


def planned_n(rng: np.random.Generator, unit: Village | Department, wave: WavePlan) -> int:
    """Forms collected for one unit in one wave (the open wave is only part way)."""
    if isinstance(unit, Department):
        n = int(rng.integers(40, 81))
    elif unit.remote:
        n = int(rng.integers(14, 29))
    elif rng.random() < 0.03:
        n = int(rng.integers(18, 30))
    else:
        n = int(np.clip(round(rng.normal(64, 12)), 40, 90))
    if not wave.closes:
        u = rng.random()
        if u < 0.18:  # well behind target
            progress = rng.uniform(0.08, 0.35)
        elif u > 0.88:  # already done
            progress = rng.uniform(1.0, 1.15)
        else:
            progress = rng.uniform(0.4, 0.95)
        n = int(round(n * progress * (0.5 if getattr(unit, "remote", False) else 1.0)))
    return n


def _demographics(
    rng: np.random.Generator, n: int, sex_share: np.ndarray, age_share: np.ndarray, propensity: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Sex and age-group indices, drawn from population × response propensity."""
    joint = np.outer(sex_share * propensity["sex"], age_share * propensity["age_group"]).ravel()
    cells = rng.choice(joint.size, size=n, p=joint / joint.sum())
    return cells // len(AGE_GROUPS), cells % len(AGE_GROUPS)


def _timestamps(rng: np.random.Generator, modes: np.ndarray, fieldwork: tuple[date, date]) -> list[str]:
    """Door and paper forms on the team's visiting days, phone calls in office hours, QR any time of day."""
    first, last = fieldwork
    n, n_days = len(modes), (last - first).days + 1
    weekdays = np.array([d for d in range(n_days) if (first + timedelta(d)).weekday() < 5])
    team_days = rng.choice(weekdays, size=3, replace=False)
    visit, phone = np.isin(modes, (1, 3)), modes == 2  # door or paper; phone
    any_day = rng.integers(n_days, size=n)
    day = np.where(visit, team_days[rng.integers(3, size=n)], np.where(phone, rng.choice(weekdays, size=n), any_day))
    qr_minute = rng.choice(QR_HOURS, size=n, p=QR_HOUR_WEIGHTS / QR_HOUR_WEIGHTS.sum()) * 60 + rng.integers(60, size=n)
    office_minute = rng.integers(9 * 60, 17 * 60 + 30, size=n)
    minute = np.where(visit, rng.integers(9 * 60, 18 * 60, size=n), np.where(phone, office_minute, qr_minute))
    seconds = (day * 1440 + minute) * 60 + rng.integers(60, size=n)
    stamps = np.datetime64(first, "s") + seconds.astype("timedelta64[s]")
    return [s.replace("T", " ") for s in np.datetime_as_string(stamps, unit="s")]


def _comment(rng: np.random.Generator, mean_score: float, place: str, department: bool) -> str:
    if department:
        pool = comments.DEPARTMENT_PRAISE if mean_score >= 80 else comments.DEPARTMENT_COMPLAINTS
    elif mean_score < 60:
        pool = comments.COMPLAINTS if rng.random() < 0.75 else comments.SUGGESTIONS
    elif mean_score >= 85:
        pool = comments.PRAISE if rng.random() < 0.6 else comments.SUGGESTIONS
    else:
        pool = comments.SUGGESTIONS if rng.random() < 0.6 else comments.COMPLAINTS
    return pool[rng.integers(len(pool))].replace("{place}", place)


def respond(
    rng: np.random.Generator,
    unit: Village | Department,
    n: int,
    wave: WavePlan,
    levels: Levels,
    population: tuple[np.ndarray, np.ndarray],
    profile: str,
) -> list[dict[str, str]]:
    """`n` filled-in forms for one village or department in one wave (response_id left blank)."""
    if n == 0:
        return []
    department = isinstance(unit, Department)
    level_key = unit.code if department else unit.town.code
    safety = levels.safety[level_key][wave.index] + levels.village.get(unit.code, 0.0)
    satisfaction = levels.satisfaction[level_key][wave.index] + levels.village.get(unit.code, 0.0)

    sex, age = _demographics(rng, n, *population, DEPARTMENT_PROPENSITY if department else RESPONSE_PROPENSITY)
    mix = np.tile(np.array(MODE_MIX[profile]), (n, 1))
    mix[age == 3, 0] *= 0.35
    mix /= mix.sum(axis=1, keepdims=True)
    modes = np.minimum((rng.random((n, 1)) > np.cumsum(mix, axis=1)).sum(axis=1), len(MODES) - 1)

    p_victim = 1 / (1 + np.exp(2.3 + 1.1 * (safety - 0.8)))
    victim = rng.random(n) < p_victim
    person = rng.normal(0, 0.55, n)
    common = AGE_EFFECT[age] - 0.05 * (sex == 1) + MODE_EFFECT[modes] + person
    paper_like = modes != 0  # the QR form insists on required answers; typed-in forms may have gaps

    answers: dict[str, np.ndarray] = {}
    scores = np.zeros(n)
    scored = np.zeros(n)
    for item in SCORED:
        level = safety if item in ("safety", "night_safety") else satisfaction
        hurt = {"safety": 0.55, "night_safety": 0.55, "sat_police": 0.35}.get(item, 0.15)
        z = level + common + ITEM_OFFSET[item] - hurt * victim + rng.normal(0, 0.6, n)
        if item == "night_safety":
            z -= 0.25 * (sex == 1)
        letters = LETTERS[np.searchsorted(CUTS, z)].astype(object)
        dont_know = rng.random(n) < DONT_KNOW[item] * np.where(age == 3, 1.6, 1.0)
        letters[dont_know] = "X"
        letters[paper_like & (rng.random(n) < 0.012)] = ""
        answers[item] = letters
        value = np.select([letters == c for c in "ABCDE"], [100, 80, 60, 30, 0], default=-1)
        scores += np.where(value >= 0, value, 0)
        scored += value >= 0
    mean_score = np.divide(scores, scored, out=np.full(n, 75.0), where=scored > 0)

    victim_answer = np.where(victim, "Y", "N").astype(object)
    u = rng.random(n)
    victim_answer[u < 0.03] = "R"
    victim_answer[(u >= 0.03) & (u < 0.05)] = ""
    sex_answer = np.array(SEXES, dtype=object)[sex]
    sex_answer[paper_like & (rng.random(n) < 0.0015)] = ""
    age_answer = np.array(AGE_GROUPS, dtype=object)[age]
    age_answer[paper_like & (rng.random(n) < 0.003)] = ""

    concerns = _concerns(unit.code, wave.index, profile, mean_score, victim)

    psus = levels.psus[unit.code]
    group = rng.choice(len(psus), size=n, p=rng.dirichlet(np.full(len(psus), 3.0)))
    no_psu = rng.random(n) < np.where(modes == 0, 0.35, 0.03)
    stamps = _timestamps(rng, modes, wave.fieldwork)
    place = unit.name
    rows = []
    for i in range(n):
        row = {
            "response_id": "",
            "unit_code": unit.code,
            "psu": "" if no_psu[i] else psus[group[i]],
            "submitted_at": stamps[i],
            **{item: answers[item][i] for item in SCORED},
            "victim": victim_answer[i],
            "concerns": concerns[i],
            "sex": sex_answer[i],
            "age_group": age_answer[i],
            "comment": _comment(rng, mean_score[i], place, department) if rng.random() < COMMENT_RATE else "",
            "mode": MODES[modes[i]],
        }
        rows.append(row)
    return rows


def _concerns(code: str, wave_index: int, profile: str, mean_score: np.ndarray, victim: np.ndarray) -> list[str]:
    """最希望解决的问题 for each respondent: none ("N") more often the happier they are, otherwise one
    or two codes by the place's weights, fraud and theft likelier after being a victim; 8% skip it."""
    rng = np.random.default_rng([CONCERN_STREAM, wave_index, zlib.crc32(code.encode())])
    n = len(mean_score)
    base = np.array(CONCERN_WEIGHTS[profile])
    p_none = np.clip((mean_score - 55.0) / 60.0, 0.05, 0.6)
    out = []
    for i in range(n):
        u = rng.random()
        if u < 0.08:
            out.append("")
            continue
        if rng.random() < p_none[i] and not victim[i]:
            out.append("N")
            continue
        w = base * np.where(victim[i], np.array([2.0, 2.0, 1, 1, 1, 1]), 1.0)
        k = 1 + int(rng.random() < 0.55)
        picked = rng.choice(len(w), size=k, replace=False, p=w / w.sum())
        out.append(";".join(CONCERN_CODES[np.sort(picked)]))
    return out


def wave_responses(rng: np.random.Generator, city: City, levels: Levels, wave: WavePlan) -> list[dict[str, str]]:
    """Every form of one wave, numbered in the order they came in."""
    rows: list[dict[str, str]] = []
    for town in city.towns:
        population = (town.share("sex"), town.share("age_group"))
        for village in town.villages:
            rows += respond(rng, village, planned_n(rng, village, wave), wave, levels, population, town.profile)
    totals = {d: sum(t.population[d][c] for t in city.towns for c in t.population[d]) for d in ("sex", "age_group")}
    city_population = (
        np.array([sum(t.population["sex"][c] for t in city.towns) for c in SEXES]) / totals["sex"],
        np.array([sum(t.population["age_group"][c] for t in city.towns) for c in AGE_GROUPS]) / totals["age_group"],
    )
    for dept in city.departments:
        rows += respond(rng, dept, planned_n(rng, dept, wave), wave, levels, city_population, "department")
    rows.sort(key=lambda r: (r["submitted_at"], r["unit_code"]))
    for serial, row in enumerate(rows, start=1):
        row["response_id"] = f"{wave.period}-{serial:05d}"
    return rows
