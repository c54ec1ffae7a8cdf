#!/usr/bin/env bash
# Multi-process ULMFiT training: the same command runs once per process; UlmfitTrainer (a transformers Trainer) does
# the DDP wrap, each rank reads its own rows of the LM stream, and gradual unfreezing freezes after the wrap.
#
#   GPUs:  bash scripts/train_distributed.sh 4 train-classifier --model_name_or_path runs/imdb-lm --dataset imdb --output_dir runs/clas
#   CPU:   CPU=1 bash scripts/train_distributed.sh 2 train-classifier ...   (gloo; two real processes)
#   Several machines: the same command on each, N processes per machine, with
#          NNODES=2 RDZV_ENDPOINT=host0:29400 [NODE_RANK=0|1] [RDZV_ID=job-name] bash scripts/train_distributed.sh N ...
#          (torchrun's c10d rendezvous: the machines meet at RDZV_ENDPOINT, which the first machine serves; the
#          ranks follow NODE_RANK, else the order of arrival). DRY_RUN=1 prints the launch command instead.
#
# Relative paths in the arguments are the caller's: the script runs in the folder it is called from. It uses the
# repository's .venv when there is one, else the `accelerate` / `torchrun` / `python3` on PATH.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
usage="usage: [CPU=1] [NNODES=N RDZV_ENDPOINT=host:port] bash scripts/train_distributed.sh PROCESSES SUBCOMMAND [--flags]"
if [ $# -lt 2 ] || ! [[ "$1" =~ ^[1-9][0-9]*$ ]]; then
  echo "$usage" >&2
  echo "train_distributed.sh: error: give a number of processes (1 or more), then an hf-ulmfit subcommand." >&2
  exit 2
fi
processes="$1"; shift
nodes="${NNODES:-1}"
if ! [[ "$nodes" =~ ^[1-9][0-9]*$ ]]; then
  echo "train_distributed.sh: error: NNODES must be a number of machines (1 or more), got '$nodes'." >&2
  exit 2
fi
bin="$repo/.venv/bin"
extra=()
if [ "${CPU:-0}" = 1 ]; then
  # `accelerate launch --cpu` starts a single process; --multi_gpu with ACCELERATE_USE_CPU starts real CPU ranks.
  export ACCELERATE_USE_CPU=1 OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
  extra=(--use_cpu true)
fi
if [ "$nodes" -gt 1 ]; then
  : "${RDZV_ENDPOINT:?NNODES>1 needs RDZV_ENDPOINT=host:port, where the machines meet}"
  torchrun="$bin/torchrun"; [ -x "$torchrun" ] || torchrun="$(command -v torchrun)"
  launch=("$torchrun" --nnodes "$nodes" --nproc_per_node "$processes" --rdzv_backend c10d
          --rdzv_endpoint "$RDZV_ENDPOINT" --rdzv_id "${RDZV_ID:-hf-ulmfit}")
  if [ -n "${NODE_RANK:-}" ]; then launch+=(--node_rank "$NODE_RANK"); fi
elif [ "$processes" = 1 ]; then  # one process needs no launcher (accelerate's --multi_gpu wants two or more)
  python="$bin/python"; [ -x "$python" ] || python="$(command -v python3)"
  launch=("$python")
else
  accelerate="$bin/accelerate"; [ -x "$accelerate" ] || accelerate="$(command -v accelerate)"
  launch=("$accelerate" launch --multi_gpu --num_processes "$processes")
fi
command=("${launch[@]}" "$repo/scripts/run_hf_ulmfit.py" "$@" "${extra[@]}")
if [ "${DRY_RUN:-0}" = 1 ]; then
  echo "${command[@]}"
  exit 0
fi
exec "${command[@]}"
