"""Gradual unfreezing as a `TrainerCallback`.

The callback changes ``requires_grad`` at the start of training and before every optimizer step, i.e. after the
Trainer has wrapped the model in DDP: a parameter frozen before the wrap would be left out of DDP's gradient
reduction for good, and the ranks would drift apart once it is unfrozen. Frozen parameters get no gradient at all
(DDP runs with ``find_unused_parameters=True``, set by `UlmfitTrainingArguments`), so the optimizer skips them and
they stay bit-identical.

The paper unfreezes one more group per epoch. A run with fewer epochs than that needs (5 groups: 4 epochs or fewer)
ends with the bottom groups, the embedding first of all, never trained. With ``unfreeze_all_by_end``
(train-classifier's default) the callback then unfreezes at evenly spaced steps instead (`spread_unfreezing_steps`),
so that every group trains for the last part of any run; without it, it warns.

fastai's recipe (``fit_schedule="per_stage"``) trains in stages instead, each with its own trainable groups; the
callback unfreezes at the steps where the stages begin (`schedules.stage_start_steps`).
"""

import logging
import math

from transformers import TrainerCallback

from .layer_groups import NamedParameters, set_trainable_groups
from .schedules import stage_start_steps


logger = logging.getLogger(__name__)


def trainable_group_count(
    args, num_groups: int, epoch: float, global_step: int, stage_steps: list[int] | None = None
) -> int:
    """How many layer groups (from the top) train at this point of training.

    ``epoch`` is the fraction of epochs done (`TrainerState.epoch`), ``global_step`` the optimizer steps done;
    ``stage_steps``, the steps at which the next stage begins, overrides ``args.unfreeze_at_steps`` (the callback's
    spread or per-stage schedule).
    """
    stage_steps = stage_steps if stage_steps is not None else args.unfreeze_at_steps
    if args.fit_schedule == "per_stage":  # fastai's fit_one_cycle per stage, each with its own trainable groups
        return stage_trainable_groups(args, num_groups)[sum(global_step >= step for step in stage_steps or ())]
    if args.freeze_all_but_top_epochs is not None:  # fastai's LM recipe: top group only, then everything
        return 1 if epoch < args.freeze_all_but_top_epochs else num_groups
    if not args.gradual_unfreezing:
        return num_groups
    if stage_steps is not None:
        stage = sum(global_step >= step for step in stage_steps)
    else:
        stage = math.floor(epoch / args.unfreeze_every_epochs + 1e-9)  # the tolerance absorbs float epoch fractions
    return min(num_groups, 1 + stage)


def stage_trainable_groups(args, num_groups: int) -> list[int]:
    """per_stage: the groups each stage trains; by default one more per stage and all of them in the last."""
    if args.stage_trainable_groups is None:
        stages = len(args.stage_epochs)
        return [min(stage + 1, num_groups) for stage in range(stages - 1)] + [num_groups]
    if not all(1 <= count <= num_groups for count in args.stage_trainable_groups):
        raise ValueError(
            f"stage_trainable_groups {args.stage_trainable_groups}: each must be 1 to {num_groups}, "
            "the model's layer groups."
        )
    return list(args.stage_trainable_groups)


def spread_unfreezing_steps(num_groups: int, max_steps: int) -> list[int]:
    """Steps at which to unfreeze groups 2..n so that the run is cut into `num_groups` equal stages: all groups train
    for the last stage (rounded down, so even a run shorter than the group count ends with every group trained)."""
    return [stage * max_steps // num_groups for stage in range(1, num_groups)]


def epochs_in_run(args, state, train_dataloader=None) -> float:
    """How many epochs the run lasts (fractional when `max_steps` ends it mid-epoch)."""
    if args.max_steps is None or args.max_steps <= 0:
        return float(args.num_train_epochs)
    try:
        steps_per_epoch = len(train_dataloader) / args.gradient_accumulation_steps
    except TypeError:  # a loader without a length
        return float(state.num_train_epochs)
    return state.max_steps / max(steps_per_epoch, 1.0)


class GradualUnfreezingCallback(TrainerCallback):
    """Keeps only the scheduled top layer groups trainable; everything is trainable again when training ends."""

    def __init__(self, groups: list[NamedParameters]):
        self.groups = groups
        self.unfreeze_at_steps = None

    def _apply(self, args, state):
        count = trainable_group_count(
            args, len(self.groups), state.epoch or 0.0, state.global_step, self.unfreeze_at_steps
        )
        set_trainable_groups(self.groups, count)

    def on_train_begin(self, args, state, control, train_dataloader=None, **kwargs):
        if args.fit_schedule == "per_stage":
            self.unfreeze_at_steps = stage_start_steps(args.stage_epochs, state.max_steps)[1:]
        else:
            self.unfreeze_at_steps = self._spread_schedule_if_needed(args, state, train_dataloader)
        self._apply(args, state)

    def _spread_schedule_if_needed(self, args, state, train_dataloader) -> list[int] | None:
        if not args.gradual_unfreezing or args.unfreeze_at_steps is not None:
            return None
        num_groups, epochs = len(self.groups), epochs_in_run(args, state, train_dataloader)
        if (num_groups - 1) * args.unfreeze_every_epochs < epochs - 1e-9:
            return None  # the epoch schedule unfreezes everything before the run ends
        if not args.unfreeze_all_by_end:
            never = num_groups - 1 - math.floor(epochs / args.unfreeze_every_epochs - 1e-9)
            logger.warning(
                "%g epochs unfreeze one layer group every %g epoch(s): the bottom %d of %d groups never train. Pass "
                "unfreeze_all_by_end=True (or unfreeze_at_steps) to spread the unfreezing over the run.",
                epochs,
                args.unfreeze_every_epochs,
                never,
                num_groups,
            )
            return None
        steps = spread_unfreezing_steps(num_groups, state.max_steps)
        logger.info(
            "%g epochs are too few to unfreeze %d layer groups one every %g epoch(s): unfreezing one more group at "
            "steps %s of %d instead, so that every group trains for the last part of the run.",
            epochs,
            num_groups,
            args.unfreeze_every_epochs,
            steps,
            state.max_steps,
        )
        return steps

    def on_step_begin(self, args, state, control, **kwargs):
        self._apply(args, state)

    def on_train_end(self, args, state, control, **kwargs):
        set_trainable_groups(self.groups, len(self.groups))
