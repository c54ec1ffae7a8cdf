"""Metrics of the other two targets a classifier head can learn (numpy, as `metrics.py`): multi-label
classification (micro/macro-F1, subset accuracy, per-label precision and recall at a decision threshold, and the
threshold that maximises micro-F1 on validation) and regression (MAE, RMSE, Pearson and Spearman correlation)."""

import numpy as np


# Candidate decision thresholds for multi-label classifiers, searched on the validation split.
THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.05), 2)


def sigmoid(logits) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))


def _as_multi_hot(predictions, references) -> tuple[np.ndarray, np.ndarray]:
    predictions, references = np.asarray(predictions).astype(bool), np.asarray(references) > 0.5
    if predictions.shape != references.shape or predictions.ndim != 2:
        raise ValueError(
            f"predictions and references must be (documents, labels) arrays of one shape, got {predictions.shape} "
            f"and {references.shape}."
        )
    return predictions, references


def multi_label_report(predictions, references) -> dict:
    """Multi-hot `predictions` against multi-hot `references` `(documents, labels)`: ``micro_f1``, ``f1`` (macro over
    the labels that occur in either), ``subset_accuracy`` (every label of a document right) and per-label
    ``precision``/``recall``/``support`` arrays (0 where a ratio is 0/0)."""
    predictions, references = _as_multi_hot(predictions, references)
    true_positives = (predictions & references).sum(0).astype(np.float64)
    predicted, support = predictions.sum(0), references.sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, true_positives / predicted, 0.0)
        recall = np.where(support > 0, true_positives / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    present = (predicted + support) > 0
    denominator = predicted.sum() + support.sum()
    return {
        "micro_f1": float(2 * true_positives.sum() / denominator) if denominator else 0.0,
        "f1": float(f1[present].mean()) if present.any() else 0.0,
        "subset_accuracy": float((predictions == references).all(1).mean()) if len(references) else 0.0,
        "precision": precision,
        "recall": recall,
        "support": support,
    }


def multi_label_metrics(logits, references, threshold: float = 0.5) -> dict[str, float]:
    """The scalar multi-label metrics of `logits` decided at `threshold` on the sigmoid probabilities."""
    report = multi_label_report(sigmoid(logits) >= threshold, references)
    return {name: report[name] for name in ("micro_f1", "f1", "subset_accuracy")}


def best_threshold(probabilities, references, grid=THRESHOLD_GRID) -> tuple[float, float]:
    """The decision threshold of `grid` with the highest micro-F1 (the lowest such on a tie), and that micro-F1."""
    scores = [multi_label_report(np.asarray(probabilities) >= t, references)["micro_f1"] for t in grid]
    best = int(np.argmax(scores))
    return float(grid[best]), float(scores[best])


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties sharing their average rank (as scipy.stats.rankdata)."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(1, len(values) + 1)
    unique, inverse = np.unique(values, return_inverse=True)
    sums = np.bincount(inverse, weights=ranks, minlength=len(unique))
    counts = np.bincount(inverse, minlength=len(unique))
    return (sums / counts)[inverse]


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    x, y = x - x.mean(), y - y.mean()
    scale = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / scale) if scale > 0 else 0.0


def regression_metrics(predictions, references) -> dict[str, float]:
    """``mae``, ``rmse``, ``pearson`` and ``spearman`` of predicted against true values (1-D; a correlation is 0
    when either side is constant)."""
    predictions = np.asarray(predictions, dtype=np.float64).reshape(-1)
    references = np.asarray(references, dtype=np.float64).reshape(-1)
    if predictions.shape != references.shape:
        raise ValueError(f"{predictions.size} predictions for {references.size} references.")
    errors = predictions - references
    return {
        "mae": float(np.abs(errors).mean()),
        "rmse": float(np.sqrt((errors**2).mean())),
        "pearson": _pearson(predictions, references),
        "spearman": _pearson(_ranks(predictions), _ranks(references)),
    }


def _logits(eval_prediction) -> np.ndarray:
    logits = eval_prediction.predictions
    return np.asarray(logits[0] if isinstance(logits, tuple) else logits)


def metrics_for(config):
    """Trainer's `compute_metrics` for a classifier of `config`'s problem type: accuracy and macro-F1 (one class
    per text), micro/macro-F1 and subset accuracy at ``config.multi_label_threshold`` (read at each evaluation, 0.5
    until one is chosen), or MAE/RMSE/Pearson/Spearman (regression)."""
    from .metrics import classification_metrics

    if config.problem_type == "multi_label_classification":
        return lambda prediction: multi_label_metrics(
            _logits(prediction), prediction.label_ids, config.multi_label_threshold or 0.5
        )
    if config.problem_type == "regression":
        return lambda prediction: regression_metrics(_logits(prediction), prediction.label_ids)
    return classification_metrics
