"""Gradual unfreezing as a `TrainerCallback`.

The callback changes ``requires_grad`` at the start of training and before every optimizer step, i.e. after the
Trainer has wrapped the model in DDP: a parameter frozen before the wrap would be left out of DDP's gradient
reduction for good, and the ranks would drift apart once it is unfrozen. Frozen parameters get no gradient at all
(DDP runs with ``find_unused_parameters=True``, set by `UlmfitTrainingArguments`), so the optimizer skips them and
they stay bit-identical.
"""

import math

from transformers import TrainerCallback

from .layer_groups import NamedParameters, set_trainable_groups


def trainable_group_count(args, num_groups: int, epoch: float, global_step: int) -> int:
    """How many layer groups (from the top) train at this point of training.

    ``epoch`` is the fraction of epochs done (`TrainerState.epoch`), ``global_step`` the optimizer steps done.
    """
    if args.freeze_all_but_top_epochs is not None:  # fastai's LM recipe: top group only, then everything
        return 1 if epoch < args.freeze_all_but_top_epochs else num_groups
    if not args.gradual_unfreezing:
        return num_groups
    if args.unfreeze_at_steps is not None:
        stage = sum(global_step >= step for step in args.unfreeze_at_steps)
    else:
        stage = math.floor(epoch / args.unfreeze_every_epochs + 1e-9)  # the tolerance absorbs float epoch fractions
    return min(num_groups, 1 + stage)


class GradualUnfreezingCallback(TrainerCallback):
    """Keeps only the scheduled top layer groups trainable; everything is trainable again when training ends."""

    def __init__(self, groups: list[NamedParameters]):
        self.groups = groups

    def _apply(self, args, state):
        set_trainable_groups(self.groups, trainable_group_count(args, len(self.groups), state.epoch or 0.0, state.global_step))

    def on_train_begin(self, args, state, control, **kwargs):
        self._apply(args, state)

    def on_step_begin(self, args, state, control, **kwargs):
        self._apply(args, state)

    def on_train_end(self, args, state, control, **kwargs):
        set_trainable_groups(self.groups, len(self.groups))
