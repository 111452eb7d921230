"""``agora report``: figures of what the curriculum did, from a :class:`~agora.RunLog` file.

:func:`read_run_log` parses the JSON-lines file (a last line cut short by a killed process is
skipped); :func:`write_report` draws every figure the log has data for into PNGs and one
self-contained HTML page (the images inlined), optionally with a checkpoint's summary.
Figures use matplotlib (the ``report`` extra) without pyplot, so nothing global changes.
"""

from __future__ import annotations

import base64
import html
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["FIGURES", "RunLogData", "read_run_log", "write_report"]

_MAX_WINDOWS = 60
"""Episode records are merged into about this many windows along the time axis (fewer when
records are larger)."""

_MAX_KEYS = 10
"""Labels or bucket values shown apart in a share plot; the rarest of the rest are merged."""


@dataclass
class RunLogData:
    """The records of a run log, by kind, in file order."""

    start: list[dict[str, Any]] = field(default_factory=list)
    episodes: list[dict[str, Any]] = field(default_factory=list)
    pool: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0
    """Lines that were not complete JSON records (a process killed mid-write)."""

    @property
    def total_episodes(self) -> int:
        return sum(int(r["episodes"]) for r in self.episodes)

    @property
    def processes(self) -> int:
        return len({r.get("pid") for r in self.episodes})


def read_run_log(path: str | Path) -> RunLogData:
    """The records of run log ``path``; ``ValueError`` if it holds none."""
    data = RunLogData()
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                data.skipped += 1
                continue
            target = getattr(data, str(record.get("kind")), None) if isinstance(record, dict) else None
            if isinstance(target, list):
                target.append(record)
            else:
                data.skipped += 1
    if not data.episodes:
        raise ValueError(f"{path} has no episodes records: is it a RunLog file (agora.RunLog)?")
    return data


# -- time series ------------------------------------------------------------------------


@dataclass
class _Windows:
    """Episode records merged into consecutive windows: x = episodes logged by the window's end."""

    x: list[int]
    labels: list[dict[str, list[float]]]
    buckets: list[dict[str, dict[str, list[float]]]]


def _windows(records: list[dict[str, Any]]) -> _Windows:
    """Consecutive records merged into windows of about equal episode counts (at least one full
    record each), so that the short records written at the end of a run (a worker's last
    episodes) do not show as windows of their own."""
    sizes = [int(record["episodes"]) for record in records]
    target = max(sum(sizes) / _MAX_WINDOWS, max(sizes))
    groups: list[list[dict[str, Any]]] = [[]]
    filled = 0
    for record, size in zip(records, sizes, strict=True):
        if filled >= target:
            groups.append([])
            filled = 0
        groups[-1].append(record)
        filled += size
    if len(groups) > 1 and filled < target / 2:  # a short last window joins the one before
        groups[-2].extend(groups.pop())
    out = _Windows([], [], [])
    total = 0
    for group in groups:
        labels: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        buckets: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0]))
        for record in group:
            total += int(record["episodes"])
            for label, (n, score) in record.get("labels", {}).items():
                labels[label][0] += n
                labels[label][1] += score
            for path, values in record.get("buckets", {}).items():
                for value, (n, score) in values.items():
                    buckets[path][value][0] += n
                    buckets[path][value][1] += score
        out.x.append(total)
        out.labels.append(labels)
        out.buckets.append(buckets)
    return out


def _keys(series: Iterable[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for counts in series:
        seen.update(dict.fromkeys(counts))
    return sorted(seen, key=_natural)


def _natural(key: str) -> tuple[int, float, str]:
    """Numbers in numeric order before other keys ("5" < "11"; spans by their lower end)."""
    try:
        return (0, float(key.split("-", 1)[0] if "-" in key[1:] else key), key)
    except ValueError:
        return (1, 0.0, key)


def _label_name(label: str) -> str:
    return label or "(no label)"


# -- figures ----------------------------------------------------------------------------


def _figure(rows: int = 1, cols: int = 1, height: float = 3.6) -> tuple[Figure, list[Axes]]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8.0 if cols == 1 else 10.0, height * rows), layout="constrained")
    axes = figure.subplots(rows, cols, squeeze=False)
    return figure, [ax for row in axes for ax in row]


def _stacked_shares(ax: Axes, x: list[int], counts: list[dict[str, list[float]]], title: str) -> None:
    """Shares of each key per window, stacked; beyond :data:`_MAX_KEYS` keys the rarest are merged."""
    keys = _keys(counts)
    if len(keys) > _MAX_KEYS:
        overall = {key: sum(c[key][0] for c in counts if key in c) for key in keys}
        kept = set(sorted(keys, key=lambda k: -overall[k])[: _MAX_KEYS - 1])
        other = f"other ({len(keys) - len(kept)} values)"
        counts = [_merged(c, kept, other) for c in counts]
        keys = [key for key in keys if key in kept] + [other]
    totals = [sum(v[0] for v in c.values()) for c in counts]
    shares = [
        [c[key][0] / t if key in c and t else 0.0 for c, t in zip(counts, totals, strict=True)]
        for key in keys
    ]
    # Step "pre": a window's share spans (previous end, its end]; the first window starts at 0.
    ax.stackplot([0, *x], [[s[0], *s] for s in shares], labels=[_label_name(k) for k in keys], step="pre")
    ax.set_ylim(0, 1)
    ax.set_xlim(0, x[-1])
    ax.set_title(title)
    ax.set_xlabel("episodes logged")
    ax.set_ylabel("share of episodes")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")


def _merged(counts: dict[str, list[float]], kept: set[str], other: str) -> dict[str, list[float]]:
    out = {key: value for key, value in counts.items() if key in kept}
    rest = [value for key, value in counts.items() if key not in kept]
    out[other] = [sum(v[0] for v in rest), sum(v[1] for v in rest)]
    return out


def _label_share(data: RunLogData) -> Figure | None:
    windows = _windows(data.episodes)
    if not _keys(windows.labels) or _keys(windows.labels) == [""]:
        return None
    figure, (ax,) = _figure()
    _stacked_shares(ax, windows.x, windows.labels, "Episodes per label")
    return figure


def _bucket_share(data: RunLogData) -> Figure | None:
    windows = _windows(data.episodes)
    paths = _keys(windows.buckets)
    if not paths:
        return None
    figure, axes = _figure(rows=len(paths), height=3.0)
    for ax, path in zip(axes, paths, strict=True):
        _stacked_shares(ax, windows.x, [b.get(path, {}) for b in windows.buckets], f"Episodes per {path}")
    return figure


def _label_success(data: RunLogData) -> Figure | None:
    windows = _windows(data.episodes)
    keys = _keys(windows.labels)
    if not keys:
        return None
    figure, (ax,) = _figure()
    for key in keys:
        points = [
            (x, c[key][1] / c[key][0]) for x, c in zip(windows.x, windows.labels, strict=True) if key in c
        ]
        ax.plot(*zip(*points, strict=True), marker=".", label=_label_name(key))
    ax.set_title("Mean episode score per label" if keys != [""] else "Mean episode score")
    ax.set_xlabel("episodes logged")
    ax.set_ylabel("mean score in the window")
    ax.set_xlim(0, windows.x[-1])
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    return figure


def _sampling(data: RunLogData) -> Figure | None:
    if not data.pool or not data.pool[-1].get("top"):
        return None
    last = data.pool[-1]
    tasks = last["top"]
    figure, (ax,) = _figure(height=max(3.0, 0.28 * len(tasks) + 1.2))
    names = []
    for task in tasks:
        values = ", ".join(f"{path.rsplit('.', 1)[-1]}={_short(v)}" for path, v in task["buckets"].items())
        label = f"{task['label']} " if task.get("label") else ""
        names.append(f"{task['task_id']}  {label}{values}".strip())
    ax.barh(range(len(tasks)), [task["p"] for task in tasks], color="tab:blue")
    ax.set_yticks(range(len(tasks)), names, fontsize="small")
    ax.invert_yaxis()
    ax.axvline(1.0 / last["num_active"], color="black", linestyle=":", label="uniform (1 / active tasks)")
    ax.set_xlabel("sampling probability")
    ax.set_title(f"Top {len(tasks)} of {last['num_active']:,} tasks by sampling probability")
    ax.legend(loc="lower right", fontsize="small")
    return figure


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _histograms(data: RunLogData) -> Figure | None:
    if not data.pool:
        return None
    last = data.pool[-1]
    panels = [
        (key, title) for key, title in (("lp", "Learning progress"), ("success", "Mean score")) if key in last
    ]
    figure, axes = _figure(cols=len(panels))
    for ax, (key, title) in zip(axes, panels, strict=True):
        counts, edges = last[key]["counts"], last[key]["edges"]
        ax.stairs(counts, edges, fill=True, alpha=0.8)
        ax.set_title(f"{title} of the active tasks")
        ax.set_xlabel("LP score" if key == "lp" else "mean score of a played task")
        ax.set_ylabel("tasks")
    return figure


def _evictions(data: RunLogData) -> Figure | None:
    series: dict[Any, list[tuple[float, float]]] = defaultdict(list)
    for record in data.episodes:
        stats = record.get("stats", {})
        if "num_evicted" in stats and "num_completed" in stats:
            series[record.get("pid")].append((stats["num_completed"], stats["num_evicted"]))
    if not series:
        return None
    figure, (ax,) = _figure()
    for number, (pid, points) in enumerate(series.items(), start=1):
        name = f"process {number} (pid {pid})" if len(series) > 1 else "evicted tasks"
        ax.plot(*zip(*points, strict=True), marker=".", label=name)
    ax.set_title("Tasks evicted so far (as each process saw its curriculum)")
    ax.set_xlabel("episodes completed in the curriculum (num_completed)")
    ax.set_ylabel("num_evicted")
    ax.legend(fontsize="small")
    return figure


def _spans(data: RunLogData) -> Figure | None:
    declared = next((start["spans"] for start in reversed(data.start) if start.get("spans")), None)
    if not declared:
        return None
    figure, axes = _figure(rows=len(declared), height=3.0)
    for ax, (path, spans) in zip(axes, declared.items(), strict=True):
        for index, (low, high, bins) in enumerate(spans):
            counts = [0] * bins
            for record in data.episodes:
                histograms = record.get("spans", {}).get(path, [])
                if index < len(histograms) and len(histograms[index]) == bins:
                    counts = [a + b for a, b in zip(counts, histograms[index], strict=True)]
            top = high + 1 if isinstance(low, int) and isinstance(high, int) else high
            edges = [low + (top - low) * i / bins for i in range(bins + 1)]
            ax.stairs(counts, edges, fill=True, alpha=0.7, label=f"Span({low}, {high})")
        ax.set_title(f"Values drawn for {path} (episodes)")
        ax.set_xlabel(path)
        ax.set_ylabel("episodes")
        ax.legend(fontsize="small")
    return figure


FIGURES: dict[str, tuple[str, Callable[[RunLogData], Figure | None]]] = {
    "label_share": ("Share of episodes per label over time (evicted tasks included).", _label_share),
    "bucket_share": (
        "Share of episodes per bucket value over time (a Span counts as one value).",
        _bucket_share,
    ),
    "label_success": ("Mean episode score per label over time.", _label_success),
    "sampling": (
        "The sampling distribution: the most likely tasks, their labels and bucket values.",
        _sampling,
    ),
    "histograms": ("Learning progress and mean score over the active tasks.", _histograms),
    "evictions": ("Evictions over time.", _evictions),
    "spans": ("The values drawn from continuous Span buckets, over all logged episodes.", _spans),
}
"""Figure name -> (caption, function drawing it, or returning None when the log has no data for it)."""


# -- the page ---------------------------------------------------------------------------


def write_report(
    run_log: str | Path, out: str | Path, *, checkpoint_text: str | None = None
) -> tuple[Path, list[Path]]:
    """Draw every figure ``run_log`` has data for into ``out`` (PNGs) and ``out/report.html``.

    ``checkpoint_text``: a checkpoint's summary (``agora inspect``'s text) to append. Returns
    the page and the PNGs. Needs matplotlib: ``ImportError`` names the extra without it.
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"agora report draws with matplotlib ({exc}): pip install 'agora-rl[report]'"
        ) from exc
    data = read_run_log(run_log)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    sections, images = [], []
    for name, (caption, draw) in FIGURES.items():
        figure = draw(data)
        if figure is None:
            continue
        image = folder / f"{name}.png"
        figure.savefig(image, dpi=100)
        images.append(image)
        inline = base64.b64encode(image.read_bytes()).decode()
        sections.append(
            f'<figure id="{name}"><img alt="{html.escape(caption)}" src="data:image/png;base64,{inline}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    page = folder / "report.html"
    page.write_text(_page(data, Path(run_log), sections, checkpoint_text), encoding="utf-8")
    return page, images


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1050px; margin: 2em auto; padding: 0 1em; color: #222; }
figure { margin: 2em 0; } img { max-width: 100%; } figcaption { color: #555; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { padding: 2px 10px; text-align: left; }
tr:nth-child(even) { background: #f4f4f4; } pre { background: #f4f4f4; padding: 1em; overflow-x: auto; }
"""


def _page(data: RunLogData, source: Path, sections: list[str], checkpoint_text: str | None) -> str:
    first, last = data.episodes[0], data.episodes[-1]
    version = next((s.get("agora_version") for s in data.start), "?")
    wall = float(last["time"]) - float(data.start[0]["time"] if data.start else first["time"])
    facts = [
        f"{data.total_episodes:,} episodes logged by {data.processes} process(es) over {wall:,.0f} s",
        f"{len(data.episodes)} episodes records, {len(data.pool)} pool records; agora {version}",
    ]
    if data.skipped:
        facts.append(f"{data.skipped} incomplete line(s) skipped")
    stats = last.get("stats", {})
    rows = "".join(
        f"<tr><td>{html.escape(key)}</td><td>{value:.4g}</td></tr>"
        for key, value in stats.items()
        if "/" not in key or key.startswith("algorithm/")
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>agora report: {html.escape(source.name)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Curriculum report: {html.escape(source.name)}</h1>",
        "<ul>" + "".join(f"<li>{html.escape(fact)}</li>" for fact in facts) + "</ul>",
        *sections,
        "<h2>Last statistics</h2>",
        f"<table><tr><th>stat</th><th>value</th></tr>{rows}</table>",
    ]
    if checkpoint_text is not None:
        parts += ["<h2>Checkpoint</h2>", f"<pre>{html.escape(checkpoint_text)}</pre>"]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
