"""Classification metrics (offline `evaluate` modules and the numpy report) and language models' per-word
perplexity, checked against hand-computed values."""

import math

import datasets
import evaluate
import numpy as np
import pytest
from transformers import EvalPrediction

from hf_ulmfit.evaluation import (
    accuracy,
    classification_metrics,
    confusion_matrix,
    count_words,
    load_metric,
    macro_f1,
    precision_recall,
    word_level_metrics,
    word_perplexity,
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


def test_word_perplexity_spreads_the_text_loss_over_its_words():
    # Two words read as three tokens of probability 1/2, 1/4 and 1/8: the text's loss is 6 ln 2 nats, 3 ln 2 a word,
    # so the word perplexity is 2**3 = 8 (token perplexity 2**2 = 4).
    mean_token_loss = (math.log(2) + math.log(4) + math.log(8)) / 3
    assert math.exp(mean_token_loss) == pytest.approx(4)
    assert word_perplexity(mean_token_loss, num_tokens=3, num_words=2) == pytest.approx(8)
    assert word_level_metrics(mean_token_loss, 3, 2) == {"tokens_per_word": 1.5, "word_perplexity": pytest.approx(8)}
    assert word_perplexity(2.0, num_tokens=6, num_words=4) == pytest.approx(math.exp(3.0))
    assert word_perplexity(1e6, 10, 1) == math.exp(700.0)  # capped, as the Trainer caps token perplexity
    with pytest.raises(ValueError, match="0 words"):
        word_perplexity(1.0, 5, 0)


def test_count_words_counts_whitespace_separated_words_in_batches():
    texts = ["The cat  sat.", "\n", " on\tthe mat ", "x"]
    assert count_words(datasets.Dataset.from_dict({"text": texts, "other": [1, 2, 3, 4]}), batch_size=3) == 7
