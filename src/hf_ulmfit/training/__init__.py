"""ULMFiT fine-tuning on transformers' Trainer: discriminative learning rates, slanted triangular / one-cycle
schedules, gradual unfreezing, AR/TAR, carried-state language-model training, and the learning-rate finder."""

from ..evaluation import classification_metrics
from .arguments import FIT_SCHEDULES, LR_SCHEDULES, UlmfitTrainingArguments
from .checkpoints import last_complete_checkpoint, missing_checkpoint_files
from .classifier_trainer import ClassifierTrainer
from .language_model_trainer import LanguageModelTrainer
from .layer_groups import discriminative_learning_rates, layer_group_prefixes, layer_groups, set_trainable_groups
from .lr_finder import LrFinderResult, lr_find, suggest_learning_rate
from .regularization import activation_regularization, temporal_activation_regularization
from .schedules import (
    OneCycleSchedule,
    one_cycle_momentum,
    one_cycle_multiplier,
    one_cycle_schedule,
    slanted_triangular_multiplier,
    slanted_triangular_schedule,
)
from .stage_plan import RunSteps, Stage, StagePlan, compile_stage_plan, stage_start_steps
from .trainer import TrainingDivergedError, UlmfitTrainer
from .unfreezing import GradualUnfreezingCallback


__all__ = [
    "FIT_SCHEDULES",
    "LR_SCHEDULES",
    "ClassifierTrainer",
    "GradualUnfreezingCallback",
    "LanguageModelTrainer",
    "LrFinderResult",
    "OneCycleSchedule",
    "RunSteps",
    "Stage",
    "StagePlan",
    "TrainingDivergedError",
    "UlmfitTrainer",
    "UlmfitTrainingArguments",
    "activation_regularization",
    "classification_metrics",
    "compile_stage_plan",
    "discriminative_learning_rates",
    "layer_group_prefixes",
    "last_complete_checkpoint",
    "layer_groups",
    "lr_find",
    "missing_checkpoint_files",
    "one_cycle_momentum",
    "one_cycle_multiplier",
    "one_cycle_schedule",
    "set_trainable_groups",
    "slanted_triangular_multiplier",
    "slanted_triangular_schedule",
    "stage_start_steps",
    "suggest_learning_rate",
    "temporal_activation_regularization",
]
