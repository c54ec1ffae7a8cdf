"""Gradual unfreezing as a `TrainerCallback`: the run's `StagePlan` (stage_plan.py) applied to the layer groups.

The callback changes ``requires_grad`` at the start of training and before every optimizer step, i.e. after the
Trainer has wrapped the model in DDP: a parameter frozen before the wrap would be left out of DDP's gradient
reduction for good, and the ranks would drift apart once it is unfrozen. Frozen parameters get no gradient at all
(DDP runs with ``find_unused_parameters=True``, set by `UlmfitTrainingArguments`), so the optimizer skips them and
they stay bit-identical.
"""

from transformers import TrainerCallback

from .layer_groups import set_trainable_groups


class GradualUnfreezingCallback(TrainerCallback):
    """Keeps the layer groups of the trainer's stage plan trainable; all of them are trainable when training ends."""

    def __init__(self, trainer):
        self.trainer = trainer

    def _apply(self, state) -> None:
        set_trainable_groups(self.trainer.layer_groups, self.trainer.stage_plan.trainable_groups(state.global_step))

    def on_train_begin(self, args, state, control, **kwargs):
        self._apply(state)

    def on_step_begin(self, args, state, control, **kwargs):
        self._apply(state)

    def on_train_end(self, args, state, control, **kwargs):
        set_trainable_groups(self.trainer.layer_groups, len(self.trainer.layer_groups))
