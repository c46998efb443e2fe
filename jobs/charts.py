"""The dot plots of the console's results page — per level of a scope, each unit's composite with
its 95% CI on the grade bands, the interview list in red (reports.charts.ranked_dot_plot) — drawn
once for what they show and kept as files, so that a page view reads them instead of drawing.

matplotlib takes 0.3–0.8 s of CPU a chart and the village level of a city has three: the first view
after an analysis run took 0.6–2.5 s (docs/performance.md, "bench/console.py"). Now the analysis
job draws them right after it stores the results (`warm`, a task of its own on the queue, for the
scope of every account that may read the wave), and the page finds them.

The file is named by the wave and the sha256 of everything the chart shows (`key`: per group its
title and each unit's code, name, rank, n, colour and composite interval; the listed units; the
grade bands; min_n, which decides an unranked unit's mark) and of the drawing code
(reports/charts.py), `JOBS_DIR/charts/<wave id>-<sha256>.json` beside the jobs' files: shared by
every web process and worker, like the documents (each process keeps the latest in memory too,
caches.RESULT_CHARTS). A re-run with other numbers, a renamed unit or another scope is another
file; once a run's charts are drawn, `sweep` deletes the wave's files that no longer fit its
results (a few hundred KB a run), and `flask jobs prune` those of results that are gone
(jobs.retention).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from sqlalchemy import select

import caches
import policy
from analysis import WaveResult
from analysis.spec import QuestionnaireSpec
from errors import NotFound
from extensions import db
from jobs.service import files_dir
from models import User, Wave
from reports.data import scoped_result
from reports.levels import Level, levels_of, listed_lines

log = logging.getLogger(__name__)
DRAWING_CODE = Path(__file__).resolve().parents[1] / "reports" / "charts.py"
_code_hash: str | None = None


def _code() -> str:
    """The drawing code's own hash: a change to how charts are drawn names other files."""
    global _code_hash
    if _code_hash is None:
        _code_hash = hashlib.sha256(DRAWING_CODE.read_bytes()).hexdigest()
    return _code_hash


def key(level: Level, spec: QuestionnaireSpec, listed: frozenset[str]) -> str:
    groups = [
        [g.title, [[u.code, u.name, u.rank, u.n, u.color, u.composite.estimate, u.composite.ci_low,
                    u.composite.ci_high] for u in g.units]]
        for g in level.groups
    ]
    grades = [[g.min, g.label, g.color] for g in spec.grades]
    blob = [groups, sorted(listed), grades, spec.ranking.min_n, _code()]
    return hashlib.sha256(json.dumps(blob, ensure_ascii=False, default=str).encode()).hexdigest()


def _folder() -> Path:
    folder = files_dir() / "charts"
    folder.mkdir(exist_ok=True)
    return folder


def _path(name: str) -> Path:
    return _folder() / f"{name}.json"


def file_name(wave_id: int, level: Level, spec: QuestionnaireSpec, listed: frozenset[str]) -> str:
    """The name of a level's chart file (without .json): the wave's id, then the sha256 of what it shows."""
    return f"{wave_id}-{key(level, spec, listed)}"


def draw(level: Level, spec: QuestionnaireSpec, listed: frozenset[str]) -> list:
    """Draw the level's charts (at most 42 rows each, one axis for every panel; min_n says which
    mark an unranked unit gets)."""
    from reports.charts import composite_range, dot_plot_blocks, ranked_dot_plot  # matplotlib: loaded on first use

    groups = [(g.title, g.units) for g in level.groups]
    x_range = composite_range([u for g in level.groups for u in g.units])
    return [ranked_dot_plot(blocks, spec.grades, listed, x_range, spec.ranking.min_n)
            for blocks in dot_plot_blocks(groups)]


def level_charts(wave_id: int, level: Level, spec: QuestionnaireSpec, listed: frozenset[str]) -> list:
    """The level's charts: from this process's memory (caches.RESULT_CHARTS), else from their file,
    else drawn and saved."""
    name = file_name(wave_id, level, spec, listed)
    return caches.RESULT_CHARTS.get_or_make(name, lambda: _read_or_draw(name, level, spec, listed))


def _read_or_draw(name: str, level: Level, spec: QuestionnaireSpec, listed: frozenset[str]) -> list:
    """Written under a temporary name and renamed: a file is there whole or not at all; two
    processes drawing at once write the same bytes."""
    from reports.charts import Chart

    path = _path(name)
    try:
        return [Chart(**c) for c in json.loads(path.read_text(encoding="utf-8"))]
    except FileNotFoundError:
        pass
    except (ValueError, TypeError):  # a damaged file is drawn again
        log.warning("chart file %s unreadable; drawing again", path.name)
    drawn = draw(level, spec, listed)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps([{"svg": c.svg, "width_in": c.width_in, "height_in": c.height_in} for c in drawn],
                              ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
    return drawn


def reader_scopes(wave: Wave) -> list:
    """The scopes of the active accounts that may read the wave's results, the widest first (None:
    an account without a scope)."""
    scopes: dict[object, object] = {}
    for user in db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)):
        if policy.can(user, "read", wave):
            scopes.setdefault(user.scope_unit_id if user.scope is not None else None, user.scope)
    return sorted(scopes.values(), key=lambda s: -1 if s is None else s.path.count("/"))


def _levels(wave: Wave):
    """Every (level, spec, listed) the results page of the wave may show: each level of the page of
    every scope that may read it (nothing when the wave has no results)."""
    from survey.results import stored_result

    stored = stored_result(wave)
    if stored is None:
        return
    full = WaveResult.from_dict(stored.payload)
    spec = wave.questionnaire_version.to_spec()
    for scope in reader_scopes(wave):
        try:
            scoped = scoped_result(full, scope)
        except NotFound:  # nothing of the wave in this scope
            continue
        listed = frozenset(line.entry.code for line in listed_lines(full, scoped, wave.period))
        for level in levels_of(scoped, full):
            yield level, spec, listed


def warm(wave: Wave) -> int:
    """Draw, for every scope that may read the wave, the charts of every level of its results page
    that are not drawn yet, then delete the wave's chart files of earlier results (`sweep`); the
    number of levels looked at."""
    done = 0
    for level, spec, listed in _levels(wave):
        level_charts(wave.id, level, spec, listed)
        done += 1
    sweep(wave)
    return done


def wave_charts(wave: Wave) -> set[str]:
    """The names of the chart files the wave's current results show (see `file_name`)."""
    return {file_name(wave.id, level, spec, listed) for level, spec, listed in _levels(wave)}


def sweep(wave: Wave) -> list[str]:
    """Delete the wave's chart files that its current results no longer show (an earlier run's,
    a renamed unit's …); the names deleted. A page that reads one as it goes draws it again."""
    current = wave_charts(wave)
    gone = []
    for path in _folder().glob(f"{wave.id}-*.json"):
        if path.stem not in current:
            path.unlink(missing_ok=True)
            gone.append(path.stem)
    return gone


def current_charts() -> set[str]:
    """The chart files of every wave's current results (flask jobs prune keeps these)."""
    from models import AnalysisResult

    names: set[str] = set()
    for wave in db.session.scalars(select(Wave).join(AnalysisResult, AnalysisResult.wave_id == Wave.id)):
        names |= wave_charts(wave)
    return names
