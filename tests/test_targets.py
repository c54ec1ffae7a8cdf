"""Multi-label and regression targets and class weights, from the command line and Python, on text derived from
TREC-6 (tests/test_targets.py builds each set; the README says how):

- multi-label: each question's coarse class, plus its fine class where that is one of train's 10 most frequent
  fine classes (so a question carries one or two labels);
- regression: the number of words of the question.
"""

import collections
import json

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
import torch.nn.functional as F
from cli_flags import QUICK_TRAINING, TINY_MODEL

from hf_ulmfit.cli.main import main
from hf_ulmfit.data.targets import MULTI_LABEL, REGRESSION, encode_targets
from hf_ulmfit.evaluation import best_threshold, multi_label_report, regression_metrics
from hf_ulmfit.recipes.targets import class_weights


LONG_QUESTION = (
    "What is the name of the longest river in the country that has the largest population in South America ?"
)


# The recipe the README's figures were measured with (train-classifier's from-scratch defaults changed since).
MEASURED_RECIPE = [
    "--tokenizer_kind",
    "unigram",
    "--num_layers",
    3,
    "--bidirectional",
    "false",
    "--learning_rate",
    1e-2,
    "--classifier_drop_mult",
    0.5,
]


def run_cli(*argv) -> int:
    return main([str(arg) for arg in argv])


def trec_rows(data_dir, split: str, count: int) -> list[dict]:
    return pq.read_table(data_dir / "trec" / f"{split}.parquet").to_pylist()[:count]


def multi_label_rows(data_dir) -> dict[str, list[dict]]:
    """TREC questions with their coarse class, plus the fine class where it is one of train's 10 most frequent."""
    train, test = trec_rows(data_dir, "train", 1500), trec_rows(data_dir, "test", 300)
    frequent = {name for name, _ in collections.Counter(row["fine_label"] for row in train).most_common(10)}
    return {
        split: [
            {
                "text": row["text"],
                "labels": [row["coarse_label"]] + [row["fine_label"]] * (row["fine_label"] in frequent),
            }
            for row in rows
        ]
        for split, rows in (("train", train), ("test", test))
    }


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("targets")


@pytest.fixture(scope="module")
def multi_label_folder(workdir, data_dir):
    folder = workdir / "trec-multi-label"
    folder.mkdir()
    for split, rows in multi_label_rows(data_dir).items():
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder


@pytest.fixture(scope="module")
def multi_label_classifier(workdir, multi_label_folder):
    out = workdir / "multi-label-classifier"
    flags = ["--dataset", multi_label_folder, "--label_column", "labels", "--problem_type", MULTI_LABEL]
    assert run_cli("train-classifier", *flags, "--vocab_size", 300, *TINY_MODEL, *MEASURED_RECIPE,
                   "--num_train_epochs", 3, *QUICK_TRAINING, "--bf16", "false", "--output_dir", out) == 0  # fmt: skip
    return out


def test_three_ways_of_giving_several_labels_give_the_same_targets(data_dir):
    rows = multi_label_rows(data_dir)
    lists = datasets.DatasetDict({split: datasets.Dataset.from_list(part) for split, part in rows.items()})
    joined = lists.map(lambda row: {"labels": "|".join(row["labels"])})
    names = sorted({label for row in rows["train"] for label in row["labels"]})
    columns = lists.map(lambda row: {name: int(name in row["labels"]) for name in names}, remove_columns="labels")
    from_lists, list_names = encode_targets(lists, MULTI_LABEL, label_column="labels")
    from_joined, joined_names = encode_targets(joined, MULTI_LABEL, label_column="labels", label_separator="|")
    from_columns, column_names = encode_targets(columns, MULTI_LABEL, label_columns=names)
    assert list_names == joined_names == column_names == names and len(names) == 16
    for split in rows:
        hot = np.asarray(from_lists[split]["label"])
        np.testing.assert_array_equal(hot, np.asarray(from_joined[split]["label"]))
        np.testing.assert_array_equal(hot, np.asarray(from_columns[split]["label"]))
        assert hot.sum() == sum(len(row["labels"]) for row in rows[split])
    first = rows["train"][0]["labels"]  # "How did serfdom develop ...": DESC and DESC:manner
    assert (
        [names[i] for i in np.flatnonzero(from_lists["train"][0]["label"])] == sorted(first) == ["DESC", "DESC:manner"]
    )


def test_bad_multi_label_and_regression_targets_name_the_split_column_and_rows():
    def data(**columns):
        return datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["a", "b", "c"], **columns})})

    with pytest.raises(ValueError, match="pass --label_separator"):
        encode_targets(data(label=["x", "y", "x"]), MULTI_LABEL)
    with pytest.raises(ValueError, match=r"column 'b': --label_columns take 0/1 values, .* row\(s\) 2"):
        encode_targets(data(a=[0, 1, 1], b=[1, 0, 2]), MULTI_LABEL, label_columns=["a", "b"])
    with pytest.raises(ValueError, match=r"missing value at row\(s\) 1"):
        encode_targets(data(score=[1.0, None, 2.0]), REGRESSION, label_column="score")
    with pytest.raises(ValueError, match="not numeric"):
        encode_targets(data(score=["1", "two", "3"]), REGRESSION, label_column="score")
    with pytest.raises(ValueError, match="single value"):  # one value is no regression (as one class is no classifier)
        encode_targets(data(score=[4, 4, 4]), REGRESSION, label_column="score")
    test = datasets.Dataset.from_dict({"text": ["d"], "label": [["z"]]})
    with pytest.raises(ValueError, match=r"Split 'test' has label\(s\) \['z'\] that the train split never uses"):
        encode_targets(datasets.DatasetDict({**data(label=[["x"], ["y"], []]), "test": test}), MULTI_LABEL)


def test_multi_label_and_regression_metrics_match_hand_computed_values():
    references = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 0]])
    predictions = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 1], [0, 0, 0]])
    report = multi_label_report(predictions, references)
    # true positives 3, predicted 4, true 5: micro-F1 = 2*3 / (4+5); per label F1 1, 2/3, 0
    assert report["micro_f1"] == pytest.approx(6 / 9)
    assert report["f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert report["subset_accuracy"] == pytest.approx(0.5)
    np.testing.assert_allclose(report["precision"], [1, 1, 0]) and np.testing.assert_allclose(
        report["recall"], [1, 0.5, 0]
    )
    threshold, micro_f1 = best_threshold(np.array([[0.9, 0.2], [0.3, 0.35]]), np.array([[1, 0], [0, 1]]))
    assert threshold == pytest.approx(0.35) and micro_f1 == pytest.approx(1.0)  # 0.3 < t <= 0.35
    metrics = regression_metrics([1.0, 2.0, 2.0, 5.0], [1.0, 3.0, 2.0, 4.0])
    assert metrics["mae"] == pytest.approx(0.5) and metrics["rmse"] == pytest.approx(np.sqrt(0.5))
    assert metrics["pearson"] == pytest.approx(np.corrcoef([1, 2, 2, 5], [1, 3, 2, 4])[0, 1])
    # ranks with ties averaged: [1, 2.5, 2.5, 4] against [1, 3, 2, 4]
    assert metrics["spearman"] == pytest.approx(np.corrcoef([1, 2.5, 2.5, 4], [1, 3, 2, 4])[0, 1])


@pytest.mark.slow
def test_multi_label_classifier_from_the_cli_chooses_and_uses_its_threshold(
    multi_label_classifier, multi_label_folder, data_dir, workdir, capsys
):
    config = json.loads((multi_label_classifier / "config.json").read_text())
    record = json.loads((multi_label_classifier / "ulmfit_run.json").read_text())
    assert config["problem_type"] == MULTI_LABEL and len(config["id2label"]) == 16
    threshold = config["multi_label_threshold"]
    assert record["multi_label_threshold"] == threshold and 0.05 <= threshold <= 0.95
    test = record["results"]["test"]
    # Better than the strongest constant answer: every question given train's most frequent label.
    rows = multi_label_rows(data_dir)
    names = config["id2label"]
    references = np.array([[names[str(i)] in row["labels"] for i in range(16)] for row in rows["test"]])
    most_frequent = collections.Counter(label for row in rows["train"] for label in row["labels"]).most_common(1)[0][0]
    constant = np.zeros_like(references)
    constant[:, [names[str(i)] for i in range(16)].index(most_frequent)] = True
    assert test["micro_f1"] > multi_label_report(constant, references)["micro_f1"] + 0.05
    card = (multi_label_classifier / "README.md").read_text()
    assert f"at least {threshold}" in card and "multi-label classification" in card

    # predict and the pipeline both give the labels at or above the saved threshold.
    texts = [row["text"] for row in rows["test"][:20]]
    out = workdir / "multi-label-predictions.jsonl"
    assert (
        run_cli("predict", "--model_name_or_path", multi_label_classifier, "--texts", *texts, "--output_file", out)
        == 0
    )
    predictions = [json.loads(line) for line in out.read_text().splitlines()]
    from hf_ulmfit.inference.pipelines import text_classification_pipeline

    piped = text_classification_pipeline(str(multi_label_classifier), device="cpu")(texts)
    for prediction, from_pipeline in zip(predictions, piped):
        assert prediction["labels"] == sorted(label for label, p in prediction["scores"].items() if p >= threshold)
        assert sorted(item["label"] for item in from_pipeline) == prediction["labels"]
        for item in from_pipeline:
            assert item["score"] == pytest.approx(prediction["scores"][item["label"]], abs=1e-5)
    assert any(len(p["labels"]) == 2 for p in predictions)

    # evaluate reads the same test split and reports the same micro-F1 as training did.
    flags = ["--dataset", multi_label_folder, "--label_column", "labels", "--results_dir", workdir / "ml-eval"]
    assert run_cli("evaluate", "--model_name_or_path", multi_label_classifier, *flags) == 0
    results = json.loads(next((workdir / "ml-eval").glob("eval_results_*.json")).read_text())
    assert results["micro_f1"] == pytest.approx(test["micro_f1"], abs=0.02)
    assert set(results["per_class"]) == set(names.values())
    assert "subset accuracy" in capsys.readouterr().out


@pytest.mark.slow
def test_regression_from_the_cli_learns_the_question_length_and_predicts_values(workdir, data_dir, capsys):
    folder = workdir / "trec-words"
    folder.mkdir()
    for split, rows in (("train", trec_rows(data_dir, "train", 1200)), ("test", trec_rows(data_dir, "test", 200))):
        table = [{"text": row["text"], "words": len(row["text"].split())} for row in rows]
        datasets.Dataset.from_list(table).to_csv(folder / f"{split}.csv", index=False)
    out = workdir / "regressor"
    flags = [
        "--dataset",
        folder,
        "--label_column",
        "words",
        "--problem_type",
        REGRESSION,
        "--normalize_target",
        "true",
    ]
    assert run_cli("train-classifier", *flags, "--vocab_size", 300, *TINY_MODEL, *MEASURED_RECIPE,
                   "--num_train_epochs", 8, *QUICK_TRAINING, "--bf16", "false", "--output_dir", out) == 0  # fmt: skip
    config = json.loads((out / "config.json").read_text())
    assert (
        config["problem_type"] == REGRESSION and len(config["id2label"]) == 1 and config["id2label"] == {"0": "words"}
    )
    train_words = [len(row["text"].split()) for row in trec_rows(data_dir, "train", 1200)]
    # the standardisation comes from the training rows (train without its validation share)
    assert config["target_mean"] == pytest.approx(np.mean(train_words), rel=0.05)
    test = json.loads((out / "ulmfit_run.json").read_text())["results"]["test"]
    test_words = np.array([len(row["text"].split()) for row in trec_rows(data_dir, "test", 200)])
    assert test["rmse"] < 0.95 * test_words.std()  # beats predicting the mean (measured 2.2 against 2.7)
    assert test["pearson"] > 0.6 and test["spearman"] > 0.6  # measured 0.86, 0.89
    capsys.readouterr()
    assert run_cli("predict", "--model_name_or_path", out, "--texts", "Who is he ?", LONG_QUESTION) == 0
    values = [float(line.split("\t")[0]) for line in capsys.readouterr().out.strip().splitlines()]
    assert values[0] < values[1]  # the longer question gets the larger value, in words


def test_class_weights_balanced_file_and_the_weighted_loss(tmp_path):
    train = datasets.Dataset.from_dict({"label": [0] * 9 + [1] * 3})
    assert class_weights("balanced", train, ["ham", "spam"], "single_label_classification") == pytest.approx(
        [12 / (2 * 9), 12 / (2 * 3)]
    )
    assert class_weights("none", train, ["ham", "spam"], "single_label_classification") is None
    multi = datasets.Dataset.from_dict({"label": [[1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [1.0, 0.0]]})
    assert class_weights("balanced", multi, ["a", "b"], MULTI_LABEL) == pytest.approx([1 / 3, 3 / 1])
    weights_file = tmp_path / "weights.json"
    weights_file.write_text(json.dumps({"ham": 1.0, "spam": 4.0}))
    assert class_weights(str(weights_file), train, ["ham", "spam"], "single_label_classification") == [1.0, 4.0]
    weights_file.write_text(json.dumps({"ham": 1.0}))
    with pytest.raises(ValueError, match=r"missing label\(s\) \['spam'\]"):
        class_weights(str(weights_file), train, ["ham", "spam"], "single_label_classification")
    with pytest.raises(ValueError, match="no classes"):
        class_weights("balanced", train, ["x"], REGRESSION)

    from hf_ulmfit.models.awd_lstm import AwdLstmConfig, AwdLstmForSequenceClassification
    from hf_ulmfit.training import ClassifierTrainer, UlmfitTrainingArguments

    config = AwdLstmConfig(vocab_size=40, embedding_size=8, hidden_size=8, num_layers=1, num_labels=2)
    model = AwdLstmForSequenceClassification(config).eval()
    args = UlmfitTrainingArguments(output_dir=str(tmp_path / "t"), report_to="none", use_cpu=True)
    trainer = ClassifierTrainer(model=model, args=args, processing_class=None, data_collator=lambda x: x,
                                class_weights=[1.0, 4.0])  # fmt: skip
    inputs = {"input_ids": torch.randint(4, 40, (6, 5)), "labels": torch.tensor([0, 0, 0, 1, 1, 0])}
    logits = model(input_ids=inputs["input_ids"]).logits
    expected = F.cross_entropy(logits, inputs["labels"], weight=torch.tensor([1.0, 4.0]))
    assert trainer.compute_loss(model, dict(inputs)).item() == pytest.approx(expected.item(), rel=1e-5)
    assert expected.item() != pytest.approx(F.cross_entropy(logits, inputs["labels"]).item(), rel=1e-3)


def test_model_card_links_the_language_model_and_states_labels_and_problem_type(tmp_path, multi_label_classifier):
    from hf_ulmfit.hub.model_card import build_model_card
    from hf_ulmfit.recipes.outputs import hub_id_of_base_model

    assert hub_id_of_base_model("you/ulmfit-wiki-lm", None) == "you/ulmfit-wiki-lm"  # a Hub repository
    assert (
        hub_id_of_base_model(str(tmp_path), {"model_name": "trec-awd-lstm-language-model"}) is None
    )  # never uploaded
    assert hub_id_of_base_model(str(tmp_path), {"hub_repo_id": "you/imdb-lm"}) == "you/imdb-lm"  # uploaded
    assert hub_id_of_base_model(None, None) is None
    record = json.loads((multi_label_classifier / "ulmfit_run.json").read_text())
    card = build_model_card({**record, "base_model": "you/imdb-lm", "base_model_id": "you/imdb-lm"})
    assert card.data.base_model == "you/imdb-lm" and "base_model: you/imdb-lm" in str(card)
    assert "Problem type: multi-label classification" in card.text and "HUM:ind" in card.text
    assert "base_model" not in (multi_label_classifier / "README.md").read_text().split("---")[1]  # from scratch
    regression = build_model_card({**record, "problem_type": REGRESSION, "labels": ["stars"]})
    assert "it predicts the value of `stars`" in regression.text
