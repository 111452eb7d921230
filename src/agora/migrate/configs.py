"""Rewrite Metta's import paths in the ``type`` strings of YAML and JSON configs.

Line by line with a regular expression, so the file keeps its layout, comments and key
order (a YAML round trip would lose them).
"""

from __future__ import annotations

import re

from agora.migrate.names import OLD_PACKAGE, new_path
from agora.migrate.python import Problem

__all__ = ["rewrite_config"]

_OLD = re.escape(OLD_PACKAGE)
_TYPE_VALUE = re.compile(
    rf"""(?P<key>["']?(?:\w+_)?type["']?\s*:\s*)(?P<quote>["']?)(?P<path>{_OLD}(?:\.\w+)+)(?P=quote)"""
)
_ANY = re.compile(rf"{_OLD}(?:\.\w+)*")


def rewrite_config(text: str) -> tuple[str, list[Problem]]:
    """The config with old ``type`` paths replaced, and the old paths it could not replace."""
    lines = text.splitlines(keepends=True)
    problems: list[Problem] = []
    for number, line in enumerate(lines, start=1):
        if OLD_PACKAGE not in line:
            continue

        def replace(match: re.Match[str], number: int = number) -> str:
            new = new_path(match["path"])
            if new is None:
                problems.append(Problem(number, f"type {match['path']!r} names nothing agora has"))
                return match[0]
            return f"{match['key']}{match['quote']}{new}{match['quote']}"

        line = _TYPE_VALUE.sub(replace, line)
        for match in _ANY.finditer(line):
            if not any(p.line == number for p in problems):
                problems.append(Problem(number, f"{match[0]!r} is not a `type` value: not rewritten"))
        lines[number - 1] = line
    return "".join(lines), problems
