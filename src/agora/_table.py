"""Plain-text tables for the command line (no dependency, so every command can print one)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

__all__ = ["format_table"]


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]], *, markdown: bool = False) -> str:
    """Columns padded to their widest cell: text left-aligned, numbers right-aligned.

    ``markdown=True`` gives a GitHub table (still aligned, so it reads well as text too).
    """
    cells = [[str(h) for h in header], *([_cell(v) for v in row] for row in rows)]
    widths = [max(len(row[c]) for row in cells) for c in range(len(header))]
    numeric = [bool(rows) and all(_numeric(row[c]) for row in rows) for c in range(len(header))]

    def line(row: list[str]) -> str:
        padded = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(row, widths, numeric, strict=True)]
        return f"| {' | '.join(padded)} |" if markdown else "  ".join(padded).rstrip()

    rule = [("-" * (w - 1) + ":" if num else "-" * w) for w, num in zip(widths, numeric, strict=True)]
    separator = f"| {' | '.join(rule)} |" if markdown else "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), separator, *(line(row) for row in cells[1:])])


_NUMBER = re.compile(r"[-+]?[\d,]*\.?\d+(e[-+]?\d+)?\s*(%|x|µs|ms|s)?", re.IGNORECASE)


def _numeric(value: Any) -> bool:
    """Numbers, and numbers already formatted as text ("1,000", "+2.7%", "1.8x"), align right."""
    if isinstance(value, str):
        return value in {"-", ""} or _NUMBER.fullmatch(value.strip()) is not None
    return isinstance(value, int | float)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)
