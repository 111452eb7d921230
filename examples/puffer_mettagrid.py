"""PufferLib's own PPO trainer (``pufferlib.pufferl.PuffeRL``) on a MettaGrid heart hunt.

Each task is a MettaGrid map where two agents collect hearts from ``heart_source`` objects
(one heart each, reward 1 per heart) within 64 steps. Difficulty is in the buckets: map side
(8, 12, 16; one labelled generator per side, so per-size statistics show) and walls.
The score is the share of the hearts collected (``score_range`` maps the agents' mean return
onto [0, 1]). The envs are ``agora.wrappers.puffer.CurriculumEnv`` over a ``pufferlib.vector``
backend, every env process attached to one shared-memory learning-progress curriculum::

    python examples/puffer_mettagrid.py --total-steps 1000000 --backend serial \\
        --log runs/puffer.jsonl --checkpoint runs/puffer

The curriculum's statistics arrive through the envs' ``info`` and PuffeRL logs them with
everything else (``environment/env_curriculum/*``); ``--log`` writes each of its log records
as a JSON line. ``--checkpoint DIR`` saves model, optimiser, trainer step and curriculum at the
end; ``--resume`` continues from them. CPU by default; a GPU is used when there is one.

pufferlib-core 3.0.23 needs three workarounds on a CPU-only machine, all owned here:

1. ``pufferlib.pufferl`` imports ``pufferlib.sweep``, which imports ``pyro`` and
   ``rich_argparse``: install ``pyro-ppl`` and ``rich-argparse`` (agora's ``puffer-train`` extra).
2. The compiled ``pufferlib._C`` needs CUDA; without it ``PuffeRL.train`` refuses to compute
   advantages. :func:`puff_advantage` is a torch version of the same computation, installed
   in its place only when the extension did not load.
3. ``load_config`` reads ini files pufferlib-core does not ship: :func:`trainer_config`
   builds the trainer config in code.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from functools import partial
from pathlib import Path
from typing import Any, TextIO

import pufferlib.models
import pufferlib.pufferl as pufferl
import pufferlib.vector
import torch
from mettagrid.builder.envs import make_navigation
from mettagrid.config.handler_config import Handler, withdraw
from mettagrid.config.mettagrid_config import GridObjectConfig, InventoryConfig, MettaGridConfig
from mettagrid.envs.mettagrid_puffer_env import MettaGridPufferEnv
from mettagrid.simulator import Simulator

import agora
from agora.integrations import mettagrid as mg
from agora.wrappers.puffer import CurriculumEnv

AGENTS = 2
HEARTS = 4
SIDES = (8, 12, 16)
MAX_STEPS = 64


def make_env_config(side: int = 8, max_steps: int = MAX_STEPS) -> MettaGridConfig:
    """Two agents and ``HEARTS`` heart sources on a ``side`` x ``side`` map (plus a wall border)."""
    cfg = make_navigation(num_agents=AGENTS)
    cfg.game.max_steps = max_steps
    cfg.game.objects["heart_source"] = GridObjectConfig(
        name="heart_source",
        inventory=InventoryConfig(initial={"heart": 1}),
        on_use_handler=Handler(mutations=[withdraw({"heart": 1}, remove_when_empty=True)]),
    )
    builder = cfg.game.map_builder
    builder.width = builder.height = side
    builder.border_width = 1
    builder.objects = {"heart_source": HEARTS, "wall": 0}
    return cfg


def make_curriculum(
    algorithm: str = "lp", seed: int = 0, num_active_tasks: int = 64, session_id: str | None = None
) -> agora.CurriculumConfig:
    """Maps by side (labelled ``side-<n>``) and walls, shared across processes.

    Episodes all last ``MAX_STEPS``, so that the hearts an agent can reach in time set the
    difficulty (and every env completes one episode every ``MAX_STEPS`` steps).
    """
    session_id = session_id or f"puffer-{uuid.uuid4().hex[:12]}"
    algorithm_config: agora.CurriculumAlgorithmConfig
    if algorithm == "lp":
        algorithm_config = agora.LearningProgressConfig()
    elif algorithm == "uniform":
        algorithm_config = agora.DiscreteRandomConfig()
    else:
        raise ValueError(f"--curriculum must be lp or uniform: {algorithm!r}")
    generators = [
        mg.bucketed(make_env_config(side), label=f"side-{side}").add_bucket(
            "game.map_builder.objects.wall", [0, side, 2 * side]
        )
        for side in SIDES
    ]
    return mg.merge(generators).to_curriculum(
        num_active_tasks=num_active_tasks,
        seed=seed,
        algorithm_config=algorithm_config,
        use_shared_memory=True,
        session_id=session_id,
    )


def make_env(
    config: agora.CurriculumConfig, buf: Any = None, seed: int = 0, stats_interval: int = 200
) -> Any:
    """A ``pufferlib.vector`` env creator: MettaGrid in ``CurriculumEnv``, scored by hearts collected."""
    # Built from the first task's config (every task keeps its shapes: mg's invariants check it).
    env = MettaGridPufferEnv(Simulator(), config.task_generator.create().get_task(0), buf=buf, seed=seed)
    # The wrapper's defaults (set_mg_config, mean episode return) fit MettaGrid; only the score
    # scale is ours: the agents' mean return is at most HEARTS / AGENTS.
    return CurriculumEnv(env, config, score_range=(0, HEARTS / AGENTS), stats_interval=stats_interval)


def puff_advantage(
    values: torch.Tensor,
    rewards: torch.Tensor,
    terminals: torch.Tensor,
    ratio: torch.Tensor,
    advantages: torch.Tensor,
    gamma: float,
    gae_lambda: float,
    vtrace_rho_clip: float,
    vtrace_c_clip: float,
) -> torch.Tensor:
    """PufferLib's advantage (GAE with V-trace importance clipping), in torch, row by row.

    Rows are segments of ``bptt_horizon`` steps; the reward stored at ``t + 1`` is the one
    that followed the action at ``t``. The last step of a row has no successor: advantage 0.
    """
    rho = ratio.clamp(max=vtrace_rho_clip)
    c = ratio.clamp(max=vtrace_c_clip)
    last = torch.zeros_like(values[:, 0])
    advantages[:, -1] = 0
    for t in range(values.shape[1] - 2, -1, -1):
        not_done = 1.0 - terminals[:, t + 1]
        delta = rho[:, t] * (rewards[:, t + 1] + gamma * values[:, t + 1] * not_done - values[:, t])
        last = delta + gamma * gae_lambda * c[:, t] * last * not_done
        advantages[:, t] = last
    return advantages


if not pufferl._C_AVAILABLE:  # workaround 2: no CUDA runtime, so no compiled kernel
    pufferl.compute_puff_advantage = puff_advantage


def trainer_config(total_steps: int, data_dir: str, seed: int, device: str) -> dict[str, Any]:
    """PuffeRL's config, in code (workaround 3); PufferLib's defaults, sized for a small CPU run."""
    return {
        "env": "agora-mettagrid-hearts",  # shown on PuffeRL's dashboard
        "seed": seed,
        "torch_deterministic": True,
        "cpu_offload": False,
        "device": device,
        "optimizer": "adam",
        "learning_rate": 1e-3,
        "anneal_lr": True,
        "precision": "float32",
        "total_timesteps": total_steps,
        "gamma": 0.99,
        "gae_lambda": 0.90,
        "update_epochs": 1,
        "clip_coef": 0.2,
        "vf_coef": 2.0,
        "vf_clip_coef": 0.2,
        "max_grad_norm": 1.5,
        "ent_coef": 0.01,
        "adam_beta1": 0.95,
        "adam_beta2": 0.999,
        "adam_eps": 1e-8,
        "data_dir": data_dir,
        "checkpoint_interval": 10**9,  # PuffeRL's own model files: only at the end
        "batch_size": "auto",
        "bptt_horizon": 32,
        "minibatch_size": 256,
        "max_minibatch_size": 4096,
        "compile": False,
        "compile_mode": "default",
        "compile_fullgraph": False,
        "vtrace_rho_clip": 1.0,
        "vtrace_c_clip": 1.0,
        "prio_alpha": 0.8,
        "prio_beta0": 0.2,
        "use_rnn": False,
    }


def close_vecenv(vecenv: Any, graceful: bool) -> None:
    """Close ``vecenv`` so that every env's ``CurriculumEnv`` delivers the scores it buffers.

    ``Multiprocessing.close()`` terminates its workers without closing their envs, which would
    lose each worker's last (up to ``shared_update_batch``) scores; so (``graceful``, after a
    finished ``evaluate``) first collect the step it left in flight, then send each worker
    PufferLib's own CLOSE command and wait for its answer.
    """
    if graceful and isinstance(vecenv, pufferlib.vector.Multiprocessing):
        vecenv.recv()
        vecenv.buf["semaphores"][:] = pufferlib.vector.CLOSE
        for pipe in vecenv.recv_pipes:
            pipe.recv()
    vecenv.close()


class ScaledPolicy(pufferlib.models.Default):  # type: ignore[misc]  # pufferlib is untyped
    """``pufferlib.models.Default`` on MettaGrid's 0-255 token observations, scaled to [0, 1]."""

    def encode_observations(self, observations: torch.Tensor, state: Any = None) -> torch.Tensor:
        return super().encode_observations(observations.float() / 255.0, state)  # type: ignore[no-any-return]


class JsonLogger:
    """A PuffeRL logger: each of its log records (curriculum statistics included) as a JSON line."""

    def __init__(self, path: Path | None, quiet: bool) -> None:
        self.run_id = f"agora-{int(time.time() * 100)}"
        self.file: TextIO | None = path.open("a") if path else None
        self.quiet = quiet
        self.last: dict[str, Any] = {}

    def log(self, logs: dict[str, Any], step: int) -> None:
        self.last = {key: float(value) for key, value in logs.items()}
        if self.file is not None:
            self.file.write(json.dumps(self.last) + "\n")
            self.file.flush()

    def close(self, model_path: str) -> None:
        if self.file is not None:
            self.file.close()


def train(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the recipe. Returns PuffeRL's last log record plus ``final/*``: the trainer's agent
    steps and the shared curriculum's completed episodes once every env delivered its scores."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--total-steps", type=int, default=1_000_000, help="agent steps")
    p.add_argument("--envs", type=int, default=8)
    p.add_argument("--workers", type=int, default=2, help="Multiprocessing workers")
    p.add_argument("--backend", choices=["serial", "multiprocessing"], default="serial")
    p.add_argument("--curriculum", choices=["lp", "uniform"], default="lp")
    p.add_argument("--tasks", type=int, default=64, help="active tasks in the curriculum's pool")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log", type=Path, help="JSON-lines log of PuffeRL's records")
    p.add_argument("--checkpoint", type=Path, help="folder for model + curriculum checkpoints")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--quiet", action="store_true", help="no PuffeRL dashboard")
    args = p.parse_args(argv)
    if args.resume and args.checkpoint is None:
        p.error("--resume needs --checkpoint")

    torch.manual_seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    config = make_curriculum(args.curriculum, args.seed, args.tasks)
    curriculum = config.make()  # creates the shared pool; every env attaches to it by session id
    if args.resume:
        curriculum.load(args.checkpoint / "curriculum.json")
    backend = pufferlib.vector.Serial if args.backend == "serial" else pufferlib.vector.Multiprocessing
    workers = {} if args.backend == "serial" else {"num_workers": args.workers}
    vecenv = pufferlib.vector.make(partial(make_env, config), num_envs=args.envs, backend=backend, **workers)
    policy = ScaledPolicy(vecenv).to(device)
    logger = JsonLogger(args.log, args.quiet)
    data_dir = str(args.checkpoint or Path(tempfile.mkdtemp(prefix="puffer-")))
    trainer: Any = None
    finished = False  # on an error, workers may be mid-step: then terminate them
    try:
        trainer = pufferl.PuffeRL(
            trainer_config(args.total_steps, data_dir, args.seed, device), vecenv, policy, logger
        )
        if args.quiet:
            trainer.print_dashboard = lambda *a, **k: None
        if args.resume:
            state = torch.load(args.checkpoint / "trainer.pt", map_location=device)
            trainer.uncompiled_policy.load_state_dict(state["model"])
            trainer.optimizer.load_state_dict(state["optimizer"])
            trainer.global_step, trainer.epoch = int(state["global_step"]), int(state["epoch"])
        while trainer.global_step < args.total_steps:
            trainer.evaluate()
            trainer.train()
        if args.checkpoint is not None:
            torch.save(
                {
                    "model": trainer.uncompiled_policy.state_dict(),
                    "optimizer": trainer.optimizer.state_dict(),
                    "global_step": trainer.global_step,
                    "epoch": trainer.epoch,
                },
                args.checkpoint / "trainer.pt",
            )
            curriculum.save(args.checkpoint / "curriculum.json")
        out = dict(logger.last)
        out["final/agent_steps"] = trainer.global_step
        finished = True
    finally:
        close_vecenv(vecenv, graceful=finished)
        if trainer is not None:
            trainer.utilization.stop()  # PuffeRL's monitoring thread would keep the process alive
        logger.close("")
    out["final/num_completed"] = curriculum.stats()["num_completed"]
    curriculum.close()
    return out


if __name__ == "__main__":
    train()
