"""A wall-clock budget for training (``--time_budget_minutes``): the stage measures its own step time on a copy of
the model, then sets ``max_steps`` so that the whole schedule (one-cycle ends at its last step) fits in the budget.

The budget counts the training loop from the measurement on: data loading and tokenising come before it, the final
evaluation and saving after it. Checkpoints keep the run resumable: a resumed run reads ``max_steps`` from its
checkpoint instead of measuring again, so its schedule is the interrupted run's.
"""

import copy
import json
import logging
import math
import os
import tempfile
import time

from transformers import TrainerCallback
from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_utils import IntervalStrategy, SaveStrategy


logger = logging.getLogger(__name__)

CALIBRATION_WARMUP_STEPS = 1  # the first step builds the optimizer state and warms caches: not timed
CALIBRATION_TIMED_STEPS = 4


class _StepClock(TrainerCallback):
    def __init__(self):
        self.stamps = []

    def on_train_begin(self, *_, **__):
        self.stamps.append(time.perf_counter())

    def on_step_end(self, *_, **__):
        self.stamps.append(time.perf_counter())


def measure_step_seconds(trainer, warmup: int = CALIBRATION_WARMUP_STEPS, steps: int = CALIBRATION_TIMED_STEPS):
    """Median seconds of one optimizer step of `trainer`'s run, measured by training a copy of its model for
    `warmup` + `steps` steps on its training data (the model itself, the Trainer's state and the output folder are
    left as they were)."""
    clock = _StepClock()
    with tempfile.TemporaryDirectory() as scratch:
        args = copy.copy(trainer.args)
        args.output_dir = scratch
        args.max_steps = warmup + steps
        args.time_budget_minutes, args.min_train_steps = 0, 0  # the probe trains exactly these steps
        args.save_strategy = SaveStrategy.NO
        args.eval_strategy = args.logging_strategy = IntervalStrategy.NO
        args.report_to = []
        args.disable_tqdm = True
        probe = type(trainer)(
            model=copy.deepcopy(trainer.model),
            args=args,
            train_dataset=trainer.train_dataset,
            processing_class=trainer.processing_class,
            callbacks=[clock],
        )
        probe.train()
    timed = sorted(after - before for before, after in zip(clock.stamps[warmup:], clock.stamps[warmup + 1 :]))
    return timed[len(timed) // 2]


def steps_in_budget(budget_seconds: float, step_seconds: float, spent_seconds: float = 0.0) -> int:
    """Optimizer steps of `step_seconds` that fit in what is left of the budget (at least 1)."""
    return max(1, math.floor((budget_seconds - spent_seconds) / step_seconds))


def checkpoint_max_steps(checkpoint: str | os.PathLike) -> int:
    """The ``max_steps`` an interrupted run recorded in its checkpoint's ``trainer_state.json``."""
    with open(os.path.join(checkpoint, TRAINER_STATE_NAME)) as state_file:
        return int(json.load(state_file)["max_steps"])


def fit_run_to_budget(trainer, resume_from: str | None = None) -> int:
    """Set ``trainer.args.max_steps`` (the trainer's own copy of the arguments: `UlmfitTrainer.fit_run_length`) so the
    run ends inside ``--time_budget_minutes`` (see the module docstring):
    from the checkpoint a resumed run continues, else by measuring the step time. Returns the steps."""
    args = trainer.args
    if resume_from:
        args.max_steps = checkpoint_max_steps(resume_from)
        logger.info("time budget: the resumed run keeps its %d steps (from %s)", args.max_steps, resume_from)
        return args.max_steps
    budget = args.time_budget_minutes * 60
    start = time.perf_counter()
    step_seconds = measure_step_seconds(trainer)
    spent = time.perf_counter() - start
    args.max_steps = steps_in_budget(budget, step_seconds, spent)
    logger.info(
        "time budget %g min: a step takes %.3g s (median of %d, measured in %.0f s), so the run trains %d steps "
        "of %d rows and its schedule ends inside the budget",
        args.time_budget_minutes,
        step_seconds,
        CALIBRATION_TIMED_STEPS,
        spent,
        args.max_steps,
        args.per_device_train_batch_size * args.world_size,
    )
    return args.max_steps
