"""Thin entry point: `python scripts/run_hf_ulmfit.py SUBCOMMAND ...` equals `hf-ulmfit SUBCOMMAND ...`, and is
what `accelerate launch` and `torchrun` start once per process (see scripts/train_distributed.sh). It is not named
hf_ulmfit.py, which would shadow the package."""

import sys

from hf_ulmfit.cli.main import main


if __name__ == "__main__":
    sys.exit(main())
