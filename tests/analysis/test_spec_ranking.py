"""`ranking` in the questionnaire: min_group and kinds, their defaults and their errors."""

import pytest

from analysis.spec import SpecError, parse_questionnaire

from .conftest import QUESTIONNAIRE


def parse(ranking):
    return parse_questionnaire({**QUESTIONNAIRE, "ranking": ranking})


def test_defaults():
    r = parse({"bottom_n": 2, "min_n": 5}).ranking
    assert (r.bottom_n, r.min_n, r.min_group, r.kinds) == (2, 5, 4, ("county", "town", "department"))
    r = parse_questionnaire({k: v for k, v in QUESTIONNAIRE.items() if k != "ranking"}).ranking
    assert (r.bottom_n, r.min_n, r.min_group, r.kinds) == (3, 30, 6, ("county", "town", "department"))


def test_given_values_and_round_trip():
    spec = parse({"bottom_n": 3, "min_n": 30, "min_group": 5, "kinds": ["town", "village"]})
    assert spec.ranking.min_group == 5 and spec.ranking.kinds == ("town", "village")
    assert spec.to_dict()["ranking"] == {"bottom_n": 3, "min_n": 30, "min_group": 5, "kinds": ["town", "village"]}
    assert parse_questionnaire(spec.to_dict()) == spec


@pytest.mark.parametrize(
    "ranking, path, words",
    [
        ({"min_group": 0}, ("ranking", "min_group"), "min_group"),
        ({"min_group": "six"}, ("ranking", "min_group"), "min_group"),
        ({"kinds": []}, ("ranking", "kinds"), "非空列表"),
        ({"kinds": "town"}, ("ranking", "kinds"), "非空列表"),
        ({"kinds": ["town", "hamlet"]}, ("ranking", "kinds", 1), "hamlet"),
        ({"kinds": ["town", "town"]}, ("ranking", "kinds", 1), "重复"),
    ],
)
def test_errors_name_the_value(ranking, path, words):
    with pytest.raises(SpecError) as err:
        parse(ranking)
    assert err.value.path == path and words in err.value.message
