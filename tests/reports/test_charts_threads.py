"""Charts rendered at once from several threads (gunicorn's gthread workers) keep their style.

`rc_context` sets matplotlib's process-wide rcParams and restores them on exit: without the
module's lock, a chart finishing in one thread restored the defaults (DejaVu Sans, glyphs as
paths, random ids) under a chart still being drawn in another.
"""

from __future__ import annotations

import re
import threading

from analysis import Estimate
from reports import charts
from reports.model import peer_groups
from tests.reports.test_model_and_charts import GRADES, city

THREADS = 6
ROUNDS = 4


def _render(kind: int) -> str:
    if kind % 3 == 0:
        result = city()
        blocks = charts.dot_plot_blocks([(g.title, g.units) for g in peer_groups(result)])
        return charts.ranked_dot_plot(blocks[0], GRADES, frozenset({"111"})).svg
    if kind % 3 == 1:
        return charts.trend_chart(
            ["2026年\n二季度", "2026年\n三季度"],
            [Estimate.from_estimate(81.16, 0.4), Estimate.from_estimate(83.65, 0.32)],
            {"安全感指数": [Estimate.from_estimate(80.9, 0.5), None]},
        ).svg
    return charts.distribution_chart(
        [charts.OptionShare("安全", 0.442, 2452, 100), charts.OptionShare("不安全", 0.1, 30, 0)], scored=True
    ).svg


def test_charts_drawn_at_once_in_threads_all_keep_the_cjk_font():
    alone = {k: _render(k) for k in range(3)}  # one at a time: the reference files
    for svg in alone.values():
        assert "font-family: 'Noto Sans CJK SC'" in svg and "DejaVu" not in svg
    start = threading.Barrier(THREADS)
    drawn: list[tuple[int, str]] = []
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            start.wait()
            for r in range(ROUNDS):
                kind = i + r
                drawn.append((kind % 3, _render(kind)))
        except BaseException as e:  # noqa: BLE001 - reported below, in the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(drawn) == THREADS * ROUNDS
    for kind, svg in drawn:
        families = set(re.findall(r"font-family: ([^;\"]+)", svg))
        assert families and all(f.startswith("'Noto Sans CJK SC'") for f in families), families
        assert svg == alone[kind]  # the same chart, byte for byte: no other rcParams leaked in
