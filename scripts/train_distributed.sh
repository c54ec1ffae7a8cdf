#!/usr/bin/env bash
# Multi-process ULMFiT training: the same command runs once per process; UlmfitTrainer (a transformers Trainer) does
# the DDP wrap, each rank reads its own rows of the LM stream, and gradual unfreezing freezes after the wrap.
#
#   GPUs:  bash scripts/train_distributed.sh 4 train-classifier --model_name_or_path runs/imdb-lm --dataset imdb --output_dir runs/clas
#   CPU:   CPU=1 bash scripts/train_distributed.sh 2 train-classifier ...   (gloo; two real processes)
set -euo pipefail
cd "$(dirname "$0")/.."
processes="$1"; shift
if [ "${CPU:-0}" = 1 ]; then
  # `accelerate launch --cpu` starts a single process; --multi_gpu with ACCELERATE_USE_CPU starts real CPU ranks.
  export ACCELERATE_USE_CPU=1 OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
  exec .venv/bin/accelerate launch --multi_gpu --num_processes "$processes" scripts/run_hf_ulmfit.py "$@" --use_cpu true
fi
exec .venv/bin/accelerate launch --multi_gpu --num_processes "$processes" scripts/run_hf_ulmfit.py "$@"
