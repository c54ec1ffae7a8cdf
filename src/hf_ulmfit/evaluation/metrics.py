"""Per-class precision, recall and F1, and the confusion matrix, in numpy (no scikit-learn dependency)."""

import numpy as np


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


def macro_f1(predictions, references) -> float:
    """Unweighted mean F1 over the classes that occur in the references or the predictions (as scikit-learn)."""
    predictions, references = _as_label_arrays(predictions, references)
    report = precision_recall(predictions, references)
    present = np.union1d(predictions, references)
    return float(report["f1"][present].mean()) if present.size else 0.0
