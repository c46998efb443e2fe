"""Faults under load, the short form of bench/faults.py: a worker killed, the server crashed and
started again, PostgreSQL restarted, while residents keep submitting and resubmitting. Every
acknowledged response is stored exactly once, and nothing else but what a resident gave up on.

PostgreSQL only: gunicorn and a server restart need a real database server. The test makes a
database of its own (pingan_faults_test) on the server of TEST_DATABASE_URL, which the rest of the
suite truncates before every test.
"""

from __future__ import annotations

import pytest

from tests.conftest import TEST_DATABASE_URL

pytestmark = pytest.mark.skipif(
    not TEST_DATABASE_URL,
    reason="needs PostgreSQL (TEST_DATABASE_URL): gunicorn's workers and a server restart share a real database",
)


def test_nothing_lost_nothing_let_in(tmp_path, capsys):
    from bench.faults import Settings, prepare_database, run_faults
    from bench.harness import server_of, why_not_restart_postgresql

    database, slug, questionnaire = prepare_database("pingan_faults_test", server_of(TEST_DATABASE_URL))
    why_not = why_not_restart_postgresql(TEST_DATABASE_URL)
    if why_not:
        with capsys.disabled():
            print(f"\ntest_faults: the PostgreSQL restart step is skipped ({why_not}); the other faults run")
    settings = Settings(duration=10, clients=8, give_up=20, restart_postgresql=why_not is None)
    run, verdict = run_faults(database, slug, questionnaire, settings, tmp_path / "gunicorn.log")

    assert verdict.acknowledged > 0
    assert verdict.duplicates == 0 and verdict.device_duplicates == 0
    assert verdict.lost == 0
    assert verdict.let_in == 0, "bad input was stored"
    assert verdict.unexplained == 0, "rows nobody was told about and nobody gave up on"
    assert verdict.unacknowledged_stored == verdict.abandoned_stored
    assert not run.unhealed(), "no POST was thanked after these faults"
    judged = {verdict_ for _, verdict_ in run.recorder.bad}
    assert judged <= {"as expected", "not judged"}, run.recorder.bad
    assert not run.recorder.rejected, "a valid answer sheet was refused"
