"""`UlmfitTrainer`: transformers' `Trainer` with ULMFiT's fine-tuning recipe, shared by the two trainers that use it.

What it adds, each in one obvious place:

- discriminative learning rates: one optimizer group per layer group (`create_optimizer`);
- slanted triangular or one-cycle schedules, over the whole run or one per stage (`create_scheduler`);
- gradual unfreezing (`GradualUnfreezingCallback`, which freezes after the DDP wrap);
- the run's length: a wall-clock budget (``time_budget_minutes``) or a floor (``min_train_steps``), fitted as
  `train` starts, so that the same arguments give the same run from Python and from the stages;
- checkpoints that count only when complete: a run resumes from the newest complete one (see `checkpoints.py`);
- a stop at the first non-finite loss or weight (`TrainingDivergedError`), so a diverged run saves nothing;
- tail weight averaging (``average_weights_fraction``, `TailWeightAverage`): the run ends with its weights' mean over
  its last steps.

What differs between models lives in the two subclasses, as fastai pairs `TextLearner` with `LMLearner`:
`ClassifierTrainer` (classifier_trainer.py: length-grouped padded batches, accuracy + macro-F1) and
`LanguageModelTrainer` (language_model_trainer.py: contiguous streams with the recurrent state carried across
batches, AR/TAR, loss/perplexity/accuracy evaluation, the state saved with every checkpoint).

Everything else (loops, gradient accumulation, clipping, bf16 autocast, DDP, checkpoints) is the Trainer's own, so the
same code runs on one CPU, one GPU or several processes launched by torchrun / accelerate.
"""

import copy
import dataclasses
import math
import os
import shutil

import torch
from transformers import Trainer, TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from .arguments import UlmfitTrainingArguments
from .checkpoints import last_complete_checkpoint, missing_checkpoint_files
from .layer_groups import discriminative_learning_rates, layer_groups
from .run_length import stretch_short_run
from .schedules import one_cycle_schedule, slanted_triangular_schedule
from .stage_plan import RunSteps, StagePlan, compile_stage_plan
from .time_budget import fit_run_to_budget
from .unfreezing import GradualUnfreezingCallback
from .weight_averaging import AVERAGED_WEIGHTS_FILE, TailWeightAverage


class TrainingDivergedError(ValueError):
    """The loss or the weights became NaN or infinite: training stops, and nothing from then on is saved."""


class UlmfitTrainer(Trainer):
    """The ULMFiT recipe for an AWD-LSTM; train with its subclass for the model, `ClassifierTrainer` or
    `LanguageModelTrainer`."""

    model_class = None  # the model this trainer trains, set by each subclass
    default_compute_metrics = None  # what evaluation reports when no `compute_metrics` is given
    # Our loss is a mean over each micro-batch; the Trainer divides it by the gradient accumulation steps.
    loss_is_scaled_for_ga = False

    def __init__(
        self,
        model=None,
        args: UlmfitTrainingArguments = None,
        data_collator=None,
        train_dataset=None,
        eval_dataset=None,
        processing_class=None,
        compute_metrics=None,
        callbacks=None,
        **kwargs,
    ):
        if self.model_class is None:
            raise TypeError(
                "UlmfitTrainer is the shared base: train a classifier with ClassifierTrainer and a "
                "language model with LanguageModelTrainer."
            )
        if not isinstance(args, UlmfitTrainingArguments):
            raise TypeError(f"{type(self).__name__} needs UlmfitTrainingArguments, got {type(args).__name__}.")
        if args.label_smoothing_factor is None:  # unset and no stage decided: no smoothing
            args = dataclasses.replace(args, label_smoothing_factor=0.0)
        if not isinstance(model, self.model_class):
            raise TypeError(
                f"{type(self).__name__} trains an {self.model_class.__name__}, got {type(model).__name__} "
                "(ClassifierTrainer trains classifiers, LanguageModelTrainer language models)."
            )
        if data_collator is None:
            data_collator = self.default_data_collator(processing_class)
        super().__init__(
            model=model,
            args=args,
            data_collator=data_collator,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            processing_class=processing_class,
            compute_metrics=compute_metrics or self.default_compute_metrics,
            callbacks=callbacks,
            **kwargs,
        )
        self.layer_groups = layer_groups(model)
        self.run_length_fitted = False
        self.stage_plan: StagePlan | None = None  # compiled when the Trainer has counted the run's steps
        if args.uses_freezing:
            self.add_callback(GradualUnfreezingCallback(self))
        self.add_callback(EpochStartCallback(self))
        self.weight_average = None
        if args.average_weights_fraction > 0:
            self.weight_average = TailWeightAverage(model, args.average_weights_fraction)
            self.add_callback(self.weight_average)

    def default_data_collator(self, processing_class):
        """The collator used when none is given (None: the Trainer's own choice)."""
        return None

    def begin_epoch(self, epochs_done: float) -> None:
        """Called as each epoch starts; `epochs_done` is fractional when a run resumes in the middle of one."""

    # ---- Optimizer and schedule -------------------------------------------------------------------------------------

    def group_learning_rates(self) -> list[float]:
        """Peak learning rate of each layer group, bottom to top."""
        if self.args.group_learning_rates is not None:
            if len(self.args.group_learning_rates) != len(self.layer_groups):
                raise ValueError(
                    f"group_learning_rates has {len(self.args.group_learning_rates)} values; this model has "
                    f"{len(self.layer_groups)} layer groups."
                )
            return list(self.args.group_learning_rates)
        return discriminative_learning_rates(
            self.args.learning_rate, len(self.layer_groups), self.args.discriminative_lr_factor
        )

    def create_optimizer(self, model=None):
        """AdamW with one learning rate per layer group; weights decay (decoupled), biases and norms do not.

        Frozen parameters are included (the default optimizer drops them): they have no gradient while frozen, so
        AdamW leaves them untouched until the unfreezing callback lets them train.
        """
        if self.optimizer is None:
            decay_names = set(self.get_decay_parameter_names(self.model))
            param_groups = []
            for index, (group, lr) in enumerate(zip(self.layer_groups, self.group_learning_rates())):
                for decays in (True, False):
                    params = [p for name, p in group.items() if (name in decay_names) == decays]
                    if params:
                        weight_decay = self.args.weight_decay if decays else 0.0
                        param_groups.append(
                            {"params": params, "lr": lr, "weight_decay": weight_decay, "layer_group": index}
                        )
            self.optimizer = torch.optim.AdamW(
                param_groups, betas=(self.args.adam_beta1, self.args.adam_beta2), eps=self.args.adam_epsilon
            )
        return self.optimizer

    def set_initial_training_values(self, args, dataloader):
        """The Trainer's count of the run (epochs, steps, batches), and from it the run's `StagePlan`: which layer
        groups train when, read by the unfreezing callback and the scheduler (stage_plan.py)."""
        values = super().set_initial_training_values(args, dataloader)
        batches_per_epoch, max_steps = values[-2], values[-1]
        if batches_per_epoch is None:  # a loader without a length: the Trainer counts the whole run as one epoch
            batches_per_epoch = max_steps * args.gradient_accumulation_steps
        run = RunSteps(max_steps, batches_per_epoch, args.gradient_accumulation_steps)
        self.stage_plan = compile_stage_plan(args, len(self.layer_groups), run)
        return values

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        """`lr_schedule` over the run, or one cycle of it per stage where the stage plan restarts it (fastai's
        ``fit_schedule="per_stage"``)."""
        if self.lr_scheduler is None:
            optimizer = optimizer or self.optimizer
            stages = {}
            if self.stage_plan is not None and self.stage_plan.restarts_schedule:
                stages = dict(stage_starts=self.stage_plan.start_steps, stage_scales=self.stage_plan.lr_scales)
            if self.args.lr_schedule == "slanted_triangular":
                self.lr_scheduler = slanted_triangular_schedule(
                    optimizer, num_training_steps, self.args.stlr_cut_frac, self.args.stlr_ratio, **stages
                )
            else:
                self.lr_scheduler = one_cycle_schedule(
                    optimizer,
                    num_training_steps,
                    pct_start=self.args.one_cycle_pct_start,
                    div_factor=self.args.one_cycle_div_factor,
                    final_div_factor=self.args.one_cycle_final_div_factor,
                    momentums=tuple(self.args.one_cycle_momentums),
                    **stages,
                )
            self._created_lr_scheduler = True  # the Trainer rebuilds it on the next train()
        return self.lr_scheduler

    def _get_learning_rate(self) -> float:
        # Logs show the top group's learning rate: the one `learning_rate` sets (the first group is the lowest).
        return self.optimizer.param_groups[-1]["lr"]

    # ---- Divergence ----------------------------------------------------------------------------------------------

    def training_step(self, model, inputs, *args, **kwargs):
        """The Trainer's step (forward and backward), stopped before the optimizer applies a non-finite loss's
        gradients: a diverged run must not go on to save NaN weights as a trained model."""
        loss = super().training_step(model, inputs, *args, **kwargs)
        if not math.isfinite(loss.detach().float().sum().item()):
            self.diverged(f"the loss at step {self.state.global_step + 1} is {loss.detach().float().sum().item()}")
        return loss

    def require_finite_weights(self) -> None:
        """Stop (`TrainingDivergedError`) when a weight is NaN or infinite, before it is saved."""
        broken = [name for name, weight in self.model.named_parameters() if not torch.isfinite(weight).all()]
        if broken:
            self.diverged(f"after step {self.state.global_step} the weights hold NaN or infinite values ({broken[0]})")

    def diverged(self, what: str) -> None:
        kept = self.last_complete_checkpoint()
        learning_rate = self.optimizer.param_groups[-1]["lr"] if self.optimizer else self.args.learning_rate
        raise TrainingDivergedError(
            f"training diverged: {what} (learning rate {learning_rate:.3g}). The run stops without saving it; "
            f"{f'its last good checkpoint, {kept}, is kept' if kept else 'no checkpoint was saved before'}. Lower "
            "--learning_rate (or --max_grad_norm) and run again."
        )

    # ---- Checkpoints and resuming ---------------------------------------------------------------------------------

    def checkpoint_required_files(self) -> list[str]:
        """Files a checkpoint of this run needs besides the Trainer's (`save_extra_state` writes them)."""
        return [AVERAGED_WEIGHTS_FILE] if self.weight_average else []

    def save_extra_state(self, checkpoint: str) -> None:
        """Write this process's part of a checkpoint that the Trainer does not save (before the Trainer's files)."""
        if self.weight_average and self.args.should_save:
            self.weight_average.save(checkpoint)

    def load_extra_state(self, checkpoint: str) -> None:
        """Read back what `save_extra_state` wrote, as a run resumes from `checkpoint`."""
        if self.weight_average:
            self.weight_average.load(checkpoint)

    def last_complete_checkpoint(self) -> str | None:
        """The newest checkpoint in ``output_dir`` that a run can resume from (incomplete ones are skipped)."""
        return last_complete_checkpoint(self.args.output_dir, self.checkpoint_required_files())

    def _save_checkpoint(self, model, trial):
        """Write a checkpoint so that only a complete one counts.

        A folder of the same name (left by an interrupted save) is removed first; every process's extra state is
        written next; then the Trainer writes its files, ``trainer_state.json`` last, so a checkpoint with a
        readable ``trainer_state.json`` holds everything (`missing_checkpoint_files`).
        """
        self.require_finite_weights()
        folder = os.path.join(self._get_output_dir(trial=trial), f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}")
        if self.args.should_save and os.path.isdir(folder):
            shutil.rmtree(folder)
        self.accelerator.wait_for_everyone()
        self.save_extra_state(folder)
        self.accelerator.wait_for_everyone()
        super()._save_checkpoint(model, trial)

    def train(self, resume_from_checkpoint=None, **kwargs):
        """`Trainer.train`; ``resume_from_checkpoint=True`` resumes from the newest *complete* checkpoint, and a
        checkpoint given by path must be complete."""
        if resume_from_checkpoint is True:
            resume_from_checkpoint = self.last_complete_checkpoint()
            if resume_from_checkpoint is None:
                raise ValueError(f"No complete checkpoint found in output directory {self.args.output_dir}.")
        if resume_from_checkpoint:
            missing = missing_checkpoint_files(resume_from_checkpoint, self.checkpoint_required_files())
            if missing:
                raise ValueError(
                    f"Cannot resume from {resume_from_checkpoint}: it has no {', '.join(missing)} "
                    "(not a checkpoint, or one whose save was interrupted)."
                )
            self.load_extra_state(resume_from_checkpoint)
        self.fit_run_length(resume_from_checkpoint or None)
        return super().train(resume_from_checkpoint=resume_from_checkpoint or None, **kwargs)

    def fit_run_length(self, resume_from: str | None = None) -> None:
        """Once, before the first `train`: ``time_budget_minutes`` sets ``max_steps`` from the measured step time (a
        resumed run keeps its checkpoint's), and a run shorter than ``min_train_steps`` is stretched (run_length.py).
        """
        if self.run_length_fitted:
            return
        # The trainer owns the run's length: it fits it on its own copy, and the caller's arguments stay as given.
        self.args = copy.copy(self.args)
        if self.args.time_budget_minutes > 0:
            if self.args.world_size > 1:
                raise ValueError(
                    "--time_budget_minutes measures one process's step time: give --max_steps to a multi-process run."
                )
            fit_run_to_budget(self, resume_from)
        elif self.args.min_train_steps > 0 and self.args.max_steps <= 0:
            run = RunSteps.planned(self.args, len(self.get_train_dataloader()))
            stretch_short_run(self.args, run.steps_per_epoch)
        self.run_length_fitted = True


class EpochStartCallback(TrainerCallback):
    """Tells the trainer an epoch starts (new data order; a language model's state goes back to zero)."""

    def __init__(self, trainer: UlmfitTrainer):
        self.trainer = trainer

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.trainer.begin_epoch(state.epoch or 0.0)
