"""CleanRL-style PPO on MiniGrid DoorKey sizes, sampled by an agora curriculum.

One file, torch only: the PPO loop follows CleanRL's ``ppo.py`` (clipped objective, GAE,
minibatch epochs). The task family is DoorKey at several sizes (one labelled generator per
size, so per-size statistics show in the log); the tasks are played through
:class:`~agora.wrappers.gymnasium.GymnasiumCurriculumWrapper` in the workers of a
``gymnasium.vector.AsyncVectorEnv``, all sharing one shared-memory curriculum::

    python examples/minigrid_ppo.py --total-steps 200000 --curriculum lp --seed 1 \\
        --log runs/lp-1.jsonl --checkpoint runs/lp-1

Every iteration appends one JSON line (PPO losses, steps/s, per-size success of the episodes
finished, the curriculum's ``stats()`` under ``curriculum/``) and every ``--eval-every``
iterations the success on fixed held-out levels (``eval/<label>/success``).
``--run-log FILE`` has the workers append an :class:`agora.RunLog` there, which
``agora report FILE`` draws. ``--curriculum`` is ``lp`` (learning progress, the default),
``uniform``, ``plr`` (Prioritized Level Replay scored by the learner: each episode's positive
value loss, the mean of max(GAE advantage, 0) over its steps, reported by the trainer) or
``learnability`` (sampling for learnability on the episodes' success). ``--checkpoint DIR``
saves the model, optimiser and curriculum there at each evaluation and at the end;
``--resume`` continues from them. A GPU is used when there is one.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import gymnasium
import minigrid  # noqa: F401  # registers the MiniGrid envs
import numpy as np
import numpy.typing as npt
import torch
from minigrid.wrappers import ImgObsWrapper
from pydantic import BaseModel
from torch import nn

import agora
from agora.wrappers.gymnasium import GymnasiumCurriculumWrapper

TASK_ID = "env_curriculum/task_id"
TASK_LABEL = "env_curriculum/task_label"
EVAL_SEED = 1_000_000
"""First env seed of the held-out evaluation levels (training levels are seeds below ``--levels``)."""


ALGORITHMS: dict[str, type[agora.CurriculumAlgorithmConfig]] = {
    "lp": agora.LearningProgressConfig,
    "uniform": agora.DiscreteRandomConfig,
    "plr": agora.PLRConfig,
    "learnability": agora.LearnabilityConfig,
}
LEARNER_SCORED = {"plr"}
"""Curricula whose scores come from the learner (the trainer reports them), not from the workers."""


class DoorKey(BaseModel):
    """One DoorKey level: the grid's side length and the env seed that lays it out.

    The episode limit follows MiniGrid's 10·size².
    """

    size: int = 5
    level: int = 0


def set_task(env: Any, config: DoorKey) -> None:
    """Make the (unwrapped) DoorKey env play ``config`` from its next reset on.

    ``apply_config`` receives the unwrapped env, so a family can change its attributes, not
    the env id; for a family across env ids, build one env per id in the worker and let
    ``apply_config`` pick which one the next episode uses (a small dispatching env).
    """
    env.width = env.height = config.size
    env.max_steps = 10 * config.size**2
    env.agora_level = config.level


class DoorKeyLevels(gymnasium.Wrapper[Any, Any, Any, Any]):
    """Resets to the task's level, and reports binary success in ``info["success"]``.

    MiniGrid's reward is ``1 - 0.9·steps/max_steps`` on success and it sets no success key;
    DoorKey terminates only at the goal, so success is ``terminated and reward > 0``.
    """

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        level = getattr(self.unwrapped, "agora_level", None)
        return self.env.reset(seed=seed if level is None else level, options=options)

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if terminated or truncated:
            info = {**info, "success": float(terminated and float(reward) > 0)}
        return obs, reward, terminated, truncated, info


def make_curriculum(
    sizes: Sequence[int],
    algorithm: str,
    seed: int,
    *,
    levels: int = 500,
    num_active_tasks: int = 64,
    session_id: str | None = None,
) -> agora.CurriculumConfig:
    """Levels ``0..levels-1`` of each size, one labelled generator per size.

    ``algorithm`` is one of :data:`ALGORITHMS` (library defaults each). The config is shared-memory:
    every process that builds a curriculum from it (the trainer and each vector worker)
    attaches to the same pool, named by ``session_id``.
    """
    session_id = session_id or f"minigrid-{uuid.uuid4().hex[:12]}"
    if algorithm not in ALGORITHMS:
        raise ValueError(f"--curriculum must be one of {', '.join(ALGORITHMS)}: {algorithm!r}")
    algorithm_config = ALGORITHMS[algorithm]()
    generators = [
        agora.bucketed(DoorKey(size=size), label=f"doorkey-{size}").add_bucket("level", list(range(levels)))
        for size in sizes
    ]
    return agora.CurriculumConfig(
        task_generator=agora.merge(generators),
        num_active_tasks=num_active_tasks,
        seed=seed,
        algorithm_config=algorithm_config,
        use_shared_memory=True,
        session_id=session_id,
    )


class TasksOnly:
    """A worker's handle on a curriculum the trainer scores: hands out tasks, drops the wrapper's scores.

    For a learner score (PLR's value loss) the worker cannot compute: the wrapper still reports
    each episode's success at its end, which this handle ignores; the trainer reports the
    learner's score for the same episode through its own handle on the shared pool. Everything
    else (``stats``, what a run log reads) is the curriculum's.
    """

    def __init__(self, curriculum: agora.Curriculum[Any]) -> None:
        self.curriculum = curriculum

    def update_task_performance(self, task_id: int, score: float) -> None:
        """Dropped: the trainer reports this episode's score."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self.curriculum, name)


class ClosesCurriculum(gymnasium.Wrapper[Any, Any, Any, Any]):
    """Closes a worker's own curriculum handle with the env (the wrapper closes only handles it built)."""

    def __init__(self, env: gymnasium.Env[Any, Any], curriculum: agora.Curriculum[Any]) -> None:
        super().__init__(env)
        self._curriculum = curriculum

    def close(self) -> None:
        super().close()
        self._curriculum.close()


def make_env(
    config: agora.CurriculumConfig | None = None,
    stats_interval: int = 1000,
    run_log: agora.RunLog | None = None,
    *,
    learner_scored: bool = False,
) -> gymnasium.Env[Any, Any]:
    """DoorKey with image observations; with ``config``, playing its curriculum's tasks.

    ``learner_scored``: the trainer reports the scores (:class:`TasksOnly`), not this env.
    """
    env: gymnasium.Env[Any, Any] = ImgObsWrapper(DoorKeyLevels(gymnasium.make("MiniGrid-DoorKey-5x5-v0")))
    if config is None:
        return env
    if not learner_scored:
        return GymnasiumCurriculumWrapper(
            env, config, apply_config=set_task, stats_interval=stats_interval, run_log=run_log
        )
    curriculum = config.make()
    env = GymnasiumCurriculumWrapper(
        env, TasksOnly(curriculum), apply_config=set_task, stats_interval=stats_interval, run_log=run_log
    )
    return ClosesCurriculum(env, curriculum)


class Agent(nn.Module):
    """CleanRL's MLP actor-critic over the flattened 7x7x3 egocentric view (scaled to [0, 1])."""

    def __init__(self, obs_size: int, num_actions: int) -> None:
        super().__init__()

        def mlp(out: int, std: float) -> nn.Sequential:
            last = nn.Linear(64, out)
            nn.init.orthogonal_(last.weight, std)
            nn.init.zeros_(last.bias)
            return nn.Sequential(nn.Linear(obs_size, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), last)

        self.critic = mlp(1, 1.0)
        self.actor = mlp(num_actions, 0.01)

    def forward(
        self, obs: torch.Tensor, action: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        x = obs.flatten(1) / 10.0  # MiniGrid's object/colour/state indices are below 11
        dist = torch.distributions.Categorical(logits=self.actor(x))
        if action is None:
            action = dist.sample()
        return action, dist.log_prob(action), dist.entropy(), self.critic(x).squeeze(-1)


def evaluate(agent: Agent, sizes: Sequence[int], episodes: int, device: torch.device) -> dict[str, float]:
    """Success per size on the same fixed held-out levels (env seeds from ``EVAL_SEED``).

    Actions are sampled from the policy with a fixed seed: a greedy policy tends to loop forever
    in MiniGrid's partially observed rooms.
    """
    env = make_env()
    rng = torch.Generator(device=device).manual_seed(0)
    out = {}
    for size in sizes:
        set_task(env.unwrapped, DoorKey(size=size))
        env.unwrapped.agora_level = None  # reset to the evaluation seeds
        wins = 0.0
        for episode in range(episodes):
            obs, _ = env.reset(seed=EVAL_SEED + episode)
            done = False
            while not done:
                with torch.no_grad():
                    logits = agent.actor(torch.as_tensor(obs, device=device).float().flatten()[None] / 10.0)
                action = torch.multinomial(logits.softmax(-1)[0], 1, generator=rng)
                obs, _, terminated, truncated, info = env.step(int(action))
                done = terminated or truncated
            wins += info["success"]
        out[f"eval/doorkey-{size}/success"] = wins / episodes
    env.close()
    return out


def save(
    folder: Path, agent: Agent, optimizer: torch.optim.Optimizer, step: int, curriculum: agora.Curriculum[Any]
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(
        {"model": agent.state_dict(), "optimizer": optimizer.state_dict(), "step": step}, folder / "agent.pt"
    )
    curriculum.save(folder / "curriculum.json")


def finished_episodes(info: dict[str, Any]) -> list[tuple[int, int, str, float]]:
    """(env index, task id, label, success) of each episode that ended at this vector step
    (SAME_STEP autoreset)."""
    final = info.get("final_info")
    if final is None:
        return []
    ended = np.flatnonzero(info["_final_info"])
    return [
        (int(i), int(final[TASK_ID][i]), str(final[TASK_LABEL][i]), float(final["success"][i])) for i in ended
    ]


def learner_scores(
    advantages: torch.Tensor, ended: dict[tuple[int, int], int], carry: npt.NDArray[np.float64]
) -> tuple[list[int], list[float]]:
    """Positive value loss of each episode that ended in this rollout: the mean of max(A_t, 0)
    over its steps (Robust PLR's score), with ``A`` the rollout's GAE advantages.

    ``ended`` maps (step, env) to the task id of the episode that ended at that step. An
    episode begun in an earlier rollout includes its steps there: ``carry[env]`` holds the
    (sum, steps) of the episode each env is playing, updated here.
    """
    positive = advantages.clamp(min=0).cpu().numpy()
    ids, scores = [], []
    for env in range(positive.shape[1]):
        start = 0
        for t in sorted(step for step, e in ended if e == env):
            carry[env] += (positive[start : t + 1, env].sum(), t + 1 - start)
            ids.append(ended[t, env])
            scores.append(float(carry[env, 0] / carry[env, 1]))
            carry[env] = 0.0
            start = t + 1
        carry[env] += (positive[start:, env].sum(), positive.shape[0] - start)
    return ids, scores


def train(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the recipe. Returns the last log record, plus ``episodes_per_env`` (this run's) and
    ``final/num_completed``: the curriculum's count once the workers delivered their scores."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--total-steps", type=int, default=200_000)
    p.add_argument("--num-envs", type=int, default=4)
    p.add_argument("--num-steps", type=int, default=128, help="rollout length per env")
    p.add_argument("--sizes", type=int, nargs="+", default=[5, 6, 8])
    p.add_argument("--levels", type=int, default=500, help="training levels per size")
    p.add_argument("--tasks", type=int, default=64, help="active tasks in the curriculum's pool")
    p.add_argument("--curriculum", choices=list(ALGORITHMS), default="lp")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--lr", type=float, default=2.5e-4)
    p.add_argument("--eval-every", type=int, default=10, help="iterations between evaluations")
    p.add_argument("--eval-episodes", type=int, default=10, help="held-out levels per size")
    p.add_argument("--log", type=Path, help="JSON-lines log (default: stdout only)")
    p.add_argument(
        "--run-log", type=Path, help="agora.RunLog file for `agora report` (every 25 episodes per worker)"
    )
    p.add_argument("--checkpoint", type=Path, help="folder for model + curriculum checkpoints")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    args = p.parse_args(argv)
    if args.resume and args.checkpoint is None:
        p.error("--resume needs --checkpoint")

    torch.manual_seed(args.seed)
    torch.set_num_threads(1)  # small MLP: threads would only compete with the env workers
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    config = make_curriculum(
        args.sizes, args.curriculum, args.seed, levels=args.levels, num_active_tasks=args.tasks
    )
    # The trainer's handle creates the shared pool; each worker builds its own handle from the
    # config (attaching by session id). Handing `curriculum` itself to the workers would give
    # each a private copy, which the wrapper detects and warns about.
    curriculum = config.make()
    run_log = agora.RunLog(args.run_log, every=25) if args.run_log else None  # each worker counts its own
    learner_scored = args.curriculum in LEARNER_SCORED
    envs = gymnasium.vector.AsyncVectorEnv(
        [
            lambda: make_env(config, run_log=run_log, learner_scored=learner_scored)
            for _ in range(args.num_envs)
        ],
        autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP,
    )
    obs_shape = envs.single_observation_space.shape
    agent = Agent(int(np.prod(obs_shape)), int(envs.single_action_space.n)).to(device)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.lr, eps=1e-5)
    step = 0
    if args.resume:
        state = torch.load(args.checkpoint / "agent.pt", map_location=device)
        agent.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step = int(state["step"])
        curriculum.load(args.checkpoint / "curriculum.json")

    n, e = args.num_steps, args.num_envs
    obs_buf = torch.zeros((n, e, *obs_shape), device=device)
    actions = torch.zeros((n, e), dtype=torch.long, device=device)
    logprobs, rewards, dones, values = (torch.zeros((n, e), device=device) for _ in range(4))
    log_file: TextIO | None = args.log.open("a") if args.log else None
    record: dict[str, Any] = {}
    next_obs = torch.as_tensor(envs.reset(seed=args.seed)[0], device=device).float()
    next_done = torch.zeros(e, device=device)
    iteration, train_time, start_step = 0, 0.0, step
    episodes_per_env = [0] * e
    carry = np.zeros((e, 2))  # learner scores: (sum, steps) of each env's running episode
    try:
        while step < args.total_steps:
            iteration += 1
            start = time.perf_counter()
            episodes: dict[str, list[float]] = {}
            ended: dict[tuple[int, int], int] = {}  # (step, env) -> task id
            for t in range(n):
                obs_buf[t], dones[t] = next_obs, next_done
                with torch.no_grad():
                    action, logprob, _, value = agent(next_obs)
                actions[t], logprobs[t], values[t] = action, logprob, value
                obs, reward, terminated, truncated, info = envs.step(action.cpu().numpy())
                rewards[t] = torch.as_tensor(reward, device=device).float()
                next_obs = torch.as_tensor(obs, device=device).float()
                next_done = torch.as_tensor(terminated | truncated, device=device).float()
                for env_index, task_id, label, success in finished_episodes(info):
                    episodes.setdefault(label, []).append(success)
                    episodes_per_env[env_index] += 1
                    ended[t, env_index] = task_id
            step += n * e
            advantages = gae(agent, rewards, dones, values, next_obs, next_done)
            if learner_scored:
                curriculum.update_task_performance_many(*learner_scores(advantages, ended, carry))
            losses = ppo_update(agent, optimizer, obs_buf, actions, logprobs, advantages, values)
            train_time += time.perf_counter() - start
            record = {
                "step": step,
                "iteration": iteration,
                "steps_per_s": (step - start_step) / train_time,  # rollouts and updates, not evaluation
                **losses,
                **{f"train/{label}/success": float(np.mean(s)) for label, s in sorted(episodes.items())},
                **{f"train/{label}/episodes": len(s) for label, s in sorted(episodes.items())},
                **{f"curriculum/{key}": value for key, value in curriculum.stats().items()},
            }
            last = step >= args.total_steps
            if iteration % args.eval_every == 0 or last:
                record.update(evaluate(agent, args.sizes, args.eval_episodes, device))
                if args.checkpoint is not None:
                    save(args.checkpoint, agent, optimizer, step, curriculum)
            emit(record, log_file)
    finally:
        envs.close()  # each worker's wrapper delivers the scores it still buffers
        record["final/num_completed"] = curriculum.stats()["num_completed"]
        record["episodes_per_env"] = episodes_per_env
        curriculum.close()
        if log_file is not None:
            log_file.close()
    return record


def gae(
    agent: Agent,
    rewards: torch.Tensor,
    dones: torch.Tensor,
    values: torch.Tensor,
    next_obs: torch.Tensor,
    next_done: torch.Tensor,
    gamma: float = 0.99,
    gae_lambda: float = 0.95,
) -> torch.Tensor:
    """CleanRL's GAE advantages of a rollout (``dones[t]``: the observation at ``t`` began an episode)."""
    n = rewards.shape[0]
    with torch.no_grad():
        next_value = agent(next_obs)[3]
        advantages = torch.zeros_like(rewards)
        last = torch.zeros_like(next_value)
        for t in reversed(range(n)):
            not_done = 1.0 - (next_done if t == n - 1 else dones[t + 1])
            following = next_value if t == n - 1 else values[t + 1]
            delta = rewards[t] + gamma * following * not_done - values[t]
            advantages[t] = last = delta + gamma * gae_lambda * not_done * last
    return advantages


def ppo_update(
    agent: Agent,
    optimizer: torch.optim.Optimizer,
    obs: torch.Tensor,
    actions: torch.Tensor,
    logprobs: torch.Tensor,
    advantages: torch.Tensor,
    values: torch.Tensor,
    epochs: int = 4,
    minibatches: int = 4,
    clip: float = 0.2,
    ent_coef: float = 0.01,
    vf_coef: float = 0.5,
) -> dict[str, float]:
    """CleanRL's PPO update: clipped policy and value losses per minibatch, on :func:`gae`'s advantages."""
    returns = advantages + values
    b_obs, b_actions, b_logprobs = obs.flatten(0, 1), actions.flatten(), logprobs.flatten()
    b_adv, b_returns = advantages.flatten(), returns.flatten()
    batch = b_adv.numel()
    out: dict[str, float] = {}
    for _ in range(epochs):
        for idx in torch.randperm(batch, device=obs.device).chunk(minibatches):
            _, new_logprob, entropy, new_value = agent(b_obs[idx], b_actions[idx])
            ratio = (new_logprob - b_logprobs[idx]).exp()
            adv = (b_adv[idx] - b_adv[idx].mean()) / (b_adv[idx].std() + 1e-8)
            pg_loss = torch.max(-adv * ratio, -adv * ratio.clamp(1 - clip, 1 + clip)).mean()
            v_loss = 0.5 * (new_value - b_returns[idx]).pow(2).mean()
            loss = pg_loss - ent_coef * entropy.mean() + vf_coef * v_loss
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(agent.parameters(), 0.5)
            optimizer.step()
            out = {
                "loss/policy": pg_loss.item(),
                "loss/value": v_loss.item(),
                "loss/entropy": entropy.mean().item(),
            }
    return out


def emit(record: dict[str, Any], log_file: TextIO | None) -> None:
    """One JSON line per iteration to the log file, and a short progress line to stdout."""
    if log_file is not None:
        log_file.write(json.dumps(record) + "\n")
        log_file.flush()
    shown = {k: v for k, v in record.items() if k.endswith("/success") or k in ("step", "steps_per_s")}
    print(" ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in shown.items()))


if __name__ == "__main__":
    train()
