#!/usr/bin/env bash
# Creates .venv (if missing) and installs hf-ulmfit into it in editable mode.
# On machines without a GPU, constraints.txt pins torch to the CPU build found locally, so that pip does not pull
# several GB of CUDA wheels. A torch already present in the environment is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  export PIP_CONSTRAINT="${PIP_CONSTRAINT:-$PWD/constraints.txt}"
fi
.venv/bin/pip install -q -e ".[dev]"
