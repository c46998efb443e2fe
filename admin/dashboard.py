"""The dashboard: the account's waves with their fieldwork and analysis at a glance, and its cases."""

from __future__ import annotations

from dataclasses import dataclass

from admin.cases import CaseCounts, CaseFilter, case_counts, list_cases
from admin.todo import Todo, todo_list
from admin.waves import Progress, progress
from policy import visible_waves
from models import InterviewCase, User, Wave
from survey.results import stored_result


@dataclass(frozen=True)
class WaveSummary:
    wave: Wave
    progress: Progress
    analysed: bool


@dataclass(frozen=True)
class Dashboard:
    waves: list[WaveSummary]
    cases: CaseCounts
    overdue: list[InterviewCase]
    todo: Todo  # the account's 待办, counted by group on the dashboard (admin.todo)


def dashboard(user: User) -> Dashboard:
    waves = [WaveSummary(w, progress(user, w), stored_result(w) is not None) for w in visible_waves(user)]
    return Dashboard(waves, case_counts(user), list_cases(user, CaseFilter(overdue=True))[:20], todo_list(user))
