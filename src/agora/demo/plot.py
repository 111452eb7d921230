"""The demo's figure: success against steps for each curriculum, and what each one sampled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from agora.demo.run import DemoResult

__all__ = ["plot_demo"]

_COLORS = {"learning_progress": "tab:blue", "uniform": "tab:orange"}


def plot_demo(result: DemoResult, path: str | Path) -> Path:
    """Write a PNG: evaluation success (mean, shaded min-max over seeds) and sample shares per distance."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("the demo plot needs matplotlib: pip install 'agora-rl[demo]'") from exc

    names = result.curricula
    fig, axes = plt.subplots(1, 1 + len(names), figsize=(5.5 * (1 + len(names)), 4.2), squeeze=False)
    ax: Any = axes[0, 0]
    steps = np.array(result.config.eval_steps)
    for name in names:
        success = result.success(name)
        color = _COLORS.get(name)
        ax.plot(steps, success.mean(axis=0), label=f"{name} (mean of {len(success)})", color=color)
        ax.fill_between(steps, success.min(axis=0), success.max(axis=0), alpha=0.25, color=color)
    comparison = result.summary().get("comparison")
    if comparison is not None:
        ax.axhline(comparison["baseline_final_success"], color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("evaluation success")
    ax.set_title("Success on the whole task family")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")

    centres = (steps[:-1] + steps[1:]) / 2
    for ax, name in zip(axes[0, 1:], names, strict=True):
        distances, shares = result.distance_shares(name)
        ax.stackplot(centres, shares.T, labels=[f"d={d}" for d in distances], alpha=0.85)
        ax.set_xlim(steps[0], steps[-1])
        ax.set_ylim(0, 1)
        ax.set_xlabel("environment steps")
        ax.set_ylabel("share of episodes")
        ax.set_title(f"{name}: episodes per start distance")
    axes[0, -1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
