"""Loading questionnaires from YAML into versioned, immutable-once-used rows."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

import audit
from analysis.spec import Path as SpecPath
from analysis.spec import QuestionnaireSpec, SpecError, parse_questionnaire
from errors import Conflict, FileProblem, NotFound
from extensions import db
from models import Indicator, Item, Option, Questionnaire, QuestionnaireVersion


# What a questionnaire needs of YAML: mappings, lists and plain scalars. Aliases (`*satisfaction`
# for a shared option list) are fine within a budget of expanded nodes, counted while composing,
# before anything is built: a "billion laughs" file of 400 bytes is refused at the alias that
# crosses the budget instead of expanding to 10^7 nodes (docs/security.md, "Hostile files").
NOT_UTF8 = "文件不是 UTF-8 编码(可能是 GBK);请用 UTF-8 编码另存后再导入"
MAX_YAML_BYTES = 512 * 1024  # a questionnaire is a few KB
MAX_YAML_NODES = 20_000  # nodes after expanding every alias; the demo questionnaire has ~700
YAML = "tag:yaml.org,2002:"
ALLOWED_TAGS = {YAML + t for t in ("str", "int", "float", "bool", "null", "timestamp", "seq", "map")}
# Lengths the database columns hold (SQLite does not enforce VARCHAR lengths; PostgreSQL would fail).
MAX_TITLE = 200
MAX_ITEM_TEXT = 1000
MAX_OPTION_LABEL = 200
MAX_INDICATOR_LABEL = 100
MAX_GRADE_LABEL = 20
MAX_DIMENSION = 64
MAX_ANSWER_LENGTH = 2000  # max_length of a free-text item: far below a resident POST's size limit


def _at(file_name: str, mark, message: str) -> FileProblem:
    return FileProblem(file_name, mark.line + 1 if mark else None, mark.column + 1 if mark else None, message)


class _BudgetLoader(yaml.SafeLoader):
    """SafeLoader's composer, counting every node an alias would expand to as it goes."""

    def __init__(self, text: str, file_name: str) -> None:
        super().__init__(text)
        self.file_name = file_name
        self.expanded = 0
        self.sizes: dict[int, int] = {}  # id(node) → nodes it expands to, once composed

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            node = self.anchors.get(event.anchor)
            if node is not None:
                size = self.sizes.get(id(node))
                if size is None:  # the anchored node is still being composed: it would contain itself
                    raise _at(self.file_name, event.start_mark, f"别名 *{event.anchor} 引用了包含它自身的内容")
                self._count(size, event.start_mark)
            return super().compose_node(parent, index)
        before = self.expanded
        start = self.peek_event().start_mark
        node = super().compose_node(parent, index)
        self._count(1, start)
        self.sizes[id(node)] = self.expanded - before
        return node

    def _count(self, nodes: int, mark) -> None:
        self.expanded += nodes
        if self.expanded > MAX_YAML_NODES:
            raise _at(
                self.file_name, mark,
                f"展开别名后内容过多(超过 {MAX_YAML_NODES} 个节点),这不是一份正常的问卷;请不要嵌套使用别名(*)",
            )


def load_yaml_with_marks(text: str, file_name: str) -> tuple[Any, dict[SpecPath, tuple[int, int]]]:
    """Parse YAML keeping, for every value, the line and column it starts at.

    Refused with line and column: alias expansion beyond MAX_YAML_NODES, merge keys (`<<`), tags
    other than the plain ones (`!foo`, `!!binary`, `!!python/…`), and values their explicit tag
    cannot read (`!!int abc`)."""
    if len(text) > MAX_YAML_BYTES:
        raise FileProblem(file_name, None, None, f"文件过大(超过 {MAX_YAML_BYTES // 1024} KB),这不是一份问卷")
    loader = None
    try:
        loader = _BudgetLoader(text, file_name)  # the reader checks the characters here already
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise FileProblem(file_name, line, col, f"YAML 语法错误:{e.problem or e.context}") from None
    except yaml.reader.ReaderError as e:  # a character YAML does not allow (NUL, …): not a MarkedYAMLError
        line, col = _line_col(text, e.position)
        raise FileProblem(file_name, line, col, f"文件含有 YAML 不允许的字符 (U+{e.character:04X})") from None
    except RecursionError:
        raise FileProblem(file_name, None, None, "YAML 嵌套层数过多") from None
    finally:
        if loader is not None:
            loader.dispose()
    if root is None:
        raise FileProblem(file_name, 1, 1, "文件是空的")
    constructor = SafeConstructor()
    marks: dict[SpecPath, tuple[int, int]] = {}

    def scalar(node: Node) -> Any:
        if node.tag == YAML + "merge":
            raise _at(file_name, node.start_mark, "不支持合并键 “<<”,请把内容直接写出来")
        if node.tag not in ALLOWED_TAGS or not isinstance(node, ScalarNode):
            raise _at(file_name, node.start_mark, f"不支持的 YAML 标签 “{node.tag}”,问卷只用普通的文字、数字、列表和映射")
        try:
            return constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, KeyError, AttributeError, OverflowError):
            tag = node.tag.replace(YAML, "!!")
            raise _at(file_name, node.start_mark, f"值 “{str(node.value)[:50]}” 不符合标签 {tag}") from None

    def walk(node: Node, path: SpecPath) -> Any:
        marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, MappingNode):
            if node.tag != YAML + "map":
                raise _at(file_name, node.start_mark, f"不支持的 YAML 标签 “{node.tag}”,问卷只用普通的文字、数字、列表和映射")
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode):
                    m = key_node.start_mark
                    raise FileProblem(file_name, m.line + 1, m.column + 1, "键必须是简单的文字,不能是列表或映射")
                key = scalar(key_node)
                if key in out:
                    m = key_node.start_mark
                    raise FileProblem(file_name, m.line + 1, m.column + 1, f"键 “{key}” 重复")
                out[key] = walk(value_node, path + (key,))
            return out
        if isinstance(node, SequenceNode):
            if node.tag != YAML + "seq":
                raise _at(file_name, node.start_mark, f"不支持的 YAML 标签 “{node.tag}”,问卷只用普通的文字、数字、列表和映射")
            return [walk(child, path + (i,)) for i, child in enumerate(node.value)]
        return scalar(node)

    return walk(root, ()), marks


def _line_col(text: str, position: int) -> tuple[int, int]:
    before = text[:position]
    return before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1


def parse_questionnaire_file(path: str | Path) -> tuple[QuestionnaireSpec, str]:
    """The spec and the source text, or a FileProblem at the line of the bad value."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise FileProblem(path.name, None, None, f"无法读取文件:{e.strerror}") from None
    if len(data) > MAX_YAML_BYTES:
        raise FileProblem(path.name, None, None, f"文件过大(超过 {MAX_YAML_BYTES // 1024} KB),这不是一份问卷")
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:  # named by line and column, as the CSV importers do (survey.csvfiles)
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise FileProblem(path.name, line, column, NOT_UTF8) from None
    return parse_questionnaire_text(text, path.name), text


def parse_questionnaire_text(text: str, file_name: str = "questionnaire.yaml") -> QuestionnaireSpec:
    data, marks = load_yaml_with_marks(text, file_name)
    try:
        spec = parse_questionnaire(data)
        _check_lengths(spec)
        return spec
    except SpecError as e:
        where = e.path
        while where not in marks and where:
            where = where[:-1]
        line, col = marks.get(where, (None, None))
        raise FileProblem(file_name, line, col, str(e)) from None


def _check_lengths(spec: QuestionnaireSpec) -> None:
    """SpecError at the first text longer than its column holds (or a max_length beyond reason)."""

    def check(value: str | None, limit: int, path: SpecPath, what: str) -> None:
        if value is not None and len(value) > limit:
            raise SpecError(path, f"{what}最多 {limit} 个字,这里有 {len(value)} 个")

    check(spec.title, MAX_TITLE, ("title",), "问卷标题")
    for i, item in enumerate(spec.items):
        check(item.text, MAX_ITEM_TEXT, ("items", i, "text"), "题目文字")
        check(item.dimension, MAX_DIMENSION, ("items", i, "dimension"), "人口维度名")
        for j, option in enumerate(item.options):
            check(option.label, MAX_OPTION_LABEL, ("items", i, "options", j, "label"), "选项文字")
        if item.max_length > MAX_ANSWER_LENGTH:
            raise SpecError(("items", i, "max_length"), f"字数上限最多 {MAX_ANSWER_LENGTH},这里是 {item.max_length}")
    for k, indicator in enumerate(spec.indicators):
        check(indicator.label, MAX_INDICATOR_LABEL, ("indicators", k, "label"), "指标名称")
    for g, grade in enumerate(spec.grades):
        check(grade.label, MAX_GRADE_LABEL, ("grades", g, "label"), "等次名称")


def store_questionnaire(spec: QuestionnaireSpec, source: str) -> tuple[QuestionnaireVersion, str]:
    """Create the version, replace an unused one, or refuse to change one a wave uses.

    Returns the version and what happened: "created", "replaced" or "unchanged".
    """
    questionnaire = db.session.scalar(select(Questionnaire).where(Questionnaire.slug == spec.slug))
    if questionnaire is None:
        questionnaire = Questionnaire(slug=spec.slug)
        db.session.add(questionnaire)
    version = next((v for v in questionnaire.versions if v.version == spec.version), None)
    if version is not None:
        if version.to_spec().to_dict() == spec.to_dict():
            return version, "unchanged"
        if version.in_use:
            raise Conflict(
                f"问卷 {spec.slug} 第 {spec.version} 版已被调查使用,不能再修改;"
                f"请把 version 改为新的版本号(如 {max(v.version for v in questionnaire.versions) + 1})后再导入"
            )
        before = version.to_spec().to_dict()
        db.session.delete(version)
        db.session.flush()
        db.session.expire(questionnaire, ["versions"])
        outcome = "replaced"
    else:
        before, outcome = None, "created"
    version = _version_from_spec(questionnaire, spec, source)
    db.session.add(version)
    audit.record(f"questionnaire.{'update' if before else 'create'}", "questionnaire", f"{spec.slug}@{spec.version}", before, spec.to_dict())
    return version, outcome


def load_questionnaire(path: str | Path) -> tuple[QuestionnaireVersion, str]:
    """Parse, check and store a questionnaire file in one transaction."""
    spec, source = parse_questionnaire_file(path)
    try:
        version, outcome = store_questionnaire(spec, source)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return version, outcome


def latest_version(slug: str) -> QuestionnaireVersion:
    questionnaire = db.session.scalar(select(Questionnaire).where(Questionnaire.slug == slug))
    if questionnaire is None or not questionnaire.versions:
        raise NotFound(f"问卷 “{slug}” 不存在;请先用 questionnaire load 导入")
    return questionnaire.latest


def _version_from_spec(questionnaire: Questionnaire, spec: QuestionnaireSpec, source: str) -> QuestionnaireVersion:
    return QuestionnaireVersion(
        questionnaire=questionnaire,
        version=spec.version,
        title=spec.title,
        title_en=spec.title_en,
        bottom_n=spec.ranking.bottom_n,
        min_n=spec.ranking.min_n,
        min_group=spec.ranking.min_group,
        ranked_kinds=list(spec.ranking.kinds),
        grades=[{"min": g.min, "label": g.label, "color": g.color} for g in spec.grades],
        source=source,
        items=[
            Item(
                position=i,
                key=it.key,
                text=it.text,
                dimension=it.dimension,
                required=it.required,
                max_length=it.max_length,
                text_en=it.text_en,
                multiple=it.multiple,
                show_if_item=it.show_if.item if it.show_if else None,
                show_if_codes=list(it.show_if.codes) if it.show_if else None,
                screen_out=list(it.screen_out) or None,
                options=[
                    Option(position=j, code=o.code, label=o.label, score=o.score, label_en=o.label_en)
                    for j, o in enumerate(it.options)
                ],
            )
            for i, it in enumerate(spec.items)
        ],
        indicators=[
            Indicator(
                position=i,
                key=ind.key,
                label=ind.label,
                items=list(ind.items) if not ind.is_share else None,
                share_item=ind.share_item,
                share_options=list(ind.share_options) if ind.is_share else None,
                weight=ind.weight,
            )
            for i, ind in enumerate(spec.indicators)
        ],
    )
