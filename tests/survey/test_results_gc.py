"""Python's garbage collector is paused while a wave's responses load only in a process that is not
the web server: `flask analysis run` and the worker enter survey.results.bulk_loading; the web
process never does (gc.disable holds for the whole process: its other threads would run without a
collector), and inside a request the collector is never paused."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import survey.results
from jobs import runner
from tests.survey.test_analysis_cli import SLUGS, invoke, load

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def disables(monkeypatch) -> list[bool]:
    """One entry per gc.disable() call (the collector is enabled again by the code under test)."""
    calls: list[bool] = []
    real = gc.disable
    monkeypatch.setattr(gc, "disable", lambda: (calls.append(True), real())[1])
    return calls


def test_loading_pauses_only_within_bulk_loading_and_outside_a_request(app, monkeypatch):
    seen: list[bool] = []
    monkeypatch.setattr(survey.results, "_read_responses", lambda *a: (seen.append(gc.isenabled()), (None, 0))[1])
    survey.results._load_responses(None, None, {})  # a web process, outside a request (e.g. a thread)
    with survey.results.bulk_loading():
        survey.results._load_responses(None, None, {})  # the CLI, the worker
        with app.test_request_context("/admin/waves/x/analysis", method="POST"):
            survey.results._load_responses(None, None, {})  # never inside a request
    survey.results._load_responses(None, None, {})  # left: as before
    assert seen == [True, False, True, True] and gc.isenabled()


def test_flask_analysis_run_pauses_the_collector_while_loading(runner_with_waves, disables):
    invoke(runner_with_waves, "analysis", "run", "--wave", SLUGS["city"][0])
    assert disables and gc.isenabled()


@pytest.fixture
def runner_with_waves(runner):
    return load(runner)


@pytest.mark.parametrize("worker", [True, False])
def test_an_analysis_job_pauses_it_only_in_the_worker(app, monkeypatch, worker):
    """jobs.runner enters bulk_loading when PAUSE_GC_WHILE_LOADING is on (worker.py), not in the web
    process (off by default; a job in Huey's immediate mode runs there)."""
    seen = []

    def run_analysis(wave, weight_cap):
        seen.append(survey.results._BULK_LOADING.get())
        return SimpleNamespace(n_responses=1, n_rejected=0)

    monkeypatch.setattr(survey.results, "run_analysis", run_analysis)
    monkeypatch.setattr(runner, "_wave", lambda job: None)
    monkeypatch.setattr(runner, "_progress", lambda job_id: lambda *a: None)
    app.config["PAUSE_GC_WHILE_LOADING"] = worker
    job = SimpleNamespace(id=1, inputs={"weight_cap": 5}, requested_by_id=None, requested_by_name="测试")
    runner._analysis(job)
    assert seen == [worker]


def test_the_worker_turns_it_on_and_the_web_app_does_not(app, tmp_path):
    assert app.config["PAUSE_GC_WHILE_LOADING"] is False
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}", "JOBS_QUEUE_URL": f"sqlite:///{tmp_path / 'q.db'}",
           "PYTHONPATH": str(ROOT), "SECRET_KEY": "test-secret-key-not-for-production"}
    out = subprocess.run([sys.executable, "-c", "import worker; print(worker.app.config['PAUSE_GC_WHILE_LOADING'])"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("True")


def test_the_analysis_runs_on_a_frozen_heap_only_within_bulk_loading_and_outside_a_request(app):
    """survey.results.frozen_heap: gc.freeze while analyse_wave runs, in the CLI and the worker only;
    everything is unfrozen afterwards, even when the analysis fails."""
    seen: list[int] = []

    def run(fail: bool = False) -> None:
        try:
            with survey.results.frozen_heap():
                seen.append(gc.get_freeze_count())
                if fail:
                    raise RuntimeError("analysis failed")
        except RuntimeError:
            pass

    run()  # a web process, outside a request
    with survey.results.bulk_loading():
        run()  # the CLI, the worker
        run(fail=True)
        with app.test_request_context("/admin/waves/x/analysis", method="POST"):
            run()  # never inside a request
    assert seen[0] == 0 and seen[1] > 0 and seen[2] > 0 and seen[3] == 0
    assert gc.get_freeze_count() == 0 and gc.isenabled()
