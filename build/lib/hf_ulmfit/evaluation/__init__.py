"""Evaluation: offline `evaluate` metric modules (accuracy, macro-F1) and a numpy classification report."""

from .classification_report import confusion_matrix, macro_f1, precision_recall
from .metrics_loader import METRICS_DIR, classification_metrics, load_metric

__all__ = ["METRICS_DIR", "classification_metrics", "confusion_matrix", "load_metric", "macro_f1", "precision_recall"]
