"""A tabular Q-learning agent for the maze family.

It learns only from its own experience: epsilon-greedy actions with random tie-breaking (so an
untrained agent does a random walk) and the one-step Q-learning update after every move. Value
spreads outwards from the goal one cell per visit: a cell gains value when the agent steps from
it into a cell that already has some. Q-values are kept per maze layout and indexed by cell,
which is what makes practice transfer: values learnt from near starts lead the agent home from
farther ones in the same maze, and a start just beyond the cells it knows is where it learns most.
"""

from __future__ import annotations

import random

from agora.demo.env import GridWorld, Maze

__all__ = ["QLearningAgent"]


class QLearningAgent:
    """Epsilon-greedy tabular Q-learning with one-step (online) updates."""

    def __init__(
        self, *, learning_rate: float = 0.5, discount: float = 0.95, epsilon: float = 0.1, seed: int = 0
    ) -> None:
        if not 0 < learning_rate <= 1:
            raise ValueError(f"learning_rate must be in (0, 1], got {learning_rate}")
        if not 0 < discount <= 1:
            raise ValueError(f"discount must be in (0, 1], got {discount}")
        if not 0 <= epsilon <= 1:
            raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
        self.learning_rate = learning_rate
        self.discount = discount
        self.epsilon = epsilon
        self.rng = random.Random(seed)
        self.td_error = 0.0
        """Mean absolute TD error of the last learning episode: PLR's one-step TD-error score."""
        self._q: dict[tuple[int, int], list[list[float]]] = {}  # (size, maze seed) -> Q[cell][action]

    def q_table(self, maze: Maze) -> list[list[float]]:
        """The Q-table of ``maze`` (zeros until the agent has learnt something there)."""
        key = (maze.size, maze.seed)
        table = self._q.get(key)
        if table is None:
            table = self._q[key] = [[0.0] * 4 for _ in range(maze.num_cells)]
        return table

    @staticmethod
    def _act(values: list[float], epsilon: float, rng: random.Random) -> int:
        if epsilon and rng.random() < epsilon:
            return rng.randrange(4)
        best = max(values)
        if values.count(best) == 1:
            return values.index(best)
        return rng.choice([a for a in range(4) if values[a] == best])

    def run_episode(
        self,
        env: GridWorld,
        *,
        learn: bool = True,
        start: int | None = None,
        rng: random.Random | None = None,
    ) -> tuple[bool, int]:
        """Play one episode; returns ``(reached the goal, steps taken)``.

        With ``learn=False`` the agent acts greedily and leaves its Q-table unchanged (evaluation).
        ``rng`` breaks ties between equal values (default: the agent's own generator); evaluation
        passes its own so that how often one evaluates does not change what the agent learns.
        """
        rng = rng or self.rng
        q = self.q_table(env.maze)
        epsilon = self.epsilon if learn else 0.0
        alpha, gamma = self.learning_rate, self.discount
        act = self._act
        state = env.reset(start)
        errors = 0.0
        while True:
            action = act(q[state], epsilon, rng)
            nxt, reward, terminated, truncated = env.step(action)
            if learn:
                # One-step Q-learning: bootstrap from the next cell unless the episode ended at the goal.
                target = reward if terminated else gamma * max(q[nxt])
                error = target - q[state][action]
                errors += abs(error)
                q[state][action] += alpha * error
            state = nxt
            if terminated or truncated:
                if learn:
                    self.td_error = errors / env.steps
                return terminated, env.steps
