"""The curriculum shared over Ray: per-episode cost in a worker, actor throughput by client count.

Per-episode cost is what a Ray worker's loop pays per episode through a
:class:`~agora.distributed.RayCurriculumClient` with default batching: ``get_task`` +
``complete`` (and, separately, + ``get_env_cfg``, which generates the config in the
worker), timed over many episodes so the background exchanges with the actor are included.
Throughput is scores applied by the actor per second while 1, 2 or 4 clients (one per Ray
worker) play episodes as fast as they can; it is bounded by the CPUs the clients and the
actor share, so read it together with the machine's core count.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from pydantic import BaseModel

from agora.bench import progress
from agora.curriculum import CurriculumConfig
from agora.distributed import ClientOptions, RayCurriculum, _ray
from agora.helpers import bucketed

__all__ = ["run"]


class BenchTask(BaseModel):
    """A small config with bucketed fields, standing in for an environment config."""

    level: int = 0
    size: int = 8


def make_config(num_tasks: int) -> CurriculumConfig:
    generator = bucketed(BenchTask()).add_bucket("level", list(range(10))).add_bucket("size", [8, 12, 16])
    return CurriculumConfig(task_generator=generator, num_active_tasks=num_tasks)


class _Player:
    """A Ray worker with one client, timing tight episode loops (no environment)."""

    def __init__(self, curriculum: RayCurriculum) -> None:
        self.client = curriculum.client(ClientOptions())

    def play(self, episodes: int, with_config: bool) -> tuple[float, float]:
        """Play ``episodes``; returns (wall, CPU of the whole process incl. Ray's threads) seconds."""
        get_task = self.client.get_task
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(episodes):
            task = get_task()
            if with_config:
                task.get_env_cfg()
            task.complete(0.5)
        return time.perf_counter() - wall, time.process_time() - cpu

    def flush(self) -> None:
        self.client.flush()

    def close(self) -> None:
        self.client.close()


def _players(ray: Any, curriculum: RayCurriculum, n: int) -> list[Any]:
    cls = ray.remote(num_cpus=0)(_Player)
    players = [cls.remote(curriculum) for _ in range(n)]
    ray.get([p.play.remote(1000, False) for p in players])  # warm up
    ray.get([p.flush.remote() for p in players])  # so that later counts hold only the timed episodes
    return players


def per_episode_us(
    ray: Any, curriculum: RayCurriculum, episodes: int, with_config: bool
) -> tuple[float, float]:
    """(wall, CPU) µs per episode of a worker's curriculum calls."""
    (player,) = _players(ray, curriculum, 1)
    wall, cpu = ray.get(player.play.remote(episodes, with_config))
    ray.get(player.close.remote())
    ray.kill(player)
    return wall / episodes * 1e6, cpu / episodes * 1e6


def throughput(ray: Any, curriculum: RayCurriculum, clients: int, episodes: int) -> float:
    """Scores applied per second by the actor while ``clients`` workers play flat out."""
    players = _players(ray, curriculum, clients)
    before = curriculum.stats()["num_completed"]
    start = time.perf_counter()
    ray.get([p.play.remote(episodes, False) for p in players])
    ray.get([p.close.remote() for p in players])  # every score delivered
    elapsed = time.perf_counter() - start
    applied = curriculum.stats()["num_completed"] - before
    for p in players:
        ray.kill(p)
    if applied != clients * episodes:
        raise RuntimeError(f"the actor applied {applied} scores, expected {clients * episodes}")
    return applied / elapsed


def run(quick: bool = False) -> dict[str, Any]:
    ray = _ray()
    started = not ray.is_initialized()
    if started:
        # Ray's start-up banner and its workers' logs would mix with the tables.
        ray.init(
            num_cpus=max(2, os.cpu_count() or 2),
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.ERROR,
        )
    try:
        progress("per-episode cost in a worker")
        curriculum = RayCurriculum.start(make_config(1_000))
        episodes = 5_000 if quick else 200_000
        local = make_config(1_000).make()
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(episodes):
            task = local.get_task()
            task.get_env_cfg()
            local.update_task_performance(task.task_id, 0.5)
        local_wall = (time.perf_counter() - wall) / episodes * 1e6
        local_cpu = (time.process_time() - cpu) / episodes * 1e6
        bare = per_episode_us(ray, curriculum, episodes, False)
        with_config = per_episode_us(ray, curriculum, episodes, True)
        rows: list[list[str]] = [
            ["client: get_task + complete", "1", f"{bare[0]:.1f}", f"{bare[1]:.1f}", "-"],
            [
                "client: get_task + get_env_cfg + complete",
                "1",
                f"{with_config[0]:.1f}",
                f"{with_config[1]:.1f}",
                "-",
            ],
            [
                "local Curriculum: get_task + get_env_cfg + update",
                "-",
                f"{local_wall:.1f}",
                f"{local_cpu:.1f}",
                "-",
            ],
        ]
        for clients in (1, 2, 4):
            progress(f"actor throughput with {clients} client{'s' if clients > 1 else ''}")
            rate = throughput(ray, curriculum, clients, episodes // clients)
            rows.append(
                ["actor throughput, clients playing flat out", str(clients), "-", "-", f"{rate:,.0f}"]
            )
        ray.kill(curriculum.actor)
    finally:
        if started:
            ray.shutdown()
    defaults = ClientOptions()
    return {
        "title": "Curriculum shared over Ray: per-episode cost in a worker, actor throughput",
        "columns": ["measurement", "clients", "µs/episode (wall)", "µs/episode (CPU)", "actor updates/s"],
        "rows": rows,
        "notes": [
            f"Default client batching: prefetch {defaults.prefetch}, flush every {defaults.flush_every} "
            f"episodes or {defaults.flush_interval_ms:g} ms. DiscreteRandom over 1,000 tasks of a bucketed "
            "generator; workers play tight loops with no environment (the worst case for the curriculum). "
            "Wall time includes waiting for the actor when the loop outruns the prefetch, which a real "
            "environment hides; CPU time is the worker process's (its main and background threads and "
            "Ray's own), unaffected by other load on the machine.",
            f"Local Ray cluster on {os.cpu_count()} CPUs shared by the actor, the clients and the driver: "
            "throughput with several clients is bounded by those CPUs, not by the actor alone.",
            "get_env_cfg generates the config in the worker (LRU cache of config_cache_size=256, so most "
            "of the 1,000 tasks miss it): that cost is the generator's, paid the same by a local Curriculum.",
        ],
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2, ensure_ascii=False))
