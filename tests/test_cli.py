"""The ``agora`` command, run as a real subprocess."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from agora import bucketed
from agora.algorithms import DiscreteRandomConfig, LearningProgressConfig
from agora.curriculum import CurriculumConfig
from agora.demo import GridTaskGenerator
from agora.generators import TaskGeneratorSet
from report_run import Corridor, real_run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _optional(module: str) -> ModuleType:
    """Import an optional dependency: skip without it, unless AGORA_REQUIRE_OPTIONAL=1 (then fail)."""
    if os.environ.get("AGORA_REQUIRE_OPTIONAL") == "1":
        return __import__(module)
    return pytest.importorskip(module)


def agora(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1] / "src"), *sys.path])}
    return subprocess.run(
        [sys.executable, "-m", "agora.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


def test_demo_quick_writes_table_summary_and_plot(tmp_path: Path) -> None:
    _optional("matplotlib")
    out = tmp_path / "out"
    proc = agora("demo", "--quick", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "env steps" in proc.stdout
    assert "learning_progress" in proc.stdout
    assert "uniform" in proc.stdout
    assert "training" in proc.stderr, "the progress bar goes to stderr"

    summary = json.loads((out / "summary.json").read_text())
    assert summary["agora_version"]
    assert f"({summary['wall_time_s']:.0f} s with 2 worker processes on" in proc.stdout
    steps = summary["env_steps"]
    assert steps[0] == 0
    assert steps == sorted(steps)
    for name in ("learning_progress", "uniform"):
        curve = summary["curricula"][name]
        assert len(curve["success_mean"]) == len(steps)
        assert all(0.0 <= v <= 1.0 for v in curve["success_mean"] + curve["success_std"])
        assert len(curve["runs"]) == summary["config"]["seeds"] >= 5
        assert curve["success_mean"][-1] > curve["success_mean"][0], "the agent learns under both curricula"
    assert 0 < summary["comparison"]["baseline_final_success"] <= 1

    png = out / "demo.png"
    assert png.read_bytes()[:8] == PNG_SIGNATURE
    import matplotlib.image

    image = matplotlib.image.imread(png)
    assert image.ndim == 3
    assert image.shape[0] > 200
    assert image.shape[1] > 600


def test_bench_quick_prints_tables_and_records(tmp_path: Path) -> None:
    from agora.bench import describe

    record = tmp_path / "bench.md"
    record.write_text("# Results\n\n<!-- bench:get_task_update -->\nold\n<!-- /bench:get_task_update -->\n")
    proc = agora("bench", "--quick", "get_task_update", "--record", str(record))
    assert proc.returncode == 0, proc.stderr
    assert "µs / episode" in proc.stdout
    progress = proc.stderr.splitlines()
    assert progress[0] == "[1/1] get_task_update: " + describe("get_task_update")
    assert describe("get_task_update").startswith("Per-episode cost of the curriculum API")
    assert "  pool size 10,000: 5,000 episodes" in progress, "each phase is announced on stderr"
    assert "10,000" in proc.stdout
    text = record.read_text()
    assert text.startswith("# Results")
    assert "old" not in text
    assert text.count("<!-- bench:get_task_update -->") == 1
    assert "| pool size |" in text


def test_bench_quick_runs_every_benchmark(tmp_path: Path) -> None:
    from agora.bench import BENCHMARKS

    proc = agora("bench", "--quick", "--plots", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    if "skipped students" not in proc.stderr:
        _optional("matplotlib")
        pngs = list(tmp_path.glob("*.png"))
        assert len(pngs) == 7, "one plot per student"
        assert all(p.read_bytes().startswith(PNG_SIGNATURE) for p in pngs)
    skipped = [line for line in proc.stderr.splitlines() if "skipped" in line]
    if os.environ.get("AGORA_REQUIRE_OPTIONAL") == "1":
        assert not skipped
    titles = {
        "get_task_update": "get_task + update_task_performance, uniform sampling",
        "episode_cost": "Curriculum algorithms: cost per episode",
        "task_kinds": "Episodes per task by kind",
        "students": "Simulated students",
        "wrapper_overhead": "Wrapper overhead",
        "shared_memory": "Shared-memory curriculum",
        "distributed": "Curriculum shared over Ray",
        "faults": "Fault injection: a worker of a shared pool killed with SIGKILL",
        "run_log": "RunLog cost",
    }
    assert set(titles) == set(BENCHMARKS)
    for name, title in titles.items():
        assert title in proc.stdout or f"skipped {name}" in proc.stderr, name
    tables = [line for line in proc.stdout.splitlines() if set(line.strip()) <= {"-", " "} and "--" in line]
    assert len(tables) + len(skipped) == len(BENCHMARKS), "one table per benchmark"
    for name in BENCHMARKS:
        assert f"] {name}: " in proc.stderr, f"{name} announces itself while it runs"
    for noise in ("Started a local Ray instance", " INFO ", " WARNING "):
        assert noise not in proc.stdout + proc.stderr, "Ray's logs stay out of the bench output"


def test_bench_plots_rejects_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    bad = agora("bench", "students", "--plots", str(tmp_path / "file"))
    assert bad.returncode == 1
    assert "is not a folder" in bad.stderr


def test_bench_lists_and_rejects_unknown_names() -> None:
    from agora.bench import BENCHMARKS

    listed = agora("bench", "--list")
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert [line.split()[0] for line in lines] == sorted(BENCHMARKS)
    assert all(len(line.split()) > 3 for line in lines), "every benchmark has a description"
    assert "Per-episode cost of the curriculum API with uniform sampling, by pool size." in listed.stdout
    assert "`" not in listed.stdout, "descriptions are plain text"
    bad = agora("bench", "--quick", "no_such_bench")
    assert bad.returncode == 2
    assert "no_such_bench" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


@pytest.fixture(params=["discrete_random", "learning_progress"])
def checkpoint(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    algorithm = LearningProgressConfig() if request.param == "learning_progress" else DiscreteRandomConfig()
    generator = (
        TaskGeneratorSet.Config()
        .add(GridTaskGenerator.Config(sizes=[6], label="small"), weight=3)
        .add(GridTaskGenerator.Config(sizes=[12], label="large"))
    )
    curriculum = CurriculumConfig(
        task_generator=generator, num_active_tasks=40, refresh_interval=4, algorithm_config=algorithm
    ).make()
    for i in range(300):
        task = curriculum.get_task()
        curriculum.update_task_performance(
            task.task_id, float(task.get_env_cfg().start_distance <= 4 and i % 3 > 0)
        )
    path = tmp_path / "curriculum.json"
    curriculum.save(path)
    return path


def test_inspect_summarises_a_checkpoint(checkpoint: Path) -> None:
    proc = agora("inspect", str(checkpoint), "--top", "5")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "pool 40 active of 40 slots" in out
    assert "completions 300" in out
    state = json.loads(checkpoint.read_text())["state"]
    assert f"algorithm {state['config']['algorithm_config']['type']}" in out
    assert "top 5 tasks by sampling probability" in out
    assert "start_distance=" in out, "bucket values are regenerated from the saved config"
    label_lines = [line.split() for line in out.splitlines() if line.startswith(("small", "large"))]
    counts = {row[0]: int(row[1]) for row in label_lines}
    assert set(counts) == {"small", "large"}
    assert sum(counts.values()) == 40
    evicted = re.search(r"evicted ([\d,]+), stale", out)
    assert evicted is not None
    assert sum(int(row[3]) for row in label_lines) == int(evicted.group(1).replace(",", ""))
    # Per-label totals keep evicted tasks' episodes: every episode is under its label, once.
    assert sum(int(row[4]) for row in label_lines) == 300
    assert "have no label" not in out


def test_inspect_json_sorts_by_the_curriculum_s_own_sampling_probabilities(tmp_path: Path) -> None:
    generator = bucketed(Corridor(), label="corridor").add_bucket("length", [2, 3, 5])
    curriculum = generator.to_curriculum(
        num_active_tasks=30, refresh_interval=7, algorithm_config=LearningProgressConfig()
    ).make()
    for i in range(600):
        task = curriculum.get_task()
        task.complete(float(task.get_bucket_values()["length"] < 5 and i % 4 > 0))
    path = tmp_path / "lp.json"
    curriculum.save(path)
    proc = agora("inspect", str(path), "--top", "30", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    expected = curriculum.sampling_probabilities()
    top = summary["top"]
    assert [t["task_id"] for t in top] == sorted(expected, key=lambda t: -expected[t])
    assert [t["sampling_probability"] for t in top] == pytest.approx([expected[t["task_id"]] for t in top])
    assert summary["counters"]["num_completed"] == 600
    assert summary["counters"]["num_evicted"] > 0
    assert {t["label"] for t in top} == {"corridor"}
    assert all(t["buckets"]["length"] in (2, 3, 5) for t in top)
    # Slice statistics keep evicted tasks' episodes: every episode is under a bucket value.
    assert sum(summary["buckets"]["length"].values()) == 600
    assert summary["episodes_of_active_tasks"] < summary["labels"]["corridor"]["episodes"] == 600
    assert summary["labels"]["corridor"]["evicted_tasks"] == summary["counters"]["num_evicted"]


def test_inspect_regenerates_bucket_values_of_an_env_config_defined_in_main(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        "import json, sys\n"
        "from pydantic import BaseModel\n"
        "import agora\n"
        "class Maze(BaseModel):\n"
        "    size: int = 5\n"
        "gen = agora.bucketed(Maze(), label='maze').add_bucket('size', [5, 7, agora.Span(9, 12)])\n"
        "curriculum = gen.to_curriculum(num_active_tasks=8).make()\n"
        "for _ in range(40):\n"
        "    curriculum.get_task().complete(1.0)\n"
        "curriculum.save(sys.argv[1])\n"
        "sizes = {t: curriculum.generated(t).bucket_values['size'] for t in curriculum.active_task_ids()}\n"
        "print(json.dumps(sizes))\n"
    )
    path = tmp_path / "maze.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1] / "src"), *sys.path])}
    trained = subprocess.run(
        [sys.executable, str(script), str(path)], capture_output=True, text=True, env=env, timeout=120
    )
    assert trained.returncode == 0, trained.stderr
    expected = {int(t): size for t, size in json.loads(trained.stdout).items()}  # the script's own
    proc = agora("inspect", str(path), "--json", "--top", "8")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert {t["task_id"]: t["buckets"]["size"] for t in summary["top"]} == expected
    assert {t["label"] for t in summary["top"]} == {"maze"}
    assert summary["notes"] == []


GENERATOR_IN_MAIN = """
import json, sys
from collections import Counter
from pydantic import BaseModel
import agora

class Maze(BaseModel):
    size: int = 5
    level: int = 0
    walls: float = 0.0

class Mazes(agora.TaskGenerator):
    class Config(agora.TaskGeneratorConfig["Mazes"]):
        size: int = 5

    def _generate(self, task_id, rng):
        return agora.GeneratedTask(task_id, lambda: Maze(size=self.config.size))

gen = agora.merge([
    agora.BucketedTaskGenerator.Config(child_generator_config=Mazes.Config(size=size), label=f"maze-{size}")
    .add_bucket("level", list(range(6)))
    .add_bucket("walls", [agora.Span(0.0, 0.5), 0.9])
    for size in (5, 7)
])
curriculum = gen.to_curriculum(
    num_active_tasks=6, min_presentations_for_eviction=2, algorithm_config=agora.LearningProgressConfig()
).make()
levels = Counter()
for i in range(300):
    task = curriculum.get_task()
    levels[task.get_bucket_values()["level"]] += 1
    task.complete(float(i % 3 == 0))
curriculum.save(sys.argv[1])
buckets = {t: curriculum.generated(t).bucket_values for t in curriculum.active_task_ids()}
print(json.dumps({"levels": levels, "buckets": buckets, "evicted": curriculum.stats()["num_evicted"]}))
"""


def test_inspect_shows_bucket_values_of_a_generator_defined_in_main(tmp_path: Path) -> None:
    """The generator class cannot be imported by ``inspect``: the axes stored in the checkpoint,
    with each task's bins, give the per-bucket tables and the top tasks' bucket entries."""
    script = tmp_path / "train.py"
    script.write_text(GENERATOR_IN_MAIN)
    path = tmp_path / "mazes.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1] / "src"), *sys.path])}
    trained = subprocess.run(
        [sys.executable, str(script), str(path)], capture_output=True, text=True, env=env, timeout=120
    )
    assert trained.returncode == 0, trained.stderr
    played = json.loads(trained.stdout)
    assert played["evicted"] > 0
    proc = agora("inspect", str(path), "--json", "--top", "6")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    levels = {str(level): played["levels"].get(str(level), 0) for level in range(6)}
    assert summary["buckets"]["level"] == levels
    assert set(summary["buckets"]["walls"]) == {"0.0-0.5", "0.9"}
    assert sum(summary["buckets"]["walls"].values()) == 300
    assert len(summary["top"]) == 6
    for task in summary["top"]:
        drawn = played["buckets"][str(task["task_id"])]  # the script's own values
        walls = 0.9 if drawn["walls"] == 0.9 else "0.0-0.5"  # a Span's value shows as the Span
        assert task["buckets"] == {"level": drawn["level"], "walls": walls}
        assert task["label"] in ("maze-5", "maze-7")
    assert any("bucket values from the checkpoint's bucket bins" in note for note in summary["notes"])
    text = agora("inspect", str(path)).stdout
    assert "bucket level (episodes, evicted tasks included):" in text
    assert "bucket walls (episodes, evicted tasks included):" in text


def test_report_draws_every_figure_of_a_real_run(tmp_path: Path) -> None:
    _optional("matplotlib")
    log, checkpoint = real_run(tmp_path)
    out = tmp_path / "report"
    proc = agora("report", str(log), str(checkpoint), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    from agora.report import FIGURES

    for name in FIGURES:
        assert (out / f"{name}.png").read_bytes().startswith(PNG_SIGNATURE), name
    page = (out / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == len(FIGURES), "every figure is inlined"
    assert "top 20 tasks by sampling probability" in page, "the checkpoint's summary ends the page"
    assert f"{len(FIGURES)} figures" in proc.stdout


def test_report_names_a_file_that_is_not_a_run_log(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "something else"}\n')
    proc = agora("report", str(bad), "-o", str(tmp_path / "out"))
    assert proc.returncode == 1
    assert "bad.jsonl has no episodes records" in proc.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "corrupted"),
        ("{not json", "not JSON"),
        ('{"hello": 1}', "not an agora checkpoint"),
    ],
)
def test_inspect_reports_a_bad_file_in_one_line(
    checkpoint: Path, tmp_path: Path, content: str | None, message: str
) -> None:
    if content is None:  # flip one digit inside the saved state
        text = checkpoint.read_text()
        index = text.index('"completions"') + 40
        content = text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    proc = agora("inspect", str(bad))
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_inspect_missing_file(tmp_path: Path) -> None:
    proc = agora("inspect", str(tmp_path / "nope.json"))
    assert proc.returncode == 1
    assert "nope.json" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", [[], ["demo"], ["bench"], ["inspect"], ["report"], ["migrate"]])
def test_help_on_every_command(command: list[str]) -> None:
    proc = agora(*command, "--help")
    assert proc.returncode == 0
    assert proc.stdout.startswith("usage: agora")


def test_version_is_the_installed_distributions() -> None:
    from agora import __version__

    proc = agora("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"agora-rl {__version__}"
    assert __version__ == importlib.metadata.version("agora-rl")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([], "command"),
        (["fly"], "fly"),
        (["demo", "--seeds", "0"], "'0'"),
        (["demo", "--seeds", "many"], "'many'"),
        (["demo", "--bogus"], "--bogus"),
        (["demo", "--algorithms", "plr,nope"], "'nope'"),
        (["demo", "--algorithms", "plr,plr"], "named twice"),
        (["inspect"], "path"),
        (["report"], "RUN.jsonl"),
        (["migrate"], "path"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: list[str], needle: str) -> None:
    proc = agora(*args)
    assert proc.returncode == 2
    assert needle in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_demo_runs_the_curricula_named_by_algorithms(tmp_path: Path) -> None:
    _optional("matplotlib")
    out = tmp_path / "out"
    args = ("--quick", "--seeds", "1", "--steps", "2000", "--workers", "1", "--out", str(out))
    proc = agora("demo", *args, "--algorithms", "plr,uniform")
    assert proc.returncode == 0, proc.stderr
    assert "1 seeds x 2 curricula" in proc.stdout
    header = next(line for line in proc.stdout.splitlines() if line.lstrip().startswith("env steps"))
    assert header.split()[2:] == ["plr", "uniform"]
    assert "Learning progress" not in proc.stdout  # the verdict needs learning progress and uniform
    assert set(json.loads((out / "summary.json").read_text())["curricula"]) == {"plr", "uniform"}


def test_demo_out_must_be_a_folder(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("")
    proc = agora("demo", "--quick", "--out", str(target))
    assert proc.returncode == 1
    assert "not a folder" in proc.stderr


def test_demo_verdict_states_the_step_ratio() -> None:
    from agora.cli import _verdict
    from agora.demo.run import DemoConfig, DemoResult, RunResult

    def run(name: str, success: list[float]) -> RunResult:
        return RunResult(name, 0, success, [{}, {}], 10, 0.0)

    config = DemoConfig(env_steps=200, num_evals=2, seeds=1)
    faster = DemoResult(config, [run("learning_progress", [0.0, 0.8, 0.9]), run("uniform", [0.0, 0.2, 0.4])])
    assert _verdict(faster.comparison()) == (
        "Uniform first reached its final success (0.400) after 200 environment steps; "
        "learning progress after 50: 25% of the steps (4.0x fewer)."
    )
    slower = DemoResult(config, [run("learning_progress", [0.0, 0.1, 0.3]), run("uniform", [0.0, 0.2, 0.4])])
    assert "did not reach uniform's final success (0.400)" in _verdict(slower.comparison())
    assert "its own final success is 0.300" in _verdict(slower.comparison())
