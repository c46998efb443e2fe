"""The packages depend one way (docs/architecture.md): no new import cycle between top-level packages.

Every module of the product is parsed (ast) and each import, at module level or inside a function,
is an edge from its top-level package (or top-level module) to the one it names. An edge that lies on
a cycle must be listed in ALLOWED_CYCLE_EDGES with the issue bullet that will remove it: a new cycle
fails, and so does an allowed edge that is no longer on a cycle (delete it: the list only shrinks).
"""

from __future__ import annotations

import ast
import tomllib
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("admin", "analysis", "api", "board", "demo", "jobs", "models", "reports", "survey")
MODULES = ("app", "audit", "caches", "cells", "clock", "errors", "extensions", "policy", "web", "worker")  # policy.py: the access-policy branch
TOP = frozenset(PACKAGES + MODULES)

# (importer, imported): each edge still on a cycle, and what removes it (issue 12, "Packages that depend one way").
ALLOWED_CYCLE_EDGES: set[tuple[str, str]] = set()  # none left: every package depends one way


def _files(top: str) -> list[Path]:
    return sorted((ROOT / top).rglob("*.py")) if top in PACKAGES else [p for p in [ROOT / f"{top}.py"] if p.exists()]


def _imports(path: Path) -> list[tuple[str, int]]:
    """Absolute module names imported by the file, with their line numbers."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, node.lineno))
    return found


def _graph() -> dict[str, dict[str, list[str]]]:
    """importer → imported → where (file:line), between different top-level names."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for top in TOP:
        for path in _files(top):
            for name, line in _imports(path):
                head = name.split(".")[0]
                if head in TOP and head != top:
                    graph[top][head].append(f"{path.relative_to(ROOT)}:{line}")
    return graph


def _reachable(graph: dict[str, dict[str, list[str]]], start: str) -> set[str]:
    seen, stack = set(), [start]
    while stack:
        for nxt in graph.get(stack.pop(), {}):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def test_no_new_import_cycle_between_top_level_packages():
    graph = _graph()
    assert graph["survey"] and graph["admin"], "the import graph came out empty"
    on_cycle = {(a, b): where for a, targets in graph.items() for b, where in targets.items() if a in _reachable(graph, b)}
    new = {edge: where for edge, where in on_cycle.items() if edge not in ALLOWED_CYCLE_EDGES}
    assert not new, f"new import cycle(s) between packages: {new}"
    gone = ALLOWED_CYCLE_EDGES - on_cycle.keys()
    assert not gone, f"no longer on a cycle: delete {sorted(gone)} from ALLOWED_CYCLE_EDGES"


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b": ["a.py:1"]}, "b": {"c": ["b.py:1"]}, "c": {"a": ["c.py:1"]}, "d": {"a": ["d.py:1"]}}
    assert _reachable(graph, "b") == {"a", "b", "c"} and "d" not in _reachable(graph, "a")


def test_analysis_imports_neither_flask_nor_sqlalchemy():
    """analysis/ is the pure core: numpy, pandas, scipy, statsmodels; no web framework, no database."""
    bad = [
        f"{path.relative_to(ROOT)}:{line} {name}"
        for path in _files("analysis")
        for name, line in _imports(path)
        if name.split(".")[0] in {"flask", "flask_sqlalchemy", "sqlalchemy", "werkzeug", *TOP - {"analysis", "errors"}}
    ]
    assert _files("analysis") and bad == []


def test_the_error_catalogue_is_pure():
    """errors.py (PinganError and its catalogue) is imported by analysis/, so it imports nothing of
    the web, the database or the project; the request-level checks live in web.py."""
    names = [name.split(".")[0] for name, _line in _imports(ROOT / "errors.py")]
    assert not set(names) & {"flask", "flask_sqlalchemy", "sqlalchemy", "werkzeug", *TOP}, names


def test_app_imports_no_blueprint_package_at_module_load():
    top_level = [node for node in ast.parse((ROOT / "app.py").read_text(encoding="utf-8")).body
                 if isinstance(node, (ast.Import, ast.ImportFrom))]
    names = {(n.module if isinstance(n, ast.ImportFrom) else n.names[0].name).split(".")[0] for n in top_level}
    assert not names & {"admin", "api", "board", "survey", "reports", "demo"}, names


def test_the_package_lists_every_top_level_module_and_package():
    """pyproject.toml (pip install -e .) names what the repository holds, so nothing needs sys.path."""
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert set(PACKAGES) == packages and packages <= set(tool["packages"]) and "migrations" in tool["packages"]
    modules = {p.stem for p in ROOT.glob("*.py")} - {"gunicorn.conf"}
    assert modules <= set(tool["py-modules"]) <= set(MODULES)
    patched = [str(p.relative_to(ROOT)) for top in ("bench", "scripts", "tests", "demo") for p in (ROOT / top).rglob("*.py")
               if "sys.path" in p.read_text(encoding="utf-8") and p != Path(__file__).resolve()]
    assert patched == []


def test_the_code_cites_the_projects_docs_not_the_design_reference():
    """Docstrings and comments cite docs/method.md, docs/security.md … (the project's own words),
    never the design reference outside the repository."""
    cited = [f"{path.relative_to(ROOT)}:{n}" for top in TOP for path in _files(top)
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if "DESIGN" in line]
    assert cited == []
