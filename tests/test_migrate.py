"""``agora migrate``: a fixture codebase written against metta.cogworks.curriculum, moved to agora.

The fixture covers every import form (from-imports, ``import ... as``, a parenthesised
multi-line import with comments, a ``TYPE_CHECKING`` block, a lazy import in a function,
attribute uses of an imported module, a renamed name, a ``type`` string), a YAML recipe
and a JSON config; the migrated code is imported and run in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

import agora
from agora.curriculum import CurriculumConfig
from agora.generators import BucketedTaskGenerator, SingleTaskGenerator
from agora.migrate import migrate_file
from agora.migrate.names import OLD_MODULES, new_path, target
from optional_deps import require

SRC = Path(__file__).parents[1] / "src"

FIXTURE = {
    "pkg/__init__.py": "",
    "pkg/envs.py": """
        from pydantic import BaseModel


        class Maze(BaseModel):
            size: int = 5
        """,
    "pkg/train.py": '''
        """Builds a curriculum the old way."""

        from __future__ import annotations

        from typing import TYPE_CHECKING

        import metta.cogworks.curriculum as cc
        from metta.cogworks.curriculum import (
            CurriculumConfig,  # the config
            # the generators:
            SingleTaskGenerator,
            TaskTracker,
        )
        from metta.cogworks.curriculum.shared_memory_backend import SharedTaskMemory
        from metta.cogworks.curriculum.task_generator import BucketedTaskGenerator as Bucketed

        from pkg.envs import Maze

        if TYPE_CHECKING:
            from metta.cogworks.curriculum.curriculum import Curriculum

        ALGORITHM = "metta.cogworks.curriculum.learning_progress_algorithm.LearningProgressConfig"


        def build(num_tasks: int = 8) -> Curriculum:
            import metta.cogworks.curriculum.stats as stats  # lazy

            single = SingleTaskGenerator.Config(env=Maze())
            generator = Bucketed.Config(child_generator_config=single).add_bucket("size", [5, 7, 9])
            algorithm = cc.LearningProgressConfig(num_active_tasks=num_tasks)
            assert issubclass(stats.SliceAnalyzer, cc.StatsLogger)
            assert TaskTracker.__name__ == "TaskTracker"
            assert SharedTaskMemory.__name__ == "SharedMemoryBackend"
            return CurriculumConfig(
                task_generator=generator, num_active_tasks=num_tasks, algorithm_config=algorithm
            ).make()
        ''',
    "pkg/leftovers.py": """
        import importlib

        from metta.cogworks.curriculum.lp_scorers import DEFAULT_SUCCESS_RATE, BasicLPScorer
        from metta.cogworks.curriculum.stats import *

        module = importlib.import_module("metta.cogworks.curriculum.curriculum")
        """,
    "pkg/untouched.py": "import os\n",
    "recipes/arena.yaml": """
        # An old recipe.
        num_active_tasks: 8
        task_generator:
          type: metta.cogworks.curriculum.task_generator.BucketedTaskGenerator  # bucketed
          buckets:
            size: [5, 7]
          child_generator_config:
            type: "metta.cogworks.curriculum.task_generator.SingleTaskGenerator"
            env_type: pkg.envs.Maze
            env: {size: 5}
        algorithm_config:
          type: learning_progress
        """,
    "recipes/single.json": """
        {
          "type": "metta.cogworks.curriculum.task_generator.SingleTaskGenerator",
          "env_type": "pkg.envs.Maze",
          "env": {"size": 9}
        }
        """,
}

MIGRATED_TRAIN = '''
    """Builds a curriculum the old way."""

    from __future__ import annotations

    from typing import TYPE_CHECKING

    import agora as cc
    import agora.curriculum.stat_loggers
    from agora import (
        CurriculumConfig,  # the config
        # the generators:
        SingleTaskGenerator,
    )
    from agora.tracking.tracker import (
        TaskTracker,
    )
    from agora.tracking.shared import SharedMemoryBackend
    from agora import BucketedTaskGenerator as Bucketed

    from pkg.envs import Maze

    if TYPE_CHECKING:
        from agora import Curriculum

    ALGORITHM = "agora.algorithms.learning_progress.LearningProgressConfig"


    def build(num_tasks: int = 8) -> Curriculum:
        import agora.curriculum.stat_loggers as stats  # lazy

        single = SingleTaskGenerator.Config(env=Maze())
        generator = Bucketed.Config(child_generator_config=single).add_bucket("size", [5, 7, 9])
        algorithm = cc.LearningProgressConfig(num_active_tasks=num_tasks)
        assert issubclass(stats.SliceAnalyzer, agora.curriculum.stat_loggers.StatsLogger)
        assert TaskTracker.__name__ == "TaskTracker"
        assert SharedMemoryBackend.__name__ == "SharedMemoryBackend"
        return CurriculumConfig(
            task_generator=generator, num_active_tasks=num_tasks, algorithm_config=algorithm
        ).make()
    '''


def write_fixture(root: Path) -> Path:
    for name, text in FIXTURE.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def run(*args: str, cwd: Path, pythonpath: list[Path]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in [*pythonpath, SRC])}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120, check=False
    )


def agora_migrate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run("-m", "agora.cli", "migrate", *args, cwd=cwd, pythonpath=[])


LEFTOVERS = [
    "pkg/leftovers.py:3: metta.cogworks.curriculum.lp_scorers.DEFAULT_SUCCESS_RATE has no agora equivalent",
    "pkg/leftovers.py:4: star import from metta.cogworks.curriculum.stats",
    "pkg/leftovers.py:6: string 'metta.cogworks.curriculum.curriculum' names an old module",
]


def test_prints_a_diff_and_lists_what_it_left_with_file_and_line(tmp_path: Path) -> None:
    root = write_fixture(tmp_path / "project")
    before = {path: path.read_text() for path in root.rglob("*") if path.is_file()}
    result = agora_migrate(".", cwd=root)
    assert result.returncode == 1, result.stderr  # something was left for a human
    assert {path: path.read_text() for path in root.rglob("*") if path.is_file()} == before
    diff = result.stdout
    assert "--- a/pkg/train.py\n+++ b/pkg/train.py\n" in diff
    assert "\n-import metta.cogworks.curriculum as cc\n" in diff
    assert "\n+import agora as cc\n+import agora.curriculum.stat_loggers\n+from agora import (\n" in diff
    assert "-  type: metta.cogworks.curriculum.task_generator.BucketedTaskGenerator  # bucketed\n" in diff
    assert "+  type: agora.generators.bucketed.BucketedTaskGenerator  # bucketed\n" in diff
    assert '+  "type": "agora.generators.single.SingleTaskGenerator",\n' in diff
    assert "untouched.py" not in diff
    stderr = result.stderr.splitlines()
    assert [line for line in stderr if line.startswith("pkg/")] == [
        next(line for line in stderr if line.startswith(prefix)) for prefix in LEFTOVERS
    ]
    assert stderr[-1] == "agora migrate: would rewrite 4 files; 3 places left as they were"


def test_write_keeps_formatting_and_the_migrated_code_runs(tmp_path: Path) -> None:
    root = write_fixture(tmp_path / "project")
    assert agora_migrate(".", "--write", cwd=root).returncode == 1
    assert (root / "pkg/train.py").read_text() == textwrap.dedent(MIGRATED_TRAIN).lstrip("\n")
    leftovers = (root / "pkg/leftovers.py").read_text()
    assert "from metta.cogworks.curriculum.lp_scorers import DEFAULT_SUCCESS_RATE\n" in leftovers
    assert "from agora.algorithms import BasicLPScorer\n" in leftovers
    assert "# bucketed" in (root / "recipes/arena.yaml").read_text()

    script = """
        import json, yaml
        from agora import CurriculumConfig, TaskGeneratorConfig
        from pkg.train import build

        curriculum = build()
        task = curriculum.get_task()
        curriculum.update_task_performance(task.task_id, 1.0)
        recipe = CurriculumConfig.model_validate(yaml.safe_load(open("recipes/arena.yaml")))
        single = TaskGeneratorConfig.from_json(open("recipes/single.json").read())
        print(json.dumps({
            "size": task.get_env_cfg().size,
            "algorithm": type(curriculum.config.algorithm_config).__name__,
            "recipe_sizes": sorted({recipe.make().get_task().get_env_cfg().size for _ in range(20)}),
            "single": single.create().get_task(0).size,
        }))
        """
    # Warnings are errors: the migrated code and configs must not go through the old paths.
    result = run(
        "-W", "error::DeprecationWarning", "-c", textwrap.dedent(script), cwd=root, pythonpath=[root]
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["size"] in (5, 7, 9)
    assert out["algorithm"] == "LearningProgressConfig"
    assert set(out["recipe_sizes"]) <= {5, 7}
    assert out["single"] == 9


def test_a_second_run_changes_nothing(tmp_path: Path) -> None:
    root = write_fixture(tmp_path / "project")
    agora_migrate(".", "--write", cwd=root)
    after = {path: path.read_text() for path in root.rglob("*") if path.is_file()}
    again = agora_migrate(".", "--write", cwd=root)
    assert again.stderr.splitlines()[-1] == "agora migrate: rewrote 0 files; 3 places left as they were"
    assert {path: path.read_text() for path in root.rglob("*") if path.is_file()} == after


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param(
            "import metta.cogworks.curriculum.task_generator\n"
            "x = metta.cogworks.curriculum.task_generator.Span(min_value=0, max_value=1)\n",
            "import agora\nx = agora.Span(min_value=0, max_value=1)\n",
            id="unaliased-module",
        ),
        pytest.param(
            "from metta.cogworks import curriculum as cur\ny = cur.task_generator.Span\nz = cur.TaskTracker\n"
            "cur.TaskTracker()\n",
            "import agora.tracking.tracker as cur\nimport agora\ny = agora.Span\nz = cur.TaskTracker\n"
            "cur.TaskTracker()\n",
            id="submodule-of-an-alias",
        ),
        pytest.param(
            "import os, metta.cogworks.curriculum.curriculum as c  # both\nc.DiscreteRandomCurriculum\n",
            "import os  # both\nimport agora.algorithms as c\nc.DiscreteRandomCurriculum\n",
            id="one-import-statement-of-several-modules",
        ),
        pytest.param(
            "from metta.cogworks.curriculum.shared_memory_backend import SharedTaskMemory as Memory\n",
            "from agora.tracking.shared import SharedMemoryBackend as Memory\n",
            id="renamed-with-alias",
        ),
        pytest.param(
            "from metta.cogworks.curriculum import merge, CurriculumEnv  # helpers\n",
            "from agora import merge  # helpers\nfrom agora.wrappers.puffer import CurriculumEnv\n",
            id="split-one-line",
        ),
    ],
)
def test_import_forms(tmp_path: Path, source: str, expected: str) -> None:
    path = tmp_path / "mod.py"
    path.write_text(source)
    result = migrate_file(path)
    assert result.after == expected
    assert result.problems == []


def test_unparsable_python_is_reported_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("import metta.cogworks.curriculum\n\ndef f(:\n")
    result = migrate_file(path)
    assert not result.changed
    assert [(p.line, p.message.split(":")[0]) for p in result.problems] == [(3, "cannot parse")]


def test_without_libcst_the_error_names_the_extra(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text("import metta.cogworks.curriculum\n")
    script = "import sys\nsys.modules['libcst'] = None\nfrom agora.cli import main\n"
    script += "sys.exit(main(['migrate', 'mod.py']))"
    result = run("-c", script, cwd=tmp_path, pythonpath=[])
    assert result.returncode == 1
    assert "pip install 'agora-rl[migrate]'" in result.stderr


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    result = agora_migrate("nowhere", cwd=tmp_path)
    assert result.returncode == 1
    assert "no such file or folder: nowhere" in result.stderr


def test_shim_warns_once_per_module_and_re_exports_agoras_objects(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    result = agora_migrate("code", "--shim", "shim", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    script = """
        import importlib, json, warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import metta.cogworks.curriculum.task_generator as tg
            from metta.cogworks.curriculum import Curriculum, LearningProgressConfig, task_tracker
            from metta.cogworks.curriculum.shared_memory_backend import SharedTaskMemory
            importlib.import_module("metta.cogworks.curriculum.task_generator")
            import metta.cogworks.curriculum.task_generator
        import agora
        from agora.tracking.shared import CentralizedTaskTracker, SharedMemoryBackend
        print(json.dumps({
            "warnings": [(w.category.__name__, str(w.message).split(" ")[0], w.filename) for w in caught],
            "same": [tg.Span is agora.Span, Curriculum is agora.Curriculum,
                     LearningProgressConfig is agora.LearningProgressConfig,
                     task_tracker.CentralizedTaskTracker is CentralizedTaskTracker,
                     SharedTaskMemory is SharedMemoryBackend],
        }))
        """
    (tmp_path / "use_shim.py").write_text(textwrap.dedent(script))
    result = run("use_shim.py", cwd=tmp_path, pythonpath=[tmp_path / "shim"])
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    here = str(tmp_path / "use_shim.py")
    assert out["warnings"] == [
        ["DeprecationWarning", "metta.cogworks.curriculum", here],
        ["DeprecationWarning", "metta.cogworks.curriculum.task_generator", here],
        ["DeprecationWarning", "metta.cogworks.curriculum.task_tracker", here],
        ["DeprecationWarning", "metta.cogworks.curriculum.shared_memory_backend", here],
    ]
    assert all(out["same"])
    written = sorted(p.name for p in (tmp_path / "shim/metta/cogworks/curriculum").iterdir())
    assert written == sorted(
        "__init__.py" if m == "metta.cogworks.curriculum" else f"{m.rpartition('.')[2]}.py"
        for m in OLD_MODULES
    )


def test_every_mapped_name_exists_in_agora() -> None:
    for module, (default, names) in OLD_MODULES.items():
        assert __import__(default, fromlist=["_"]), module
        for name in names:
            found = target(name)
            assert found is not None, name
            if found.module != "agora.wrappers.puffer" and not found.module.startswith("mettagrid"):
                assert getattr(__import__(found.module, fromlist=["_"]), found.name) is not None


OLD_CURRICULUM = {
    "num_active_tasks": 8,
    "task_generator": {
        "type": "metta.cogworks.curriculum.task_generator.BucketedTaskGenerator",
        "buckets": {"size": [5, 7]},
        "child_generator_config": {
            "type": "metta.cogworks.curriculum.task_generator.SingleTaskGenerator",
            "env_type": "core_models.MazeConfig",
            "env": {},
        },
    },
    "algorithm_config": {"type": "learning_progress"},
}


def test_an_old_type_string_loads_agoras_class_with_a_deprecation_warning() -> None:
    with pytest.warns(DeprecationWarning, match=r"is a metta\.cogworks\.curriculum path") as caught:
        config = CurriculumConfig.model_validate(OLD_CURRICULUM)
    assert [str(w.message).split("'")[1].rpartition(".")[2] for w in caught] == [
        "BucketedTaskGenerator",
        "SingleTaskGenerator",
    ]
    assert isinstance(config.task_generator, BucketedTaskGenerator.Config)
    assert isinstance(config.task_generator.child_generator_config, SingleTaskGenerator.Config)
    assert config.make().get_task().get_env_cfg() is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # saved again, it names agora's classes
        CurriculumConfig.model_validate(config.model_dump(mode="json"))


def test_an_old_type_string_without_an_equivalent_names_it() -> None:
    with pytest.raises(ImportError, match=r"metta\.cogworks\.curriculum\.lp_scorers\.DEFAULT_SUCCESS_RATE"):
        agora.TaskGeneratorConfig.from_dict(
            {"type": "metta.cogworks.curriculum.lp_scorers.DEFAULT_SUCCESS_RATE"}
        )


def test_an_old_single_task_config_without_env_type_is_a_mettagrid_config() -> None:
    require("mettagrid")
    from mettagrid.config.mettagrid_config import MettaGridConfig

    saved = {"type": "metta.cogworks.curriculum.task_generator.SingleTaskGenerator", "env": {}}
    with pytest.warns(DeprecationWarning, match="SingleTaskGenerator"):
        config = agora.TaskGeneratorConfig.from_dict(saved)
    assert isinstance(config.create().get_task(0), MettaGridConfig)


def test_new_path_of_nested_names() -> None:
    assert new_path("metta.cogworks.curriculum.task_generator.BucketedTaskGenerator.Config") == (
        "agora.generators.bucketed.BucketedTaskGenerator.Config"
    )
    assert new_path("metta.cogworks.curriculum.stats") is None
    assert new_path("metta.cogworks.curriculum.curriculum.logger") is None


def test_config_paths_outside_type_values_or_without_equivalent_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "recipe.yaml"
    path.write_text(
        "type: metta.cogworks.curriculum.lp_scorers.DEFAULT_SUCCESS_RATE\n"
        "doc: see metta.cogworks.curriculum.curriculum\n"
        "env_type: 'metta.cogworks.curriculum.MettaGridConfig'\n"
    )
    result = migrate_file(path)
    assert result.after.splitlines()[2] == "env_type: 'mettagrid.config.mettagrid_config.MettaGridConfig'"
    assert [(p.line, p.message) for p in result.problems] == [
        (1, "type 'metta.cogworks.curriculum.lp_scorers.DEFAULT_SUCCESS_RATE' names nothing agora has"),
        (2, "'metta.cogworks.curriculum.curriculum' is not a `type` value: not rewritten"),
    ]
