"""Checkpoints: exact resumption, atomic files, and damaged input that changes nothing."""

from __future__ import annotations

import base64
import hashlib
import json
import multiprocessing as mp
import os
import re
import signal
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy.typing as npt
import pytest

from agora import CheckpointError, Curriculum, CurriculumConfig, bucketed, merge
from agora.checkpoint import (
    CHECKPOINT_FORMAT,
    CheckpointView,
    decode_array,
    get_extension,
    read_checkpoint,
    set_extension,
    write_checkpoint,
)
from conftest import Make, new_session
from core_models import EvictPlayedConfig, MazeConfig

TESTS = Path(__file__).parent


def curriculum_config(**overrides: Any) -> CurriculumConfig:
    maze = bucketed(MazeConfig()).add_bucket("size", [3, 5, 7]).add_bucket("wall_density", [0.1, 0.3])
    maze.label = "maze"
    small = bucketed(MazeConfig(name="small")).add_bucket("size", [1, 2])
    settings: dict[str, Any] = {
        "num_active_tasks": 12,
        "refresh_interval": 5,
        "min_presentations_for_eviction": 3,
        "algorithm_config": EvictPlayedConfig(),
        "seed": 3,
    }
    return merge([maze, small], [2.0, 1.0]).to_curriculum(**{**settings, **overrides})


def play(curriculum: Curriculum[Any], steps: int) -> list[tuple[int, dict[str, Any]]]:
    """Play ``steps`` episodes; returns each task id with its bucket values."""
    out = []
    for step in range(steps):
        task = curriculum.get_task()
        out.append((task.task_id, task.get_bucket_values()))
        curriculum.update_task_performance(task.task_id, ((task.task_id * 13 + step) % 7) / 6)
    return out


def assert_same_future(a: Curriculum[Any], b: Curriculum[Any], steps: int = 200) -> None:
    assert a.stats() == b.stats()
    assert play(a, steps) == play(b, steps)
    assert a.stats() == b.stats()
    assert a.active_task_ids() == b.active_task_ids()


@pytest.fixture
def twins(make: Make) -> tuple[Curriculum[Any], Curriculum[Any]]:
    """Two curricula with identical histories (one to damage, one to compare against)."""
    a, b = make(curriculum_config()), make(curriculum_config())
    play(a, 23)
    play(b, 23)
    return a, b


def other_state(make: Make) -> dict[str, Any]:
    """A valid state of the same config but a different history."""
    source = make(curriculum_config())
    play(source, 71)
    return source.get_state()


def test_state_is_json_with_a_format_version(make: Make) -> None:
    curriculum = make(curriculum_config())
    play(curriculum, 40)
    state = curriculum.get_state()
    assert state["format_version"] == CHECKPOINT_FORMAT
    assert json.loads(json.dumps(state)) == state


def test_load_state_resumes_exactly(make: Make) -> None:
    original = make(curriculum_config())
    play(original, 57)  # mid-way through a refresh interval, after several evictions
    assert original.stats()["num_evicted"] > 0
    state = json.loads(json.dumps(original.get_state()))
    restored = make(curriculum_config())
    restored.load_state(state)
    assert restored.algorithm.num_updates == 57  # type: ignore[attr-defined]
    # The rest of the pre-drawn queue is restored for batches too (they read it as an array).
    assert restored.get_tasks(5).task_ids.tolist() == original.get_tasks(5).task_ids.tolist()
    assert_same_future(original, restored)


def played_per_label(curriculum: Curriculum[Any], steps: int) -> dict[str | None, list[float]]:
    """Play ``steps`` episodes; returns [episodes, score sum] per label, as reported."""
    out: dict[str | None, list[float]] = {}
    for step in range(steps):
        task = curriculum.get_task()
        score = ((task.task_id * 13 + step) % 7) / 6
        counts = out.setdefault(task.get_label(), [0, 0.0])
        counts[0] += 1
        counts[1] += score
        curriculum.update_task_performance(task.task_id, score)
    return out


def test_per_label_counters_keep_evicted_tasks_and_survive_a_checkpoint(tmp_path: Path, make: Make) -> None:
    curriculum = make(curriculum_config())
    played = played_per_label(curriculum, 120)
    stats = curriculum.stats()
    assert stats["label/maze/num_evicted"] > 0
    assert stats["label/maze/num_completed"] == played["maze"][0]
    assert stats["label/maze/num_scheduled"] == played["maze"][0]
    assert stats["label/maze/mean_score"] == pytest.approx(played["maze"][1] / played["maze"][0])
    curriculum.save(tmp_path / "ckpt.json")
    restored = make(curriculum_config())
    restored.load(tmp_path / "ckpt.json")
    assert restored.stats() == stats  # exactly
    later = played_per_label(restored, 50)
    total = played["maze"][0] + later["maze"][0]
    assert restored.stats()["label/maze/num_completed"] == total


def test_a_score_for_an_evicted_task_counts_for_its_label(make: Make) -> None:
    curriculum = make(curriculum_config())
    held = curriculum.get_task()
    while held.get_label() != "maze":
        held = curriculum.get_task()
    played = played_per_label(curriculum, 200)
    assert held.task_id not in curriculum.active_task_ids()  # evicted meanwhile (EvictPlayedConfig)
    curriculum.update_task_performance(held.task_id, 1.0)
    stats = curriculum.stats()
    assert stats["num_stale_updates"] == 1
    assert stats["label/maze/num_completed"] == played["maze"][0] + 1
    assert stats["label/maze/mean_score"] == pytest.approx(
        (played["maze"][1] + 1.0) / (played["maze"][0] + 1)
    )


def test_load_state_into_a_used_curriculum(make: Make) -> None:
    original = make(curriculum_config())
    play(original, 30)
    restored = make(curriculum_config())
    play(restored, 95)
    restored.get_tasks(3)  # a partly used queue, replaced by the checkpoint's
    restored.load_state(original.get_state())
    assert restored.get_tasks(5).task_ids.tolist() == original.get_tasks(5).task_ids.tolist()
    assert_same_future(original, restored)


def test_save_and_load_files(tmp_path: Path, make: Make) -> None:
    original = make(curriculum_config())
    play(original, 44)
    path = tmp_path / "curriculum.json"
    original.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curriculum.json"]
    assert read_checkpoint(path) == json.loads(json.dumps(original.get_state()))
    restored = make(curriculum_config())
    restored.load(str(path))
    assert_same_future(original, restored)
    original.save(path)  # overwrite
    assert read_checkpoint(path)["algorithm"] == {"num_updates": 244}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curriculum.json"]


def test_failed_save_keeps_the_existing_checkpoint(tmp_path: Path, make: Make) -> None:
    curriculum = make(curriculum_config())
    path = tmp_path / "ckpt.json"
    curriculum.save(path)
    saved = path.read_bytes()
    play(curriculum, 10)
    curriculum.algorithm.unserialisable = True  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="not JSON serializable"):
        curriculum.save(path)
    assert path.read_bytes() == saved
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.json"]


def test_failed_rename_leaves_no_temp_file(tmp_path: Path, make: Make) -> None:
    curriculum = make(curriculum_config())
    (tmp_path / "taken").mkdir()
    with pytest.raises(OSError):  # noqa: PT011 - the errno differs between platforms
        curriculum.save(tmp_path / "taken")
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]


@pytest.mark.parametrize("folder", ["missing", "a_file"])
def test_save_into_a_missing_folder_names_the_folder(tmp_path: Path, folder: str, make: Make) -> None:
    (tmp_path / "a_file").write_text("")
    curriculum = make(curriculum_config())
    with pytest.raises(
        FileNotFoundError, match=rf"the folder {tmp_path / folder} (does not exist|is not a folder)"
    ):
        curriculum.save(tmp_path / folder / "ckpt.json")
    assert [p.name for p in tmp_path.iterdir()] == ["a_file"]


def test_from_checkpoint_rebuilds_the_curriculum_from_its_stored_config(tmp_path: Path) -> None:
    # Local only: rebuilt from a shared config, it would join the original's session.
    original = curriculum_config().make()
    play(original, 57)
    original.save(tmp_path / "ckpt.json")
    restored = Curriculum.from_checkpoint(tmp_path / "ckpt.json")
    assert restored.config == original.config
    assert_same_future(original, restored)


def test_from_checkpoint_names_what_cannot_be_rebuilt(tmp_path: Path, make: Make) -> None:
    state = make(curriculum_config()).get_state()
    state["config"]["task_generator"]["task_generators"][0]["child_generator_config"]["env_type"] = (
        "no_such_module.MazeConfig"
    )
    write_checkpoint(tmp_path / "ckpt.json", state)
    with pytest.raises(
        CheckpointError, match=r"cannot rebuild the curriculum config stored in .*no_such_module"
    ):
        Curriculum.from_checkpoint(tmp_path / "ckpt.json")
    with pytest.raises(CheckpointError, match=r"cannot read checkpoint .*nope\.json"):
        Curriculum.from_checkpoint(tmp_path / "nope.json")


def test_write_error_keeps_the_existing_checkpoint(tmp_path: Path) -> None:
    """A real write failure (file-size limit hit mid-write) in a child process."""
    path = tmp_path / "ckpt.json"
    curriculum_config().make().save(path)
    saved = path.read_bytes()
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        from agora import CurriculumConfig
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
        curriculum = CurriculumConfig.model_validate_json(sys.argv[1]).make()
        curriculum.load(sys.argv[2])
        for _ in range(20):
            curriculum.update_task_performance(curriculum.get_task().task_id, 1.0)
        resource.setrlimit(resource.RLIMIT_FSIZE, ({len(saved) // 4}, resource.RLIM_INFINITY))
        try:
            curriculum.save(sys.argv[2])
        except OSError as exc:
            print("failed", exc.errno)
        """
    )
    # Without coverage hooks: a measured child could not write its data under the size limit.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE")}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-c", script, curriculum_config().model_dump_json(), str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.startswith("failed"), result.stderr
    assert path.read_bytes() == saved
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.json"]


def flip_data_byte(text: str) -> str:
    start = text.index('"data": "') + len('"data": "') + 3
    return text[:start] + ("B" if text[start] != "B" else "C") + text[start + 1 :]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda text: text[: len(text) // 2], "is truncated or not JSON"),
        (lambda text: "", "is truncated or not JSON"),
        (flip_data_byte, "is corrupted: its checksum does not match its contents"),
        (lambda text: json.dumps({"hello": "world"}), "is not an agora checkpoint"),
        (lambda text: "[1, 2, 3]", "is not an agora checkpoint"),
        (lambda text: b"\x89PNG\r\n\x1a\n\xff\xfe", r"is not an agora checkpoint \(not UTF-8 text\)"),
        (lambda text: json.dumps({"agora_checkpoint": 1, "state": 5}), "checksum does not match"),
    ],
)
def test_damaged_files_raise_and_change_nothing(
    tmp_path: Path, twins: tuple[Curriculum[Any], Curriculum[Any]], damage: Any, message: str, make: Make
) -> None:
    source = make(curriculum_config())
    play(source, 71)
    path = tmp_path / "ckpt.json"
    source.save(path)
    damaged = damage(path.read_text())
    if isinstance(damaged, bytes):
        path.write_bytes(damaged)
    else:
        path.write_text(damaged)
    curriculum, twin = twins
    with pytest.raises(CheckpointError, match=message) as info:
        curriculum.load(path)
    assert str(path) in str(info.value)
    assert_same_future(curriculum, twin)


def test_checkpoint_without_a_state_dict(tmp_path: Path) -> None:
    import hashlib

    path = tmp_path / "ckpt.json"
    sha = hashlib.sha256(json.dumps(5).encode()).hexdigest()
    path.write_text(json.dumps({"agora_checkpoint": 1, "sha256": sha, "state": 5}))
    with pytest.raises(CheckpointError, match="holds no curriculum state"):
        read_checkpoint(path)


def test_missing_file(tmp_path: Path, make: Make) -> None:
    with pytest.raises(CheckpointError, match=r"cannot read checkpoint .*nope\.json"):
        make(curriculum_config()).load(tmp_path / "nope.json")


def test_config_mismatch_is_an_error_naming_the_fields(
    twins: tuple[Curriculum[Any], Curriculum[Any]], make: Make
) -> None:
    other = make(curriculum_config(seed=4, refresh_interval=6))
    play(other, 30)
    curriculum, twin = twins
    with pytest.raises(CheckpointError, match=r"\(differs in: refresh_interval, seed\); pass strict=False"):
        curriculum.load_state(other.get_state())
    assert_same_future(curriculum, twin)


def test_config_mismatch_only_warns_when_not_strict(tmp_path: Path, make: Make) -> None:
    other = make(curriculum_config(seed=4))
    play(other, 30)
    other.save(tmp_path / "ckpt.json")
    curriculum = make(curriculum_config())
    with pytest.warns(UserWarning, match="differs in: seed"):
        curriculum.load(tmp_path / "ckpt.json", strict=False)
    assert curriculum.config.seed == 3
    assert_same_future(curriculum, other)


def test_a_different_seed_alone_only_warns_because_the_random_state_replaces_it(
    tmp_path: Path, make: Make
) -> None:
    other = make(curriculum_config(seed=4))
    play(other, 30)
    other.save(tmp_path / "ckpt.json")
    curriculum = make(curriculum_config())
    with pytest.warns(UserWarning, match=r"differs in: seed\), which the checkpoint's random state replaces"):
        curriculum.load(tmp_path / "ckpt.json")  # strict, the default
    assert_same_future(curriculum, other)


def test_layout_mismatch_is_an_error_even_when_not_strict(
    twins: tuple[Curriculum[Any], Curriculum[Any]], make: Make
) -> None:
    bigger = make(curriculum_config(num_active_tasks=13))
    curriculum, twin = twins
    with (
        pytest.warns(UserWarning, match="num_active_tasks"),
        pytest.raises(CheckpointError, match="pool size or algorithm layout differs"),
    ):
        curriculum.load_state(bigger.get_state(), strict=False)
    assert_same_future(curriculum, twin)


def corrupt(state: dict[str, Any], change: str) -> dict[str, Any]:
    if change == "version":
        state["format_version"] = 99
    elif change == "no_array":
        del state["pool"]["completions"]
    elif change == "rng":
        state["rng"] = {"bit_generator": "Nope"}
    elif change == "algorithm":  # fails after the pool was already overwritten
        state["algorithm"] = {"num_updates": "many"}
    elif change == "no_config":
        del state["config"]
    elif change == "version_bool":
        state["format_version"] = True
    elif change == "queue_range":
        state["queue"][-1] = 10**6
    elif change == "queue_negative":
        state["queue"][0] = -1
    elif change == "queue_type":
        state["queue"][0] = 1.5
    elif change == "labels":
        state["labels"] = [3]
    elif change == "duplicate_id":
        state["pool"]["ids"] = _with(state["pool"]["ids"], lambda ids: ids.__setitem__(1, ids[0]))
    elif change == "free_stack":
        state["pool"]["header"] = _with(state["pool"]["header"], lambda header: header.__setitem__(0, 2))
    elif change == "label_totals":
        state["label_totals"] = [[1.0, 2.0, 0.5]]  # three columns, not four
    elif change == "label_totals_negative":
        state["label_totals"] = [[-1.0, 0.0, 0.0, 0.0]]
    elif change == "label_index":
        state["pool"]["label"] = _with(state["pool"]["label"], lambda label: label.__setitem__(0, 99))
    return state


def _with(blob: dict[str, Any], change: Callable[[npt.NDArray[Any]], None]) -> dict[str, Any]:
    """A checkpoint array blob with ``change`` applied to a copy of its array."""
    array = decode_array(blob).copy()
    change(array)
    return {**blob, "data": base64.b64encode(array.tobytes()).decode()}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("version", "unsupported checkpoint format_version 99 \\(expected 1\\)"),
        ("no_array", "checkpoint has no pool array 'completions'"),
        ("rng", "invalid curriculum state: "),
        ("algorithm", "invalid curriculum state: ValueError: invalid literal for int"),
        ("no_config", "invalid curriculum state: KeyError: 'config'"),
        ("version_bool", "unsupported checkpoint format_version True"),
        ("queue_range", "checkpoint queue holds slot 1000000, not an active slot of this pool of 12"),
        ("queue_negative", "checkpoint queue holds slot -1"),
        ("queue_type", "checkpoint queue must be a list of slot numbers"),
        ("labels", "checkpoint labels must be a list of strings"),
        ("duplicate_id", "checkpoint pool holds task id \\d+ more than once"),
        ("free_stack", "free-slot stack does not match"),
        ("label_index", "label indices outside its 1 labels"),
        ("label_totals", "label_totals must hold 4 finite numbers per label"),
        ("label_totals_negative", "label_totals must hold 4 finite numbers per label"),
    ],
)
def test_invalid_states_raise_and_change_nothing(
    twins: tuple[Curriculum[Any], Curriculum[Any]], change: str, message: str, make: Make
) -> None:
    curriculum, twin = twins
    with pytest.raises(CheckpointError, match=message):
        curriculum.load_state(corrupt(other_state(make), change))
    assert curriculum.algorithm.num_updates == 23  # type: ignore[attr-defined]
    assert_same_future(curriculum, twin)


def test_non_dict_state(twins: tuple[Curriculum[Any], Curriculum[Any]]) -> None:
    curriculum, twin = twins
    with pytest.raises(CheckpointError, match="curriculum state must be a dict, got list"):
        curriculum.load_state([])  # type: ignore[arg-type]
    assert_same_future(curriculum, twin)


@pytest.mark.parametrize("marker", [99, "garbage", True, None])
def test_an_unknown_outer_format_marker_is_an_error(tmp_path: Path, marker: Any, make: Make) -> None:
    state = make(curriculum_config()).get_state()
    payload = json.dumps(state, sort_keys=True)
    sha = hashlib.sha256(payload.encode()).hexdigest()
    path = tmp_path / "ckpt.json"
    path.write_text(json.dumps({"agora_checkpoint": marker, "sha256": sha, "state": state}))
    with pytest.raises(
        CheckpointError, match=rf"has checkpoint format {re.escape(repr(marker))}; this agora reads"
    ):
        read_checkpoint(path)


def test_deployment_fields_are_not_config_differences(tmp_path: Path) -> None:
    local = curriculum_config(algorithm_config=EvictPlayedConfig(), config_cache_size=3).make()
    play(local, 40)
    local.save(tmp_path / "local.json")
    shared_algorithm = EvictPlayedConfig(
        use_shared_memory=True, session_id=new_session(), shared_update_batch=8
    )
    with curriculum_config(algorithm_config=shared_algorithm).make() as shared:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # strict, and not even a warning
            shared.load(tmp_path / "local.json")
        assert shared.stats()["num_completed"] == 40
        shared.save(tmp_path / "shared.json")
    resumed = curriculum_config().make()
    resumed.load(tmp_path / "shared.json")  # a shared run resumed locally (or under a new session)
    assert resumed.stats() == local.stats()
    with pytest.raises(CheckpointError, match=r"differs in: refresh_interval\)"):
        curriculum_config(refresh_interval=9).make().load(tmp_path / "local.json")


def _die_while_saving(path: Path) -> None:
    def killed(*args: Any) -> None:
        os.kill(os.getpid(), signal.SIGKILL)  # the temp file is written, the rename never happens

    os.replace = killed  # type: ignore[assignment]  # in this child process only
    write_checkpoint(path, curriculum_config().make().get_state())


def test_temp_files_of_saves_killed_midway_are_removed_by_the_next_save(tmp_path: Path, make: Make) -> None:
    path = tmp_path / "ckpt.json"
    for _ in range(3):
        process = mp.get_context("fork").Process(target=_die_while_saving, args=(path,))
        process.start()
        process.join(60)
        assert process.exitcode == -signal.SIGKILL
    assert len(list(tmp_path.glob(".ckpt.json.*.tmp"))) == 3
    live = tmp_path / f".ckpt.json.{os.getppid()}.abcdefgh.tmp"  # a running process is saving
    live.write_text("{}")
    (tmp_path / ".other.json.1.abcdefgh.tmp").write_text("{}")  # another checkpoint's
    curriculum = make(curriculum_config())
    curriculum.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["ckpt.json", live.name, ".other.json.1.abcdefgh.tmp"]
    )
    assert read_checkpoint(path) == curriculum.get_state()


def test_extensions_travel_with_the_checkpoint_and_do_not_change_loading(tmp_path: Path, make: Make) -> None:
    original = make(curriculum_config())
    play(original, 30)
    state = original.get_state()
    set_extension(state, "trainer", {"step": 7})
    write_checkpoint(tmp_path / "c.json", state)
    loaded = read_checkpoint(tmp_path / "c.json")
    assert get_extension(loaded, "trainer") == {"step": 7}
    assert get_extension(loaded, "other") is None
    restored = make(curriculum_config())
    restored.load_state(loaded)
    assert_same_future(original, restored)


def test_a_part_kept_at_the_top_level_by_older_writers_is_read_as_an_extension(make: Make) -> None:
    state = make(curriculum_config()).get_state()
    state["distributed"] = {"applied": {"a": 3}}
    assert get_extension(state, "distributed") == {"applied": {"a": 3}}


def test_checkpoint_view_reads_the_pool_without_a_curriculum(tmp_path: Path, make: Make) -> None:
    curriculum = make(curriculum_config())
    play(curriculum, 40)
    curriculum.save(tmp_path / "c.json")
    view = CheckpointView.read(tmp_path / "c.json")
    assert sorted(view.ids[view.active].tolist()) == sorted(curriculum.active_task_ids())
    assert view.header["num_completed"] == 40
    assert view.active_column("completions").sum() <= 40
    assert view.labels == curriculum.get_state()["labels"]
    assert view.algorithm_type == curriculum.config.algorithm_config.type
    with pytest.raises(CheckpointError, match="not a valid curriculum state"):
        CheckpointView({"pool": {}, "labels": [], "config": {}}, "x.json")
