"""Steps per second of a MettaGrid env with and without :class:`~agora.wrappers.puffer.CurriculumEnv`.

Both runs step the same 24-agent arena with the same pre-drawn random actions; the wrapped
one plays tasks of a learning-progress curriculum of 10,000 active tasks (bucketed reward,
so every episode gets a freshly generated config). The two envs
are timed in alternating short chunks so that load from other processes hits both alike.
Run it with ``python -m agora.bench.wrapper_overhead``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from agora.bench import progress

__all__ = ["run"]


def _arena(num_agents: int, max_steps: int) -> Any:
    from mettagrid.builder.envs import make_arena

    config: Any = make_arena(num_agents=num_agents)
    config.game.max_steps = max_steps
    config.game.map_builder.seed = 0  # every episode of both envs plays the same map
    return config


def _time_outside_env(env: Any, inner: Any, actions: np.ndarray) -> float:
    """CPU seconds of stepping ``env`` spent outside ``inner.step``.

    ``inner.step`` is timed by a shim set on the instance. For the bare env (``env is
    inner``) this is the cost of the loop and the shim; for the wrapped env, that plus the
    wrapper's own work, so the difference of the two is the wrapper's cost, measured
    directly rather than as a small difference of two large, noisy totals.
    """
    inner_step = inner.step
    inside = 0.0

    def timed_step(row: np.ndarray) -> Any:
        nonlocal inside
        begin = time.process_time()
        result = inner_step(row)
        inside += time.process_time() - begin
        return result

    inner.step = timed_step
    env.reset(seed=0)
    step = env.step
    begin = time.process_time()
    for row in actions:
        step(row)
    total = time.process_time() - begin
    del inner.step
    return total - inside


def _episode_work_ms(curriculum: Any, episodes: int) -> float:
    """Milliseconds of curriculum work per episode end: score, next task, its config."""
    start = time.perf_counter()
    for _ in range(episodes):
        task = curriculum.get_task()
        task.get_env_cfg()
        curriculum.update_task_performance(task.task_id, 0.5)
    return 1000.0 * (time.perf_counter() - start) / episodes


def run(quick: bool = False) -> dict[str, Any]:
    from mettagrid.envs.mettagrid_puffer_env import MettaGridPufferEnv
    from mettagrid.simulator import Simulator

    from agora.algorithms import LearningProgressConfig
    from agora.generators import Span
    from agora.integrations import mettagrid as mg

    num_agents, max_steps, num_tasks, chunk = 24, 1000, 10_000, 250
    steps = 4_000 if quick else 30_000
    base = _arena(num_agents, max_steps)
    tasks = mg.bucketed(base)
    # Reward weights change every config but not the work of a simulation step, so the two
    # envs simulate the same game (bucketing e.g. the attack cost would change the env's speed).
    tasks.add_bucket("game.agent.rewards.heart.reward.weights.0", [Span(0.5, 1.0)])
    lp = LearningProgressConfig()
    curriculum = tasks.to_curriculum(num_active_tasks=num_tasks, algorithm_config=lp).make()
    plain = MettaGridPufferEnv(Simulator(), base)
    wrapped = mg.make_puffer_env(curriculum)
    rng = np.random.default_rng(0)
    actions = rng.integers(0, plain.single_action_space.n, size=(steps, num_agents)).astype(np.int32)
    # Alternate short chunks, so that load from other processes falls on both envs alike.
    elapsed = {"plain": 0.0, "wrapped": 0.0}
    envs: dict[str, Any] = {"plain": plain, "wrapped": wrapped}
    for env in envs.values():
        env.reset(seed=0)
    progress(f"{steps:,} steps of a {num_agents}-agent arena, with and without the wrapper")
    for index, offset in enumerate(range(0, steps, chunk)):
        for name in sorted(envs, reverse=index % 2 == 1):  # alternate which env goes first
            env = envs[name]
            step = env.step
            begin = time.process_time()  # CPU time: other processes' load does not count
            for row in actions[offset : offset + chunk]:
                step(row)
            elapsed[name] += time.process_time() - begin
    harness_seconds = _time_outside_env(plain, plain, actions)
    wrapper_seconds = _time_outside_env(wrapped, wrapped.env, actions) - harness_seconds
    plain.close()
    wrapped.close()
    episodes = wrapped.num_episodes
    progress("curriculum work per episode")
    work_ms = _episode_work_ms(curriculum, 100 if quick else 500)
    sps = {name: steps / seconds for name, seconds in elapsed.items()}
    overhead = 100.0 * (elapsed["wrapped"] - elapsed["plain"]) / elapsed["plain"]
    step_ms = 1000.0 * elapsed["plain"] / steps
    rows = [
        ["MettaGridPufferEnv", f"{sps['plain']:,.0f}", f"{sps['plain'] * num_agents:,.0f}", "-"],
        [
            "CurriculumEnv(MettaGridPufferEnv)",
            f"{sps['wrapped']:,.0f}",
            f"{sps['wrapped'] * num_agents:,.0f}",
            f"{overhead:+.2f}%",
        ],
        [
            "time inside CurriculumEnv (measured directly)",
            "",
            "",
            f"{100.0 * wrapper_seconds / elapsed['plain']:.2f}%",
        ],
    ]
    notes = [
        f"{num_agents}-agent arena, {max_steps}-step episodes, the same random actions for both envs; "
        f"{steps:,} env steps each, CPU time of alternating chunks of {chunk}; {episodes} episodes scored.",
        f"Curriculum: LearningProgressConfig defaults with {num_tasks:,} active tasks, bucketed heart reward "
        "weight (a freshly generated config every episode); statistics every 1000 steps.",
        f"Direct measurement: CPU time outside the MettaGrid env's step, wrapped minus bare, over another "
        f"{steps:,} steps each: {1e6 * wrapper_seconds / steps:.2f} us per step. The A/B comparison of the "
        "first two rows is a small difference of two large totals and carries the machine's noise.",
        f"Curriculum work per episode end (score, next task, generate its config): {work_ms:.2f} ms, "
        f"{100.0 * work_ms / (max_steps * step_ms):.2f}% of a {max_steps}-step episode at "
        f"{step_ms:.3f} ms per env step.",
    ]
    return {
        "title": "Wrapper overhead: MettaGrid steps per second with and without CurriculumEnv",
        "columns": ["env", "env steps/s", "agent steps/s", "overhead"],
        "rows": rows,
        "notes": notes,
    }


if __name__ == "__main__":
    result = run(quick=False)
    print(result["title"])
    for row in result["rows"]:
        print("  ".join(str(cell) for cell in row))
    print("\n".join(result["notes"]))
