"""Runs too short to train: a small dataset (100 labelled questions are 2 batches of 64) gives the recipe's 12 epochs
24 optimizer steps, and a classifier that has barely left its initialisation. `stretch_short_run` lengthens such a
run to ``min_train_steps``: every epoch of the recipe becomes k passes over the data, and everything the recipe ties
to epochs (gradual unfreezing, fastai's frozen first epoch, per-stage fits, evaluation, saving and logging) keeps its
place in the stretched run, so the run is the same recipe, only longer.
"""

import logging
import math

from transformers.trainer_utils import IntervalStrategy


logger = logging.getLogger(__name__)


def stretch_factor(args, steps_per_epoch: int) -> int:
    """How many passes over the data each of the recipe's epochs needs for the run to take ``args.min_train_steps``
    optimizer steps (1: long enough, or ended by ``max_steps``)."""
    if args.min_train_steps <= 0 or args.max_steps > 0 or steps_per_epoch <= 0:
        return 1
    steps = steps_per_epoch * args.num_train_epochs
    return max(1, math.ceil(args.min_train_steps / max(steps, 1e-9)))


def stretch_short_run(args, steps_per_epoch: int) -> int:
    """Stretch a run of ``args.num_train_epochs`` epochs of `steps_per_epoch` optimizer steps to at least
    ``args.min_train_steps`` steps (see the module docstring), changing `args` in place (the trainer's own copy:
    `UlmfitTrainer.fit_run_length`). Returns the factor."""
    factor = stretch_factor(args, steps_per_epoch)
    if factor == 1:
        return 1
    epochs = args.num_train_epochs
    args.num_train_epochs = epochs * factor
    args.unfreeze_every_epochs *= factor
    if args.freeze_all_but_top_epochs is not None:
        args.freeze_all_but_top_epochs *= factor
    if args.stage_epochs is not None:
        args.stage_epochs = [stage * factor for stage in args.stage_epochs]
    interval = steps_per_epoch * factor
    for kind in ("eval", "save", "logging"):
        if getattr(args, f"{kind}_strategy") == IntervalStrategy.EPOCH:
            setattr(args, f"{kind}_strategy", IntervalStrategy.STEPS)
            setattr(args, f"{kind}_steps", interval)
    logger.warning(
        "%g epochs of %d optimizer steps are %d steps, fewer than min_train_steps=%d: each epoch of the recipe is "
        "%d passes over the data (%g epochs, %d steps; unfreezing, evaluation and saving every %d steps). Pass "
        "--min_train_steps 0 to keep the short run.",
        epochs,
        steps_per_epoch,
        math.ceil(epochs * steps_per_epoch),
        args.min_train_steps,
        factor,
        args.num_train_epochs,
        math.ceil(args.num_train_epochs * steps_per_epoch),
        interval,
    )
    return factor
