"""The 约谈 loop of the creation office (创建办): one case per unit on a wave's interview list,
followed from the interview to the 整改通知书, the 复查 and 销号 (seed 000, §(五)).

States and the steps between them (anything else is refused with a 409):

    scheduled ──hold──▶ held ──rectify──▶ rectifying ──recheck──▶ rechecked ──close──▶ closed
        │ schedule (set or move the date)        ▲                      │ (复查 passed)
        │                                        └──────rectify─────────┘ (复查 failed: 重新整改)
        └──▶ withdrawn (only by re-issuing the list, see below) ──▶ scheduled (back on the list)

- hold: the interview took place (date, attendees, notes);
- rectify: the 整改通知书 — rectification plan, 责任人 and deadline (整改时限);
- recheck: the 复查 — date, result, passed or not; a failed one goes back to rectify with a new deadline;
- close: 销号, only after a passed 复查.

Overdue: a scheduled case whose interview date has passed, or a rectifying case whose
deadline has passed (without a 复查).

Issuing the list (`preview_issue` shows what it would do, `issue_interview_list` does it), first
time or again after the analysis was re-run; the office may take units off the computed list first,
each with a written reason (audited as `interviews.exclude`):
- an entry without a case gets a new `scheduled` case;
- a `scheduled` case of a unit still listed takes the list's current reason, rank and escalation;
- a `scheduled` case whose unit is no longer listed, or was taken off, becomes `withdrawn` (never
  deleted; only when the caller confirms the number of withdrawals the preview showed), and comes
  back to `scheduled` if a later issue lists the unit again;
- a case that has progressed (held or later) is never touched: it keeps its record, and the
  page says when its unit is no longer on the current list.
Every change is audited (entity "case") in the same transaction.

The package: `steps` (the state machine and its steps), `queries` (reading cases), `issuing`
(the interview list → cases) and `key_units` (重点管理). Its public names are re-exported here.
"""

from __future__ import annotations

from admin.cases.issuing import (  # noqa: F401
    ACTION_LABELS, REASON_LIMIT, ExclusionError, IssueLine, IssuePreview, IssueSummary, Withdrawal,
    issue_interview_list, preview_issue, result_bottom_n,
)
from admin.cases.key_units import HistoryRow, KeyUnit, key_management  # noqa: F401
from admin.cases.queries import (  # noqa: F401
    CaseCounts, CaseFilter, CasePage, Standing, case_counts, case_for_step, case_history, case_page, get_case,
    list_cases, standing, wave_cases,
)
from admin.cases.steps import (  # noqa: F401
    OPEN_STATUSES, STEPS, TEXT_LIMIT, Step, allowed, audit_state, check_step, close, hold, may, next_actions, plan,
    recheck, rectify, refusal, reopen, report, request_recheck, schedule, waiting_on,
)
from clock import today  # noqa: F401  (for the views and tests)
from errors import Conflict  # noqa: F401
from models.interviews import CASE_STATUS_LABELS, is_overdue  # noqa: F401  (for case_views)
