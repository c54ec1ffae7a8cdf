"""Evaluation: classification metrics in numpy, as Trainer `compute_metrics` and as offline `evaluate` modules."""

from .metrics import accuracy, classification_metrics, confusion_matrix, load_metric, macro_f1, precision_recall


__all__ = ["accuracy", "classification_metrics", "confusion_matrix", "load_metric", "macro_f1", "precision_recall"]
