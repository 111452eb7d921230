import collections

import numpy as np
from pydantic import BaseModel

import agora
from agora.algorithms import LearningProgressConfig


class T(BaseModel):
    kind: str = "x"
    idx: int = 0


SLOPE = 300


def run(N=40, episodes=20000, seed=0, **kw):
    gen = (
        agora.bucketed(T())
        .add_bucket("kind", ["learnable", "impossible", "mastered", "noisy", "forgetting"])
        .add_bucket("idx", list(range(1000)))
    )
    cfg = agora.CurriculumConfig(
        task_generator=gen,
        num_active_tasks=N,
        seed=seed,
        max_task_id=10**6,
        algorithm_config=LearningProgressConfig(**kw),
        refresh_interval=1,
        min_presentations_for_eviction=10**6,
    )
    c = cfg.make()
    rng = np.random.default_rng(seed)
    practice = collections.Counter()
    counts = collections.Counter()
    for e in range(episodes):
        t = c.get_task()
        kind = t.get_env_cfg().kind
        counts[kind] += 1
        practice[t.task_id] += 1
        k = practice[t.task_id]
        if kind == "learnable":
            p = min(1.0, START + k / SLOPE)
        elif kind == "impossible":
            p = 0.0
        elif kind == "mastered":
            p = 1.0
        elif kind == "noisy":
            p = 0.5
        else:
            p = max(0.0, 1.0 - e / episodes * 1.0)  # forgetting over time
        c.update_task_performance(t.task_id, float(rng.random() < p))
    tasks = collections.defaultdict(set)
    for tid in practice:
        tasks[c.generated(tid).config.kind].add(tid)
    return {k: (counts[k], len(tasks[k]), round(counts[k] / max(1, len(tasks[k])))) for k in counts}


import itertools

START, SLOPE = 0.05, 200
for a, th, f in itertools.product((0.1, 0.03, 0.01), (0.01, 0.1), ("of_rate", "of_fast")):
    r = run(episodes=6000, ema_timescale=a, progress_smoothing=th, slow_ema=f)
    print(a, th, f, {k: v[2] for k, v in sorted(r.items())}, flush=True)
