"""`hf-ulmfit` that kills itself with SIGKILL at a chosen point, for the resume tests (tests/test_resume.py).

    python tests/killed_run.py step:N SUBCOMMAND --flags...   killed while training step N (after step N-1 ended)
    python tests/killed_run.py save:N SUBCOMMAND --flags...   killed while saving checkpoint-N, before the Trainer
                                                              writes its trainer_state.json (weights already written)

SIGKILL cannot be caught: nothing in the process runs after it, as when a machine's job is killed.
"""

import os
import signal
import sys

from transformers.trainer_callback import TrainerState

from hf_ulmfit.cli.main import main
from hf_ulmfit.training import UlmfitTrainer


def kill_while_training_step(step: int) -> None:
    training_step = UlmfitTrainer.training_step

    def training_step_then_kill(self, *args, **kwargs):
        if self.state.global_step + 1 == step:
            os.kill(os.getpid(), signal.SIGKILL)
        return training_step(self, *args, **kwargs)

    UlmfitTrainer.training_step = training_step_then_kill


def kill_while_saving(step: int) -> None:
    save_to_json = TrainerState.save_to_json

    def kill_before_the_state_of(self, json_path):
        if self.global_step == step:
            os.kill(os.getpid(), signal.SIGKILL)
        return save_to_json(self, json_path)

    TrainerState.save_to_json = kill_before_the_state_of


if __name__ == "__main__":
    point, step = sys.argv[1].split(":")
    {"step": kill_while_training_step, "save": kill_while_saving}[point](int(step))
    sys.exit(main(sys.argv[2:]))
