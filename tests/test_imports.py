"""Leaves below, features above: the modules of ``agora`` import each other without cycles.

Every import counts, wherever it is written: at module level, under ``if TYPE_CHECKING:`` and
inside functions. A type-only import is still a dependency of the design (the scorers <->
learning-progress cycle was one), and a function-level import only moves a cycle from import
time to call time. ``from agora.x.y import name`` depends on ``agora.x.y``, not on the
``agora.x`` package facade that re-exports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

UPWARD = {
    # TaskGeneratorConfig.to_curriculum(): a public convenience kept for source compatibility,
    # resolved when it is called (a function-level import; its return type under TYPE_CHECKING).
    ("agora.generators.base", "agora.curriculum"),
    # CurriculumAlgorithmConfig.standalone() and create(num_tasks): the seed system's way of building
    # an algorithm on its own, kept for source compatibility (a function-level import; the
    # overloads' return type under TYPE_CHECKING).
    ("agora.algorithms.base", "agora.algorithms.standalone"),
    ("agora.algorithms.learning_progress", "agora.algorithms.standalone"),
    # CurriculumConfig.make(): a config builds the curriculum it describes (public API), resolved
    # when it is called; the front end needs the config class to rebuild one from a checkpoint.
    ("agora.curriculum.config", "agora.curriculum.front"),
}
"""The only edges allowed to point up, each for a stated reason."""


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted((SRC / "agora").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom):
            parts = package[: len(package) - node.level + 1] if node.level else []
            base = ".".join([*parts, node.module] if node.module else parts)
            for alias in node.names:
                if f"{base}.{alias.name}" in modules:  # a submodule: ``from agora import wrappers``
                    found.add(f"{base}.{alias.name}")
                elif base in modules:
                    found.add(base)
    found.discard(name)
    return {target for target in found if (name, target) not in UPWARD}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path ``[a, b, ..., a]``, or None (iterative depth-first search)."""
    done: set[str] = set()
    for start in graph:
        if start in done:
            continue
        path = [start]
        on_path = {start}
        stack = [iter(sorted(graph[start]))]
        while stack:
            target = next(stack[-1], None)
            if target is None:
                stack.pop()
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
                continue
            if target in on_path:
                return [*path[path.index(target) :], target]
            if target not in done:
                path.append(target)
                on_path.add(target)
                stack.append(iter(sorted(graph[target])))
    return None


def test_the_graph_sees_the_package() -> None:
    graph = _graph()
    assert "agora.curriculum" in graph["agora"]
    assert "agora.pool" in graph["agora.curriculum.engine"]
    assert "agora.wrappers" in graph["agora"]  # ``from agora import wrappers`` inside a function


def test_cycle_finder_reports_the_path() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycles() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_upward_edges_are_still_needed() -> None:
    modules = _modules()
    for source, target in UPWARD:
        text = modules[source].read_text()
        assert target in text, f"{source} no longer imports {target}: drop it from UPWARD"
