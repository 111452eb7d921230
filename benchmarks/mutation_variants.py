"""Does task mutation find the learnable region of the large space faster than fresh draws?

    python benchmarks/mutation_variants.py            # about 3 minutes on 2 cores
    python benchmarks/mutation_variants.py --quick    # a smoke run

The large-space student (`agora bench students`: 100,000 bucketed tasks, a pool of 1,000, the
learnable region 2% of the space) played by uniform sampling, agora's learning progress, PLR
and learnability, each with and without ``CurriculumConfig.mutation`` in several settings, 5
seeds. Columns: the share of the post-warm-up episodes on region tasks not yet mastered (the
suite's metric), the same share over the first and the last 10,000 episodes, how many
episodes it takes to reach a 1,000-episode window with a share of at least 0.05, region tasks
mastered by the end, and the noise share. The table in docs/algorithms.md was made by this script.
"""

from __future__ import annotations

import argparse
import statistics

from agora import DiscreteRandomConfig, LearnabilityConfig, LearningProgressConfig, MutationConfig, PLRConfig
from agora._table import format_table
from agora.bench.students import Arm, LargeSpace, MutationArm, StudentRun, compare

LP = LearningProgressConfig()

FOUND = 0.05
"""A window's learnable share that counts as having found the region (about 4x uniform's)."""

ARMS: dict[str, Arm] = {
    "uniform": DiscreteRandomConfig(),
    "LP": LP,
    "LP + mutation (defaults: rate 0.5, top 16)": MutationArm(LP),
    "LP + mutation, rate 0.25, top 16": MutationArm(LP, MutationConfig(rate=0.25)),
    "LP + mutation, rate 1, top 16": MutationArm(LP, MutationConfig(rate=1.0)),
    "LP + mutation, rate 0.5, top 64": MutationArm(LP, MutationConfig(top_k=64)),
    "LP + mutation, rate 0.5, by weight": MutationArm(LP, MutationConfig(parents="weights")),
    "LP + mutation, rate 1, by weight": MutationArm(LP, MutationConfig(rate=1.0, parents="weights")),
    "PLR": PLRConfig(),
    "PLR + mutation (defaults)": MutationArm(PLRConfig()),
    "learnability": LearnabilityConfig(),
    "learnability + mutation (defaults)": MutationArm(LearnabilityConfig()),
}


def learnable_share(runs: list[StudentRun], start: int, end: int) -> str:
    """Mean over ``runs`` of the share of episodes ``start`` .. ``end`` on tasks learnable then."""
    values = []
    for run in runs:
        ends = run.window_ends
        windows = zip([0, *ends], ends, run.shares["learnable now"], strict=False)
        chosen = [(share, stop - begin) for begin, stop, share in windows if start <= begin and stop <= end]
        values.append(sum(share * size for share, size in chosen) / sum(size for _, size in chosen))
    return f"{statistics.fmean(values):.3f}"


def episodes_to_share(runs: list[StudentRun], share: float) -> str:
    """Median over ``runs`` of the end of the first window with a learnable share >= ``share``."""
    found = []
    for run in runs:
        windows = zip(run.window_ends, run.shares["learnable now"], strict=True)
        found.append(next((end for end, got in windows if got >= share), None))
    if sum(end is None for end in found) > len(found) // 2:
        return f">{runs[0].episodes:,}"
    return f"{statistics.median(end if end is not None else float('inf') for end in found):,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    student = LargeSpace(episodes=6_000, warmup=500) if args.quick else LargeSpace()
    seeds = 1 if args.quick else 5
    result = compare(ARMS, students=[student], seeds=seeds, workers=2)
    span, total = student.episodes // 6, student.episodes  # 10,000 episodes of the full run
    rows = []
    for arm in ARMS:
        runs = result.runs[(student.name, arm)]
        rows.append(
            [
                arm,
                result.summary(student.name, arm).text(),
                learnable_share(runs, 0, span),
                learnable_share(runs, total - span, total),
                episodes_to_share(runs, FOUND),
                result.summary(student.name, arm, "region tasks mastered").text(),
                result.summary(student.name, arm, "noise share").text(),
            ]
        )
    columns = [
        "arm",
        "learnable share",
        "first 10k",
        "last 10k",
        f"episodes to a window at >= {FOUND}",
        "region tasks mastered",
        "noise share",
    ]
    print(format_table(columns, rows, markdown=True))
    print(
        f"\n{seeds} seeds, mean ± std; 'first 10k' / 'last 10k': learnable share of those episodes (mean); "
        f"episodes to a window at >= {FOUND}: median end of the first {student.window:,}-episode window "
        f"whose learnable share reached {FOUND} (4x uniform's), '>' when most runs never did."
    )


if __name__ == "__main__":
    main()
