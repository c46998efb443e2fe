"""The questionnaire as plain data: what the residents are asked and how it is scored.

A questionnaire is written in YAML (docs/formats.md). `parse_questionnaire` turns the
loaded mapping into a frozen `QuestionnaireSpec` or raises `SpecError` naming the
path of the offending value, so that the loader can point at its line and column.
Nothing here knows about Flask or the database: the analysis core takes a spec
as input, and the survey side stores and rebuilds one.
"""

from __future__ import annotations

import math

import re
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

from errors import PinganError

Path = tuple[str | int, ...]

RESERVED_KEYS = frozenset({"response_id", "unit_code", "psu", "submitted_at", "mode"})
GRADE_COLORS = ("blue", "yellow", "red")
DEFAULT_GRADES = (
    {"min": 90, "label": "优秀", "color": "blue"},
    {"min": 80, "label": "良好", "color": "blue"},
    {"min": 70, "label": "合格", "color": "yellow"},
    {"min": 0, "label": "不合格", "color": "red"},
)
DEFAULT_TEXT_LENGTH = 500
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_CODE = re.compile(r"^[^\s,\"]{1,32}$")


class SpecError(PinganError, ValueError):
    """A questionnaire that cannot be used; `path` locates the bad value.

    Still a ValueError, so callers that catch ValueError keep working. `message` is the
    located text ("items.3.kind: …") that the page, the JSON and the CLI show; `detail` is
    the bare reason.
    """

    status = 422

    def __init__(self, path: Path, message: str) -> None:
        self.path = path
        self.detail = message
        super().__init__(message, "bad_spec")
        self.message = str(self)

    def __str__(self) -> str:
        where = ".".join(str(p) for p in self.path) or "(root)"
        return f"{where}: {self.detail}"


@dataclass(frozen=True)
class Option:
    code: str
    label: str
    score: float | None = None  # None: a valid answer that is missing for indices (说不清)
    label_en: str | None = None


@dataclass(frozen=True)
class ShowIf:
    """Ask an item only when the earlier single-choice item `item` was answered with one of `codes`."""

    item: str
    codes: tuple[str, ...]


@dataclass(frozen=True)
class Item:
    key: str
    text: str
    options: tuple[Option, ...] = ()
    dimension: str | None = None
    required: bool = True
    max_length: int = DEFAULT_TEXT_LENGTH
    multiple: int | None = None  # several codes allowed, at most this many; never scored
    show_if: ShowIf | None = None
    screen_out: tuple[str, ...] = ()  # answering one of these codes ends the questionnaire
    text_en: str | None = None

    @property
    def is_choice(self) -> bool:
        return bool(self.options)

    @property
    def is_multiple(self) -> bool:
        return self.multiple is not None

    @property
    def is_single_choice(self) -> bool:
        return bool(self.options) and self.multiple is None

    def applies(self, answers: Mapping[str, Any]) -> bool:
        """Whether the item is asked of a respondent with these answers (item key → code).

        Without `show_if` always; with it, only when the controlling item was answered
        with one of its codes (an unanswered or not-applicable controller: not asked).
        """
        if self.show_if is None:
            return True
        return answers.get(self.show_if.item) in self.show_if.codes

    def screens_out(self, answer: Any) -> bool:
        """Whether this answer ends the questionnaire (the sheet is screened out)."""
        return bool(self.screen_out) and answer in self.screen_out

    @property
    def is_scored(self) -> bool:
        return any(o.score is not None for o in self.options)

    def option(self, code: str) -> Option | None:
        return next((o for o in self.options if o.code == code), None)

    @property
    def scores(self) -> dict[str, float]:
        """Option code → score, for scored options only."""
        return {o.code: o.score for o in self.options if o.score is not None}


@dataclass(frozen=True)
class Indicator:
    """Either the mean score of `items`, or the share (0/100) of `share_options` in `share_item`."""

    key: str
    label: str
    items: tuple[str, ...] = ()
    share_item: str | None = None
    share_options: tuple[str, ...] = ()
    weight: float | None = None

    @property
    def is_share(self) -> bool:
        return self.share_item is not None


RANKABLE_KINDS = ("city", "county", "town", "village", "grid", "department")
DEFAULT_RANKED_KINDS = ("county", "town", "department")


@dataclass(frozen=True)
class Ranking:
    """`min_group`: the fewest ranked units a peer group needs to list its bottom_n (default 2 × bottom_n);
    `kinds`: the unit kinds that are ranked (docs/method.md "Ranking")."""

    bottom_n: int = 3
    min_n: int = 30
    min_group: int | None = None  # None: 2 × bottom_n
    kinds: tuple[str, ...] = DEFAULT_RANKED_KINDS

    def __post_init__(self) -> None:
        if self.min_group is None:
            object.__setattr__(self, "min_group", 2 * self.bottom_n)
        object.__setattr__(self, "kinds", tuple(self.kinds))


@dataclass(frozen=True)
class Grade:
    min: float
    label: str
    color: str


@dataclass(frozen=True)
class QuestionnaireSpec:
    slug: str
    title: str
    version: int
    items: tuple[Item, ...]
    indicators: tuple[Indicator, ...]
    ranking: Ranking = field(default_factory=Ranking)
    grades: tuple[Grade, ...] = ()
    title_en: str | None = None

    def item(self, key: str) -> Item:
        for it in self.items:
            if it.key == key:
                return it
        raise KeyError(key)

    @property
    def dimensions(self) -> dict[str, Item]:
        """Raking dimension name → the demographic item that carries it."""
        return {it.dimension: it for it in self.items if it.dimension}

    @property
    def composite_weights(self) -> dict[str, float]:
        """Indicator key → a_k, renormalised to sum to 1 (docs/method.md)."""
        raw = {i.key: float(i.weight) for i in self.indicators if i.weight}
        total = sum(raw.values())
        return {k: v / total for k, v in raw.items()}

    def grade_for(self, composite: float | None) -> Grade | None:
        """The first grade, in listed order, whose `min` ≤ the composite."""
        if composite is None:
            return None
        return next((g for g in self.grades if g.min <= composite), None)

    def to_dict(self) -> dict[str, Any]:
        """The canonical mapping; `parse_questionnaire(spec.to_dict()) == spec`."""
        items = []
        for it in self.items:
            d: dict[str, Any] = {"key": it.key, "text": it.text}
            if it.text_en is not None:
                d["text_en"] = it.text_en
            if it.options:
                d["options"] = [
                    {
                        "code": o.code,
                        "label": o.label,
                        **({"score": o.score} if o.score is not None else {}),
                        **({"label_en": o.label_en} if o.label_en is not None else {}),
                    }
                    for o in it.options
                ]
            else:
                d["max_length"] = it.max_length
            if it.dimension:
                d["dimension"] = it.dimension
            d["required"] = it.required
            if it.multiple is not None:
                d["multiple"] = {"max": it.multiple}
            if it.show_if is not None:
                d["show_if"] = {"item": it.show_if.item, "in": list(it.show_if.codes)}
            if it.screen_out:
                d["screen_out"] = list(it.screen_out)
            items.append(d)
        indicators = []
        for ind in self.indicators:
            d = {"key": ind.key, "label": ind.label}
            if ind.is_share:
                d["share_of"] = {"item": ind.share_item, "options": list(ind.share_options)}
            else:
                d["items"] = list(ind.items)
            if ind.weight is not None:
                d["weight"] = ind.weight
            indicators.append(d)
        return {
            "slug": self.slug,
            "title": self.title,
            **({"title_en": self.title_en} if self.title_en is not None else {}),
            "version": self.version,
            "items": items,
            "indicators": indicators,
            "ranking": {
                "bottom_n": self.ranking.bottom_n,
                "min_n": self.ranking.min_n,
                "min_group": self.ranking.min_group,
                "kinds": list(self.ranking.kinds),
            },
            "grades": [{"min": g.min, "label": g.label, "color": g.color} for g in self.grades],
        }


# -- parsing -------------------------------------------------------------------------


def _require(mapping: Mapping[str, Any], key: str, path: Path) -> Any:
    if key not in mapping or mapping[key] is None or mapping[key] == "":
        raise SpecError(path, f"缺少必填字段 “{key}”")
    return mapping[key]


def _mapping(value: Any, path: Path) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SpecError(path, "此处应为键值映射")
    return value


def _sequence(value: Any, path: Path, what: str) -> Sequence[Any]:
    if not isinstance(value, list) or not value:
        raise SpecError(path, f"{what}应为非空列表")
    return value


def _text(value: Any, path: Path, what: str) -> str:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool) or str(value).strip() == "":
        raise SpecError(path, f"{what}应为非空文本")
    return str(value).strip()


def _number(value: Any, path: Path, what: str, lo: float | None = None, hi: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(path, f"{what}应为数字,实际为 {value!r}")
    if not math.isfinite(value):  # .nan passes every comparison, .inf every lower bound
        raise SpecError(path, f"{what}应为有限的数字,实际为 {value}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f"[{lo}, {hi}]" if hi is not None else f"≥ {lo}"
        raise SpecError(path, f"{what}应在 {bounds} 之内,实际为 {value}")
    return float(value)


MAX_INTEGER = 2_147_483_647  # the database's integer columns


def _integer(value: Any, path: Path, what: str, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or value > MAX_INTEGER:
        raise SpecError(path, f"{what}应为 {lo} 到 {MAX_INTEGER} 之间的整数,实际为 {value!r}")
    return value


def _parse_option(raw: Any, path: Path) -> Option:
    raw = _mapping(raw, path)
    code = _text(_require(raw, "code", path), path + ("code",), "选项代码")
    if not _CODE.match(code):
        raise SpecError(path + ("code",), f"选项代码 “{code}” 不能含空格、逗号或引号,且不超过 32 个字符")
    label = _text(_require(raw, "label", path), path + ("label",), "选项文字")
    score = raw.get("score")
    if score is not None:
        score = _number(score, path + ("score",), "分值", 0, 100)
    label_en = _optional_text(raw, "label_en", path, "英文选项文字")
    return Option(code=code, label=label, score=score, label_en=label_en)


def _optional_text(raw: Mapping[str, Any], key: str, path: Path, what: str) -> str | None:
    if raw.get(key) is None:
        return None
    return _text(raw[key], path + (key,), what)


def _codes(value: Any, path: Path, item: Item, what: str) -> tuple[str, ...]:
    """A non-empty list of distinct option codes of `item`."""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        value = [value]
    codes = _sequence(value, path, what)
    out: list[str] = []
    for i, c in enumerate(codes):
        code = str(c).strip() if isinstance(c, (str, int)) and not isinstance(c, bool) else None
        if code is None or item.option(code) is None:
            raise SpecError(path + (i,), f"选项 “{c}” 不在题目 “{item.key}” 中")
        if code in out:
            raise SpecError(path + (i,), f"选项 “{code}” 重复")
        out.append(code)
    return tuple(out)


def _parse_item(raw: Any, path: Path) -> Item:
    raw = _mapping(raw, path)
    key = _text(_require(raw, "key", path), path + ("key",), "题目键")
    if not _KEY.match(key):
        raise SpecError(path + ("key",), f"题目键 “{key}” 只能由字母、数字和下划线组成,且以字母开头")
    if key in RESERVED_KEYS:
        raise SpecError(path + ("key",), f"题目键 “{key}” 是保留字段名,请换一个")
    text = _text(_require(raw, "text", path), path + ("text",), "题目文字")
    options: tuple[Option, ...] = ()
    if raw.get("options") is not None:
        raw_options = _sequence(raw["options"], path + ("options",), "选项")
        options = tuple(_parse_option(o, path + ("options", i)) for i, o in enumerate(raw_options))
        seen: set[str] = set()
        for i, o in enumerate(options):
            if o.code in seen:
                raise SpecError(path + ("options", i, "code"), f"选项代码 “{o.code}” 在本题中重复")
            seen.add(o.code)
    dimension = raw.get("dimension")
    if dimension is not None:
        dimension = _text(dimension, path + ("dimension",), "人口维度名")
        if not options:
            raise SpecError(path + ("dimension",), "人口维度题必须有选项")
        if any(o.score is not None for o in options):
            raise SpecError(path + ("dimension",), "人口维度题的选项不应计分")
    required = raw.get("required", bool(options))
    if not isinstance(required, bool):
        raise SpecError(path + ("required",), "required 应为 true 或 false")
    max_length = DEFAULT_TEXT_LENGTH
    if raw.get("max_length") is not None:
        if options:
            raise SpecError(path + ("max_length",), "max_length 只适用于填空题")
        max_length = _integer(raw["max_length"], path + ("max_length",), "字数上限", 1)
    text_en = _optional_text(raw, "text_en", path, "英文题目文字")
    multiple = None
    if raw.get("multiple") is not None:
        mp = path + ("multiple",)
        raw_multiple = _mapping(raw["multiple"], mp)
        if not options:
            raise SpecError(mp, "多选题必须有选项")
        multiple = _integer(_require(raw_multiple, "max", mp), mp + ("max",), "最多可选项数 max", 1)
        if multiple > len(options):
            raise SpecError(mp + ("max",), f"最多可选项数 max ({multiple}) 不能超过选项数 ({len(options)})")
        for i, o in enumerate(options):
            if o.score is not None:
                raise SpecError(path + ("options", i, "score"), "多选题的选项不计分,请去掉 score")
        if dimension is not None:
            raise SpecError(path + ("dimension",), "人口维度题不能是多选题")
    show_if = None
    if raw.get("show_if") is not None:
        sp = path + ("show_if",)
        raw_show = _mapping(raw["show_if"], sp)
        controller = _text(_require(raw_show, "item", sp), sp + ("item",), "题目键")
        if "in" not in raw_show or raw_show["in"] is None:
            raise SpecError(sp, "缺少必填字段 “in”")
        raw_codes = raw_show["in"]
        if isinstance(raw_codes, (str, int)) and not isinstance(raw_codes, bool):
            raw_codes = [raw_codes]
        codes = _sequence(raw_codes, sp + ("in",), "显示条件的选项")
        show_if = ShowIf(item=controller, codes=tuple(str(c).strip() for c in codes))
        if dimension is not None:
            raise SpecError(sp, "人口维度题须问每一位受访者,不能设置 show_if")
    item = Item(
        key=key,
        text=text,
        options=options,
        dimension=dimension,
        required=required,
        max_length=max_length,
        multiple=multiple,
        show_if=show_if,
        text_en=text_en,
    )
    if raw.get("screen_out") is not None:
        op = path + ("screen_out",)
        if not item.is_single_choice:
            raise SpecError(op, "screen_out 只适用于单选题")
        item = replace(item, screen_out=_codes(raw["screen_out"], op, item, "甄别选项"))
    return item


def _check_show_if(item: Item, earlier: Mapping[str, Item], path: Path) -> None:
    """`show_if` must name an EARLIER single-choice item and some of its option codes."""
    assert item.show_if is not None
    sp = path + ("show_if",)
    controller = earlier.get(item.show_if.item)
    if controller is None:
        raise SpecError(sp + ("item",), f"显示条件引用的题目 “{item.show_if.item}” 须是本题之前的题目")
    if not controller.is_single_choice:
        raise SpecError(sp + ("item",), f"显示条件引用的题目 “{controller.key}” 须是单选题")
    seen: set[str] = set()
    for i, code in enumerate(item.show_if.codes):
        if controller.option(code) is None:
            raise SpecError(sp + ("in", i), f"选项 “{code}” 不在题目 “{controller.key}” 中")
        if code in seen:
            raise SpecError(sp + ("in", i), f"选项 “{code}” 重复")
        seen.add(code)


def _parse_indicator(raw: Any, path: Path, items: Mapping[str, Item]) -> Indicator:
    raw = _mapping(raw, path)
    key = _text(_require(raw, "key", path), path + ("key",), "指标键")
    if not _KEY.match(key):
        raise SpecError(path + ("key",), f"指标键 “{key}” 只能由字母、数字和下划线组成,且以字母开头")
    label = _text(_require(raw, "label", path), path + ("label",), "指标名称")
    weight = raw.get("weight")
    if weight is not None:
        weight = _number(weight, path + ("weight",), "权重", 0)
        if weight <= 0:
            raise SpecError(path + ("weight",), "权重应大于 0(不计入综合指数的指标请省略 weight)")
    has_items, has_share = raw.get("items") is not None, raw.get("share_of") is not None
    if has_items == has_share:
        raise SpecError(path, "指标须且只能给出 items 或 share_of 之一")
    if has_items:
        keys = _sequence(raw["items"], path + ("items",), "指标题目")
        for i, k in enumerate(keys):
            item = items.get(str(k))
            if item is None:
                raise SpecError(path + ("items", i), f"题目 “{k}” 不在问卷中")
            if item.is_multiple:
                raise SpecError(path + ("items", i), f"题目 “{k}” 是多选题,不计分,不能用于指标")
            if not item.is_scored:
                raise SpecError(path + ("items", i), f"题目 “{k}” 没有计分选项,不能用于指标")
        return Indicator(key=key, label=label, items=tuple(str(k) for k in keys), weight=weight)
    share = _mapping(raw["share_of"], path + ("share_of",))
    item_key = _text(_require(share, "item", path + ("share_of",)), path + ("share_of", "item"), "题目键")
    item = items.get(item_key)
    if item is None:
        raise SpecError(path + ("share_of", "item"), f"题目 “{item_key}” 不在问卷中")
    if item.is_multiple:
        raise SpecError(path + ("share_of", "item"), f"题目 “{item_key}” 是多选题,share_of 不能使用多选题")
    if not item.is_scored:
        raise SpecError(path + ("share_of", "item"), f"题目 “{item_key}” 没有计分选项,不能用于指标")
    codes = _sequence(share.get("options"), path + ("share_of", "options"), "选项")
    for i, c in enumerate(codes):
        option = item.option(str(c))
        if option is None:
            raise SpecError(path + ("share_of", "options", i), f"选项 “{c}” 不在题目 “{item_key}” 中")
        if option.score is None:
            raise SpecError(path + ("share_of", "options", i), f"选项 “{c}” 不计分(如“说不清”),不能计入比率")
    return Indicator(
        key=key, label=label, share_item=item_key, share_options=tuple(str(c) for c in codes), weight=weight
    )


def _parse_grades(raw: Any, path: Path) -> tuple[Grade, ...]:
    raw_grades = _sequence(raw, path, "等次")
    grades = []
    for i, g in enumerate(raw_grades):
        gp = path + (i,)
        g = _mapping(g, gp)
        minimum = _number(_require(g, "min", gp), gp + ("min",), "等次下限", 0, 100)
        label = _text(_require(g, "label", gp), gp + ("label",), "等次名称")
        color = _text(_require(g, "color", gp), gp + ("color",), "颜色")
        if color not in GRADE_COLORS:
            raise SpecError(gp + ("color",), f"颜色应为 {'、'.join(GRADE_COLORS)} 之一,实际为 “{color}”")
        if grades and minimum >= grades[-1].min:
            raise SpecError(gp + ("min",), "等次应按下限从高到低排列")
        grades.append(Grade(min=minimum, label=label, color=color))
    if grades[-1].min > 0:
        raise SpecError(path + (len(grades) - 1, "min"), "最后一个等次的下限应为 0,使每个单位都有等次")
    return tuple(grades)


def _parse_kinds(raw: Any, path: Path) -> tuple[str, ...]:
    """The ranked unit kinds: a non-empty list of known kinds, each once (absent: county, town, department)."""
    if raw is None:
        return DEFAULT_RANKED_KINDS
    kinds = _sequence(raw, path, "排名的单位类型")
    out: list[str] = []
    for i, k in enumerate(kinds):
        kind = _text(k, path + (i,), "单位类型")
        if kind not in RANKABLE_KINDS:
            raise SpecError(path + (i,), f"单位类型应为 {'、'.join(RANKABLE_KINDS)} 之一,实际为 “{kind}”")
        if kind in out:
            raise SpecError(path + (i,), f"单位类型 “{kind}” 重复")
        out.append(kind)
    return tuple(out)


def parse_questionnaire(data: Any) -> QuestionnaireSpec:
    """Validate a loaded questionnaire mapping (docs/formats.md) and freeze it."""
    data = _mapping(data, ())
    slug = _text(_require(data, "slug", ()), ("slug",), "问卷标识")
    if not _SLUG.match(slug):
        raise SpecError(("slug",), f"问卷标识 “{slug}” 只能由小写字母、数字、- 和 _ 组成")
    title = _text(_require(data, "title", ()), ("title",), "问卷标题")
    title_en = _optional_text(data, "title_en", (), "英文问卷标题")
    version = _integer(_require(data, "version", ()), ("version",), "版本号", 1)

    raw_items = _sequence(data.get("items"), ("items",), "题目")
    items: dict[str, Item] = {}
    dimensions: set[str] = set()
    for i, raw in enumerate(raw_items):
        item = _parse_item(raw, ("items", i))
        if item.key in items:
            raise SpecError(("items", i, "key"), f"题目键 “{item.key}” 重复")
        if item.dimension:
            if item.dimension in dimensions:
                raise SpecError(("items", i, "dimension"), f"人口维度 “{item.dimension}” 重复")
            dimensions.add(item.dimension)
        if item.show_if is not None:
            _check_show_if(item, items, ("items", i))
        items[item.key] = item

    raw_indicators = _sequence(data.get("indicators"), ("indicators",), "指标")
    indicators: list[Indicator] = []
    for i, raw in enumerate(raw_indicators):
        ind = _parse_indicator(raw, ("indicators", i), items)
        if any(other.key == ind.key for other in indicators):
            raise SpecError(("indicators", i, "key"), f"指标键 “{ind.key}” 重复")
        indicators.append(ind)
    if not any(ind.weight for ind in indicators):
        raise SpecError(("indicators",), "至少一个指标须设置 weight,才能计算综合指数")

    ranking = Ranking()
    if data.get("ranking") is not None:
        raw_ranking = _mapping(data["ranking"], ("ranking",))
        bottom_n = _integer(raw_ranking.get("bottom_n", 3), ("ranking", "bottom_n"), "约谈名额 bottom_n", 0)
        min_group = raw_ranking.get("min_group")
        ranking = Ranking(
            bottom_n=bottom_n,
            min_n=_integer(raw_ranking.get("min_n", 30), ("ranking", "min_n"), "最少样本 min_n", 1),
            min_group=None
            if min_group is None
            else _integer(min_group, ("ranking", "min_group"), "最少排名单位数 min_group", 1),
            kinds=_parse_kinds(raw_ranking.get("kinds"), ("ranking", "kinds")),
        )
    grades = _parse_grades(data["grades"] if data.get("grades") is not None else list(DEFAULT_GRADES), ("grades",))

    return QuestionnaireSpec(
        slug=slug,
        title=title,
        version=version,
        items=tuple(items.values()),
        indicators=tuple(indicators),
        ranking=ranking,
        grades=grades,
        title_en=title_en,
    )
