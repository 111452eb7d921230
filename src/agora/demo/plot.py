"""The demo's figure: success against steps for each curriculum, and what each one sampled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from agora.demo.run import DemoResult

__all__ = ["demo_figure", "plot_demo"]

_COLORS = {"learning_progress": "tab:blue", "uniform": "tab:orange"}
_SPARE_COLORS = ["tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan"]
"""For other curricula, in order, so that no two curves share a colour."""


def _colors(names: list[str]) -> dict[str, str]:
    spare = iter(_SPARE_COLORS * (1 + len(names) // len(_SPARE_COLORS)))
    return {name: _COLORS.get(name) or next(spare) for name in names}


def demo_figure(result: DemoResult) -> Any:
    """The demo's matplotlib figure: evaluation success (mean, shaded min-max over seeds) and sample
    shares per start distance. With a uniform run, a dotted line marks uniform's final success and a
    dot where each curve first reaches it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("the demo plot needs matplotlib: pip install 'agora-rl[demo]'") from exc

    names = result.curricula
    colors = _colors(names)
    fig, axes = plt.subplots(1, 1 + len(names), figsize=(5.5 * (1 + len(names)), 4.2), squeeze=False)
    ax: Any = axes[0, 0]
    steps = np.array(result.config.eval_steps)
    target = float(result.success("uniform").mean(axis=0)[-1]) if "uniform" in names else None
    for name in names:
        success = result.success(name)
        label = f"{name} (mean of {len(success)})"
        reached = None if target is None else result.steps_to_reach(name, target)
        if reached is not None:
            label += f", dotted line after {reached:,.0f} steps"
        ax.plot(steps, success.mean(axis=0), label=label, color=colors[name])
        ax.fill_between(steps, success.min(axis=0), success.max(axis=0), alpha=0.25, color=colors[name])
        if reached is not None:
            ax.plot([reached], [target], marker="o", color=colors[name], markeredgecolor="black", zorder=3)
    if target is not None:
        ax.axhline(
            target, color="grey", linestyle=":", linewidth=1, label=f"uniform's final success ({target:.3f})"
        )
    ax.set_xlabel("environment steps")
    ax.set_ylabel("evaluation success")
    ax.set_title("Success on the whole task family")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")

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
    return fig


def plot_demo(result: DemoResult, path: str | Path) -> Path:
    """Write :func:`demo_figure` as a PNG to ``path``."""
    fig = demo_figure(result)  # first: it explains a missing matplotlib
    import matplotlib.pyplot as plt

    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
