"""The audit log in Chinese: what each action says (约谈已登记), what each recorded field is called
(状态, 原因) and what its values mean (整改中 → 已复查, 排名靠后). The audit page and a case's
办理记录 show these, never the internal codes (docs/security.md "The audit log").

An action or field added later without a label here still reads in Chinese: the entity's name
and 变更 for an action, 其他 for a field (the audit test names every action the product writes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from models.accounts import ROLE_LABELS
from models.attachments import ATTACHMENT_KIND_LABELS
from models.interviews import CASE_STATUS_LABELS, ESCALATION_LABELS, REASON_LABELS
from models.responses import FLAG_LABELS
from models.units import KIND_LABELS
from models.waves import STATUS_LABELS as WAVE_STATUS_LABELS

ENTITY_LABELS = {
    "case": "约谈案件",
    "wave": "调查",
    "unit": "单位",
    "user": "账号",
    "response": "答卷",
    "api_token": "API 令牌",
    "questionnaire": "问卷",
    "attachment": "附件",
    "digest": "待办摘要",
}

ACTION_LABELS = {
    "case.issue": "约谈已下发",
    "case.schedule": "约谈时间已安排",
    "case.hold": "约谈已登记",
    "case.rectify": "整改通知已下发",
    "case.plan": "整改方案已提交",
    "case.report": "整改情况已报告",
    "case.request_recheck": "已申请复查",
    "case.recheck": "复查已登记",
    "case.close": "已销号",
    "case.reopen": "案件已重新打开",
    "case.withdraw": "案件已撤销（不在最新名单中或已撤下）",
    "case.reinstate": "案件已恢复（重新列入名单）",
    "case.refresh": "案件已按最新名单更新",
    "case.attach": "材料已上传",
    "interviews.issue": "约谈名单已下发",
    "interviews.exclude": "单位已从约谈名单撤下",
    "wave.create": "调查已创建",
    "wave.open": "调查已开始",
    "wave.close": "调查已结束",
    "wave.publish": "结果已发布",
    "wave.reopen": "调查已重新开放",
    "wave.short_links": "短码已生成",
    "wave.rename": "调查已改名",
    "wave.collection_dates": "调查日期已设置",
    "wave.interview_days": "约谈期限天数已设置",
    "calls.import": "电话样本已导入",
    "paper.key": "纸质答卷已录入",
    "paper.verify": "纸质答卷已复核",
    "paper.resolve": "纸质答卷差异已处理",
    "todo.digest": "待办摘要已发送",
    "user.email": "邮箱已设置",
    "analysis.run": "分析已运行",
    "responses.import": "纸质答卷已导入",
    "response.accept": "答卷已采纳",
    "response.reject": "答卷已剔除",
    "unit.create": "单位已新增",
    "unit.update": "单位已修改",
    "population.replace": "人口数据已更新",
    "user.create": "账号已创建",
    "user.activate": "账号已启用",
    "user.deactivate": "账号已停用",
    "user.lock": "账号已锁定（多次密码错误）",
    "user.unlock": "账号已解锁",
    "user.password_change": "密码已修改",
    "user.password_reset": "密码已重置",
    "api_token.create": "API 令牌已创建",
    "api_token.revoke": "API 令牌已吊销",
    "api_token.revoke_all": "全部 API 令牌已吊销",
    "questionnaire.create": "问卷已导入",
    "questionnaire.update": "问卷已更新",
}

ROUND = "本轮"
FIELD_LABELS = {
    # a case (models.interviews.case_state) and its current round (admin.cases.steps.audit_state)
    "wave": "调查", "unit": "单位", "status": "状态", "reason": "原因", "rank": "同级倒数位次", "escalation": "升级",
    "scheduled_for": "约谈时间", "held_on": "约谈日期", "attendees": "参加人员", "notes": "约谈记录",
    "rectification_plan": "整改要求", "responsible": "整改责任人", "deadline": "整改时限",
    "recheck_on": "复查日期", "recheck_result": "复查情况", "recheck_passed": "复查结论", "closed_on": "销号日期",
    "reopen_reason": "重新打开原因", "exclusion_reason": "撤下理由", "issued_on": "下发日期", "interview_due": "约谈期限",
    "attachment": "附件编号", "filename": "文件名", "content_type": "文件类型", "size": "大小（字节）", "sha256": "校验值",
    "round_number": "整改轮次", "round_requirements": f"{ROUND}整改要求", "round_responsible": f"{ROUND}整改责任人",
    "round_deadline": f"{ROUND}整改时限", "round_notified_on": "整改通知日期", "round_plan": "整改方案",
    "round_report": "整改情况报告", "round_reported_on": "报告日期", "round_recheck_asked_on": "申请复查日期",
    "round_recheck_on": f"{ROUND}复查日期", "round_recheck_result": f"{ROUND}复查情况", "round_passed": f"{ROUND}复查结论",
    # issuing the list
    "created": "新建", "refreshed": "按最新名单更新", "reinstated": "恢复", "withdrawn": "撤销", "unchanged": "未变",
    "progressed_off_list": "已在办理、不在最新名单中", "excluded": "撤下的单位及理由", "scope": "范围",
    # a wave and its analysis
    "slug": "标识", "title": "标题", "period": "调查期", "series": "系列", "questionnaire": "问卷", "target_n": "目标样本量",
    "short_links_created": "新生成短码", "collection_start": "调查开始日期", "collection_end": "调查结束日期",
    "interview_days": "约谈期限（天）", "effective": "实际天数", "cases_moved": "调整期限的案件数", "n_responses": "答卷数", "n_rejected": "剔除答卷数", "weight_cap": "权重上限",
    "interview_list": "约谈名单单位数", "file": "文件", "imported": "导入份数", "by_mode": "按方式",
    # a response
    "response_key": "答卷编号", "flags": "标记", "review_status": "审核状态", "review_reason": "审核理由",
    # a unit
    "name": "名称", "kind": "类型", "parent": "上级单位", "margins": "人口数据",
    # an account, a token
    "role": "角色", "active": "启用", "locked_until": "锁定至", "failed_logins": "登录失败次数", "source": "来源",
    "sessions_ended": "已退出所有登录", "live_tokens": "有效令牌数", "user": "账号", "revoked": "已吊销",
    "display_name": "姓名", "email": "邮箱", "sent": "已发送", "skipped": "跳过", "failed": "失败",
    "sheet_no": "答卷号", "answers": "答案", "by_unit": "按单位",
    # a questionnaire
    "version": "版本", "items": "题目", "indicators": "指标", "ranking": "排名规则", "grades": "等级",
    "title_en": "英文标题",
}

MODE_LABELS = {"qr": "扫码", "door": "入户", "phone": "电话", "paper": "纸质"}
REVIEW_LABELS = {"accepted": "已采纳", "rejected": "已剔除", "flagged": "待审核", "clean": "正常"}
PASSED_LABELS = {True: "通过", False: "未通过"}
DASH = "—"


def entity_label(entity: str | None) -> str:
    return ENTITY_LABELS.get(entity or "", "其他")


def action_label(action: str) -> str:
    """约谈已登记 for case.hold; an action without a label: its entity's name and 变更."""
    if action in ACTION_LABELS:
        return ACTION_LABELS[action]
    return f"{entity_label(action.split('.', 1)[0])}变更"


def field_label(key: str) -> str:
    return FIELD_LABELS.get(key, "其他")


def value_text(entity: str | None, key: str, value: Any) -> str:
    """A recorded value as a clerk reads it: labels instead of codes, 是/否, — for nothing."""
    if value is None or value == "":
        return DASH
    bare = key.removeprefix("round_")
    if bare in ("recheck_passed", "passed") and isinstance(value, bool):
        return PASSED_LABELS[value]
    if isinstance(value, bool):
        return "是" if value else "否"
    if key == "status":
        labels = CASE_STATUS_LABELS if entity in ("case", None) else WAVE_STATUS_LABELS if entity == "wave" else {}
        return labels.get(value, str(value))
    if key == "reason" and entity == "case":
        return REASON_LABELS.get(value, str(value))
    if key == "escalation":
        return ESCALATION_LABELS.get(value, str(value))
    if key == "kind":
        labels = ATTACHMENT_KIND_LABELS if entity == "case" else KIND_LABELS
        return labels.get(value, str(value))
    if key == "role":
        return ROLE_LABELS.get(value, str(value))
    if key == "review_status":
        return REVIEW_LABELS.get(value, str(value))
    if key == "flags" and isinstance(value, list):
        return "、".join(FLAG_LABELS.get(f, f) for f in value) or DASH
    if key == "by_mode" and isinstance(value, dict):
        return "，".join(f"{MODE_LABELS.get(m, m)} {n} 份" for m, n in value.items()) or DASH
    if key == "excluded" and isinstance(value, dict):
        return "；".join(f"{code}：{why}" for code, why in value.items()) or DASH
    if key in ("items", "indicators") and isinstance(value, list):
        return f"共 {len(value)} {'题' if key == 'items' else '项'}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


@dataclass(frozen=True)
class Change:
    label: str
    before: str
    after: str
    changed: bool


def changes(entity: str | None, before: dict | None, after: dict | None) -> list[Change]:
    """Every recorded field of either side in the order first seen, labelled and translated."""
    before, after = before or {}, after or {}
    keys = list(dict.fromkeys([*before, *after]))
    return [
        Change(
            field_label(k),
            value_text(entity, k, before.get(k)) if before else "",
            value_text(entity, k, after.get(k)) if after else "",
            before.get(k) != after.get(k),
        )
        for k in keys
    ]
