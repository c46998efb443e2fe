"""Answers packed as fixed-width bytes (analysis.packing): every answer survives the round trip, and the
analysis of the decoded Categoricals is the analysis of the option-code strings, to the last bit."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import analyse_wave
from analysis.errors import AnalysisError
from analysis.packing import packer, unpack
from analysis.spec import parse_questionnaire
from tests.analysis.conftest import QUESTIONNAIRE
from tests.analysis.test_items import load_inputs

WIDE = {
    **QUESTIONNAIRE,
    "items": [
        *QUESTIONNAIRE["items"],
        {"key": "many", "text": "多", "options": [{"code": f"o{i}", "label": f"选项{i}"} for i in range(300)]},
        {"key": "pick", "text": "选", "multiple": {"max": 9},
         "options": [{"code": f"p{i}", "label": f"项{i}"} for i in range(11)]},
    ],
}


def test_the_layout_and_the_round_trip():
    spec = parse_questionnaire(WIDE)
    p = packer(spec)
    # q1 q2 sex age: a byte each; many (300 options): 2 bytes; pick (11 options): a 2-byte mask; comment: none
    assert p.width == 4 + 2 + 2 and p.text_keys == ("comment",)
    rows = [
        {"q1": "A", "q2": "X", "sex": "F", "age": "O", "many": "o299", "pick": ["p10", "p0", "p8"], "comment": "路灯"},
        {},
        {"q2": "C", "many": "o0", "pick": "p3;p7", "comment": ""},
        {"q1": "B", "pick": []},
    ]
    packed = [p.pack(r) for r in rows]
    assert packed[1] == bytes(8) and packed[0][:4] == bytes([1, 4, 2, 3])
    assert [p.texts(r) for r in rows] == ['{"comment": "路灯"}', None, None, None]
    cols = unpack(spec, b"".join(packed), len(rows))
    assert values(cols["q1"]) == ["A", None, None, "B"] and values(cols["q2"]) == ["X", None, "C", None]
    assert values(cols["many"]) == ["o299", None, "o0", None]
    assert values(cols["pick"]) == ["p0;p8;p10", None, "p3;p7", None]  # in the questionnaire's order
    assert values(cols["sex"]) == ["F", None, None, None] and set(cols) == {"q1", "q2", "sex", "age", "many", "pick"}


def values(col: pd.Categorical) -> list:
    return [x if isinstance(x, str) else None for x in col]


def test_a_code_that_is_no_option_is_not_packed():
    p = packer(parse_questionnaire(WIDE))
    assert p.pack({"q1": "Z"}) is None
    assert p.pack({"pick": ["p1", "nope"]}) is None


def test_categoricals_are_coded_as_the_strings_are():
    spec, units, margins, responses = load_inputs()
    p = packer(spec)
    records = responses.to_dict("records")
    answers = [
        {k: (v.split(";") if spec.item(k).is_multiple else v) for k, v in r.items()
         if k in {it.key for it in spec.items} and isinstance(v, str)}
        for r in records
    ]
    packed = b"".join(p.pack(a) for a in answers)
    as_categoricals = responses.copy()
    for key, col in unpack(spec, packed, len(answers)).items():
        assert isinstance(col.dtype, pd.CategoricalDtype)
        as_categoricals[key] = col
    strings = analyse_wave(spec, units, margins, responses).to_dict()
    decoded = analyse_wave(spec, units, margins, as_categoricals).to_dict()
    assert decoded == strings


def test_a_categorical_with_a_bad_code_names_it():
    spec, units, margins, responses = load_inputs()
    bad = responses.copy()
    values = list(bad["safety"])
    values[3] = "Q"
    bad["safety"] = pd.Categorical(values)
    with pytest.raises(AnalysisError, match="“safety” 的答案代码不在选项中:Q"):
        analyse_wave(spec, units, margins, bad)


def test_categoricals_in_another_order_or_with_an_unused_extra_category_are_coded_as_the_strings_are():
    """The loader's categories are the options in order (each slot is then the option's index); any other
    categories go through a table."""
    spec, units, margins, responses = load_inputs()
    strings = analyse_wave(spec, units, margins, responses).to_dict()
    for key in ("safety", "sex"):
        codes = [o.code for o in spec.item(key).options]
        reordered = responses.copy()
        reordered[key] = pd.Categorical(responses[key], categories=codes[::-1])
        extra = responses.copy()
        extra[key] = pd.Categorical(responses[key], categories=[*codes, "unused"])
        for frame in (reordered, extra):
            assert analyse_wave(spec, units, margins, frame).to_dict() == strings
