"""The TaskConfig protocol and dotted-path overrides (agora.config)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from agora import TaskConfig, single_task
from agora.config import apply_overrides, import_path, load_symbol
from core_models import AgentConfig, GameConfig, MazeConfig, ObjectConfig


@pytest.mark.parametrize("config", [GameConfig(), MazeConfig(), AgentConfig(speed=2.0)])
def test_any_pydantic_model_is_a_task_config(config: BaseModel) -> None:
    assert isinstance(config, TaskConfig)
    generator = single_task(config).create()
    assert generator.get_task(7) == config
    assert type(generator.get_task(7)) is type(config)


def test_a_plain_object_is_not_a_task_config() -> None:
    class NotAConfig:
        size = 5

    assert not isinstance(NotAConfig(), TaskConfig)


def test_overrides_walk_nested_models_and_dicts() -> None:
    config = GameConfig()
    result = apply_overrides(
        config,
        {
            "width": 20,
            "agent.speed": 2.5,
            "agent.inventory.ore": 3,
            "rewards.heart": 5.0,
            "objects.altar.hp": 9,
        },
    )
    assert result.width == 20
    assert result.agent.speed == 2.5
    assert result.agent.inventory == {"ore": 3}
    assert result.rewards == {"heart": 5.0, "ore": 0.1}
    assert result.objects["altar"] == ObjectConfig(hp=9)
    assert result.objects["mine"] == ObjectConfig()
    assert config == GameConfig(), "the input config must not be modified"


def test_override_may_add_a_key_to_a_dict() -> None:
    result = apply_overrides(GameConfig(), {"rewards.battery": 0.5, "objects.forge": {"hp": 2}})
    assert result.rewards["battery"] == 0.5
    assert result.objects["forge"] == ObjectConfig(hp=2)


def test_override_result_is_validated() -> None:
    result = apply_overrides(GameConfig(), {"agent.vision": "7"})
    assert result.agent.vision == 7
    with pytest.raises(ValidationError, match="vision"):
        apply_overrides(GameConfig(), {"agent.vision": "far"})


def test_no_overrides_returns_the_config() -> None:
    config = MazeConfig()
    assert apply_overrides(config, {}) is config


@pytest.mark.parametrize(
    ("path", "missing", "where"),
    [
        ("widht", "widht", "the config root"),
        ("agent.sped", "sped", "agent"),
        ("objects.tower.hp", "tower", "objects"),
        ("width.value", "value", "width"),
        ("agent.inventory.ore.count", "count", "agent.inventory.ore"),
    ],
)
def test_override_of_a_missing_path_names_it(path: str, missing: str, where: str) -> None:
    with pytest.raises(KeyError) as info:
        apply_overrides(GameConfig(), {path: 1})
    message = str(info.value)
    assert repr(path) in message
    assert repr(missing) in message
    assert where in message


def test_import_path_round_trips_nested_classes() -> None:
    from agora import BucketedTaskGenerator

    assert load_symbol(import_path(BucketedTaskGenerator.Config)) is BucketedTaskGenerator.Config
    assert load_symbol(import_path(GameConfig)) is GameConfig
    assert load_symbol("agora.config.apply_overrides") is apply_overrides


@pytest.mark.parametrize("path", ["agora.config.NoSuchThing", "no_such_module.Thing", "agora.Span.nope"])
def test_load_symbol_names_a_bad_path(path: str) -> None:
    with pytest.raises(ImportError, match=path.replace(".", r"\.")):
        load_symbol(path)


def test_load_symbol_shows_why_an_existing_module_fails_to_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken_generators.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency_xyz"):
        load_symbol("broken_generators.MyGenerator")
