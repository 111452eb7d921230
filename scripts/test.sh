#!/usr/bin/env bash
# The whole test suite, from a fresh clone: builds .venv with every integration installed,
# then lint (ruff), format check, types (mypy) and the tests with coverage (fail under 85%).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k pool -x`.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1

if [ ! -f .venv/.agora-deps ] || [ pyproject.toml -nt .venv/.agora-deps ] || [ "$0" -nt .venv/.agora-deps ]; then
    # pufferlib-core pins torch==2.9.0, a multi-GB CUDA build. The CPU build of torch 2.13
    # works with it, so install that first and pufferlib-core without its pins. Where pip's
    # index serves torch as a CUDA build (PyPI on Linux), set
    # TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu to take it from PyTorch's CPU index.
    python -m pip install -q ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "torch==2.13.0"
    python -m pip install -q -e ".[gymnasium,pettingzoo,mettagrid,minigrid,ray,demo,report,compare,migrate,test]"
    python -m pip install -q --no-deps "pufferlib-core==3.0.23"
    python -m pip install -q psutil rich pyro-ppl rich-argparse  # the last two: pufferlib.pufferl's imports
    touch .venv/.agora-deps
fi

ruff check src tests benchmarks examples
ruff format --check src tests benchmarks examples
mypy
export AGORA_REQUIRE_OPTIONAL=1  # a missing optional integration fails its tests instead of skipping
python -m pytest --cov --cov-report=term "$@"
