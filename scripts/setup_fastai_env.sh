#!/usr/bin/env bash
# Creates .fastai-venv: fastai 2.8.12 (with spaCy 3.8) as a peer for benchmarks and for regenerating the converter's
# reference fixtures (tests/fixtures/fastai/). The project itself never imports fastai; its tests only read the
# committed fixtures.
#
# Order matters on machines without CUDA: torch is installed first, pinned by constraints.txt to the local CPU build,
# and every later install uses the same constraints so pip cannot swap it for a multi-GB CUDA build. fastai pulls a
# torchvision wheel built for CUDA that breaks imports; fastai.text never needs it, so it is removed.
# fastai's default SpacyTokenizer uses spacy.blank("en"), which needs no downloaded language model.
#
# Idempotent: an environment that already imports fastai at the pinned version is left alone.
# Override FASTAI_VENV (default: .fastai-venv) or FASTAI_VERSION (default: 2.8.12) if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
FASTAI_VENV=${FASTAI_VENV:-.fastai-venv}
FASTAI_VERSION=${FASTAI_VERSION:-2.8.12}
CONSTRAINTS="${PIP_CONSTRAINT:-$PWD/constraints.txt}"

if [ -x "$FASTAI_VENV/bin/python" ] && \
   "$FASTAI_VENV/bin/python" -c "import fastai, sys; sys.exit(fastai.__version__ != '$FASTAI_VERSION')" 2>/dev/null; then
  echo "$FASTAI_VENV already has fastai $FASTAI_VERSION"
  exit 0
fi

[ -x "$FASTAI_VENV/bin/python" ] || "$PYTHON" -m venv "$FASTAI_VENV"
PIP="$FASTAI_VENV/bin/python -m pip"
$PIP install -q --upgrade pip
$PIP install -q -c "$CONSTRAINTS" torch
$PIP install -q -c "$CONSTRAINTS" "fastai==$FASTAI_VERSION" safetensors pyarrow pandas
$PIP uninstall -y -q torchvision || true
"$FASTAI_VENV/bin/python" -c "import fastai, torch, spacy; from fastai.text.all import AWD_LSTM; \
print('fastai', fastai.__version__, 'torch', torch.__version__, 'spacy', spacy.__version__)"
