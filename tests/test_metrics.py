"""Classification metrics: offline `evaluate` modules and the numpy report, checked against hand-computed values."""

import evaluate
import numpy as np
import pytest
from transformers import EvalPrediction

from hf_ulmfit.evaluation import (
    accuracy,
    classification_metrics,
    confusion_matrix,
    load_metric,
    macro_f1,
    precision_recall,
)


# 3 classes; class 2 is never predicted, class 3 only predicted (never true).
REFERENCES = [0, 0, 0, 1, 1, 2, 2, 1]
PREDICTIONS = [0, 0, 1, 1, 1, 1, 0, 3]


def test_confusion_matrix_counts_true_rows_against_predicted_columns():
    expected = np.array([[2, 1, 0, 0], [0, 2, 0, 1], [1, 1, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(confusion_matrix(PREDICTIONS, REFERENCES), expected)
    assert confusion_matrix(PREDICTIONS, REFERENCES, num_labels=5).shape == (5, 5)


def test_precision_recall_per_class():
    report = precision_recall(PREDICTIONS, REFERENCES)
    np.testing.assert_allclose(report["precision"], [2 / 3, 2 / 4, 0.0, 0.0])
    np.testing.assert_allclose(report["recall"], [2 / 3, 2 / 3, 0.0, 0.0])
    np.testing.assert_allclose(report["f1"], [2 / 3, 2 * (0.5 * 2 / 3) / (0.5 + 2 / 3), 0.0, 0.0])
    np.testing.assert_array_equal(report["support"], [3, 3, 2, 0])


def test_evaluate_modules_load_offline_and_compute():
    accuracy = load_metric("accuracy").compute(predictions=PREDICTIONS, references=REFERENCES)["accuracy"]
    f1 = load_metric("f1").compute(predictions=PREDICTIONS, references=REFERENCES)["f1"]
    assert accuracy == pytest.approx(4 / 8)
    # Macro over the 4 classes seen in references or predictions (scikit-learn's convention).
    assert f1 == pytest.approx((2 / 3 + 2 * (0.5 * 2 / 3) / (0.5 + 2 / 3)) / 4)
    assert macro_f1([1, 1], [1, 1]) == 1.0  # absent classes do not drag the mean down


def test_the_evaluate_modules_compute_what_the_numpy_functions_do():
    assert accuracy(PREDICTIONS, REFERENCES) == pytest.approx(4 / 8)
    combined = evaluate.combine([load_metric("accuracy"), load_metric("f1")])
    assert combined.compute(predictions=PREDICTIONS, references=REFERENCES) == {
        "accuracy": pytest.approx(accuracy(PREDICTIONS, REFERENCES)),
        "f1": pytest.approx(macro_f1(PREDICTIONS, REFERENCES)),
    }


def test_classification_metrics_take_logits():
    logits = np.eye(4)[PREDICTIONS] + 0.01
    metrics = classification_metrics(EvalPrediction(predictions=logits, label_ids=np.array(REFERENCES)))
    assert metrics == {"accuracy": pytest.approx(0.5), "f1": pytest.approx(macro_f1(PREDICTIONS, REFERENCES))}


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="same length"):
        confusion_matrix([0, 1], [0])
    with pytest.raises(ValueError, match="num_labels"):
        confusion_matrix([0, 5], [0, 1], num_labels=3)
    with pytest.raises(ValueError, match="No local metric"):
        load_metric("bleu")
