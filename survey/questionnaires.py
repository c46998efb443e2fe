"""Loading questionnaires from YAML into versioned, immutable-once-used rows."""

from __future__ import annotations

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


def load_yaml_with_marks(text: str, file_name: str) -> tuple[Any, dict[SpecPath, tuple[int, int]]]:
    """Parse YAML keeping, for every value, the line and column it starts at."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise FileProblem(file_name, line, col, f"YAML 语法错误:{e.problem or e.context}") from None
    except yaml.reader.ReaderError as e:  # a character YAML does not allow (NUL, …): not a MarkedYAMLError
        line, col = _line_col(text, e.position)
        raise FileProblem(file_name, line, col, f"文件含有 YAML 不允许的字符 (U+{e.character:04X})") from None
    except RecursionError:
        raise FileProblem(file_name, None, None, "YAML 嵌套层数过多") from None
    if root is None:
        raise FileProblem(file_name, 1, 1, "文件是空的")
    constructor = SafeConstructor()
    marks: dict[SpecPath, tuple[int, int]] = {}

    def walk(node: Node, path: SpecPath) -> Any:
        marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode):
                    m = key_node.start_mark
                    raise FileProblem(file_name, m.line + 1, m.column + 1, "键必须是简单的文字,不能是列表或映射")
                key = constructor.construct_object(key_node, deep=True)
                if key in out:
                    m = key_node.start_mark
                    raise FileProblem(file_name, m.line + 1, m.column + 1, f"键 “{key}” 重复")
                out[key] = walk(value_node, path + (key,))
            return out
        if isinstance(node, SequenceNode):
            return [walk(child, path + (i,)) for i, child in enumerate(node.value)]
        return constructor.construct_object(node, deep=True)

    return walk(root, ()), marks


def _line_col(text: str, position: int) -> tuple[int, int]:
    before = text[:position]
    return before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1


def parse_questionnaire_file(path: str | Path) -> tuple[QuestionnaireSpec, str]:
    """The spec and the source text, or a FileProblem at the line of the bad value."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise FileProblem(path.name, None, None, "文件不是 UTF-8 编码") from None
    except OSError as e:
        raise FileProblem(path.name, None, None, f"无法读取文件:{e.strerror}") from None
    return parse_questionnaire_text(text, path.name), text


def parse_questionnaire_text(text: str, file_name: str = "questionnaire.yaml") -> QuestionnaireSpec:
    data, marks = load_yaml_with_marks(text, file_name)
    try:
        return parse_questionnaire(data)
    except SpecError as e:
        where = e.path
        while where not in marks and where:
            where = where[:-1]
        line, col = marks.get(where, (None, None))
        raise FileProblem(file_name, line, col, str(e)) from None


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
                options=[Option(position=j, code=o.code, label=o.label, score=o.score) for j, o in enumerate(it.options)],
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
