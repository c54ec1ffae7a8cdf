"""Which layer groups train when, and at what share of the peak learning rate: one plan per run.

Every way of saying it compiles, once, when training starts, to a `StagePlan`: a list of `Stage(start_step,
trainable_groups, lr_scale)` and whether the learning-rate schedule restarts at each stage. The unfreezing callback
reads the plan's trainable groups at each step, the scheduler its stage starts and scales. The flags are sugar:

- no freezing: one stage, every group;
- the paper's gradual unfreezing: one more group every ``unfreeze_every_epochs`` epochs, or at ``unfreeze_at_steps``;
  a run too short to reach every group that way (5 groups: 4 epochs or fewer) is cut into equal stages instead
  (``unfreeze_all_by_end``, train-classifier's default), so that every group trains for the last part of any run;
- fastai's language-model recipe (``freeze_all_but_top_epochs``): the top group, then everything;
- fastai's repeated ``fit_one_cycle`` (``fit_schedule="per_stage"``): stages of ``stage_epochs``, each with its own
  ``stage_trainable_groups`` and ``stage_learning_rates``, the schedule one cycle per stage.

Epochs become optimizer steps the way the Trainer counts them (`TrainerState.epoch` after each step), so a stage
begins at the step where the Trainer's epoch reaches it, also in a run that `max_steps` ends mid-epoch.
"""

import logging
import math
from dataclasses import dataclass


logger = logging.getLogger(__name__)

# Float epochs (k x 0.1 ...) reach a whole number a hair below it.
EPOCH_TOLERANCE = 1e-9


def stage_containing(step: int, start_steps) -> int:
    """The stage optimizer step `step` (steps done) is in, given the steps where the stages start; of stages starting
    at the same step, the last (an empty stage is skipped)."""
    return sum(step >= start for start in start_steps[1:])


@dataclass(frozen=True)
class Stage:
    start_step: int  # the optimizer steps done when it begins
    trainable_groups: int  # how many layer groups, from the top, train
    lr_scale: float = 1.0  # its peak learning rates, as a share of the groups' peaks


@dataclass(frozen=True)
class StagePlan:
    stages: tuple[Stage, ...]
    restarts_schedule: bool = False  # one learning-rate cycle per stage (fastai's fit_one_cycle per stage)

    def stage_index(self, step: int) -> int:
        return stage_containing(step, self.start_steps)

    def trainable_groups(self, step: int) -> int:
        return self.stages[self.stage_index(step)].trainable_groups

    @property
    def start_steps(self) -> tuple[int, ...]:
        return tuple(stage.start_step for stage in self.stages)

    @property
    def lr_scales(self) -> tuple[float, ...]:
        return tuple(stage.lr_scale for stage in self.stages)


@dataclass(frozen=True)
class RunSteps:
    """How the Trainer counts a run: its optimizer steps, the batches of one epoch and the batches per step."""

    max_steps: int
    batches_per_epoch: int
    accumulation: int = 1

    @property
    def steps_per_epoch(self) -> int:
        return max(math.ceil(self.batches_per_epoch / self.accumulation), 1)

    @classmethod
    def planned(cls, args, batches_per_epoch: int) -> "RunSteps":
        """The run `args` ask for over a loader of `batches_per_epoch` batches, before the Trainer counts it."""
        run = cls(1, batches_per_epoch, args.gradient_accumulation_steps)
        max_steps = args.max_steps if args.max_steps > 0 else math.ceil(args.num_train_epochs * run.steps_per_epoch)
        return cls(max(max_steps, 1), batches_per_epoch, args.gradient_accumulation_steps)

    @property
    def epochs(self) -> float:
        return self.max_steps / self.steps_per_epoch

    def first_step_at_epoch(self, epoch: float) -> int:
        """The first step count at which the Trainer's epoch (whole epochs plus the share of this one's batches
        read) reaches `epoch`."""
        whole = math.floor(epoch + EPOCH_TOLERANCE)
        share = epoch - whole
        if share <= EPOCH_TOLERANCE:
            return whole * self.steps_per_epoch
        steps_into_epoch = math.ceil(share * self.batches_per_epoch / self.accumulation - EPOCH_TOLERANCE)
        return whole * self.steps_per_epoch + min(steps_into_epoch, self.steps_per_epoch)


def stage_start_steps(stage_epochs: list[float], num_training_steps: int) -> list[int]:
    """The optimizer step at which each stage begins (0 first) when a run of `num_training_steps` is cut into stages
    of `stage_epochs` epochs (rounded to whole steps)."""
    total, starts, done = sum(stage_epochs), [], 0.0
    for epochs in stage_epochs:
        starts.append(round(num_training_steps * done / total))
        done += epochs
    return starts


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


def one_more_group_at(steps: list[int], num_groups: int) -> StagePlan:
    """The top group first, then one more group at each of `steps` (never more than the model has)."""
    counts = [min(num_groups, 1 + stage) for stage in range(len(steps) + 1)]
    return StagePlan(tuple(Stage(start, count) for start, count in zip([0, *steps], counts)))


def gradual_unfreezing_steps(args, num_groups: int, run: RunSteps) -> list[int]:
    """Gradual unfreezing: the steps at which the next group is unfrozen (see the module docstring)."""
    if args.unfreeze_at_steps is not None:
        return list(args.unfreeze_at_steps)
    epochs = run.epochs if args.max_steps > 0 else float(args.num_train_epochs)
    by_epoch = [run.first_step_at_epoch(stage * args.unfreeze_every_epochs) for stage in range(1, num_groups)]
    if (num_groups - 1) * args.unfreeze_every_epochs < epochs - EPOCH_TOLERANCE:
        return by_epoch
    if args.unfreeze_all_by_end:
        steps = spread_unfreezing_steps(num_groups, run.max_steps)
        logger.info(
            "%g epochs are too few to unfreeze %d layer groups one every %g epoch(s): unfreezing one more group at "
            "steps %s of %d instead, so that every group trains for the last part of the run.",
            epochs,
            num_groups,
            args.unfreeze_every_epochs,
            steps,
            run.max_steps,
        )
        return steps
    never = num_groups - 1 - math.floor(epochs / args.unfreeze_every_epochs - EPOCH_TOLERANCE)
    logger.warning(
        "%g epochs unfreeze one layer group every %g epoch(s): the bottom %d of %d groups never train. Pass "
        "unfreeze_all_by_end=True (or unfreeze_at_steps) to spread the unfreezing over the run.",
        epochs,
        args.unfreeze_every_epochs,
        never,
        num_groups,
    )
    return by_epoch


def compile_stage_plan(args, num_groups: int, run: RunSteps) -> StagePlan:
    """The run's `StagePlan` from its `UlmfitTrainingArguments` (see the module docstring)."""
    if args.fit_schedule == "per_stage":
        starts = stage_start_steps(args.stage_epochs, run.max_steps)
        groups = stage_trainable_groups(args, num_groups)
        stages = tuple(map(Stage, starts, groups, args.stage_scales()))
        return StagePlan(stages, restarts_schedule=True)
    if args.freeze_all_but_top_epochs is not None:
        top_only_until = run.first_step_at_epoch(args.freeze_all_but_top_epochs)
        return StagePlan((Stage(0, 1), Stage(top_only_until, num_groups)))
    if args.gradual_unfreezing:
        return one_more_group_at(gradual_unfreezing_steps(args, num_groups, run), num_groups)
    return StagePlan((Stage(0, num_groups),))
