#!/usr/bin/env bash
# Lints the tree (ruff check and ruff format --check, settings in pyproject.toml), then sets up the test environments
# and runs the test suite offline, on the local datasets in ../shared/data, twice:
# with the newest releases pip finds (.venv) and with the oldest transformers the package declares (.venv-oldest,
# constraints-oldest.txt). HF_ULMFIT_TEST_OLDEST=0 skips the second run. Then a narrow third run on the newest torch
# pip installs (.venv-newest-torch; a CUDA build of about 5.5 GB, so only the model, generation, export, int8 and
# trainer test files run there; HF_ULMFIT_TEST_NEWEST_TORCH=0 skips it). Arguments go to pytest.
# Test files run on HF_ULMFIT_TEST_WORKERS processes (pytest-xdist, default 2; each file stays on one process, so
# its module fixtures are built once); 0 runs them in this process.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_ULMFIT_DATA="${HF_ULMFIT_DATA:-$PWD/../shared/data}"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# transformers 5.25 kernelizes every from_pretrained through the Hub `kernels` package; nothing here uses Hub kernels
# (tests/test_offline_load.py checks that a load makes no network call either way).
export USE_HUB_KERNELS=NO

run_suite() {
  local venv=$1
  echo "== test suite with transformers $("$venv/bin/python" -c 'import transformers; print(transformers.__version__)')"
  local workers=${HF_ULMFIT_TEST_WORKERS:-2}
  local parallel=()
  [ "$workers" = 0 ] || parallel=(-n "$workers" --dist loadfile)
  "$venv/bin/python" -m pytest "${parallel[@]}" "${@:2}"
}

bash scripts/setup.sh .venv
echo "== ruff $(.venv/bin/ruff --version)"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
run_suite .venv "$@"
if [ "${HF_ULMFIT_TEST_OLDEST:-1}" != 0 ]; then
  bash scripts/setup.sh .venv-oldest constraints-oldest.txt
  run_suite .venv-oldest "$@"
fi
if [ "${HF_ULMFIT_TEST_NEWEST_TORCH:-1}" != 0 ]; then
  [ -x .venv-newest-torch/bin/python ] || python3 -m venv .venv-newest-torch
  # No constraints: the newest torch pip installs here (constraints.txt pins the CPU build of 2.13.0 for .venv).
  .venv-newest-torch/bin/pip install -q --upgrade torch
  bash scripts/setup.sh .venv-newest-torch
  echo "== narrow leg with torch $(.venv-newest-torch/bin/python -c 'import torch; print(torch.__version__)')"
  run_suite .venv-newest-torch tests/test_modeling_awd_lstm.py tests/test_generation.py tests/test_onnx_export.py \
    tests/test_int8.py tests/test_trainer.py "$@"
fi
