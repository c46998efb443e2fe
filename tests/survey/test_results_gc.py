"""survey.results pauses the garbage collector while loading responses only outside a request."""

from __future__ import annotations

import gc

import survey.results


def test_the_collector_is_paused_for_the_cli_but_never_inside_a_request(app, monkeypatch):
    seen: list[bool] = []

    def read(wave, spec, unit_codes):
        seen.append(gc.isenabled())
        return None, 0

    monkeypatch.setattr(survey.results, "_read_responses", read)
    assert gc.isenabled()
    survey.results._load_responses(None, None, {})  # the CLI: an app context, no request
    assert gc.isenabled()
    with app.test_request_context("/admin/waves/x/analysis", method="POST"):  # the console's button
        survey.results._load_responses(None, None, {})
    assert gc.isenabled()
    assert seen == [False, True]
