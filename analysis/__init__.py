"""The statistical core of 平安测评: weights, domain estimates, uncertainty, rankings, interview lists.

Pure functions of pandas/numpy inputs (no Flask, no database), following docs/method.md:

    from analysis import analyse_wave, WaveResult, AnalysisError
    result = analyse_wave(spec, units, margins, responses, previous=None, weight_cap=5.0)
    result.to_dict(wave=..., period=..., series=...)   # the JSON of docs/formats.md
"""

from .errors import AnalysisError
from .results import Change, Difference, Estimate, InterviewEntry, UnitResult, WaveResult
from .spec import QuestionnaireSpec, SpecError, parse_questionnaire
from .wave import analyse_wave
from .weights import DEFAULT_WEIGHT_CAP

__all__ = [
    "AnalysisError",
    "Change",
    "DEFAULT_WEIGHT_CAP",
    "Difference",
    "Estimate",
    "InterviewEntry",
    "QuestionnaireSpec",
    "SpecError",
    "UnitResult",
    "WaveResult",
    "analyse_wave",
    "parse_questionnaire",
]
