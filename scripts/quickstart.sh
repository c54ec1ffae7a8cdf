#!/usr/bin/env bash
# The README's main job: set up .venv, then run the three ULMFiT stages on TREC-6 with a small model on CPU
# (pretraining on a slice of ../shared/data/wikipedia) and compare with the same classifier without pretraining.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_ULMFIT_DATA="${HF_ULMFIT_DATA:-$PWD/../shared/data}"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# transformers 5.25 kernelizes every from_pretrained through the Hub `kernels` package; nothing here uses Hub kernels
# (tests/test_offline_load.py checks that a load makes no network call either way).
export USE_HUB_KERNELS=NO
# OpenMP threads that sleep rather than spin: an LSTM synchronises its threads at every time step, and spinning
# threads collapse when anything else shares the cores.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
exec .venv/bin/hf-ulmfit quickstart "$@"
