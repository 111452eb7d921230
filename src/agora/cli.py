"""The ``agora`` command: ``demo``, ``bench``, ``inspect``, ``report`` and ``migrate``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """Bad arguments give one line on stderr and exit code 2 (argparse prints the whole usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _algorithms(text: str) -> list[str]:
    from agora.demo.run import ALGORITHMS

    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in ALGORITHMS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown curriculum {unknown[0] if unknown else text!r} (known: {', '.join(ALGORITHMS)})"
        )
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"a curriculum is named twice in {text!r}")
    return names


def _parser() -> _Parser:
    from agora import __version__

    parser = _Parser(prog="agora", description="Curriculum learning for RL: demo, benchmarks, checkpoints.")
    parser.add_argument("--version", action="version", version=f"agora-rl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    demo = sub.add_parser(
        "demo",
        help="train an agent with and without a learning-progress curriculum and compare",
        description="Train a Q-learning agent on the built-in maze task family with the learning-progress "
        "curriculum and with uniform sampling (or the curricula of --algorithms), over several seeds; print "
        "success against steps and write summary.json and demo.png.",
    )
    demo.add_argument("--quick", action="store_true", help="a short run (for tests and a first look)")
    demo.add_argument("--seeds", type=_positive, help="runs per curriculum (default 5)")
    demo.add_argument("--steps", type=_positive, help="training environment steps per run")
    demo.add_argument("--workers", type=_positive, help="worker processes (default 2)")
    demo.add_argument(
        "--algorithms",
        type=_algorithms,
        metavar="NAMES",
        help="comma-separated curricula to run side by side, from learning_progress, uniform, plr, "
        "learnability, syllabus (default learning_progress,uniform)",
    )
    demo.add_argument(
        "--out", type=Path, default=Path("agora-demo"), help="output folder (default ./agora-demo)"
    )

    bench = sub.add_parser(
        "bench",
        help="run benchmarks and print their tables",
        description="Run benchmarks and print their tables.",
    )
    bench.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (default: all)")
    bench.add_argument("--quick", action="store_true", help="fewer sizes and episodes")
    bench.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    bench.add_argument(
        "--record", type=Path, metavar="PATH", help="also write the tables into this markdown file"
    )
    bench.add_argument(
        "--plots", type=Path, metavar="DIR", help="benchmarks that plot (students) write their PNGs here"
    )

    inspect = sub.add_parser(
        "inspect",
        help="summarise a saved curriculum checkpoint",
        description="Summarise a curriculum checkpoint: pool, counters, top tasks, labels.",
    )
    inspect.add_argument("path", type=Path, help="checkpoint written by Curriculum.save")
    inspect.add_argument("--top", type=_positive, default=10, help="tasks to list (default 10)")
    inspect.add_argument("--json", action="store_true", help="print the summary as JSON")

    report = sub.add_parser(
        "report",
        help="draw what the curriculum did from a run log (HTML page and PNGs)",
        description="Draw the figures of a run log written by agora.RunLog (episode shares per label and "
        "bucket value, success per label, the sampling distribution, LP and success histograms, evictions, "
        "values drawn from Span buckets) into PNGs and one self-contained HTML page. With a checkpoint, "
        "the page ends with its `agora inspect` summary. Needs matplotlib: pip install 'agora-rl[report]'.",
    )
    report.add_argument("run_log", type=Path, metavar="RUN.jsonl", help="run log written by agora.RunLog")
    report.add_argument("checkpoint", type=Path, nargs="?", help="a checkpoint of the same run (optional)")
    report.add_argument(
        "-o", "--out", type=Path, default=Path("agora-report"), help="output folder (default ./agora-report)"
    )

    migrate = sub.add_parser(
        "migrate",
        help="rewrite code and configs from metta.cogworks.curriculum to agora",
        description="Rewrite the imports, attribute uses and renamed names of metta.cogworks.curriculum in "
        "Python files, and its paths in the `type` strings of YAML/JSON configs, under PATH. Prints a "
        "unified diff (or writes with --write) and lists, as file:line, what it could not rewrite; exits 1 "
        "if there was any.",
    )
    migrate.add_argument("path", type=Path, help="a file or folder to migrate")
    migrate.add_argument("--write", action="store_true", help="write the changes instead of printing a diff")
    migrate.add_argument(
        "--shim",
        type=Path,
        metavar="DIR",
        help="also write DIR/metta/cogworks/curriculum: deprecated modules re-exporting agora's names",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``agora`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    commands = {"demo": _demo, "bench": _bench, "inspect": _inspect, "report": _report, "migrate": _migrate}
    command = commands[args.command]
    return command(args)


def _fail(message: str) -> int:
    print(f"agora: error: {message}", file=sys.stderr)
    return 1


def _demo(args: argparse.Namespace) -> int:
    from agora.demo.run import ALGORITHMS, DemoConfig, default_curricula, run_demo

    overrides: dict[str, Any] = {
        key: value
        for key, value in {"seeds": args.seeds, "env_steps": args.steps, "workers": args.workers}.items()
        if value is not None
    }
    config = DemoConfig.quick(**overrides) if args.quick else DemoConfig(**overrides)
    out: Path = args.out
    if out.exists() and not out.is_dir():
        return _fail(f"--out {out} exists and is not a folder")
    curricula = (
        {name: ALGORITHMS[name]() for name in args.algorithms} if args.algorithms else default_curricula()
    )
    if "syllabus" in curricula:
        from agora.bench.students.runner import import_syllabus

        try:
            import_syllabus()
        except ImportError as exc:
            return _fail(str(exc))
    out.mkdir(parents=True, exist_ok=True)
    print(
        f"Training {config.seeds} seeds x {len(curricula)} curricula for {config.env_steps:,} environment "
        f"steps each ({config.workers} worker processes)...",
        flush=True,
    )
    result = run_demo(config, curricula)
    summary = result.summary()
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print()
    print("Evaluation success on the whole task family (mean ± std over seeds):")
    print(result.table())
    if "comparisons" in summary:
        print()
        for comparison in summary["comparisons"].values():
            print(_verdict(comparison))
    cores = summary["cpu_count"]
    print(f"({summary['wall_time_s']:.0f} s with {config.workers} worker processes on {cores} cores)")
    try:
        from agora.demo.plot import plot_demo

        plot = plot_demo(result, out / "demo.png")
    except ImportError as exc:
        print(f"wrote {out / 'summary.json'}", file=sys.stderr)
        return _fail(str(exc))
    print(f"wrote {out / 'summary.json'} and {plot}")
    return 0


def _verdict(comparison: dict[str, Any]) -> str:
    target = comparison["baseline_final_success"]
    steps = comparison["candidate_steps_to_baseline_final"]
    baseline = comparison["baseline_steps_to_final"]
    name = comparison["candidate"].replace("_", " ")
    if steps is None:
        return (
            f"{name.capitalize()} did not reach uniform's final success ({target:.3f}) within the budget: "
            f"its own final success is {comparison['candidate_final_success']:.3f}."
        )
    ratio = comparison["step_ratio"]
    relative = "" if ratio is None else f": {ratio:.0%} of the steps ({1 / max(ratio, 1e-9):.1f}x fewer)"
    return (
        f"Uniform first reached its final success ({target:.3f}) after {baseline:,.0f} environment steps; "
        f"{name} after {steps:,.0f}{relative}."
    )


def _bench(args: argparse.Namespace) -> int:
    from agora.bench import BENCHMARKS, describe, get_benchmark, record

    if args.list:
        width = max(map(len, BENCHMARKS))
        print("\n".join(f"{name:<{width}}  {describe(name)}" for name in sorted(BENCHMARKS)))
        return 0
    names = args.names or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(
            f"agora bench: error: unknown benchmark {unknown[0]!r} (known: {', '.join(sorted(BENCHMARKS))})",
            file=sys.stderr,
        )
        return 2
    if args.plots is not None:
        if args.plots.exists() and not args.plots.is_dir():
            return _fail(f"--plots {args.plots} exists and is not a folder")
        os.environ["AGORA_BENCH_PLOTS"] = str(args.plots)  # read by the benchmarks that plot
    results = {}
    skipped = False
    for number, name in enumerate(names, 1):
        print(f"[{number}/{len(names)}] {name}: {describe(name)}", file=sys.stderr, flush=True)
        try:
            result = get_benchmark(name)(args.quick)
        except ImportError as exc:  # an optional dependency of this benchmark is missing
            print(f"agora bench: skipped {name}: {exc}", file=sys.stderr, flush=True)
            skipped = True
            continue
        results[name] = result
        print(result.text(), end="\n\n", flush=True)
    if args.record is not None:
        record(results, args.record)
        print(f"recorded in {args.record}")
    return 1 if skipped and args.names else 0  # a benchmark asked for by name must run


def _inspect(args: argparse.Namespace) -> int:
    from agora.checkpoint import CheckpointError, read_checkpoint
    from agora.inspection import format_summary, summarize

    try:
        summary = summarize(read_checkpoint(args.path), str(args.path), args.top)
    except CheckpointError as exc:
        return _fail(str(exc))
    print(json.dumps(summary, indent=2, default=str) if args.json else format_summary(summary))
    return 0


def _report(args: argparse.Namespace) -> int:
    from agora.checkpoint import CheckpointError, read_checkpoint
    from agora.inspection import format_summary, summarize
    from agora.report import write_report

    out: Path = args.out
    if out.exists() and not out.is_dir():
        return _fail(f"--out {out} exists and is not a folder")
    text = None
    try:
        if args.checkpoint is not None:
            text = format_summary(summarize(read_checkpoint(args.checkpoint), str(args.checkpoint), 20))
        page, images = write_report(args.run_log, out, checkpoint_text=text)
    except (CheckpointError, ImportError, OSError, ValueError) as exc:
        return _fail(str(exc))
    print(f"wrote {page} ({len(images)} figures: {', '.join(image.name for image in images)})")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from agora.migrate import migrate_tree
    from agora.migrate.shim import write_shim

    changed = problems = 0
    try:
        for result in migrate_tree(args.path):
            for problem in result.problems:
                print(f"{result.path}:{problem.line}: {problem.message}", file=sys.stderr)
            problems += len(result.problems)
            if not result.changed:
                continue
            changed += 1
            if args.write:
                result.path.write_text(result.after, encoding="utf-8")
            else:
                print(result.diff(), end="")
    except (ImportError, OSError) as exc:
        return _fail(str(exc))
    verb = "rewrote" if args.write else "would rewrite"
    print(f"agora migrate: {verb} {changed} files; {problems} places left as they were", file=sys.stderr)
    if args.shim is not None:
        files = write_shim(args.shim)
        print(f"agora migrate: wrote the shim, {len(files)} modules under {files[0].parent}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
