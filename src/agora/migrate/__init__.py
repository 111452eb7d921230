"""``agora migrate``: move a codebase from Metta's ``metta.cogworks.curriculum`` to agora.

- :mod:`agora.migrate.names`: where each old name lives in agora (no dependencies)
- :mod:`agora.migrate.python`: the libcst rewrite of imports, attribute uses and path strings
- :mod:`agora.migrate.configs`: ``type`` strings in YAML and JSON configs
- :mod:`agora.migrate.shim`: the deprecated ``metta.cogworks.curriculum`` re-export package

The Python rewrite needs ``libcst`` (``pip install 'agora-rl[migrate]'``), imported only
when a Python file is rewritten.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agora.migrate.python import Problem

__all__ = ["FileResult", "migrate_file", "migrate_tree"]

_SUFFIXES = {".py", ".yaml", ".yml", ".json"}
_SKIPPED_DIRS = {"__pycache__", "node_modules", "site-packages"}


@dataclass
class FileResult:
    """One file's migration: its old and new text, and what was left for a human."""

    path: Path
    before: str
    after: str
    problems: list[Problem] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.after != self.before

    def diff(self) -> str:
        name = self.path.as_posix().lstrip("/")
        lines = difflib.unified_diff(
            self.before.splitlines(keepends=True),
            self.after.splitlines(keepends=True),
            fromfile=f"a/{name}",
            tofile=f"b/{name}",
        )
        return "".join(
            line if line.endswith("\n") else f"{line}\n\\ No newline at end of file\n" for line in lines
        )


def migrate_file(path: Path) -> FileResult:
    """Migrate one file's text (nothing is written)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        from agora.migrate.python import Problem

        return FileResult(path, "", "", [Problem(1, f"not UTF-8 text, skipped ({exc.reason})")])
    if "cogworks" not in text:  # every old import and path names metta.cogworks
        return FileResult(path, text, text)
    if path.suffix != ".py":
        from agora.migrate.configs import rewrite_config

        after, problems = rewrite_config(text)
        return FileResult(path, text, after, problems)
    try:
        import libcst
    except ImportError as exc:
        raise ImportError(
            "agora migrate rewrites Python with libcst, which is not installed: "
            "pip install 'agora-rl[migrate]'"
        ) from exc
    from agora.migrate.python import Problem, rewrite_python

    try:
        after, problems = rewrite_python(text)
    except libcst.ParserSyntaxError as exc:
        return FileResult(path, text, text, [Problem(exc.raw_line, f"cannot parse: {exc.message}")])
    return FileResult(path, text, after, problems)


def migrate_tree(root: Path) -> Iterator[FileResult]:
    """Migrate every Python, YAML and JSON file under ``root`` (or ``root`` itself), in path order."""
    if root.is_file():
        yield migrate_file(root)
        return
    if not root.is_dir():
        raise FileNotFoundError(f"no such file or folder: {root}")
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        if path.suffix not in _SUFFIXES or not path.is_file():
            continue
        if any(part.startswith(".") or part in _SKIPPED_DIRS for part in parts[:-1]):
            continue
        yield migrate_file(path)
