"""The levels of a wave's results as the console's results page shows them, within an account's
scope: the peer groups of one kind each (reports.model), and the lines of the interview list the
scope holds. One definition for the page (admin.results) and for the job that draws its charts
beforehand (jobs.charts.warm), so that both name the same charts."""

from __future__ import annotations

from analysis import WaveResult
from models.units import KIND_LABELS, KIND_ORDER
from reports import model
from reports.model import Section

# A level is a Section of reports.model (the peer groups of one kind), the top unit a level of its own.
Level = Section


def levels_of(scoped: WaveResult, full: WaveResult) -> tuple[Level, ...]:
    """The levels of the scoped result: the peer groups of the whole wave (titles and order from
    reports.model) restricted to the units the account sees; the wave's top unit as a level of its own."""
    visible = {u.code for u in scoped.units}
    out = []
    if full.root.code in visible:
        root = full.root
        out.append(Level(root.kind, KIND_LABELS[root.kind], (model.PeerGroup(root.kind, root, KIND_LABELS[root.kind], (root,)),)))
    out.extend(model.sections(model.scoped_groups(full, visible)))
    return tuple(out)


def default_level(levels: tuple[Level, ...]) -> str | None:
    """The first level below the top with ranked units, else the first level."""
    for level in levels:
        if any(u.rank is not None for g in level.groups for u in g.units):
            return level.kind
    return levels[0].kind if levels else None


def listed_lines(full: WaveResult, scoped: WaveResult, period: str | None) -> list[model.Listed]:
    """The interview list's lines (reports.model.interview_list over the whole wave) of the units in
    the scope, in the stored list's order; a stored entry without respondents has no line."""
    lines = {x.entry.code: x for x in model.interview_list(full, model.peer_groups(full), period)}
    return [lines[e.code] for e in scoped.interview_list if e.code in lines and lines[e.code].unit.kind in KIND_ORDER]
