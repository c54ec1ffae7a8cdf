"""Learning-rate schedules of ULMFiT: slanted triangular (the paper) and one-cycle with momentum cycling (fastai).

Both are `LambdaLR`s: each optimizer group's peak learning rate is its `initial_lr`, and a schedule is one multiplier
of the step, shared by all groups, so discriminative learning rates keep their ratios at every step. The Trainer
calls `scheduler.step()` after every optimizer step, so update `t` (from 0) runs at `peak * multiplier(t)`.

A run is one cycle (the paper), or one cycle per stage (fastai's repeated `fit_one_cycle`): `stage_starts` are the
steps where the stages begin, and each stage's cycle runs at its `stage_scales` share of the peak (the run's
`StagePlan`, stage_plan.py).
"""

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from .stage_plan import stage_containing


def slanted_triangular_multiplier(
    step: int, num_training_steps: int, cut_frac: float = 0.1, ratio: float = 32
) -> float:
    """STLR (Howard & Ruder 2018, eq. 3): a linear rise over the first `cut_frac` of the steps, then a linear decay
    `ratio` times longer; the multiplier goes from 1/ratio up to 1 at step `cut` and back down to 1/ratio."""
    cut = max(1, math.floor(num_training_steps * cut_frac))
    if step < cut:
        p = step / cut
    else:
        p = max(0.0, 1 - (step - cut) / (cut * (1 / cut_frac - 1)))
    return (1 + p * (ratio - 1)) / ratio


def stage_position(step: int, stage_starts: list[int], num_training_steps: int) -> tuple[int, int, int]:
    """(stage, step within it, the stage's length in steps) of optimizer step `step`."""
    stage = stage_containing(step, stage_starts)
    end = stage_starts[stage + 1] if stage + 1 < len(stage_starts) else num_training_steps
    return stage, step - stage_starts[stage], max(1, end - stage_starts[stage])


def _cosine(start: float, end: float, fraction: float) -> float:
    """Cosine annealing from `start` (fraction 0) to `end` (fraction 1)."""
    return end + (start - end) / 2 * (1 + math.cos(math.pi * fraction))


def _one_cycle_phase(step: int, num_training_steps: int, pct_start: float) -> tuple[int, float]:
    """(phase, fraction of it done): phase 0 warms up for `pct_start` of the steps, phase 1 anneals."""
    warmup = pct_start * num_training_steps
    if step < warmup:
        return 0, step / warmup
    return 1, min(1.0, (step - warmup) / max(1.0, num_training_steps - warmup))


def one_cycle_multiplier(
    step: int,
    num_training_steps: int,
    pct_start: float = 0.25,
    div_factor: float = 25.0,
    final_div_factor: float = 1e5,
) -> float:
    """fastai's one-cycle: cosine from peak/div_factor up to the peak, then cosine down to peak/final_div_factor."""
    phase, fraction = _one_cycle_phase(step, num_training_steps, pct_start)
    if phase == 0:
        return _cosine(1 / div_factor, 1.0, fraction)
    return _cosine(1.0, 1 / final_div_factor, fraction)


def one_cycle_momentum(
    step: int,
    num_training_steps: int,
    pct_start: float = 0.25,
    momentums: tuple[float, float, float] = (0.8, 0.7, 0.8),
) -> float:
    """Adam's beta1 over the cycle: cosine from momentums[0] down to [1] while the learning rate rises, back to [2]."""
    phase, fraction = _one_cycle_phase(step, num_training_steps, pct_start)
    return _cosine(momentums[phase], momentums[phase + 1], fraction)


def slanted_triangular_schedule(
    optimizer: Optimizer,
    num_training_steps: int,
    cut_frac: float = 0.1,
    ratio: float = 32,
    stage_starts: tuple[int, ...] = (0,),
    stage_scales: tuple[float, ...] = (1.0,),
) -> LambdaLR:
    """The slanted triangular learning rate over `num_training_steps` optimizer updates (one per stage)."""

    def multiplier(step: int) -> float:
        stage, step_in_stage, stage_steps = stage_position(step, stage_starts, num_training_steps)
        return stage_scales[stage] * slanted_triangular_multiplier(step_in_stage, stage_steps, cut_frac, ratio)

    return LambdaLR(optimizer, multiplier)


class OneCycleSchedule(LambdaLR):
    """One-cycle learning rate with Adam's beta1 cycled the other way (fastai's `fit_one_cycle`).

    Momentum goes into every group's ``betas[0]`` after each step; it is saved with the optimizer's state, and the
    scheduler's own state is plain numbers, so a checkpoint loads with ``torch.load(weights_only=True)``.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        num_training_steps: int,
        pct_start: float = 0.25,
        div_factor: float = 25.0,
        final_div_factor: float = 1e5,
        momentums: tuple[float, float, float] = (0.8, 0.7, 0.8),
        stage_starts: tuple[int, ...] = (0,),
        stage_scales: tuple[float, ...] = (1.0,),
    ):
        self.num_training_steps, self.pct_start, self.momentums = num_training_steps, pct_start, tuple(momentums)
        self.stage_starts = list(stage_starts)

        def multiplier(step: int) -> float:
            stage, step_in_stage, stage_steps = stage_position(step, self.stage_starts, num_training_steps)
            return stage_scales[stage] * one_cycle_multiplier(
                step_in_stage, stage_steps, pct_start, div_factor, final_div_factor
            )

        super().__init__(optimizer, multiplier)

    def step(self, epoch=None):
        super().step(epoch)
        _, step_in_stage, stage_steps = stage_position(self.last_epoch, self.stage_starts, self.num_training_steps)
        beta1 = one_cycle_momentum(step_in_stage, stage_steps, self.pct_start, self.momentums)
        for group in self.optimizer.param_groups:
            group["betas"] = (beta1, *group["betas"][1:])


def one_cycle_schedule(optimizer: Optimizer, num_training_steps: int, **kwargs) -> OneCycleSchedule:
    """fastai's one-cycle policy (learning rate and momentum) over `num_training_steps` optimizer updates."""
    return OneCycleSchedule(optimizer, num_training_steps, **kwargs)
