"""The console's editor for the common questionnaire changes: edit a text (Chinese or English),
add an option to a choice item, reorder the items. Saving never changes the version shown: it
makes the next version (latest + 1), checked and stored exactly as an uploaded YAML would be
(analysis.spec.parse_questionnaire, survey.questionnaires.store_questionnaire: audited), with the
YAML kept as its source. Anything else (new items, indicators, rules) stays a YAML upload.

The form is plain HTML posted as fields named after their place: `title`, `title_en`,
`text_<i>`, `text_en_<i>`, `order_<i>`, `label_<i>_<j>`, `label_en_<i>_<j>`, and the new option of
item i: `new_code_<i>`, `new_label_<i>`, `new_label_en_<i>`, `new_score_<i>` (i, j from 0, in
the order of the version being edited).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from analysis.spec import SpecError, parse_questionnaire
from errors import PinganError
from extensions import db
from models import QuestionnaireVersion
from survey.questionnaires import latest_version, store_questionnaire

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FIELD_LABELS = {"text": "题目文字", "text_en": "英文题目文字", "label": "选项文字", "label_en": "英文选项文字"}


class EditError(PinganError):
    """A change that would make an unusable questionnaire; the message names the item."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "questionnaire_edit", 422)


def _text(form: Mapping[str, str], name: str) -> str:
    value = (form.get(name) or "").replace("\r\n", "\n").strip()
    if _CONTROL.search(value):
        raise EditError("含有无法显示的控制字符,请删除后再提交")
    return value


def edited(version: QuestionnaireVersion, form: Mapping[str, str]) -> dict[str, Any]:
    """The questionnaire mapping of `version` with the form's changes, numbered as the next version."""
    data = version.to_spec().to_dict()
    data["version"] = latest_version(version.slug).version + 1
    data["title"] = _text(form, "title") or data["title"]
    _optional(data, "title_en", form, "title_en")
    orders = []
    for i, item in enumerate(data["items"]):
        item["text"] = _text(form, f"text_{i}") or item["text"]
        _optional(item, "text_en", form, f"text_en_{i}")
        for j, option in enumerate(item.get("options", ())):
            option["label"] = _text(form, f"label_{i}_{j}") or option["label"]
            _optional(option, "label_en", form, f"label_en_{i}_{j}")
        new_code = _text(form, f"new_code_{i}")
        new_label = _text(form, f"new_label_{i}")
        if new_code or new_label:
            if "options" not in item:
                raise EditError(f"第 {i + 1} 题是文字题,不能添加选项")
            if not (new_code and new_label):
                raise EditError(f"第 {i + 1} 题的新选项要同时填写代码和文字")
            option = {"code": new_code, "label": new_label}
            _optional(option, "label_en", form, f"new_label_en_{i}")
            score = _text(form, f"new_score_{i}")
            if score:
                try:
                    option["score"] = float(score)
                except ValueError:
                    raise EditError(f"第 {i + 1} 题新选项的分值 “{score}” 不是数字") from None
            item["options"].append(option)
        raw_order = _text(form, f"order_{i}")
        try:
            orders.append((float(raw_order) if raw_order else i + 1, i))
        except ValueError:
            raise EditError(f"第 {i + 1} 题的顺序 “{raw_order}” 不是数字") from None
    data["items"] = [data["items"][i] for _, i in sorted(orders)]
    return data


def _optional(mapping: dict[str, Any], key: str, form: Mapping[str, str], name: str) -> None:
    """An English text: set, or removed when its field is posted empty; kept when it is not posted."""
    if name not in form:
        return
    value = _text(form, name)
    if value:
        mapping[key] = value
    else:
        mapping.pop(key, None)


def save_edit(version: QuestionnaireVersion, form: Mapping[str, str]) -> QuestionnaireVersion:
    """Store the edited questionnaire as its next version; EditError (nothing stored) if it is unusable."""
    data = edited(version, form)
    try:
        spec = parse_questionnaire(data)
    except SpecError as e:
        raise EditError(_where(e, data) + e.detail) from None
    source = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)
    try:
        stored, _outcome = store_questionnaire(spec, source)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return stored


def _where(error: SpecError, data: Mapping[str, Any]) -> str:
    """"第 3 题(concerns)的选项 2:" for a path items.2.options.1…, in the edited order."""
    path = error.path
    if len(path) >= 2 and path[0] == "items" and isinstance(path[1], int):
        item = data["items"][path[1]]
        where = f"第 {path[1] + 1} 题({item['key']})"
        if len(path) >= 4 and path[2] == "options" and isinstance(path[3], int):
            where += f"的选项 {path[3] + 1}"
        return where + ":"
    return ""
