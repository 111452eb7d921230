"""Run the seed system's own curriculum tests against this checkout of agora.

Usage: ``python scripts/seed_tests.py PATH [pytest args]``, where PATH is a checkout of the
original ``tests/cogworks/curriculum`` folder (Metta, commit d04b2c46c7). The folder is copied
to a temporary directory, migrated with ``agora migrate --write`` (so only import lines and
old names change), and run with pytest outside the monorepo-only ``CheckpointManager``
tests. Prints the counts: passed, failed, errors. Nothing is written into this repository.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

ADAPTATIONS = [
    # PyPI's mettagrid exports its config classes from the module, not the package.
    (re.compile(r"^from mettagrid\.config import ", re.M), "from mettagrid.config.mettagrid_config import "),
    # Monorepo-only classes used by the deselected CheckpointManager tests alone.
    (re.compile(r"^from metta\.rl\.\w+ import (\w+)$", re.M), r"\1 = None  # monorepo-only"),
]


def adapt(folder: Path) -> None:
    for path in folder.rglob("*.py"):
        text = path.read_text()
        for pattern, replacement in ADAPTATIONS:
            text = pattern.sub(replacement, text)
        path.write_text(text)


def main(argv: list[str]) -> int:
    if not argv or not Path(argv[0]).is_dir():
        print(__doc__, file=sys.stderr)
        return 2
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    with tempfile.TemporaryDirectory(prefix="agora-seed-tests-") as tmp:
        tests = Path(tmp, "seed_tests")
        shutil.copytree(argv[0], tests, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        adapt(tests)
        migrate = [sys.executable, "-m", "agora.cli", "migrate", str(tests), "--write"]
        subprocess.run(migrate, env=env, check=False)  # exit 1 only lists what stayed unrewritten
        report = Path(tmp, "report.xml")
        pytest = [
            sys.executable,
            "-m",
            "pytest",
            str(tests),
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:importnb",
        ]
        pytest += ["-k", "not CheckpointManager", f"--junitxml={report}", "--rootdir", tmp, *argv[1:]]
        subprocess.run(pytest, env=env, cwd=tmp, check=False)
        if not report.exists():
            print("pytest wrote no report", file=sys.stderr)
            return 1
        suite = ET.parse(report).getroot()
        suite = suite if suite.tag == "testsuite" else suite[0]
        total, failed, errors, skipped = (
            int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")
        )
        passed = total - failed - errors - skipped
        print(
            f"seed tests: {passed} passed, {failed} failed, {errors} errors, {skipped} skipped (of {total})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
