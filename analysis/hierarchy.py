"""The wave's unit tree as integer arrays: depth, parent, and which domains a unit's respondents belong to."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import AnalysisError, _sample

DEPARTMENT = "department"
UNIT_COLUMNS = ("code", "name", "kind", "parent_code")


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA or str(value).strip() == ""


@dataclass(frozen=True, eq=False)
class Hierarchy:
    """Units ordered by depth, then code (index 0 is the root, the wave's scope unit).

    `domains[u, L]` is the unit at depth L whose domain contains the respondents attached to unit u,
    or -1: the ancestors-or-self of u, walking up and stopping after the first department
    (docs/method.md: a department's respondents belong to its domain only, never to the county or city above).
    """

    codes: tuple[str, ...]
    names: tuple[str, ...]
    kinds: tuple[str, ...]
    parent: np.ndarray  # (U,) parent index, -1 for the root
    depth: np.ndarray  # (U,)
    domains: np.ndarray  # (U, max_depth + 1)
    index: dict[str, int]

    @property
    def size(self) -> int:
        return len(self.codes)

    @property
    def is_department(self) -> np.ndarray:
        return np.array([k == DEPARTMENT for k in self.kinds], dtype=bool)

    def parent_code(self, u: int) -> str | None:
        p = int(self.parent[u])
        return None if p < 0 else self.codes[p]


def build_hierarchy(units: pd.DataFrame) -> Hierarchy:
    """Validate the scope subtree (one root, known parents, no cycles) and order it by depth, then code."""
    missing = [c for c in UNIT_COLUMNS if c not in units.columns]
    if missing:
        raise AnalysisError("bad_units", f"单位表缺少列:{_sample(missing)}")
    if len(units) == 0:
        raise AnalysisError("bad_units", "单位表为空,至少需要测评范围的根单位")
    codes = [str(c).strip() for c in units["code"].tolist()]
    if any(c == "" for c in codes):
        raise AnalysisError("bad_units", "单位表中有空的单位代码")
    dup = pd.Index(codes)[pd.Index(codes).duplicated()].unique()
    if len(dup):
        raise AnalysisError("bad_units", f"单位代码重复:{_sample(dup)}")
    parents = [None if _blank(p) else str(p).strip() for p in units["parent_code"].tolist()]
    roots = [c for c, p in zip(codes, parents) if p is None]
    if len(roots) != 1:
        raise AnalysisError(
            "bad_units", f"单位表应恰有一个根单位(上级代码为空),实际为 {len(roots)} 个:{_sample(roots)}"
        )
    pos = {c: i for i, c in enumerate(codes)}
    unknown = sorted({p for p in parents if p is not None and p not in pos})
    if unknown:
        raise AnalysisError("bad_units", f"上级单位不在测评范围内:{_sample(unknown)}")

    n = len(codes)
    parent0 = np.array([-1 if p is None else pos[p] for p in parents], dtype=np.int64)
    depth0 = np.full(n, -1, dtype=np.int64)
    depth0[parent0 < 0] = 0
    for _ in range(n):
        todo = depth0 < 0
        if not todo.any():
            break
        ready = todo & (depth0[np.maximum(parent0, 0)] >= 0)
        if not ready.any():
            break
        depth0[ready] = depth0[parent0[ready]] + 1
    if (depth0 < 0).any():
        bad = [codes[i] for i in np.nonzero(depth0 < 0)[0]]
        raise AnalysisError("bad_units", f"单位的上下级关系有循环:{_sample(bad)}")

    order = sorted(range(n), key=lambda i: (int(depth0[i]), codes[i]))
    new_pos = np.empty(n, dtype=np.int64)
    new_pos[order] = np.arange(n)
    parent = np.array([-1 if parent0[i] < 0 else int(new_pos[parent0[i]]) for i in order], dtype=np.int64)
    depth = depth0[order]
    raw_kinds, raw_names = units["kind"].tolist(), units["name"].tolist()
    kinds = tuple("" if _blank(raw_kinds[i]) else str(raw_kinds[i]).strip() for i in order)
    names = tuple("" if _blank(raw_names[i]) else str(raw_names[i]) for i in order)
    codes_sorted = tuple(codes[i] for i in order)

    is_dept = np.array([k == DEPARTMENT for k in kinds], dtype=bool)
    max_depth = int(depth.max())
    domains = np.full((n, max_depth + 1), -1, dtype=np.int64)
    rows = np.arange(n)
    cur = rows.copy()
    alive = np.ones(n, dtype=bool)
    for _ in range(max_depth + 1):
        domains[rows[alive], depth[cur[alive]]] = cur[alive]
        alive &= ~is_dept[cur] & (parent[cur] >= 0)
        cur = np.where(alive, parent[cur], cur)
    return Hierarchy(
        codes=codes_sorted,
        names=names,
        kinds=kinds,
        parent=parent,
        depth=depth,
        domains=domains,
        index={c: i for i, c in enumerate(codes_sorted)},
    )
