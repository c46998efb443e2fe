"""Frozen result objects of one wave's analysis and their JSON form (docs/formats.md).

All numbers are unrounded floats; `None` (JSON null) where a quantity is undefined.
`WaveResult.from_dict(result.to_dict(...)) == result`, so a stored result can be
reloaded as the `previous` wave.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Z95 = 1.959964  # docs/method.md: 95% CI = estimate ± 1.959964·SE


def _num(x: Any) -> float | None:
    return None if x is None else float(x)


def _int(x: Any) -> int | None:
    return None if x is None else int(x)


def _interval(x: Any) -> tuple[int, int] | None:
    return None if x is None else (int(x[0]), int(x[1]))


@dataclass(frozen=True)
class Estimate:
    """A domain estimate: `n` for an indicator (respondents with a value), `deff` for the composite."""

    estimate: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    n: int | None = None
    deff: float | None = None

    @classmethod
    def missing(cls, n: int | None = None) -> Estimate:
        return cls(None, None, None, None, n=n)

    @classmethod
    def from_estimate(cls, estimate: float, se: float, n: int | None = None, deff: float | None = None) -> Estimate:
        """Estimate ± 1.959964·SE, clipped to [0, 100] (docs/method.md "Intervals")."""
        lo = min(max(estimate - Z95 * se, 0.0), 100.0)
        hi = min(max(estimate + Z95 * se, 0.0), 100.0)
        return cls(float(estimate), float(se), float(lo), float(hi), n=n, deff=deff)

    def indicator_dict(self) -> dict[str, Any]:
        return {"estimate": self.estimate, "se": self.se, "ci_low": self.ci_low, "ci_high": self.ci_high, "n": self.n}

    def composite_dict(self) -> dict[str, Any]:
        return {
            "estimate": self.estimate,
            "se": self.se,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "deff": self.deff,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Estimate:
        return cls(
            _num(d.get("estimate")),
            _num(d.get("se")),
            _num(d.get("ci_low")),
            _num(d.get("ci_high")),
            n=_int(d.get("n")),
            deff=_num(d.get("deff")),
        )


@dataclass(frozen=True)
class Difference:
    """Current minus previous estimate; SE = √(se₁² + se₂²) (independent samples)."""

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    significant: bool  # the 95% CI excludes 0 and both periods have n ≥ min_n
    previous: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimate": self.estimate,
            "se": self.se,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "significant": self.significant,
            "previous": self.previous,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Difference | None:
        if d is None:
            return None
        return cls(
            float(d["estimate"]),
            float(d["se"]),
            float(d["ci_low"]),
            float(d["ci_high"]),
            bool(d["significant"]),
            float(d["previous"]),
        )


@dataclass(frozen=True)
class Change:
    """Change against the previous wave of the same series and scope."""

    composite: Difference | None
    indicators: dict[str, Difference | None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "composite": None if self.composite is None else self.composite.to_dict(),
            "indicators": {k: None if v is None else v.to_dict() for k, v in self.indicators.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Change | None:
        if d is None:
            return None
        return cls(
            Difference.from_dict(d.get("composite")),
            {k: Difference.from_dict(v) for k, v in (d.get("indicators") or {}).items()},
        )


@dataclass(frozen=True)
class UnitResult:
    code: str
    name: str
    kind: str
    parent_code: str | None
    n: int
    n_eff: float | None
    n_flagged: int
    indicators: dict[str, Estimate]
    composite: Estimate
    rank: int | None
    group_size: int | None
    p_bottom: float | None
    rank_ci: tuple[int, int] | None = None  # simultaneous 95% interval of the rank (docs/method.md)
    grade: str | None = None  # None under min_n
    color: str | None = None
    flags: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    change: Change | None = None
    items: dict | None = None  # item key → Estimate (mean score)
    options: dict | None = None  # item key → option code → Estimate (share, 0–100)
    weak_items: list | None = None  # [{"item", "estimate", "parent_estimate", "diff", "se"}]; None: unranked
    drivers: dict | None = None  # {"n", "coef": {name: {"estimate", "se"}}}; root and counties only
    integrity: dict | None = None  # unit-level integrity checks (analysis.integrity, docs/method.md)

    @property
    def peer_group(self) -> str | None:
        """Same parent and same kind (docs/formats.md); the root has none."""
        return None if self.parent_code is None else f"{self.kind}:{self.parent_code}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "kind": self.kind,
            "parent_code": self.parent_code,
            "n": self.n,
            "n_eff": self.n_eff,
            "indicators": {k: e.indicator_dict() for k, e in self.indicators.items()},
            "composite": self.composite.composite_dict(),
            "rank": self.rank,
            "group_size": self.group_size,
            "p_bottom": self.p_bottom,
            "rank_ci": None if self.rank_ci is None else [self.rank_ci[0], self.rank_ci[1]],
            "grade": self.grade,
            "color": self.color,
            "flags": list(self.flags),
            "warnings": list(self.warnings),
            "n_flagged": self.n_flagged,
            "change": None if self.change is None else self.change.to_dict(),
            "peer_group": self.peer_group,
            "items": None if self.items is None else {k: e.indicator_dict() for k, e in self.items.items()},
            "options": None if self.options is None else {
                k: {code: e.indicator_dict() for code, e in opts.items()} for k, opts in self.options.items()
            },
            "weak_items": None if self.weak_items is None else [dict(w) for w in self.weak_items],
            "drivers": self.drivers,
            "integrity": self.integrity,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> UnitResult:
        return cls(
            code=str(d["code"]),
            name=str(d["name"]),
            kind=str(d["kind"]),
            parent_code=None if d.get("parent_code") is None else str(d["parent_code"]),
            n=int(d["n"]),
            n_eff=_num(d.get("n_eff")),
            n_flagged=int(d.get("n_flagged") or 0),
            indicators={k: Estimate.from_dict(v) for k, v in d["indicators"].items()},
            composite=Estimate.from_dict(d["composite"]),
            rank=_int(d.get("rank")),
            group_size=_int(d.get("group_size")),
            p_bottom=_num(d.get("p_bottom")),
            rank_ci=_interval(d.get("rank_ci")),
            grade=d.get("grade"),
            color=d.get("color"),
            flags=tuple(d.get("flags") or ()),
            warnings=tuple(d.get("warnings") or ()),
            change=Change.from_dict(d.get("change")),
            items=None if d.get("items") is None else {k: Estimate.from_dict(v) for k, v in d["items"].items()},
            options=None if d.get("options") is None else {
                k: {code: Estimate.from_dict(v) for code, v in opts.items()} for k, opts in d["options"].items()
            },
            weak_items=None if d.get("weak_items") is None else [dict(w) for w in d["weak_items"]],
            drivers=d.get("drivers"),
            integrity=d.get("integrity"),
        )


@dataclass(frozen=True)
class InterviewEntry:
    """One line of the 约谈名单: reason `bottom_n` (with rank and rank interval) or `insufficient_sample`
    (rank None)."""

    code: str
    reason: str
    rank: int | None
    escalation: str | None  # "key_management" (重点管理) or None
    rank_ci: tuple[int, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "reason": self.reason,
            "rank": self.rank,
            "rank_ci": None if self.rank_ci is None else [self.rank_ci[0], self.rank_ci[1]],
            "escalation": self.escalation,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> InterviewEntry:
        return cls(
            str(d["code"]), str(d["reason"]), _int(d.get("rank")), d.get("escalation"), _interval(d.get("rank_ci"))
        )


@dataclass(frozen=True)
class WaveResult:
    """Everything `analyse_wave` computes for one wave; units ordered by depth, then code (root first)."""

    units: tuple[UnitResult, ...]
    interview_list: tuple[InterviewEntry, ...] = ()
    # item key → option code → {"share": weighted share or None, "count": respondents}, over the root domain
    distributions: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)  # weight_cap, seed, draws

    @property
    def root(self) -> UnitResult:
        return self.units[0]

    def unit(self, code: str) -> UnitResult:
        for u in self.units:
            if u.code == code:
                return u
        raise KeyError(code)

    def to_dict(self, wave: str | None = None, period: str | None = None, series: str | None = None) -> dict[str, Any]:
        """The JSON object of docs/formats.md plus `distributions`, `warnings`, `params` (and per unit
        `n_flagged`, `change`, `peer_group`)."""
        return {
            "wave": wave,
            "period": period,
            "series": series,
            "units": [u.to_dict() for u in self.units],
            "interview_list": [e.to_dict() for e in self.interview_list],
            "distributions": {
                item: {code: dict(v) for code, v in opts.items()} for item, opts in self.distributions.items()
            },
            "warnings": list(self.warnings),
            "params": dict(self.params),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WaveResult:
        return cls(
            units=tuple(UnitResult.from_dict(u) for u in d["units"]),
            interview_list=tuple(InterviewEntry.from_dict(e) for e in d.get("interview_list") or ()),
            distributions={
                item: {code: dict(v) for code, v in opts.items()}
                for item, opts in (d.get("distributions") or {}).items()
            },
            warnings=tuple(d.get("warnings") or ()),
            params=dict(d.get("params") or {}),
        )
