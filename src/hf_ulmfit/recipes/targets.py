"""What train-classifier does for the target beyond one class per text: class weights for imbalanced data, the
regression target's standardisation, and the multi-label decision threshold chosen on validation."""

import json
import logging
from pathlib import Path

import numpy as np

from ..data.targets import MULTI_LABEL, REGRESSION
from ..evaluation import best_threshold, sigmoid


logger = logging.getLogger(__name__)


def class_weights(spec: str, train, labels: list[str], problem_type: str) -> list[float] | None:
    """``none``: no weights. ``balanced``: single-label, ``n / (classes * count)`` per class (scikit-learn's
    'balanced'); multi-label, each label's ``negatives / positives`` as its BCE positive weight. A JSON file: an
    object of label -> weight naming every label."""
    if spec in ("none", "", None):
        return None
    if problem_type == REGRESSION:
        raise ValueError(f"--class_weights {spec}: a regression target has no classes to weigh.")
    if spec == "balanced":
        targets = np.asarray(train["label"])
        if problem_type == MULTI_LABEL:
            positives = targets.sum(0)
            if (positives == 0).any():
                missing = [labels[i] for i in np.flatnonzero(positives == 0)]
                raise ValueError(f"--class_weights balanced: label(s) {missing} have no positive training row.")
            weights = (len(targets) - positives) / positives
        else:
            counts = np.bincount(targets, minlength=len(labels))
            weights = len(targets) / (len(labels) * np.maximum(counts, 1))
        weights = [float(w) for w in weights]
    else:
        weights = _weights_file(Path(spec), labels)
    logger.info("class weights: %s", dict(zip(labels, (round(w, 4) for w in weights))))
    return weights


def _weights_file(path: Path, labels: list[str]) -> list[float]:
    if not path.is_file():
        raise ValueError(f"--class_weights {path}: not 'balanced', 'none' or an existing JSON file.")
    try:
        given = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"--class_weights {path}: not a JSON object of label -> weight ({error}).") from None
    if not isinstance(given, dict):
        raise ValueError(f"--class_weights {path}: not a JSON object of label -> weight.")
    missing, unknown = sorted(set(labels) - set(given)), sorted(set(given) - set(labels))
    if missing or unknown:
        raise ValueError(
            f"--class_weights {path}: missing label(s) {missing}, unknown label(s) {unknown}; the labels are {labels}."
        )
    bad = [label for label in labels if not isinstance(given[label], (int, float)) or not given[label] > 0]
    if bad:
        raise ValueError(f"--class_weights {path}: label(s) {bad} need a positive number as weight.")
    return [float(given[label]) for label in labels]


def target_scale(train) -> dict:
    """The regression target's mean and standard deviation over train, for `config.target_mean`/`target_std`."""
    values = np.asarray(train["label"], dtype=np.float64)
    return {"target_mean": float(values.mean()), "target_std": float(values.std())}


def choose_threshold(trainer, tokenized) -> dict:
    """Multi-label: the decision threshold with the best micro-F1 on the validation split, written to the model's
    config (`multi_label_threshold`), which `predict`, `evaluate` and the pipeline then use."""
    output = trainer.predict(tokenized["validation"], metric_key_prefix="threshold")
    logits = output.predictions[0] if isinstance(output.predictions, tuple) else output.predictions
    threshold, micro_f1 = best_threshold(sigmoid(logits), output.label_ids)
    trainer.model.config.multi_label_threshold = threshold
    logger.info("multi-label decision threshold %.2f (validation micro-F1 %.4f)", threshold, micro_f1)
    return {"multi_label_threshold": threshold}
