"""The run log (agora.RunLog) and the report drawn from it (agora.report)."""

from __future__ import annotations

import json
import multiprocessing
import pickle
from pathlib import Path

import pytest

import agora
from agora.report import FIGURES, read_run_log, write_report
from optional_deps import require
from report_run import family, play, play_in_a_process, real_run


def records(path: Path, kind: str) -> list[dict]:
    return [r for line in path.read_text().splitlines() if (r := json.loads(line))["kind"] == kind]


def lp_curriculum(num_active_tasks: int = 30) -> agora.Curriculum:
    return (
        family()
        .to_curriculum(
            num_active_tasks=num_active_tasks,
            refresh_interval=10,
            algorithm_config=agora.LearningProgressConfig(),
        )
        .make()
    )


def test_episode_counts_per_label_and_bucket_include_evicted_tasks(tmp_path: Path) -> None:
    curriculum = lp_curriculum()
    run_log = agora.RunLog(tmp_path / "run.jsonl", every=50)
    played = play(curriculum, run_log, 1000)
    episodes = records(run_log.path, "episodes")
    assert [r["episodes"] for r in episodes] == [50] * 20
    assert [r["total"] for r in episodes] == list(range(50, 1001, 50))
    logged = {label: sum(r["labels"].get(label, [0])[0] for r in episodes) for label in played}
    assert logged == played
    stats = curriculum.stats()
    assert stats["num_evicted"] > 0
    in_pool = {label: stats[f"label/{label}/num_completed"] for label in played}
    assert in_pool == played, "the pool's per-label counters keep evicted tasks' episodes"
    for r in episodes:
        assert sum(n for n, _ in r["labels"].values()) == r["episodes"]
        for path in ("length", "slip"):
            assert sum(n for n, _ in r["buckets"][path].values()) == r["episodes"]
        # Every slip drawn from the Span lands in one bin of its histogram; 0.5 is a plain value.
        (histogram,) = r["spans"]["slip"]
        assert sum(histogram) == r["buckets"]["slip"]["0.0-0.2"][0]
        # Short corridors score 1, long ones 0: score sums are per label.
        assert r["labels"].get("short", [0, 0.0])[1] == r["labels"].get("short", [0])[0]
        assert r["labels"].get("long", [0, 0.0])[1] == 0.0
        assert r["stats"]["num_completed"] == r["total"]


def test_pool_records_list_the_most_likely_tasks_with_labels_and_buckets(tmp_path: Path) -> None:
    curriculum = lp_curriculum()
    run_log = agora.RunLog(tmp_path / "run.jsonl", every=100, pool_every=300, top=5)
    play(curriculum, run_log, 1000)
    pools = records(run_log.path, "pool")
    assert [r["total"] for r in pools] == [300, 600, 900]
    run_log.record(curriculum)
    last = records(run_log.path, "pool")[-1]
    probabilities = curriculum.sampling_probabilities()
    expected = sorted(probabilities, key=lambda t: -probabilities[t])[:5]
    assert [t["task_id"] for t in last["top"]] == expected
    for task in last["top"]:
        generated = curriculum.generated(task["task_id"])
        assert task["p"] == pytest.approx(probabilities[task["task_id"]])
        assert (task["label"], task["buckets"]) == (generated.label, generated.bucket_values)
    assert sum(last["lp"]["counts"]) == last["num_active"] == 30
    assert sum(last["pool_labels"].values()) == 30


def test_processes_share_one_log_and_a_sent_copy_counts_from_zero(tmp_path: Path) -> None:
    run_log = agora.RunLog(tmp_path / "run.jsonl", every=40, pool_every=0)
    play(family().to_curriculum(num_active_tasks=20).make(), run_log, 30)  # pending here, not sent
    assert pickle.loads(pickle.dumps(run_log)).num_episodes == 0
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=play_in_a_process, args=(run_log, seed, 250)) for seed in (1, 2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    data = read_run_log(run_log.path)
    assert data.processes == 2
    assert data.total_episodes == 500
    assert not data.pool
    by_pid: dict[int, int] = {}
    for r in data.episodes:
        by_pid[r["pid"]] = by_pid.get(r["pid"], 0) + r["episodes"]
    assert sorted(by_pid.values()) == [250, 250]


def test_a_line_cut_short_is_skipped(tmp_path: Path) -> None:
    curriculum = lp_curriculum()
    run_log = agora.RunLog(tmp_path / "run.jsonl", every=100)
    play(curriculum, run_log, 300)
    with run_log.path.open("a") as file:
        file.write('{"kind": "episodes", "episo')
    data = read_run_log(run_log.path)
    assert (data.total_episodes, data.skipped) == (300, 1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"every": 0}, "every must be a positive int, got 0"), ({"pool_every": -1}, "pool_every")],
)
def test_bad_settings_name_the_value(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        agora.RunLog(tmp_path / "run.jsonl", **kwargs)


def test_a_path_that_cannot_be_written_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError, match="is a folder"):
        agora.RunLog(tmp_path)
    with pytest.raises(FileNotFoundError, match=f"folder {tmp_path / 'missing'} does not exist"):
        agora.RunLog(tmp_path / "missing" / "run.jsonl")


def test_every_figure_renders_from_a_real_run(tmp_path: Path) -> None:
    require("matplotlib")
    log, _ = real_run(tmp_path, episodes=3000)
    data = read_run_log(log)
    assert data.total_episodes == 3000
    for name, (_, draw) in FIGURES.items():
        figure = draw(data)
        assert figure is not None, name
        assert figure.axes, name
    page, images = write_report(log, tmp_path / "out")
    assert [image.stem for image in images] == list(FIGURES)
    assert page.read_text().count("<figure") == len(FIGURES)


def test_figures_without_data_are_left_out(tmp_path: Path) -> None:
    require("matplotlib")
    generator = agora.single_task(family().task_generators[0].child_generator_config.env)
    curriculum = generator.to_curriculum(num_active_tasks=4).make()
    run_log = agora.RunLog(tmp_path / "run.jsonl", every=10)
    play(curriculum, run_log, 50)
    run_log.record(curriculum)
    _, images = write_report(run_log.path, tmp_path / "out")
    assert [image.stem for image in images] == ["label_success", "sampling", "histograms", "evictions"]
