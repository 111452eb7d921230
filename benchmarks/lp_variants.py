"""The evidence for the learning-progress defaults: every variant tried, on the students and the demo.

    python benchmarks/lp_variants.py            # about 35 minutes on 2 cores
    python benchmarks/lp_variants.py --quick    # a smoke run

Each row is one `LearningProgressConfig`, measured against uniform sampling on the student
suite (`agora bench students`, 2 seeds: main metric / uniform's, then noise share / uniform's)
and in `agora demo` (3 seeds: steps to uniform's final success / uniform's steps). The table
in docs/algorithms.md was made by this script.
"""

from __future__ import annotations

import argparse
from typing import Any

from agora import DiscreteRandomConfig, LearningProgressConfig
from agora._table import format_table
from agora.bench.students import compare, suite
from agora.demo import DemoConfig, run_demo

L = LearningProgressConfig

S4 = {
    "noise_discount": 2.0,
    "staleness_rate": 0.2,
    "z_score_amplification": 5.0,
    "settled_after": None,
    "sample_threshold": 10,
    "exploration_bonus": 0.1,
}
"""The defaults of session 4: the rows that build them up start from here."""

VARIANTS: dict[str, LearningProgressConfig] = {
    "paper (agora's earlier defaults)": L.paper(),
    "noise discount (2 EMAs, a=0.15, f=0.3)": L(
        **{
            **S4,
            "lp_timescales": 2,
            "ema_start": "window",
            "z_score_amplification": 1.0,
            "staleness_rate": 0.0,
        }
    ),
    "+ 5 EMAs from a running mean": L(**{**S4, "z_score_amplification": 1.0, "staleness_rate": 0.0}),
    "+ retries 0.2": L(**{**S4, "z_score_amplification": 1.0}),
    "+ z-score x5 (session 4 defaults)": L(**S4),
    "+ discount 1.25, retries 0.3, z-score x15": L(
        **{**S4, "noise_discount": 1.25, "staleness_rate": 0.3, "z_score_amplification": 15.0}
    ),
    "+ settled tasks (15 equal outcomes): LP 0, judged": L(sample_threshold=10, exploration_bonus=0.1),
    "+ scored after 5 outcomes, bonus 0.05 (defaults)": L(),
    "defaults, discount 1": L(noise_discount=1.0),
    "defaults, discount 1.5": L(noise_discount=1.5),
    "defaults, discount 2": L(noise_discount=2.0),
    "defaults, retries 0.2": L(staleness_rate=0.2),
    "defaults, z-score x5": L(z_score_amplification=5.0),
    "defaults, z-score x10": L(z_score_amplification=10.0),
    "defaults, retries to (1-p)^4": L(staleness_unsolved_power=4.0),
    "defaults, proportional weights": L(lp_transform="proportional"),
    "defaults, scored after 3": L(sample_threshold=3),
    "defaults, scored after 10": L(sample_threshold=10),
    "defaults, bonus 0.02": L(exploration_bonus=0.02),
    "defaults, bonus 0.1": L(exploration_bonus=0.1),
    "defaults, uniform mixing 0.05": L(rand_task_rate=0.05),
}

SHORT = {
    "kinds, learnable from 0": "kinds 0",
    "kinds, learnable from 0.2": "kinds 0.2",
    "kinds, 60% noise": "kinds noisy",
    "chain": "chain",
    "unlock": "unlock",
    "large space": "large",
    "variance": "variance",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    arms: dict[str, Any] = {"uniform": DiscreteRandomConfig(), **VARIANTS}
    students = compare(arms, seeds=1 if args.quick else 2, quick=args.quick, workers=2)
    demo_config = DemoConfig(seeds=1, env_steps=120_000, num_evals=4) if args.quick else DemoConfig(seeds=3)
    demo = run_demo(demo_config, arms, progress=False)
    names = [student.name for student in suite(args.quick)]
    rows = []
    for arm in VARIANTS:
        row = [arm]
        for name in names:
            measure = students.student(name).measures[0].name
            main_ratio = students.ratio(name, arm, "uniform", measure)
            noise_ratio = students.ratio(name, arm, "uniform", "noise share")
            row.append(f"{main_ratio:.2f} / {noise_ratio:.2f}")
        ratio = demo.comparison(candidate=arm)["step_ratio"]
        row.append("n/a" if ratio is None else f"{ratio:.2f}")
        rows.append(row)
    print(format_table(["variant", *(SHORT.get(n, n) for n in names), "demo"], rows, markdown=True))


if __name__ == "__main__":
    main()
