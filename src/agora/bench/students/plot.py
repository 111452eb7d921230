"""The per-student figure: what share of its episodes each arm spends on each kind of task over time."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from agora.bench.students.base import Student
from agora.bench.students.runner import StudentRun

__all__ = ["plot_shares"]

_STYLES = ["-", "--", ":", "-.", (0, (5, 1)), (0, (1, 3))]


def plot_shares(
    arms: Sequence[str], runs_of: Mapping[tuple[str, str], list[StudentRun]], student: Student, folder: Path
) -> Path:
    """Write ``folder/<student>.png`` from the runs of each ``(student, arm)``: a panel per kind (and
    for the tasks learnable right then) with the share of each window's episodes, mean over seeds
    (runs that stopped early count until they stopped), a line style per arm."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import EngFormatter
    except ImportError as exc:
        raise ImportError("the students' plots need matplotlib: pip install 'agora-rl[demo]'") from exc

    series = [*student.kinds, "learnable now"]
    cols = min(4, len(series))
    rows = -(-len(series) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.9 * rows), squeeze=False, sharex=True)
    for ax, name in zip(axes.flat, series, strict=False):
        for a, arm in enumerate(arms):
            runs = runs_of[(student.name, arm)]
            longest = max(runs, key=lambda run: len(run.window_ends))
            ends, means = [], []
            for w, end in enumerate(longest.window_ends):
                values = [run.shares[name][w] for run in runs if _full(run, w, student.window)]
                if values:
                    ends.append(end)
                    means.append(sum(values) / len(values))
            ax.plot(
                ends,
                means,
                color=f"C{a}",
                linestyle=_STYLES[a % len(_STYLES)],
                linewidth=1.4,
                label=arm,
            )
        ax.set_title(name, fontsize="medium")
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(series) :]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("episodes")
    for ax in axes[:, 0]:
        ax.set_ylabel("share of episodes")
    axes.flat[0].legend(fontsize="small")
    fig.suptitle(f"{student.name}: share of episodes per kind of task (mean over seeds)")
    fig.tight_layout()
    out = folder / f"{re.sub(r'[^a-z0-9]+', '-', student.name.lower()).strip('-')}.png"
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def _full(run: StudentRun, w: int, window: int) -> bool:
    """Whether ``run`` has window ``w`` and it is not a short last one (a run that stopped early)."""
    if w >= len(run.window_ends):
        return False
    return run.window_ends[w] - (run.window_ends[w - 1] if w else 0) >= window // 2
