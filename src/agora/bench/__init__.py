"""Benchmarks behind ``agora bench``: each one measures something and returns a table.

A benchmark is a function ``run(quick: bool) -> BenchResult`` in a module of this package,
listed in :data:`BENCHMARKS` by name. Modules are imported only when their benchmark runs,
so one that needs an optional dependency (ray, shared memory) costs nothing otherwise; the
first line of a module's docstring is the benchmark's description in ``agora bench --list``.
While it runs, a benchmark reports each phase with :func:`progress` (on stderr, so the tables
on stdout stay clean).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agora._table import format_table

__all__ = ["BENCHMARKS", "BenchResult", "describe", "get_benchmark", "progress", "record", "run_benchmarks"]

BENCHMARKS: dict[str, str] = {
    "get_task_update": "agora.bench.get_task_update:run",
    "episode_cost": "agora.bench.episode_cost:run",
    "task_kinds": "agora.bench.task_kinds:run",
    "students": "agora.bench.students:run",
    "wrapper_overhead": "agora.bench.wrapper_overhead:run",
    "shared_memory": "agora.bench.shared_memory:run",
    "distributed": "agora.bench.distributed:run",
    "faults": "agora.bench.faults:run",
    "run_log": "agora.bench.run_log:run",
}
"""Benchmark name -> ``module:function`` of its ``run(quick)``, which returns a :class:`BenchResult`
or a dict with the same fields."""


@dataclass
class BenchResult:
    """One benchmark's outcome: a titled table plus notes on how it was measured."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)

    def table(self, *, markdown: bool = False) -> str:
        return format_table(self.columns, self.rows, markdown=markdown)

    def text(self) -> str:
        """Title, table and notes, for the terminal."""
        return "\n".join([self.title, "", self.table(), *(["", *self.notes] if self.notes else [])])

    def markdown(self, name: str) -> str:
        """A markdown section, fenced by markers so that :func:`record` can replace it later."""
        notes = "".join(f"\n{note}\n" for note in self.notes)
        body = f"### {self.title}\n\n{self.table(markdown=True)}\n{notes}"
        return f"<!-- bench:{name} -->\n{body}<!-- /bench:{name} -->"


def describe(name: str) -> str:
    """The first line of benchmark ``name``'s module docstring, read without importing the module."""
    if name not in BENCHMARKS:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(sorted(BENCHMARKS))}")
    spec = importlib.util.find_spec(BENCHMARKS[name].partition(":")[0])
    if spec is None or spec.origin is None:
        return ""
    docstring = ast.get_docstring(ast.parse(Path(spec.origin).read_text(encoding="utf-8"))) or ""
    line = docstring.strip().split("\n", 1)[0]
    return re.sub(r":\w+:`~?(?:[\w.]+\.)?([^`]+)`", r"\1", line).replace("``", "")  # plain text, no RST


def progress(message: str) -> None:
    """Report a benchmark phase on stderr as it starts (benchmarks take seconds to minutes)."""
    print(f"  {message}", file=sys.stderr, flush=True)


def get_benchmark(name: str) -> Callable[[bool], BenchResult]:
    """The ``run`` function of benchmark ``name``."""
    if name not in BENCHMARKS:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(sorted(BENCHMARKS))}")
    module, _, function = BENCHMARKS[name].partition(":")
    target: Callable[[bool], BenchResult | dict[str, Any]] = getattr(
        importlib.import_module(module), function
    )

    def run(quick: bool) -> BenchResult:
        result = target(quick)
        return result if isinstance(result, BenchResult) else BenchResult(**result)

    return run


def run_benchmarks(names: Sequence[str] | None = None, *, quick: bool = False) -> dict[str, BenchResult]:
    """Run the named benchmarks (all by default) in order."""
    runs = [get_benchmark(name) for name in (names or list(BENCHMARKS))]  # unknown names fail before any run
    return {name: run(quick) for name, run in zip(names or list(BENCHMARKS), runs, strict=True)}


def record(results: dict[str, BenchResult], path: str | Path) -> None:
    """Write each result's markdown section into ``path``, replacing an earlier one of the same name."""
    target = Path(path)
    text = target.read_text() if target.exists() else ""
    for name, result in results.items():
        section = result.markdown(name)
        pattern = re.compile(
            rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.DOTALL
        )
        if pattern.search(text):
            text = pattern.sub(section.replace("\\", "\\\\"), text)
        else:
            text = f"{text.rstrip()}\n\n{section}\n" if text.strip() else f"{section}\n"
    target.write_text(text)
