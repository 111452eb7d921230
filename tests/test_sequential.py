"""Sequential stages: a stage ends exactly when its condition holds, across checkpoints and processes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

import agora
from agora.algorithms import SequentialConfig, Stage
from agora.generators import StagedTaskGenerator
from conftest import new_session
from test_shared_memory import run_python


class Level(BaseModel):
    level: int = 0


STAGES = [Stage(episodes=20), Stage(mean_score=0.8, window=10), Stage()]


def staged_config(
    stages: list[Stage] = STAGES, replay_earlier: float = 0.0, **curriculum: Any
) -> agora.CurriculumConfig:
    """Stage k's tasks have level k; a pool of 60 holds about 20 of each stage."""
    generator = StagedTaskGenerator.Config(
        stages=[agora.single_task(Level(level=k)) for k in range(len(stages))]
    )
    return agora.CurriculumConfig(
        task_generator=generator,
        num_active_tasks=60,
        refresh_interval=1,
        algorithm_config=SequentialConfig(stages=stages, replay_earlier=replay_earlier),
        **curriculum,
    )


def play(curriculum: agora.Curriculum[Level], scores: list[float]) -> list[int]:
    """The level of each task handed out, each followed by its score."""
    levels = []
    for score in scores:
        task = curriculum.get_task()
        levels.append(task.get_env_cfg().level)
        curriculum.update_task_performance(task.task_id, score)
    return levels


def test_stage_ids_follow_the_generator() -> None:
    curriculum = staged_config().make()
    for task_id in curriculum.active_task_ids()[:10]:
        assert curriculum.generated(task_id).config.level == task_id % 3


def test_each_stage_ends_exactly_when_its_condition_holds() -> None:
    curriculum = staged_config().make()
    assert play(curriculum, [0.0] * 20) == [0] * 20  # stage 0: 20 episodes
    # Stage 1: the mean of the last 10 outcomes reaches 0.8 with the 13th (5 zeros, then ones).
    assert play(curriculum, [0.0] * 5 + [1.0] * 8) == [1] * 13
    assert play(curriculum, [1.0] * 30) == [2] * 30  # the last stage never ends
    assert curriculum.stats()["algorithm/stage"] == 2.0


def test_earlier_stages_are_replayed_at_their_share() -> None:
    curriculum = staged_config([Stage(episodes=5), Stage()], replay_earlier=0.25).make()
    play(curriculum, [0.0] * 6)  # the refresh after the 5th episode moved on
    assert curriculum.stats()["algorithm/stage"] == 1.0
    probs = curriculum.sampling_probabilities()
    earlier = sum(p for task_id, p in probs.items() if task_id % 2 == 0)
    assert earlier == pytest.approx(0.25)


def test_the_stage_and_its_window_survive_a_checkpoint(tmp_path: Path) -> None:
    curriculum = staged_config().make()
    play(curriculum, [0.0] * 20 + [1.0] * 6)  # stage 1, six ones in its window
    curriculum.save(tmp_path / "c.json")
    restored = agora.Curriculum.from_checkpoint(tmp_path / "c.json")
    # Four more ones fill the window (10 outcomes, mean 1): the stage ends after exactly four.
    assert play(restored, [1.0] * 4) == [1] * 4
    assert play(restored, [1.0]) == [2]
    assert play(curriculum, [1.0] * 5) == [1] * 4 + [2]  # the original, the same way


def test_a_process_sharing_the_pool_follows_the_stage(tmp_path: Path) -> None:
    session = new_session()
    config = staged_config(use_shared_memory=True, session_id=session, shared_update_batch=1)
    (tmp_path / "config.json").write_text(config.model_dump_json())
    script = (
        "import sys, agora\n"
        "config = agora.CurriculumConfig.model_validate_json(open(sys.argv[1]).read())\n"
        "c = config.make()\n"
        "print([c.get_task().get_env_cfg().level for _ in range(5)])\n"
        "c.close()\n"
    )
    with config.make() as owner:
        play(owner, [0.0] * 20)
        assert play(owner, [0.0]) == [1]
        done = run_python(script, tmp_path / "config.json")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "[1, 1, 1, 1, 1]"


def test_only_the_last_stage_may_be_open() -> None:
    with pytest.raises(ValueError, match="stage 0 has neither episodes nor mean_score"):
        SequentialConfig(stages=[Stage(), Stage(episodes=3)])
    with pytest.raises(ValueError, match="episodes"):
        Stage(episodes=0)


def test_config_round_trips_through_json_and_yaml() -> None:
    config = staged_config()
    from_json = agora.CurriculumConfig.model_validate_json(config.model_dump_json())
    from_yaml = agora.CurriculumConfig.model_validate(
        yaml.safe_load(yaml.safe_dump(config.model_dump(mode="json")))
    )
    for loaded in (from_json, from_yaml):
        assert loaded.algorithm_config == config.algorithm_config
        assert isinstance(loaded.task_generator, StagedTaskGenerator.Config)
    data = json.loads(config.model_dump_json())
    assert data["algorithm_config"]["type"] == "sequential"
