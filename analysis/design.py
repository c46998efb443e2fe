"""The frozen survey design: fixed weights, strata and PSUs (docs/method.md "Uncertainty").

Equivalent to R's `svydesign(ids=~psu, strata=~stratum, weights=~w, nest=TRUE)`: the stratum of a
response is the unit it is attached to, PSUs are nested in strata, and n_h counts the PSUs of the
full design (as `subset()` keeps them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .responses import CodedResponses


@dataclass(frozen=True, eq=False)
class Design:
    weights: np.ndarray  # (n,) fixed weights
    stratum: np.ndarray  # (n,) stratum = hierarchy index of the response's unit
    psu: np.ndarray  # (n,) PSU id
    psu_stratum: np.ndarray  # (P,) stratum of each PSU
    n_psu: np.ndarray  # (H,) PSUs per stratum in the full design (H = number of hierarchy units)

    @property
    def single_psu_strata(self) -> np.ndarray:
        """Strata with exactly one PSU: they contribute 0 (survey.lonely.psu = "certainty")."""
        return np.nonzero(self.n_psu == 1)[0]


def build_design(coded: CodedResponses, weights: np.ndarray, n_strata: int) -> Design:
    psu_stratum = np.zeros(coded.n_psu, dtype=np.int64)
    psu_stratum[coded.psu] = coded.unit
    return Design(
        weights=np.asarray(weights, dtype=float),
        stratum=coded.unit,
        psu=coded.psu,
        psu_stratum=psu_stratum,
        n_psu=np.bincount(psu_stratum, minlength=n_strata),
    )
