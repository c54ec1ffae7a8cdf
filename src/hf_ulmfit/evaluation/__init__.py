"""Evaluation: classification metrics in numpy, as Trainer `compute_metrics` and as offline `evaluate` modules;
language models' per-word perplexity."""

from .metrics import accuracy, classification_metrics, confusion_matrix, load_metric, macro_f1, precision_recall
from .perplexity import count_words, word_level_metrics, word_perplexity
from .target_metrics import (
    best_threshold,
    metrics_for,
    multi_label_metrics,
    multi_label_report,
    regression_metrics,
    sigmoid,
)


__all__ = [
    "accuracy",
    "best_threshold",
    "metrics_for",
    "multi_label_metrics",
    "multi_label_report",
    "regression_metrics",
    "sigmoid",
    "classification_metrics",
    "confusion_matrix",
    "count_words",
    "load_metric",
    "macro_f1",
    "precision_recall",
    "word_level_metrics",
    "word_perplexity",
]
