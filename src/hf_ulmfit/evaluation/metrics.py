"""Classification metrics in numpy (no scikit-learn dependency): accuracy, macro-F1, per-class precision and recall,
the confusion matrix; `classification_metrics` for Trainer's `compute_metrics`; and the same accuracy and macro-F1 as
`evaluate` modules (`load_metric`) for code written against that library's interface."""

from functools import cache
from pathlib import Path

import numpy as np


# The `evaluate` module script: one metric class, the metric chosen by `config_name`.
EVALUATE_MODULE = Path(__file__).parent / "evaluate_module.py"


def _as_label_arrays(predictions, references) -> tuple[np.ndarray, np.ndarray]:
    predictions, references = np.asarray(predictions), np.asarray(references)
    if predictions.shape != references.shape or predictions.ndim != 1:
        raise ValueError(
            f"predictions and references must be 1-D arrays of the same length, got shapes {predictions.shape} and "
            f"{references.shape}."
        )
    if predictions.size and (min(predictions.min(), references.min()) < 0):
        raise ValueError("Class ids must be non-negative integers.")
    return predictions.astype(np.int64), references.astype(np.int64)


def confusion_matrix(predictions, references, num_labels: int | None = None) -> np.ndarray:
    """``matrix[true, predicted]`` counts, shape ``(num_labels, num_labels)`` (default: the largest id seen + 1)."""
    predictions, references = _as_label_arrays(predictions, references)
    if num_labels is None:
        num_labels = int(max(predictions.max(initial=-1), references.max(initial=-1))) + 1
    elif predictions.size and max(predictions.max(), references.max()) >= num_labels:
        raise ValueError(f"A class id is >= num_labels ({num_labels}).")
    flat = np.bincount(references * num_labels + predictions, minlength=num_labels * num_labels)
    return flat.reshape(num_labels, num_labels)


def precision_recall(predictions, references, num_labels: int | None = None) -> dict[str, np.ndarray]:
    """Per-class ``precision``, ``recall``, ``f1`` and ``support`` (true count); 0 where a ratio is 0/0."""
    matrix = confusion_matrix(predictions, references, num_labels)
    true_positives = np.diag(matrix).astype(np.float64)
    predicted, support = matrix.sum(0), matrix.sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, true_positives / predicted, 0.0)
        recall = np.where(support > 0, true_positives / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support}


def accuracy(predictions, references) -> float:
    """The fraction of predictions equal to their reference (0 for no predictions)."""
    predictions, references = _as_label_arrays(predictions, references)
    return float((predictions == references).mean()) if references.size else 0.0


def macro_f1(predictions, references) -> float:
    """Unweighted mean F1 over the classes that occur in the references or the predictions (as scikit-learn)."""
    predictions, references = _as_label_arrays(predictions, references)
    report = precision_recall(predictions, references)
    present = np.union1d(predictions, references)
    return float(report["f1"][present].mean()) if present.size else 0.0


# What `load_metric` offers, by the name of the value each returns.
METRICS = {"accuracy": accuracy, "f1": macro_f1}


def classification_metrics(eval_prediction) -> dict[str, float]:
    """`compute_metrics` for classifiers: accuracy and macro-F1 from an `EvalPrediction` (logits, label ids)."""
    logits, labels = eval_prediction.predictions, eval_prediction.label_ids
    logits = logits[0] if isinstance(logits, tuple) else logits
    predictions = np.asarray(logits).argmax(-1)
    return {name: metric(predictions, labels) for name, metric in METRICS.items()}


@cache
def load_metric(name: str):
    """``accuracy`` or ``f1`` (macro) as an `evaluate.EvaluationModule` (``.compute(predictions=, references=)``,
    ``.add_batch``, `evaluate.combine`), loaded from this package, since the Hub's copies need a network connection.
    Kept in memory: no cache files, so parallel processes never share one."""
    if name not in METRICS:
        raise ValueError(f"No local metric {name!r}; available: {sorted(METRICS)}.")
    import evaluate

    return evaluate.load(str(EVALUATE_MODULE), config_name=name, keep_in_memory=True)
