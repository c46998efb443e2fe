"""The shape of a report, computed from a `WaveResult`: peer groups, headline rows, the interview list.

Pure functions of result objects: no database, no Flask, no arithmetic on the estimates
beyond ordering and counting (the numbers themselves were computed by `analysis`).

Ranks in the results run upwards (rank 1 = lowest composite, DESIGN.md §4). People read
a table best first, so tables show the place from the top (`PeerGroup.place`: 1 = best)
and the notices say 倒数第 rank 位; both are the same rank.
"""

from __future__ import annotations

from dataclasses import dataclass

from analysis import Difference, Estimate, InterviewEntry, UnitResult, WaveResult
from analysis.spec import QuestionnaireSpec
from models.interviews import ESCALATION_LABELS, REASON_LABELS
from models.units import KIND_LABELS, KIND_RANK
from reports.formatting import ci, change_words, num



@dataclass(frozen=True)
class PeerGroup:
    """Units of one kind under one parent (DESIGN.md §3), best first, the unranked at the end."""

    kind: str
    parent: UnitResult
    title: str
    units: tuple[UnitResult, ...]

    @property
    def size(self) -> int:
        """Ranked units in the group (`group_size` of the results)."""
        return sum(1 for u in self.units if u.rank is not None)

    @property
    def ranked(self) -> tuple[UnitResult, ...]:
        return tuple(u for u in self.units if u.rank is not None)

    @property
    def unranked(self) -> tuple[UnitResult, ...]:
        return tuple(u for u in self.units if u.rank is None)

    def place(self, unit: UnitResult) -> int | None:
        """Place from the top (1 = highest composite); None for an unranked unit."""
        group_size = unit.group_size if unit.group_size is not None else self.size
        return None if unit.rank is None else group_size - unit.rank + 1


@dataclass(frozen=True)
class Section:
    """All peer groups of one kind: 县(区), 乡镇(街道), 村(社区), 网格, 部门."""

    kind: str
    label: str
    groups: tuple[PeerGroup, ...]

    @property
    def units(self) -> tuple[UnitResult, ...]:
        return tuple(u for g in self.groups for u in g.units)


def department_group_name(parent: UnitResult) -> str:
    """安澜市 → 安澜市市直部门, 澜江区 → 澜江区区直部门, 青石县 → 青石县县直部门."""
    for suffix in ("市", "区", "县", "旗"):
        if parent.name.endswith(suffix):
            return f"{parent.name}{suffix}直部门"
    return f"{parent.name}直属部门"


def group_title(kind: str, parent: UnitResult) -> str:
    if kind == "department":
        return department_group_name(parent)
    return f"{parent.name}各{KIND_LABELS[kind]}"


def _display_order(unit: UnitResult) -> tuple:
    if unit.rank is not None:
        return (0, -unit.rank, unit.code)
    est = unit.composite.estimate
    return (1, est is None, -(est or 0.0), unit.code)


def peer_groups(result: WaveResult) -> list[PeerGroup]:
    """Every peer group of the wave (the root has none), by kind then by the parent's order."""
    position = {u.code: i for i, u in enumerate(result.units)}
    members: dict[tuple[str, str], list[UnitResult]] = {}
    for u in result.units[1:]:
        if u.parent_code is not None:
            members.setdefault((u.kind, u.parent_code), []).append(u)
    order = sorted(
        members,
        key=lambda k: (KIND_RANK.get(k[0], len(KIND_RANK)), position.get(k[1], 0)),
    )
    groups = []
    for kind, parent_code in order:
        parent = result.unit(parent_code)
        groups.append(
            PeerGroup(kind, parent, group_title(kind, parent), tuple(sorted(members[(kind, parent_code)], key=_display_order)))
        )
    return groups


def sections(groups: list[PeerGroup]) -> list[Section]:
    by_kind: dict[str, list[PeerGroup]] = {}
    for g in groups:
        by_kind.setdefault(g.kind, []).append(g)
    return [Section(kind, KIND_LABELS[kind], tuple(gs)) for kind, gs in by_kind.items()]


def group_of(groups: list[PeerGroup]) -> dict[str, PeerGroup]:
    """unit code → its peer group."""
    return {u.code: g for g in groups for u in g.units}


@dataclass(frozen=True)
class Headline:
    """One line of the summary: the composite or an indicator of the root, with its change."""

    key: str
    label: str
    estimate: Estimate
    change: Difference | None
    weight: float | None  # share in the composite (renormalised), None if not part of it
    is_share: bool = False


def headlines(result: WaveResult, spec: QuestionnaireSpec) -> list[Headline]:
    root = result.root
    weights = spec.composite_weights
    rows = [Headline("composite", "综合指数", root.composite, root.change.composite if root.change else None, None)]
    for ind in spec.indicators:
        if ind.key not in root.indicators:
            continue
        rows.append(
            Headline(
                ind.key,
                ind.label,
                root.indicators[ind.key],
                root.change.indicators.get(ind.key) if root.change else None,
                weights.get(ind.key),
                ind.is_share,
            )
        )
    return rows


@dataclass(frozen=True)
class GradeRow:
    """How many units of a kind got each grade (and each colour), and how many were too small to rank."""

    label: str
    units: int
    by_grade: dict[str, int]
    by_color: dict[str, int]
    insufficient: int


def grade_rows(secs: list[Section], spec: QuestionnaireSpec) -> list[GradeRow]:
    rows = []
    for s in secs:
        units = s.units
        rows.append(
            GradeRow(
                s.label,
                len(units),
                {g.label: sum(1 for u in units if u.grade == g.label) for g in spec.grades},
                {c: sum(1 for u in units if u.color == c) for c in ("blue", "yellow", "red")},
                sum(1 for u in units if "insufficient_sample" in u.flags),
            )
        )
    return rows


@dataclass(frozen=True)
class Listed:
    """One line of the 约谈名单 and the notice that goes with it."""

    number: str  # the notice number, 2026Q3-001
    entry: InterviewEntry
    unit: UnitResult
    group: PeerGroup

    @property
    def reason_label(self) -> str:
        return REASON_LABELS.get(self.entry.reason, self.entry.reason)

    @property
    def action_label(self) -> str:
        """约谈, or 约谈·重点管理."""
        if self.entry.escalation:
            return f"约谈·{ESCALATION_LABELS.get(self.entry.escalation, self.entry.escalation)}"
        return "约谈"

    @property
    def key_management(self) -> bool:
        return self.entry.escalation == "key_management"


def interview_list(result: WaveResult, groups: list[PeerGroup], period: str) -> list[Listed]:
    """The stored interview list, in its order, with units and groups resolved and notices numbered."""
    of = group_of(groups)
    return [
        Listed(f"{period}-{i:03d}", entry, result.unit(entry.code), of[entry.code])
        for i, entry in enumerate(result.interview_list, start=1)
    ]


def listed_by_group(listed: list[Listed]) -> list[tuple[PeerGroup, list[Listed]]]:
    """The interview list grouped by peer group, in the list's order."""
    out: list[tuple[PeerGroup, list[Listed]]] = []
    for x in listed:
        if out and out[-1][0] is x.group:
            out[-1][1].append(x)
        else:
            out.append((x.group, [x]))
    return out


def findings(result: WaveResult, spec: QuestionnaireSpec, secs: list[Section], listed: list[Listed]) -> list[str]:
    """The summary's plain sentences, every figure taken from the results."""
    root = result.root
    out = []
    comp = root.composite
    line = f"{root.name}综合指数为 {num(comp.estimate)}(95%置信区间 {ci(comp)})"
    if root.grade:
        line += f",等次为“{root.grade}”"
    if root.change and root.change.composite:
        d = root.change.composite
        line += f";与上期({num(d.previous)})相比{change_words(d)}"
    out.append(line + "。")
    if secs:
        first = secs[0]
        ranked = sorted((u for u in first.units if u.rank is not None), key=lambda u: -(u.composite.estimate or 0))
        if len(ranked) >= 2:
            out.append(
                f"{first.label}中综合指数最高的是{ranked[0].name}({num(ranked[0].composite.estimate)}),"
                f"最低的是{ranked[-1].name}({num(ranked[-1].composite.estimate)})。"
            )
    changed = [u for u in result.units[1:] if u.rank is not None and u.change and u.change.composite]
    up = sum(1 for u in changed if u.change.composite.significant and u.change.composite.estimate > 0)
    down = sum(1 for u in changed if u.change.composite.significant and u.change.composite.estimate < 0)
    if changed:
        out.append(
            f"参加排名且有上期结果的 {len(changed)} 个单位中,综合指数显著上升的 {up} 个,显著下降的 {down} 个,"
            f"其余 {len(changed) - up - down} 个变化在抽样误差范围内。"
        )
    red = sum(1 for u in result.units[1:] if u.color == "red")
    if red:
        out.append(f"评为红色(不稳定)的单位 {red} 个,详见第二部分各组排名表。")
    insufficient = sum(1 for x in listed if x.entry.reason == "insufficient_sample")
    key = sum(1 for x in listed if x.key_management)
    out.append(
        f"列入约谈名单的单位 {len(listed)} 个,其中因排名靠后 {len(listed) - insufficient} 个、"
        f"因样本不足 {insufficient} 个;上期已因排名靠后被约谈、本期再次列入而列为重点管理的 {key} 个。"
    )
    return out
