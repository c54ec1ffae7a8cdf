#!/usr/bin/env bash
# Creates a virtual environment (default .venv) if missing and installs hf-ulmfit into it in editable mode.
#   bash scripts/setup.sh [VENV_DIR] [CONSTRAINTS_FILE]
# On machines without a GPU, constraints.txt pins torch to the CPU build found locally, so that pip does not pull
# several GB of CUDA wheels. A torch already present in the environment is left alone. CONSTRAINTS_FILE (e.g.
# constraints-oldest.txt) pins further versions.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-.venv}
PYTHON=${PYTHON:-python3}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
constraints=()
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  constraints+=(-c "${PIP_CONSTRAINT:-$PWD/constraints.txt}")
fi
if [ -n "${2:-}" ]; then
  constraints+=(-c "$2")
fi
"$VENV/bin/pip" install -q "${constraints[@]}" -e ".[dev]"
