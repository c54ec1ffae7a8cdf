#!/usr/bin/env bash
# Multi-process ULMFiT training: the same command runs once per process; UlmfitTrainer (a transformers Trainer) does
# the DDP wrap, each rank reads its own rows of the LM stream, and gradual unfreezing freezes after the wrap.
#
#   GPUs:  bash scripts/train_distributed.sh 4 train-classifier --model_name_or_path runs/imdb-lm --dataset imdb --output_dir runs/clas
#   CPU:   CPU=1 bash scripts/train_distributed.sh 2 train-classifier ...   (gloo; two real processes)
#
# Relative paths in the arguments are the caller's: the script runs in the folder it is called from. It uses the
# repository's .venv when there is one, else the `accelerate` on PATH.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
usage="usage: [CPU=1] bash scripts/train_distributed.sh PROCESSES SUBCOMMAND [--flags] (e.g. 2 train-classifier ...)"
if [ $# -lt 2 ] || ! [[ "$1" =~ ^[1-9][0-9]*$ ]]; then
  echo "$usage" >&2
  echo "train_distributed.sh: error: give a number of processes (1 or more), then an hf-ulmfit subcommand." >&2
  exit 2
fi
processes="$1"; shift
if [ "$processes" = 1 ]; then  # one process needs no launcher (accelerate's --multi_gpu wants two or more)
  python="$repo/.venv/bin/python"
  [ -x "$python" ] || python="$(command -v python3)"
  if [ "${CPU:-0}" = 1 ]; then
    exec "$python" "$repo/scripts/run_hf_ulmfit.py" "$@" --use_cpu true
  fi
  exec "$python" "$repo/scripts/run_hf_ulmfit.py" "$@"
fi
accelerate="$repo/.venv/bin/accelerate"
[ -x "$accelerate" ] || accelerate="$(command -v accelerate)"
if [ "${CPU:-0}" = 1 ]; then
  # `accelerate launch --cpu` starts a single process; --multi_gpu with ACCELERATE_USE_CPU starts real CPU ranks.
  export ACCELERATE_USE_CPU=1 OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
  exec "$accelerate" launch --multi_gpu --num_processes "$processes" "$repo/scripts/run_hf_ulmfit.py" "$@" --use_cpu true
fi
exec "$accelerate" launch --multi_gpu --num_processes "$processes" "$repo/scripts/run_hf_ulmfit.py" "$@"
