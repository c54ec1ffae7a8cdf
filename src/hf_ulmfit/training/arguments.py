"""`UlmfitTrainingArguments`: transformers' `TrainingArguments` plus ULMFiT's fine-tuning knobs.

A dataclass, so `HfArgumentParser` reads it from command-line flags or a JSON/YAML file like any transformers script.
Defaults that differ from `TrainingArguments` are fastai's: Adam betas (0.9, 0.99), eps 1e-5, weight decay 0.01
(decoupled, as fastai's ``true_wd``), and length-grouped batches for classification.
"""

import math
from dataclasses import dataclass, field

import torch
from transformers import TrainingArguments

from ..argument_limits import check_limits
from .precision import resolve_bf16


LR_SCHEDULES = ("slanted_triangular", "one_cycle")
FIT_SCHEDULES = ("whole_run", "per_stage")
TRANSFORMERS_EPOCHS = 3.0  # TrainingArguments' own default


@dataclass
class UlmfitTrainingArguments(TrainingArguments):
    lr_schedule: str = field(
        default="slanted_triangular",
        metadata={
            "help": "'slanted_triangular' (ULMFiT paper) or 'one_cycle' (fastai, with momentum cycling).",
            "choices": list(LR_SCHEDULES),
        },
    )
    stlr_cut_frac: float = field(
        default=0.1, metadata={"help": "STLR: fraction of the steps spent increasing the LR."}
    )
    stlr_ratio: float = field(default=32, metadata={"help": "STLR: how much smaller the lowest LR is than the peak."})
    one_cycle_pct_start: float = field(default=0.25, metadata={"help": "One-cycle: fraction of the steps warming up."})
    one_cycle_div_factor: float = field(default=25.0, metadata={"help": "One-cycle: starting LR = peak / this."})
    one_cycle_final_div_factor: float = field(default=1e5, metadata={"help": "One-cycle: final LR = peak / this."})
    one_cycle_momentums: list[float] = field(
        default_factory=lambda: [0.8, 0.7, 0.8],
        metadata={"help": "One-cycle: Adam beta1 at the start, at the LR peak and at the end."},
    )
    discriminative_lr_factor: float = field(
        default=2.6, metadata={"help": "Each layer group's LR is the one above it divided by this (1 disables)."}
    )
    group_learning_rates: list[float] | None = field(
        default=None, metadata={"help": "Explicit peak LR per layer group, bottom to top (overrides the factor)."}
    )
    gradual_unfreezing: bool | None = field(
        default=False,
        metadata={
            "help": "Train only the top layer group first, then unfreeze one more group at a time (see "
            "unfreeze_all_by_end for runs with fewer epochs than groups). None: the stage decides "
            "(train-classifier: on with a pretrained encoder, off from scratch)."
        },
    )
    # transformers' field, unset by default so that a stage can decide (`recipes.train_classifier`); a Trainer given
    # None smooths nothing.
    label_smoothing_factor: float | None = field(
        default=None,
        metadata={
            "help": "Label smoothing epsilon (0: none). None: the stage decides (train-classifier from scratch: 0.1 "
            "with 1,000 training examples or more, 0 below and with a pretrained encoder)."
        },
    )
    unfreeze_every_epochs: float = field(default=1.0, metadata={"help": "Gradual unfreezing: epochs per stage."})
    unfreeze_at_steps: list[int] | None = field(
        default=None, metadata={"help": "Gradual unfreezing: optimizer steps at which the next group is unfrozen."}
    )
    unfreeze_all_by_end: bool = field(
        default=False,
        metadata={
            "help": "Gradual unfreezing: when the epochs are too few to unfreeze one group per epoch, unfreeze at "
            "evenly spaced steps instead, so every group trains by the end (train-classifier's default)."
        },
    )
    freeze_all_but_top_epochs: float | None = field(
        default=None, metadata={"help": "fastai's LM recipe: train only the top group for this many epochs, then all."}
    )
    # None: not given (transformers' 3, or a per-stage fit's sum of stage_epochs), so a conflicting value is refused.
    num_train_epochs: float | None = field(
        default=None,
        metadata={"help": "Epochs to train (default 3; with fit_schedule='per_stage' the sum of stage_epochs)."},
    )
    fit_schedule: str = field(
        default="whole_run",
        metadata={
            "help": "'whole_run' (ULMFiT paper): one lr_schedule cycle over the whole run, the trainable groups "
            "set by gradual_unfreezing or freeze_all_but_top_epochs. 'per_stage' (fastai's repeated "
            "fit_one_cycle): one lr_schedule cycle per stage of stage_epochs, at its "
            "stage_learning_rates, training its stage_trainable_groups.",
            "choices": list(FIT_SCHEDULES),
        },
    )
    stage_epochs: list[float] | None = field(
        default=None, metadata={"help": "per_stage: epochs of each stage (the run's num_train_epochs is their sum)."}
    )
    stage_learning_rates: list[float] | None = field(
        default=None, metadata={"help": "per_stage: the top group's peak LR in each stage (default: learning_rate)."}
    )
    stage_trainable_groups: list[int] | None = field(
        default=None,
        metadata={
            "help": "per_stage: layer groups (from the top) trained in each stage (default: 1, 2, ... and all "
            "groups in the last stage, as fastai's freeze_to(-1), freeze_to(-2), ..., unfreeze())."
        },
    )
    min_train_steps: int = field(
        default=0,
        metadata={
            "help": "A run with fewer optimizer steps than this (a small dataset) is stretched: each epoch becomes as "
            "many passes over the data as reach it, unfreezing, evaluation and saving keeping their place "
            "(train-classifier's and finetune-lm's default: see their --help). 0: the epochs as given."
        },
    )
    ar_alpha: float = field(
        default=2.0,
        metadata={"help": "Activation regularisation (language-model stages only; train-classifier refuses it)."},
    )
    tar_beta: float = field(
        default=1.0,
        metadata={"help": "Temporal activation regularisation (language-model stages only; not train-classifier)."},
    )
    time_budget_minutes: float = field(
        default=0.0,
        metadata={
            "help": "Train for this many minutes of wall-clock: the stage measures its step time and sets max_steps "
            "so that the whole schedule ends inside the budget (data preparation and the final evaluation not "
            "counted; a resumed run keeps its steps). 0: off. Not with --max_steps."
        },
    )
    bptt: int = field(
        default=72,
        metadata={
            "help": "Tokens per row per language-model batch (truncated BPTT); language-model stages only "
            "(train-classifier: --classifier_bptt)."
        },
    )
    average_weights_fraction: float = field(
        default=0.0,
        metadata={
            "help": "Tail weight averaging: the run ends with the mean of the weights after each of its last steps, "
            "this fraction of them (0.25: the last quarter), in place of the last step's weights; what is evaluated "
            "and saved. 0: off."
        },
    )
    # transformers 5 dropped this flag; the stages use it to decide what a run into an existing folder does.
    overwrite_output_dir: bool = field(
        default=False,
        metadata={"help": "Train afresh in an output folder that holds another run (its checkpoints are removed)."},
    )

    # fastai's optimizer defaults.
    adam_beta2: float = field(default=0.99, metadata={"help": "Adam beta2 (fastai: 0.99)."})
    adam_epsilon: float = field(default=1e-5, metadata={"help": "Adam epsilon (fastai: 1e-5)."})
    weight_decay: float = field(default=0.01, metadata={"help": "Decoupled weight decay (fastai: 0.01)."})
    # None (the stages' default): bf16 exactly where it trains faster (see `precision.resolve_bf16`).
    bf16: bool | None = field(
        default=False,
        metadata={
            "help": "bf16 autocast. The hf-ulmfit stages default to bf16 where it is faster (CUDA GPUs with "
            "bf16, CPUs with AMX) and fp32 elsewhere, and log which; true/false forces it."
        },
    )
    # ULMFiT batches classification documents of similar length together.
    train_sampling_strategy: str = field(
        default="group_by_length",
        metadata={
            "help": "Sampler for classification batches.",
            "choices": ["random", "sequential", "group_by_length", "batch_rebalance"],
        },
    )

    def __post_init__(self):
        if self.fit_schedule not in FIT_SCHEDULES:
            raise ValueError(f"fit_schedule must be one of {FIT_SCHEDULES}, got {self.fit_schedule!r}.")
        if self.fit_schedule == "per_stage":
            self._check_stages()  # first: it says what a per-stage fit needs, more than the value's range alone
        elif self.num_train_epochs is None:
            self.num_train_epochs = TRANSFORMERS_EPOCHS
        # The ranges of the numbers (bptt, min_train_steps, time_budget_minutes, unfreeze_every_epochs, ...).
        check_limits(self)
        self._check_run_length()
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}.")
        if len(self.one_cycle_momentums) != 3:
            raise ValueError(
                f"one_cycle_momentums needs 3 values (start, middle, end), got {self.one_cycle_momentums}."
            )
        if self.gradual_unfreezing and self.freeze_all_but_top_epochs is not None:
            raise ValueError("Choose gradual_unfreezing or freeze_all_but_top_epochs, not both.")
        if self.average_weights_fraction > 0 and self.load_best_model_at_end:
            raise ValueError(
                "Choose --average_weights_fraction or --load_best_model_at_end, not both (each decides which weights "
                "the run ends with)."
            )
        if self.time_budget_minutes > 0 and self.max_steps > 0:
            raise ValueError("Choose --time_budget_minutes or --max_steps, not both (the budget sets max_steps).")
        if self.uses_freezing and self.ddp_find_unused_parameters is None:
            # Frozen groups get no gradient: DDP must expect parameters without one (see unfreezing.py).
            self.ddp_find_unused_parameters = True
        if not torch.cuda.is_available():
            self.dataloader_pin_memory = False  # pinned memory only helps copies to an accelerator
        on_cpu = self.use_cpu or torch.accelerator.current_accelerator() is None
        if self.fp16:
            if on_cpu:
                raise ValueError(
                    "--fp16 needs a GPU; on a CPU, leave it unset (fp32, or bf16 where that is faster) or pass "
                    "--bf16 true."
                )
            if self.bf16:
                raise ValueError("--fp16 and --bf16 both set: choose one.")
            self.bf16 = False  # the stages' bf16=None would pick bf16 on a GPU that has it: fp16 was asked for
        self.bf16 = resolve_bf16(self.bf16, on_cpu)
        if self.bf16 and on_cpu:
            self.use_cpu = True  # transformers refuses bf16 without an accelerator unless told the CPU is meant
        super().__post_init__()

    def _check_run_length(self) -> None:
        """A run of zero steps is refused before any work: it would save its starting weights (a random classifier
        head) as a trained model. (Learning rates and the other numbers are checked by `check_limits`.)"""
        if self.max_steps <= 0 and self.fit_schedule != "per_stage" and not self.time_budget_minutes > 0:
            if not (math.isfinite(self.num_train_epochs) and self.num_train_epochs > 0):
                raise ValueError(
                    f"--num_train_epochs {self.num_train_epochs} (without --max_steps) trains nothing: the run would "
                    "save its starting weights as a trained model. Pass a positive --num_train_epochs or --max_steps."
                )

    def _check_stages(self) -> None:
        if not self.stage_epochs or any(epochs <= 0 for epochs in self.stage_epochs):
            raise ValueError(f"fit_schedule='per_stage' needs positive stage_epochs, got {self.stage_epochs}.")
        for name in ("stage_learning_rates", "stage_trainable_groups"):
            values = getattr(self, name)
            if values is not None and len(values) != len(self.stage_epochs):
                raise ValueError(f"{name} has {len(values)} values for {len(self.stage_epochs)} stage_epochs.")
        if self.gradual_unfreezing or self.freeze_all_but_top_epochs is not None or self.unfreeze_at_steps:
            raise ValueError(
                "fit_schedule='per_stage' sets the trainable groups per stage (stage_trainable_groups): "
                "drop gradual_unfreezing, freeze_all_but_top_epochs and unfreeze_at_steps."
            )
        total = float(sum(self.stage_epochs))
        if self.num_train_epochs is not None and self.num_train_epochs != total:
            raise ValueError(
                f"fit_schedule='per_stage' trains its stage_epochs {self.stage_epochs}, {total:g} epochs, but "
                f"num_train_epochs is {self.num_train_epochs:g}: leave num_train_epochs unset or make it {total:g}."
            )
        self.num_train_epochs = total

    @property
    def uses_freezing(self) -> bool:
        by_stage = self.fit_schedule == "per_stage"
        return self.gradual_unfreezing or self.freeze_all_but_top_epochs is not None or by_stage

    def stage_scales(self) -> list[float]:
        """per_stage: each stage's peak learning rates as a multiple of the groups' peaks (set by learning_rate)."""
        peaks = self.stage_learning_rates or [self.learning_rate] * len(self.stage_epochs)
        return [lr / self.learning_rate for lr in peaks]
