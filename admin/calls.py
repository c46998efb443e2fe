"""Phone interviews in the console: the interviewer's desk and call screens, and the call list
page of a wave (import, state, response rates). The work is done in survey.calls; this module
gathers what each page shows and turns uploads into paths."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import FileStorage

import policy
from admin.uploads import saved, values_in_range
from models import CallAttempt, CallCase, User, Wave
from models.calls import DISPOSITION_LABELS, DISPOSITIONS
from survey import calls
from survey.calls import CallImportSummary, WaveRates


@dataclass(frozen=True)
class CallPage:
    case: CallCase
    number: str  # decrypted for its holder only
    attempts: list[CallAttempt]
    in_interview: bool


def outcome_choices() -> list[tuple[str, str]]:
    return [(d, DISPOSITION_LABELS[d]) for d in DISPOSITIONS if d != "complete"]


def call_page(user: User, case_id: int) -> CallPage:
    case = calls.held_case(user, case_id)
    number = calls.display_number(calls.phone_number(user, case))
    return CallPage(case=case, number=number, attempts=calls.attempts_of(case), in_interview=case.draft is not None)


def take_next(user: User) -> CallCase | None:
    return calls.next_call(user)


def outcome(user: User, case_id: int, disposition: str, callback_text: str | None) -> Any:
    case = calls.held_case(user, case_id)
    callback_at = calls.parse_callback(callback_text) if disposition == "callback" and callback_text else None
    return calls.record_outcome(user, case, disposition, callback_at)


def interview_screen(user: User, case_id: int, start: bool = False) -> tuple[CallCase, calls.Screen]:
    case = calls.held_case(user, case_id)
    if start:
        calls.start_interview(user, case)
    return case, calls.screen(case)


def interview_answer(user: User, case_id: int, item_key: str, choice: list[str], key: str, text: str) -> calls.Screen:
    case = calls.held_case(user, case_id)
    if case.draft is None:
        calls.start_interview(user, case)
    return calls.answer(user, case, item_key, choice, key, text)


def interview_back(user: User, case_id: int) -> calls.Screen:
    return calls.back(user, calls.held_case(user, case_id))


def interview_finish(user: User, case_id: int):
    return calls.finish_interview(user, calls.held_case(user, case_id))


@dataclass(frozen=True)
class CallListPage:
    wave: Wave
    state: dict[str, int]
    rates: WaveRates | None
    manages: bool
    key_set: bool


def call_list_page(user: User, wave: Wave) -> CallListPage:
    from flask import current_app

    return CallListPage(
        wave=wave, state=calls.call_list_state(wave, user), rates=calls.wave_rates(wave, user),
        manages=policy.can(user, "calls.manage", wave), key_set=bool(current_app.config.get("PHONE_NUMBER_KEY")),
    )


def import_upload(user: User, wave: Wave, upload: FileStorage) -> CallImportSummary:
    policy.require(user, "calls.manage", wave)
    with saved((upload, "calls.csv")) as (path,):
        with values_in_range():
            return calls.import_call_list(wave.slug, path, user)


def wave_rates(user: User, wave: Wave) -> WaveRates | None:
    return calls.wave_rates(wave, user)

