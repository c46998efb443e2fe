"""AAPOR outcome rates of a telephone survey: RR1, RR3 and COOP1 (docs/method.md "Response rates").

Each case of the call list ends in one final category (AAPOR Standard Definitions):
I complete, P partial, R refusal, NC non-contact (the respondent never reached or a call-back
never kept), O other eligible non-interview, UH unknown eligibility (only busy or no answer),
NE not eligible. Numbers never dialled are not part of the released sample and count nowhere.

    RR1   = I / ((I + P) + (R + NC + O) + (UH + UO))
    RR3   = I / ((I + P) + (R + NC + O) + e (UH + UO))
    COOP1 = I / ((I + P) + R + O)

e, the share of the unknown-eligibility cases estimated to be eligible, is the share eligible
among the cases whose eligibility is known (the proportional allocation of AAPOR's guidance):

    e = (I + P + R + NC + O) / (I + P + R + NC + O + NE)

computed once over the whole wave (more cases than any unit has) and used for every group.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

CATEGORIES = ("I", "P", "R", "NC", "O", "UH", "NE")
# The final category of a case from its calls' dispositions, strongest first: a case ends with its
# interview, refusal or ineligibility; otherwise any contact makes it NC; only busy / no answer, UH.
_FINAL = {"complete": "I", "partial": "P", "refusal": "R", "ineligible": "NE"}
_CONTACT = {"non_contact": "NC", "callback": "NC"}
_UNKNOWN = {"busy": "UH", "no_answer": "UH"}


def final_category(dispositions: Sequence[str]) -> str | None:
    """The AAPOR category of a case from the dispositions of its calls in order (None: never dialled).

    The last final outcome (complete, partial, refusal, ineligible) decides; without one, a case
    where anyone was reached or a call-back was agreed is NC; one with only busy and no answer is UH.
    """
    for d in reversed(dispositions):
        if d in _FINAL:
            return _FINAL[d]
    if any(d in _CONTACT for d in dispositions):
        return "NC"
    if any(d in _UNKNOWN for d in dispositions):
        return "UH"
    if dispositions:
        raise ValueError(f"unknown disposition in {list(dispositions)!r}")
    return None


@dataclass(frozen=True)
class Rates:
    counts: dict[str, int]
    rr1: float | None  # None: no case in the denominator
    rr3: float | None
    coop1: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def eligibility_share(counts: dict[str, int]) -> float:
    """e: the eligible share of the cases whose eligibility is known (1 when none is known yet)."""
    eligible = sum(counts.get(k, 0) for k in ("I", "P", "R", "NC", "O"))
    known = eligible + counts.get("NE", 0)
    return eligible / known if known else 1.0


def rates(counts: dict[str, int], e: float) -> Rates:
    """RR1, RR3 and COOP1 of one group of cases, given its category counts and the wave's e."""
    c = {k: counts.get(k, 0) for k in CATEGORIES}
    interviews, eligible_non = c["I"] + c["P"], c["R"] + c["NC"] + c["O"]

    def share(num: float, den: float) -> float | None:
        return num / den if den > 0 else None

    return Rates(
        counts=c,
        rr1=share(c["I"], interviews + eligible_non + c["UH"]),
        rr3=share(c["I"], interviews + eligible_non + e * c["UH"]),
        coop1=share(c["I"], interviews + c["R"] + c["O"]),
    )


def count(categories: Iterable[str | None]) -> dict[str, int]:
    out = dict.fromkeys(CATEGORIES, 0)
    for cat in categories:
        if cat is not None:
            out[cat] += 1
    return out
