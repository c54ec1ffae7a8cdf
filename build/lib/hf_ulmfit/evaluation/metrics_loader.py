"""Our `evaluate` metric modules, loaded from this package (the Hub's copies need a network connection)."""

from functools import cache
from pathlib import Path

import evaluate
import numpy as np

METRICS_DIR = Path(__file__).parent / "metrics"


@cache
def load_metric(name: str) -> evaluate.EvaluationModule:
    """``accuracy`` or ``f1`` (macro), kept in memory: no cache files, so parallel processes never share one."""
    path = METRICS_DIR / name
    if not (path / f"{name}.py").is_file():
        raise ValueError(f"No local metric {name!r}; available: {sorted(p.name for p in METRICS_DIR.iterdir() if p.is_dir())}.")
    return evaluate.load(str(path), keep_in_memory=True)


def classification_metrics(eval_prediction) -> dict[str, float]:
    """`compute_metrics` for classifiers: accuracy and macro-F1 from an `EvalPrediction` (logits, label ids)."""
    logits, labels = eval_prediction.predictions, eval_prediction.label_ids
    logits = logits[0] if isinstance(logits, tuple) else logits
    predictions = np.asarray(logits).argmax(-1)
    return {
        "accuracy": load_metric("accuracy").compute(predictions=predictions, references=labels)["accuracy"],
        "f1": load_metric("f1").compute(predictions=predictions, references=labels)["f1"],
    }
