#!/usr/bin/env bash
# Sets up .venv and runs the test suite on the local datasets in ../shared/data (offline).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_ULMFIT_DATA="${HF_ULMFIT_DATA:-$PWD/../shared/data}"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/python -m pytest "$@"
