"""Small hand-made inputs for the analysis core."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.spec import parse_questionnaire

QUESTIONNAIRE = {
    "slug": "mini",
    "title": "小问卷",
    "version": 1,
    "items": [
        {
            "key": "q1",
            "text": "治安如何?",
            "options": [
                {"code": "A", "label": "好", "score": 100},
                {"code": "B", "label": "一般", "score": 50},
                {"code": "C", "label": "差", "score": 0},
                {"code": "X", "label": "说不清"},
            ],
        },
        {
            "key": "q2",
            "text": "满意吗?",
            "options": [
                {"code": "A", "label": "满意", "score": 100},
                {"code": "B", "label": "一般", "score": 60},
                {"code": "C", "label": "不满意", "score": 0},
                {"code": "X", "label": "说不清"},
            ],
        },
        {
            "key": "sex",
            "text": "性别",
            "dimension": "sex",
            "options": [{"code": "M", "label": "男"}, {"code": "F", "label": "女"}],
        },
        {
            "key": "age",
            "text": "年龄",
            "dimension": "age_group",
            "options": [{"code": "Y", "label": "青"}, {"code": "M", "label": "中"}, {"code": "O", "label": "老"}],
        },
        {"key": "comment", "text": "意见"},
    ],
    "indicators": [
        {"key": "safety", "label": "安全感", "items": ["q1"], "weight": 0.6},
        {"key": "satisfaction", "label": "满意度", "items": ["q1", "q2"], "weight": 0.4},
        {"key": "rate", "label": "安全感率", "share_of": {"item": "q1", "options": ["A", "B"]}},
    ],
    "ranking": {"bottom_n": 2, "min_n": 5},
}

ITEMS = ("q1", "q2", "sex", "age")


@pytest.fixture
def spec():
    return parse_questionnaire(QUESTIONNAIRE)


def make_spec(**changes):
    return parse_questionnaire({**QUESTIONNAIRE, **changes})


def units_frame(rows):
    """rows: (code, kind, parent_code)."""
    return pd.DataFrame(
        [{"code": c, "name": f"单位{c}", "kind": k, "parent_code": p} for c, k, p in rows],
        columns=["code", "name", "kind", "parent_code"],
    )


def margins_frame(rows):
    """rows: (unit_code, dimension, category, count)."""
    return pd.DataFrame(rows, columns=["unit_code", "dimension", "category", "count"])


def responses_frame(rows):
    """rows: dicts with unit_code and any of psu, flagged, q1, q2, sex, age."""
    out = []
    for i, r in enumerate(rows):
        out.append(
            {
                "response_id": r.get("response_id", f"R{i + 1:04d}"),
                "unit_code": r["unit_code"],
                "psu": r.get("psu"),
                "flagged": r.get("flagged", False),
                **{k: r.get(k) for k in ITEMS},
            }
        )
    return pd.DataFrame(out, columns=["response_id", "unit_code", "psu", "flagged", *ITEMS])


def random_responses(rng: np.random.Generator, unit_codes, n_per_unit, psus=4, blank=0.1):
    """Random answers (with blanks and 说不清) for each unit; PSUs G0..G{psus-1}, some empty."""
    rows = []
    for code in unit_codes:
        for _ in range(n_per_unit):
            r = {"unit_code": code, "psu": None if rng.random() < 0.15 else f"G{rng.integers(psus)}"}
            for key, codes in (("q1", "ABCX"), ("q2", "ABCX"), ("sex", "MF"), ("age", "YMO")):
                r[key] = None if rng.random() < blank else codes[rng.integers(len(codes))]
            r["flagged"] = bool(rng.random() < 0.1)
            rows.append(r)
    return responses_frame(rows)


CITY = [
    ("C", "city", None),
    ("K1", "county", "C"),
    ("K2", "county", "C"),
    ("T11", "town", "K1"),
    ("T12", "town", "K1"),
    ("T21", "town", "K2"),
    ("T22", "town", "K2"),
    ("V111", "village", "T11"),
    ("V112", "village", "T11"),
    ("D1", "department", "C"),
    ("D2", "department", "C"),
    ("KD1", "department", "K1"),
]
