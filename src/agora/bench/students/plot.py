"""The per-student figure: what share of its episodes each arm spends on each kind of task over time."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agora.bench.students.base import Student

if TYPE_CHECKING:
    from agora.bench.students.compare import Comparison

__all__ = ["plot_shares"]

_STYLES = ["-", "--", ":", "-.", (0, (5, 1)), (0, (1, 3))]


def plot_shares(comparison: Comparison, student: Student, folder: Path) -> Path:
    """Write ``folder/<student>.png``: per kind, the share of each window's episodes (mean over seeds,
    runs that stopped early count until they stopped); colour per kind, line style per arm."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("the students' plots need matplotlib: pip install 'agora-rl[demo]'") from exc

    fig, ax = plt.subplots(figsize=(9, 5))
    series = [*student.kinds, "learnable now"]
    colors: dict[str, Any] = {name: f"C{i}" for i, name in enumerate(series)}
    colors["learnable now"] = "black"
    for a, arm in enumerate(comparison.arms):
        runs = comparison.runs[(student.name, arm)]
        longest = max(runs, key=lambda run: len(run.window_ends))
        for name in series:
            means = []
            for w in range(len(longest.window_ends)):
                values = [run.shares[name][w] for run in runs if w < len(run.shares[name])]
                means.append(sum(values) / len(values))
            ax.plot(
                longest.window_ends,
                means,
                color=colors[name],
                linestyle=_STYLES[a % len(_STYLES)],
                linewidth=2.2 if name == "learnable now" else 1.4,
                label=f"{name} ({arm})",
            )
    ax.set_xlabel("episodes")
    ax.set_ylabel("share of episodes")
    ax.set_ylim(0, 1)
    ax.set_title(f"{student.name}: episodes per kind of task")
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small")
    fig.tight_layout()
    out = folder / f"{re.sub(r'[^a-z0-9]+', '-', student.name.lower()).strip('-')}.png"
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
