"""The OpenAPI 3.1 document of /api/v1, written by hand as a Python dict.

Why no library: the API is nine read-only GET routes over JSON that already exists (the
stored §5 result objects), so generating the document (apispec, flask-smorest, …) would
mean restating every object as marshmallow or pydantic classes and routing the views
through them — more code than the document itself, and one more dependency. Instead
`tests/api/test_openapi.py` keeps this dict honest: every route of `app.url_map` under
/api/v1 is described here and nothing else is, with the same path parameters, and the
answers on real data validate against these schemas (JSON Schema 2020-12, which OpenAPI
3.1 uses as is). Objects are closed (`additionalProperties: false`) so that a field added
to a view without being described here fails that test.
"""

from __future__ import annotations

from typing import Any

from analysis.spec import GRADE_COLORS
from models.accounts import ROLES
from models.interviews import CASE_STATUSES
from models.units import UNIT_KINDS
from models.waves import WAVE_STATUSES

REF = "#/components/schemas/"


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: dict[str, Any], optional: tuple[str, ...] = (), description: str | None = None) -> dict[str, Any]:
    """A closed object; every property is required unless named in `optional`."""
    schema: dict[str, Any] = {
        "type": "object",
        "required": [k for k in properties if k not in optional],
        "properties": properties,
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


STRING = {"type": "string"}
NUMBER = {"type": ["number", "null"]}  # estimates are null where undefined (docs/formats.md)
COUNT = {"type": ["integer", "null"], "minimum": 0}
DATE = {"type": ["string", "null"], "format": "date"}
TIME = {"type": ["string", "null"], "format": "date-time"}
TEXT = {"type": ["string", "null"]}
CODE = {"type": "string", "description": "单位代码"}

SCHEMAS: dict[str, Any] = {
    "Error": obj(
        {"error": obj({"code": {**STRING, "description": "给程序看的错误代码"}, "message": {**STRING, "description": "中文说明"}})},
        description="Every error answer: 401, 403, 404, 409, 429 …",
    ),
    "UnitRef": obj({"code": CODE, "name": STRING, "kind": {"enum": list(UNIT_KINDS)}}),
    "Me": obj(
        {
            "username": STRING,
            "display_name": TEXT,
            "role": {"enum": list(ROLES)},
            "scope": nullable(ref("UnitRef")) | {"description": "所辖单位;null 表示全部单位"},
        }
    ),
    "Wave": obj(
        {
            "slug": STRING,
            "title": {**STRING, "description": "调查名称,如 安澜市2026年第四季度公众安全感调查"},
            "questionnaire": obj({"slug": STRING, "version": {"type": "integer"}, "title": {**STRING, "description": "问卷标题"}}),
            "series": STRING,
            "period": {**STRING, "description": "2026M07, 2026Q3, 2026H2 or 2026"},
            "period_label": {**STRING, "description": "2026年第三季度"},
            "period_start": {"type": "string", "format": "date"},
            "period_end": {"type": "string", "format": "date"},
            "status": {"enum": list(WAVE_STATUSES)},
            "scope": ref("UnitRef"),
            "target_n": {"type": "integer", "minimum": 1},
            "opened_at": TIME,
            "closed_at": TIME,
            "published_at": TIME,
            "has_results": {"type": "boolean", "description": "分析结果已生成(results、interview-list 可用)"},
        }
    ),
    "WaveList": obj({"waves": {"type": "array", "items": ref("Wave")}}),
    "IndicatorEstimate": obj(
        {"estimate": NUMBER, "se": NUMBER, "ci_low": NUMBER, "ci_high": NUMBER, "n": COUNT},
        description="0–100 scale, unrounded; n = respondents with a value",
    ),
    "CompositeEstimate": obj(
        {"estimate": NUMBER, "se": NUMBER, "ci_low": NUMBER, "ci_high": NUMBER, "deff": NUMBER},
        description="The composite index: Σ a_k ŷ_k with delta-method SE, 95% CI, design effect",
    ),
    "Difference": obj(
        {
            "estimate": {"type": "number"},
            "se": {"type": "number"},
            "ci_low": {"type": "number"},
            "ci_high": {"type": "number"},
            "significant": {"type": "boolean"},
            "previous": {"type": "number"},
        },
        description="Current minus previous wave; SE = √(se₁² + se₂²)",
    ),
    "Change": obj(
        {
            "composite": nullable(ref("Difference")),
            "indicators": {"type": "object", "additionalProperties": nullable(ref("Difference"))},
        }
    ),
    "UnitResult": obj(
        {
            "code": CODE,
            "name": STRING,
            "kind": {"enum": list(UNIT_KINDS)},
            "parent_code": nullable(STRING),
            "n": {"type": "integer", "minimum": 0},
            "n_eff": NUMBER,
            "indicators": {"type": "object", "additionalProperties": ref("IndicatorEstimate")},
            "composite": ref("CompositeEstimate"),
            "rank": {"type": ["integer", "null"], "minimum": 1, "description": "1 = lowest in the peer group; null if unranked"},
            "rank_ci": nullable({"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 2, "maxItems": 2})
            | {"description": "位次区间: simultaneous 95% interval of the rank [lo, hi], 1 = lowest (docs/method.md); null if unranked"},
            "group_size": COUNT,
            "p_bottom": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
            "grade": TEXT,
            "color": nullable({"enum": list(GRADE_COLORS)}),
            "flags": {"type": "array", "items": STRING},
            "warnings": {"type": "array", "items": STRING},
            "n_flagged": {"type": "integer", "minimum": 0},
            "change": nullable(ref("Change")),
            "peer_group": TEXT,
            "items": nullable({"type": "object", "additionalProperties": ref("IndicatorEstimate")})
            | {"description": "题目得分:每个计分单选题的加权平均分"},
            "options": nullable({"type": "object", "additionalProperties": {
                "type": "object", "additionalProperties": ref("IndicatorEstimate")}})
            | {"description": "选项占比(0–100):多选题和不计分单选题,分母为适用且作答者"},
            "weak_items": nullable({"type": "array", "items": ref("WeakItem"), "maxItems": 3})
            | {"description": "显著低于上级的题目(排名单位);未排名为 null"},
            "drivers": nullable(ref("Drivers")) | {"description": "关键驱动因素(市和区县);其他单位为 null"},
            "integrity": {
                "type": ["object", "null"],
                "properties": {
                    "flags": {
                        "type": "array",
                        "items": {"enum": ["near_duplicates", "all_maximum", "time_cluster", "mode_gap", "same_text"]},
                    }
                },
                "description": "Unit-level integrity checks against the peers (docs/method.md): shares, their null p99, "
                "time_cluster and mode_gap details; `flags` empty when nothing stands out",
            },
        },
        optional=("rank_ci", "n_flagged", "change", "peer_group", "items", "options", "weak_items", "drivers", "integrity"),
        description="One unit of `analysis export --format json` (docs/formats.md)",
    ),
    "WeakItem": obj(
        {"item": STRING, "estimate": {"type": "number"}, "parent_estimate": {"type": "number"},
         "diff": {"type": "number"}, "se": {"type": "number"}},
        description="A scored item where the unit lies below its parent by more than 1.959964 SE of the difference",
    ),
    "Drivers": obj(
        {
            "n": {"type": "integer", "minimum": 0},
            "coef": {"type": "object", "additionalProperties": obj({"estimate": {"type": "number"}, "se": {"type": "number"}})},
        },
        description="Survey-weighted regression of the first indicator on the composite's other items (R svyglm)",
    ),
    "InterviewEntry": obj(
        {
            "code": CODE,
            "reason": {"enum": ["bottom_n", "insufficient_sample"]},
            "rank": {"type": ["integer", "null"], "minimum": 1},
            "rank_ci": nullable({"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 2, "maxItems": 2})
            | {"description": "位次区间: simultaneous 95% interval of the rank [lo, hi], 1 = lowest (docs/method.md); null if unranked"},
            "escalation": nullable({"enum": ["key_management"]}),
            "name": STRING,
            "kind": {"enum": list(UNIT_KINDS)},
            "parent_code": nullable(STRING),
            "case": nullable(obj({"id": {"type": "integer"}, "status": {"enum": list(CASE_STATUSES)}})),
        },
        optional=("rank_ci",),
        description="One line of the 约谈名单 (docs/method.md), with the unit's name and its case if opened",
    ),
    "WaveResults": obj(
        {
            "wave": STRING,
            "period": STRING,
            "series": STRING,
            "computed_at": {"type": "string", "format": "date-time"},
            "units": {"type": "array", "items": ref("UnitResult")},
            "interview_list": {"type": "array", "items": ref("InterviewEntry")},
            "standing": nullable(ref("Standing")),
        },
        description="docs/formats.md, cut down to the token's units (a county sees its own subtree only), "
                    "with the token's own row among its peers and the wave's headline (standing)",
    ),
    "PeerRow": obj(
        {
            "name": {"type": ["string", "null"], "description": "只有本单位一行有名称"},
            "composite": {"type": ["number", "null"]},
            "place": {"type": ["integer", "null"], "description": "1 = 最好"},
            "group_size": {"type": ["integer", "null"]},
            "grade": {"type": ["string", "null"]},
            "own": {"type": "boolean", "description": "令牌所属单位自己的一行"},
            "unranked": {"enum": ["insufficient_sample", "kind_not_ranked", None],
                         "description": "没有名次的原因：样本不足，或该类单位不参加排名（如村）；有名次时为 null"},
        },
        description="同级单位的一行：只有综合指数、名次和等次（其他单位不列名称）",
    ),
    "Standing": obj(
        {
            "group": STRING,
            "peers": {"type": "array", "items": ref("PeerRow")},
            "headline": obj({
                "name": STRING,
                "composite": {"type": ["number", "null"]},
                "ci_low": {"type": ["number", "null"]},
                "ci_high": {"type": ["number", "null"]},
                "grade": {"type": ["string", "null"]},
            }),
        },
        description="县（区）令牌看全市调查时：本县在同级中的位置和全市的总体结果；看整个调查的令牌为 null",
    ),
    "UnitInWave": obj(
        {
            "wave": STRING,
            "period": STRING,
            "series": STRING,
            "unit": ref("UnitResult"),
            "interview": nullable(ref("InterviewEntry")),
        }
    ),
    "InterviewList": obj(
        {"wave": STRING, "period": STRING, "series": STRING, "interview_list": {"type": "array", "items": ref("InterviewEntry")}}
    ),
    "Case": obj(
        {
            "id": {"type": "integer"},
            "wave": STRING,
            "unit": ref("UnitRef"),
            "reason": {"enum": ["bottom_n", "insufficient_sample"]},
            "rank": {"type": ["integer", "null"]},
            "escalation": nullable({"enum": ["key_management"]}),
            "status": {"enum": list(CASE_STATUSES), "description": "scheduled → held → rectifying → recheck_asked → rechecked → closed; reopened: after 销号, waiting for a new 整改通知; withdrawn: left the list on a re-run"},
            "scheduled_for": DATE,
            "held_on": DATE,
            "attendees": TEXT,
            "notes": TEXT,
            "rectification_plan": TEXT,
            "responsible": {**TEXT, "description": "整改责任人"},
            "deadline": {**DATE, "description": "整改期限"},
            "recheck_on": {**DATE, "description": "复查日期"},
            "recheck_result": TEXT,
            "recheck_passed": {"type": ["boolean", "null"], "description": "复查是否通过"},
            "closed_on": DATE,
            "issued_on": {**DATE, "description": "下发日期(重新列入名单时为再次下发的日期)"},
            "interview_due": {**DATE, "description": "约谈期限:下发日期加本次调查的约谈天数"},
            "reopen_reason": {**TEXT, "description": "why the office reopened the case after 销号"},
            "rounds": {"type": "array", "items": ref("CaseRound"), "description": "every round of 整改通知 and 复查, in order"},
            "overdue": {"type": "boolean", "description": "scheduled and its interview date (or, with none set, its 约谈 due date) passed, or rectifying and its deadline passed (Beijing dates)"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
        description="A 约谈 case, followed to 复查 and closure",
    ),
    "CaseRound": obj(
        {
            "number": {"type": "integer"},
            "requirements": {**TEXT, "description": "整改要求 (the office's)"},
            "responsible": {**TEXT, "description": "整改责任人"},
            "deadline": {**DATE, "description": "整改时限"},
            "notified_on": {**DATE, "description": "整改通知日期"},
            "plan": {**TEXT, "description": "整改方案 (the unit's)"},
            "report": {**TEXT, "description": "整改情况报告 (the unit's)"},
            "reported_on": DATE,
            "recheck_asked_on": {**DATE, "description": "the unit asked for 复查"},
            "recheck_on": {**DATE, "description": "复查日期"},
            "recheck_result": TEXT,
            "passed": {"type": ["boolean", "null"], "description": "复查是否通过"},
        },
        description="One round of 整改通知 and 复查",
    ),
    "CaseList": obj({"cases": {"type": "array", "items": ref("Case")}}),
}

PARAMETERS: dict[str, Any] = {
    "wave_slug": {"name": "wave_slug", "in": "path", "required": True, "schema": STRING, "description": "调查标识,如 2026Q3-city"},
    "unit_code": {"name": "unit_code", "in": "path", "required": True, "schema": STRING, "description": "单位代码"},
    "case_id": {"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer"}},
    "wave": {"name": "wave", "in": "query", "required": False, "schema": STRING, "description": "只列此调查的案件"},
    "status": {"name": "status", "in": "query", "required": False, "schema": {"enum": list(CASE_STATUSES)}},
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref("Error")}}}


RESPONSES: dict[str, Any] = {
    "BadRequest": _error("请求参数有误:取值无效,或含有 NUL 等无法处理的字符"),
    "Unauthorized": _error("缺少令牌,或令牌无效、已吊销,或其账号已停用"),
    "Forbidden": _error("令牌所属账号没有读取权限"),
    "NotFound": _error("不存在,或不在令牌所属账号的范围内(两者不加区分)"),
    "Conflict": _error("此调查还没有分析结果 (code: no_results)"),
    "TooManyRequests": _error("超过按令牌计的频率限制 (API_RATE_LIMIT);见 Retry-After"),
}


def _get(summary: str, schema: str, parameters: tuple[str, ...] = (), errors: tuple[str, ...] = (), description: str = "") -> dict:
    responses: dict[str, Any] = {"200": {"description": "OK", "content": {"application/json": {"schema": ref(schema)}}}}
    # Any request may be malformed: a query value holding NUL is a 400 wherever it is sent (web.check_url).
    responses["400"] = {"$ref": "#/components/responses/BadRequest"}
    for code, name in (("404", "NotFound"), ("409", "Conflict")):
        if name in errors:
            responses[code] = {"$ref": "#/components/responses/" + name}
    responses["401"] = {"$ref": "#/components/responses/Unauthorized"}
    responses["403"] = {"$ref": "#/components/responses/Forbidden"}
    responses["429"] = {"$ref": "#/components/responses/TooManyRequests"}
    operation: dict[str, Any] = {"summary": summary, "responses": responses}
    if description:
        operation["description"] = description
    if parameters:
        operation["parameters"] = [{"$ref": "#/components/parameters/" + p} for p in parameters]
    return {"get": operation}


PATHS: dict[str, Any] = {
    "/openapi.json": {
        "get": {
            "summary": "本文档 (OpenAPI 3.1)",
            "security": [],
            "responses": {"200": {"description": "OpenAPI document", "content": {"application/json": {"schema": {"type": "object"}}}}},
        }
    },
    "/me": _get("令牌所属账号", "Me"),
    "/waves": _get("可见的调查(新的在前)", "WaveList", description="覆盖令牌所辖范围的调查:范围内的,以及包含它的(如全市调查)。"),
    "/waves/{wave_slug}": _get("一次调查", "Wave", ("wave_slug",), ("NotFound",)),
    "/waves/{wave_slug}/results": _get(
        "各单位测评结果",
        "WaveResults",
        ("wave_slug",),
        ("NotFound", "Conflict"),
        "`analysis export --format json` 的结构 (docs/formats.md),只含令牌所辖单位:县(区)令牌看全市调查时,"
        "只得到本县(区)及其下属单位,约谈名单也只含这些单位。",
    ),
    "/waves/{wave_slug}/units/{unit_code}": _get(
        "一个单位的测评结果", "UnitInWave", ("wave_slug", "unit_code"), ("NotFound", "Conflict")
    ),
    "/waves/{wave_slug}/interview-list": _get(
        "约谈名单", "InterviewList", ("wave_slug",), ("NotFound", "Conflict"), "只含令牌所辖单位;已建案件的附案件编号与状态。"
    ),
    "/cases": _get("约谈案件", "CaseList", ("wave", "status"), ("NotFound",)),
    "/cases/{case_id}": _get("一个约谈案件", "Case", ("case_id",), ("NotFound",)),
}


def document() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "平安测评 API",
            "version": "1.0.0",
            "description": (
                "只读 JSON 接口:调查、各单位测评结果、约谈名单和约谈案件。"
                "令牌在管理后台 /admin/tokens 创建,只显示一次;请求时放在 `Authorization: Bearer <令牌>` 头中。"
                "令牌沿用其账号的角色和范围:县(区)账号的令牌只能看到本县(区)的单位。"
                "估计值为 0–100 分,未经四舍五入。"
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "paths": PATHS,
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "个人 API 令牌(pa_ 开头),在 /admin/tokens 创建和吊销",
                }
            },
            "parameters": PARAMETERS,
            "responses": RESPONSES,
            "schemas": SCHEMAS,
        },
    }
