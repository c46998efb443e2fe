"""The shape of a report, computed from a `WaveResult`: peer groups, headline rows, the interview list.

Pure functions of result objects: no database, no Flask, no arithmetic on the estimates
beyond ordering and counting (the numbers themselves were computed by `analysis`).

Ranks in the results run upwards (rank 1 = lowest composite, `rank_ci` likewise; docs/method.md).
People read ranks one way everywhere — on screen, in the XLSX and in the PDFs: 第 k 名 / 共 G 名
with 1 the best (`place`), the rank interval as 位次区间 a–b in the same order (`place_interval`),
and the interview list says 倒数第 rank 名. This module is the one peer-group model: the console
(admin.results), the XLSX (reports.exports) and every PDF (reports.render) read it.

Units without respondents (n = 0) are not results (docs/method.md): they have no row anywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from analysis import Difference, Estimate, InterviewEntry, UnitResult, WaveResult
from analysis.spec import QuestionnaireSpec
from models.interviews import ESCALATION_LABELS, REASON_LABELS
from models.units import KIND_LABELS, KIND_RANK
from reports.formatting import ci, change_words, num



def has_respondents(unit: UnitResult) -> bool:
    """A unit is a result only when its domain holds respondents of the wave."""
    return unit.n > 0


def rank_interval(unit: UnitResult) -> tuple[int, int] | None:
    """The stored simultaneous 95% rank interval [lo, hi] (1 = lowest), None for an unranked unit."""
    ci = unit.rank_ci
    return None if unit.rank is None or ci is None else (int(ci[0]), int(ci[1]))


def place(unit: UnitResult) -> int | None:
    """The place from the top (1 = the highest composite of the group); None when unranked."""
    if unit.rank is None or unit.group_size is None:
        return None
    return unit.group_size - unit.rank + 1


def place_interval(unit: UnitResult) -> tuple[int, int] | None:
    """The rank interval in people's order (1 = best): [G − hi + 1, G − lo + 1]."""
    ci = rank_interval(unit)
    if ci is None or unit.group_size is None:
        return None
    g = unit.group_size
    return g - ci[1] + 1, g - ci[0] + 1


def place_text(unit: UnitResult) -> str:
    """'第 3 名 / 共 12 名', or '不排名'."""
    p = place(unit)
    return "不排名" if p is None else f"第 {p} 名 / 共 {unit.group_size} 名"


def interval_text(unit: UnitResult) -> str:
    """'位次区间 3–7' (people's order), or '' for an unranked unit."""
    iv = place_interval(unit)
    if iv is None:
        return ""
    return f"位次区间 {iv[0]}" if iv[0] == iv[1] else f"位次区间 {iv[0]}–{iv[1]}"


def indistinct_note(unit: UnitResult, bottom_n: int, group: PeerGroup | None = None) -> str | None:
    """For a unit listed for bottom_n whose rank interval reaches past bottom_n, the plain words of
    docs/method.md: '与倒数第 4、5 名（某镇、某乡）在统计上无法区分'. None when it is certainly among the
    bottom N (hi ≤ bottom_n) or not ranked."""
    ci = rank_interval(unit)
    if ci is None or ci[1] <= bottom_n:
        return None
    ks = list(range(bottom_n + 1, ci[1] + 1))
    places = "、".join(str(k) for k in ks) if len(ks) <= 3 else f"{ks[0]}–{ks[-1]}"
    names = ""
    if group is not None:
        by_rank = {u.rank: u.name for u in group.units if u.rank is not None}
        found = [by_rank[k] for k in ks if k in by_rank]
        if found and len(found) <= 3:
            names = f"（{'、'.join(found)}）"
    return f"与倒数第 {places} 名{names}在统计上无法区分"


@dataclass(frozen=True)
class PeerGroup:
    """Units of one kind under one parent (docs/formats.md), best first, the unranked at the end."""

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
    """All peer groups of one kind: 县（区），乡镇（街道），村（社区），网格，部门."""

    kind: str
    label: str
    groups: tuple[PeerGroup, ...]

    @property
    def units(self) -> tuple[UnitResult, ...]:
        return tuple(u for g in self.groups for u in g.units)

    @property
    def count(self) -> int:
        return sum(len(g.units) for g in self.groups)


def department_group_name(parent: UnitResult) -> str:
    """The one title of a group of departments (console, XLSX and PDFs alike):
    安澜市 → 安澜市市直部门，澜江区 → 澜江区区直部门，青石县 → 青石县县直部门."""
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
    """Every peer group of the wave (the root has none), by kind then by the parent's order;
    units without respondents are left out."""
    position = {u.code: i for i, u in enumerate(result.units)}
    members: dict[tuple[str, str], list[UnitResult]] = {}
    for u in result.units[1:]:
        if u.parent_code is not None and has_respondents(u):
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


def scoped_groups(full: WaveResult, visible: set[str] | frozenset[str]) -> list[PeerGroup]:
    """The peer groups of the whole wave (titles, order, sizes) restricted to the units an account
    sees: a county account's county keeps its place among the counties."""
    out = []
    for g in peer_groups(full):
        units = tuple(u for u in g.units if u.code in visible)
        if units:
            out.append(PeerGroup(g.kind, g.parent, g.title, units))
    return out


def subtree(result: WaveResult, code: str) -> WaveResult:
    """The result of the unit `code` and every unit below it, that unit first (a report printed
    `within` a county: its towns, villages and county departments, their ranks as the wave computed
    them). The root domain's answer distributions are the whole wave's, so they are left out, and
    the interview list keeps the lines below the unit only."""
    inside = {code}
    units = []
    for u in result.units:  # depth order: a parent comes before its children
        if u.code == code or u.parent_code in inside:
            inside.add(u.code)
            units.append(u)
    if not units:
        raise KeyError(code)
    return WaveResult(
        units=tuple(units),
        # the unit itself is listed by the level above it (the city interviews its counties): not here
        interview_list=tuple(e for e in result.interview_list if e.code in inside and e.code != code),
        distributions=result.distributions if code == result.root.code else {},
        warnings=result.warnings,
        params=result.params,
    )


@dataclass(frozen=True)
class PeerRow:
    """One unit among an account's peers: composite, place and grade — nothing else; the name only
    on the account's own row (a county never learns anything of another county but these three
    numbers, not even which county holds which place)."""

    name: str | None
    composite: float | None
    place: int | None  # 1 = best; None when unranked
    group_size: int | None
    grade: str | None
    own: bool
    # Why a row has no place: "insufficient_sample" (a ranked kind under min_n: 样本不足) or
    # "kind_not_ranked" (a village: its kind is not in ranking.kinds: 不参加排名); None when ranked.
    unranked: str | None = None

    def to_dict(self) -> dict:
        return {"name": self.name, "composite": self.composite, "place": self.place,
                "group_size": self.group_size, "grade": self.grade, "own": self.own,
                "unranked": self.unranked}


@dataclass(frozen=True)
class Standing:
    """What an account scoped below a wave's top may know of the rest of the wave (docs/security.md
    "Cross-county access"): its own row among its peers (the other units of its peer group: composite,
    place and grade only, unnamed) and the headline of the wave's top unit."""

    group_title: str
    rows: tuple[PeerRow, ...]  # best first, the unranked at the end
    top_name: str
    top_composite: float | None
    top_ci: tuple[float | None, float | None]
    top_grade: str | None

    def to_dict(self) -> dict:
        return {
            "group": self.group_title,
            "peers": [r.to_dict() for r in self.rows],
            "headline": {"name": self.top_name, "composite": self.top_composite,
                         "ci_low": self.top_ci[0], "ci_high": self.top_ci[1], "grade": self.top_grade},
        }


def standing(full: WaveResult, code: str) -> Standing | None:
    """The standing of unit `code` in the whole wave's result; None for the wave's top unit or a
    unit without a peer group (no respondents)."""
    if code == full.root.code:
        return None
    group = group_of(peer_groups(full)).get(code)
    if group is None:
        return None
    rows = tuple(
        PeerRow(
            name=u.name if u.code == code else None,
            composite=u.composite.estimate if (u.rank is not None or u.code == code) else None,
            place=group.place(u),
            group_size=u.group_size if u.rank is not None else None,
            grade=u.grade,
            own=u.code == code,
            unranked=unranked_reason(u),
        )
        for u in group.units
    )
    top = full.root
    return Standing(group.title, rows, top.name, top.composite.estimate, (top.composite.ci_low, top.composite.ci_high), top.grade)


def unranked_reason(unit: UnitResult) -> str | None:
    """Why `unit` has no place (PeerRow.unranked): the analysis flags a ranked kind's unit under
    min_n `insufficient_sample`; any other unranked unit is of a kind that is not ranked."""
    if unit.rank is not None:
        return None
    return "insufficient_sample" if "insufficient_sample" in unit.flags else "kind_not_ranked"


def sections(groups: list[PeerGroup]) -> list[Section]:
    by_kind: dict[str, list[PeerGroup]] = {}
    for g in groups:
        by_kind.setdefault(g.kind, []).append(g)
    return [Section(kind, KIND_LABELS[kind], tuple(gs)) for kind, gs in by_kind.items()]


def group_of(groups: list[PeerGroup]) -> dict[str, PeerGroup]:
    """unit code → its peer group."""
    return {u.code: g for g in groups for u in g.units}


@dataclass(frozen=True)
class Totals:
    """The one definition of every total a page prints (docs/method.md): 有效答卷 = the responses used
    in the indices (not rejected in review), within the result's scope; the geographic units' residents
    and the departments' respondents apart, since departments are never part of a geographic total."""

    responses: int  # 有效答卷: residents + departments
    residents: int  # the top unit's n (its geographic domain)
    departments: int  # the respondents of the departments within the scope
    rejected: int | None = None  # rejected in review (whole wave), when known

    @property
    def text(self) -> str:
        """'有效答卷 4132 份（辖区居民 3513 份，部门 619 份）'."""
        if not self.departments:
            return f"有效答卷 {self.responses} 份"
        return f"有效答卷 {self.responses} 份（辖区居民 {self.residents} 份，部门 {self.departments} 份）"

    @property
    def residents_text(self) -> str:
        """What a geographic total (the top unit's index) rests on: '辖区居民有效答卷 3513 份（不含部门）'."""
        return f"辖区居民有效答卷 {self.residents} 份" + ("（不含部门）" if self.departments else "")


def totals(result: WaveResult, rejected: int | None = None) -> Totals:
    """The totals of a (possibly scoped) result: see `Totals`."""
    kinds = {u.code: u.kind for u in result.units}
    departments = sum(u.n for u in result.units if u.kind == "department" and kinds.get(u.parent_code or "") != "department")
    root = result.root
    residents = 0 if root.kind == "department" else root.n
    return Totals(residents + departments, residents, departments, rejected)


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
                # under min_n in every kind: a village short of answers has no grade either, though
                # only ranked kinds carry the insufficient_sample flag (it is what lists a unit)
                sum(1 for u in units if 0 < u.n < spec.ranking.min_n),
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

    @property
    def bottom_text(self) -> str:
        """'倒数第 1 名（共 12 名）' for bottom_n, '不排名' otherwise."""
        if self.entry.rank is None:
            return "不排名"
        size = self.unit.group_size or self.group.size
        return f"倒数第 {self.entry.rank} 名（共 {size} 名）"

    @property
    def interval(self) -> str:
        return interval_text(self.unit)

    @property
    def interval_words(self) -> str:
        """'考虑抽样误差后，名次有 95% 的把握在本组第 8 名到第 12 名之间' ('' when unranked)."""
        iv = place_interval(self.unit)
        if iv is None:
            return ""
        where = f"第 {iv[0]} 名" if iv[0] == iv[1] else f"第 {iv[0]} 名到第 {iv[1]} 名之间"
        return f"考虑抽样误差后，名次有 95% 的把握在本组{where}"

    def note(self, bottom_n: int) -> str | None:
        return indistinct_note(self.unit, bottom_n, self.group) if self.entry.reason == "bottom_n" else None


def interview_list(result: WaveResult, groups: list[PeerGroup], period: str) -> list[Listed]:
    """The stored interview list, in its order, with units and groups resolved and notices numbered."""
    of = group_of(groups)
    entries = [e for e in result.interview_list if e.code in of]  # never a unit without respondents
    return [
        Listed(f"{period}-{i:03d}", entry, result.unit(entry.code), of[entry.code])
        for i, entry in enumerate(entries, start=1)
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
    line = f"{root.name}综合指数为 {num(comp.estimate)}（95%置信区间 {ci(comp)}）"
    if root.grade:
        line += f"，等次为“{root.grade}”"
    if root.change and root.change.composite:
        d = root.change.composite
        line += f"；与上期（{num(d.previous)}）相比{change_words(d)}"
    out.append(line + "。")
    if secs:
        first = secs[0]
        ranked = sorted((u for u in first.units if u.rank is not None), key=lambda u: -(u.composite.estimate or 0))
        if len(ranked) >= 2:
            out.append(
                f"{first.label}中综合指数最高的是{ranked[0].name}（{num(ranked[0].composite.estimate)}），"
                f"最低的是{ranked[-1].name}（{num(ranked[-1].composite.estimate)}）。"
            )
    changed = [u for u in result.units[1:] if u.rank is not None and u.change and u.change.composite]
    up = sum(1 for u in changed if u.change.composite.significant and u.change.composite.estimate > 0)
    down = sum(1 for u in changed if u.change.composite.significant and u.change.composite.estimate < 0)
    if changed:
        out.append(
            f"参加排名且有上期结果的 {len(changed)} 个单位中，综合指数显著上升的 {up} 个，显著下降的 {down} 个，"
            f"其余 {len(changed) - up - down} 个变化在抽样误差范围内。"
        )
    red = sum(1 for u in result.units[1:] if u.color == "red")
    if red:
        out.append(f"评为红色（不稳定）的单位 {red} 个，详见第二部分各组排名表。")
    insufficient = sum(1 for x in listed if x.entry.reason == "insufficient_sample")
    key = sum(1 for x in listed if x.key_management)
    out.append(
        f"列入约谈名单的单位 {len(listed)} 个，其中因排名靠后 {len(listed) - insufficient} 个、"
        f"因样本不足 {insufficient} 个；上期已因排名靠后被约谈、本期再次列入而列为重点管理的 {key} 个。"
    )
    return out


# -- what residents say most: the part of a notice a town can act on (docs/method.md "Item results")


TOP_CONCERNS = 2
# An option that says there is nothing to fix (没有特别希望解决的问题, 无, 都不需要) is no concern.
NOTHING = re.compile(r"^(没有|无|都不|说不清)")


@dataclass(frozen=True)
class WeakItem:
    """A scored item where the unit lies below its parent beyond sampling error."""

    key: str
    text: str
    estimate: float
    parent_estimate: float
    diff: float  # unit − parent, negative

    @property
    def sentence(self) -> str:
        return (f"“{self.text}”得分 {num(self.estimate)} 分，比上级平均（{num(self.parent_estimate)} 分）"
                f"低 {num(-self.diff)} 分，差距超出抽样误差。")


@dataclass(frozen=True)
class Concern:
    """One option of a multiple-choice item (such as 最希望解决的问题) and the share choosing it."""

    item: str
    label: str
    share: Estimate

    @property
    def sentence(self) -> str:
        return f"{num(self.share.estimate)}% 的受访群众选择“{self.label}”（{self.item}；95%置信区间 {ci(self.share)}）。"


@dataclass(frozen=True)
class Concerns:
    weak_items: tuple[WeakItem, ...]
    top: tuple[Concern, ...]

    def __bool__(self) -> bool:
        return bool(self.weak_items or self.top)


def _item_text(spec: QuestionnaireSpec, key: str) -> str:
    """The item's question without its closing mark or a trailing note such as （最多选两项）."""
    return re.sub(r"[（(][^）)]*[）)]$", "", spec.item(key).text.strip()).rstrip("？?。：: ")


def concerns(unit: UnitResult, spec: QuestionnaireSpec, top: int = TOP_CONCERNS) -> Concerns:
    """The unit's weak items (as stored, lowest difference first) and the options residents chose
    most in its `multiple` items (the largest shares first, at most `top`). Nothing is computed
    here beyond ordering: the figures are the analysis's."""
    weak = tuple(
        WeakItem(w["item"], _item_text(spec, w["item"]), w["estimate"], w["parent_estimate"], w["diff"])
        for w in (unit.weak_items or ())
    )
    chosen: list[Concern] = []
    for key, shares in (unit.options or {}).items():
        item = spec.item(key)
        if not item.is_multiple:
            continue
        labels = {o.code: o.label for o in item.options if not NOTHING.match(o.label)}
        chosen += [Concern(_item_text(spec, key), labels.get(code, code), e)
                   for code, e in shares.items() if code in labels and e.estimate]
    chosen.sort(key=lambda c: -c.share.estimate)
    return Concerns(weak, tuple(chosen[:top]))


@dataclass(frozen=True)
class Driver:
    """A key driver: how many points the first indicator moves per point of an item's score."""

    key: str
    text: str
    estimate: float
    se: float

    @property
    def significant(self) -> bool:
        return abs(self.estimate) > 1.959964 * self.se


@dataclass(frozen=True)
class ConcernsOfArea:
    """The quarterly report's chapter on concerns and drivers, for the whole scope or one county."""

    unit: UnitResult
    concerns: tuple[Concern, ...]  # every option of the multiple-choice items, largest first
    weak_items: tuple[WeakItem, ...]
    drivers: tuple[Driver, ...]  # largest coefficient first
    drivers_n: int | None

    @property
    def driver_sentence(self) -> str | None:
        top = [d for d in self.drivers if d.significant and d.estimate > 0][:2]
        if not top:
            return None
        named = "、".join(f"“{d.text}”" for d in top)
        return (f"在{self.unit.name}，与群众安全感关系最密切的是{named}：其他条件相同时，"
                f"“{top[0].text}”得分每高 10 分，安全感指数约高 {num(10 * top[0].estimate)} 分。")


def concerns_chapter(result: WaveResult, spec: QuestionnaireSpec, top: int = 5) -> list[ConcernsOfArea]:
    """The root, then every county with respondents: what residents ask to be fixed, the items where
    a county lies below the city, and the key drivers of safety (docs/method.md "Item results")."""
    areas = [result.root] + [u for u in result.units[1:] if u.kind == "county" and has_respondents(u)]
    out = []
    for u in areas:
        found = concerns(u, spec, top=top)
        drivers = ()
        if u.drivers and u.drivers.get("coef"):
            drivers = tuple(sorted(
                (Driver(k, _item_text(spec, k), c["estimate"], c["se"])
                 for k, c in u.drivers["coef"].items() if k != "(Intercept)" and c.get("se") is not None),
                key=lambda d: -d.estimate,
            ))
        out.append(ConcernsOfArea(u, found.top, found.weak_items, drivers, (u.drivers or {}).get("n")))
    return out
