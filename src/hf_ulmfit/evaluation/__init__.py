"""Evaluation: classification metrics in numpy, as Trainer `compute_metrics` and as offline `evaluate` modules;
language models' per-word perplexity."""

from .metrics import accuracy, classification_metrics, confusion_matrix, load_metric, macro_f1, precision_recall
from .perplexity import count_words, word_level_metrics, word_perplexity


__all__ = [
    "accuracy",
    "classification_metrics",
    "confusion_matrix",
    "count_words",
    "load_metric",
    "macro_f1",
    "precision_recall",
    "word_level_metrics",
    "word_perplexity",
]
