#!/usr/bin/env bash
# Benchmarks hf-ulmfit side by side with fastai 2.8 and writes benchmarks/RESULTS.md (+ benchmarks/plots/*.png).
#
#   bash benchmarks/run.sh            # full mode (long on a 2-core CPU: about an hour or more)
#   bash benchmarks/run.sh --quick    # few steps, small slices
#   bash benchmarks/run.sh --only lm_throughput classify   # a subset (names: matmul_peak lm_throughput classify
#                                                          #   generate memory tokenize accuracy)
#
# Sets up what it needs: the project venv (.venv, scripts/setup.sh) and fastai in its own venv (.fastai-venv,
# scripts/setup_fastai_env.sh); both are left alone when already installed. Reads data from ../shared/data (or
# $HF_ULMFIT_DATA); works offline. Not part of the test suite. Intermediate files go to benchmarks/.work/ (ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! .venv/bin/python -c "import hf_ulmfit, matplotlib" 2>/dev/null; then bash scripts/setup.sh; fi
bash scripts/setup_fastai_env.sh
export HF_ULMFIT_DATA="${HF_ULMFIT_DATA:-$(cd .. && pwd)/shared/data}"
.venv/bin/python -m benchmarks.run_all "$@"
.venv/bin/python -m benchmarks.report
