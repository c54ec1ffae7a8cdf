"""The length-sorted classification pipeline: results in the order given, equal to the plain pipeline's, and batches
really grouped by length."""

import pytest
import torch
from transformers import pipeline

from hf_ulmfit import AwdLstmConfig, AwdLstmForSequenceClassification
from hf_ulmfit.inference.pipelines import LengthSortedTextClassificationPipeline, text_classification_pipeline


LABELS = ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory, tokenizer):
    torch.manual_seed(0)
    config = AwdLstmConfig(
        vocab_size=len(tokenizer),
        embedding_size=12,
        hidden_size=20,
        num_layers=2,
        id2label=dict(enumerate(LABELS)),
        label2id={name: i for i, name in enumerate(LABELS)},
    )
    path = tmp_path_factory.mktemp("classifier")
    AwdLstmForSequenceClassification(config).eval().save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_sorted_pipeline_returns_the_plain_pipelines_results_in_order(folder, trec):
    texts = list(trec["test"]["text"][:40]) + ["Why ?"]
    plain = pipeline("text-classification", model=str(folder), device="cpu")(texts, top_k=None, batch_size=8)
    classify = text_classification_pipeline(str(folder), device="cpu")
    assert isinstance(classify, LengthSortedTextClassificationPipeline)
    sorted_run = classify(texts, top_k=None, batch_size=8)
    assert len(sorted_run) == len(texts)
    for expected, got in zip(plain, sorted_run):
        assert [entry["label"] for entry in got] == [entry["label"] for entry in expected]
        torch.testing.assert_close(
            [entry["score"] for entry in got], [entry["score"] for entry in expected], atol=1e-6, rtol=0
        )
    (single,) = classify(texts[0])  # a single text takes the plain path
    assert single["label"] == plain[0][0]["label"] and single["score"] == pytest.approx(plain[0][0]["score"], abs=1e-6)


def test_sorted_pipeline_batches_similar_lengths(folder, trec):
    texts = list(trec["test"]["text"][:64])
    classify = text_classification_pipeline(str(folder), device="cpu")
    padded_tokens = []
    forward = classify.model.forward

    def counting_forward(input_ids, attention_mask=None, **kwargs):
        padded_tokens.append(int((attention_mask == 0).sum()))
        return forward(input_ids=input_ids, attention_mask=attention_mask, **kwargs)

    classify.model.forward = counting_forward
    classify(texts, batch_size=16)
    sorted_padding = sum(padded_tokens)
    padded_tokens.clear()
    super(LengthSortedTextClassificationPipeline, classify).__call__(texts, batch_size=16)
    assert sorted_padding < sum(padded_tokens) / 2


def test_token_budget_runs_a_long_document_alone_with_the_same_scores(folder, trec):
    texts = list(trec["test"]["text"][:12])
    texts.insert(5, " ".join(texts[:6] * 40))  # several hundred tokens among questions of about 12
    classify = text_classification_pipeline(str(folder), device="cpu")
    shapes = []
    forward = classify.model.forward

    def recording_forward(input_ids, attention_mask=None, **kwargs):
        shapes.append(tuple(input_ids.shape))
        return forward(input_ids=input_ids, attention_mask=attention_mask, **kwargs)

    classify.model.forward = recording_forward
    budgeted = classify(texts, batch_size=8, max_batch_tokens=100, top_k=None)
    assert (1, len(classify.tokenizer(texts[5])["input_ids"])) in shapes  # the long document alone
    assert all(rows * length <= 100 for rows, length in shapes if rows > 1)
    assert sum(rows for rows, _ in shapes) == len(texts)
    unbudgeted = classify(texts, batch_size=8, top_k=None)
    for got, expected in zip(budgeted, unbudgeted):
        assert {e["label"]: e["score"] for e in got} == pytest.approx({e["label"]: e["score"] for e in expected})


def test_predict_evaluate_and_the_pipeline_give_the_same_scores(folder, trec, data_dir, tmp_path):
    """One classification path: `predict`'s scores are the pipeline's to the last bit, and `evaluate`'s accuracy is
    the accuracy of the pipeline's labels on the same split."""
    import json

    from hf_ulmfit.cli.main import main

    texts = list(trec["test"]["text"])
    classify = text_classification_pipeline(str(folder), device="cpu")
    expected = [
        {entry["label"]: entry["score"] for entry in result}
        for result in classify(texts, batch_size=32, max_batch_tokens=65_536, top_k=None)
    ]
    inputs = tmp_path / "texts.txt"
    inputs.write_text("\n".join(texts) + "\n")
    out = tmp_path / "predictions.jsonl"
    assert (
        main(["predict", "--model_name_or_path", str(folder), "--input_file", str(inputs), "--output_file", str(out)])
        == 0
    )
    predicted = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["scores"] for row in predicted] == expected
    assert [row["label"] for row in predicted] == [max(row, key=row.get) for row in expected]

    assert (
        main(
            [
                "evaluate",
                "--model_name_or_path",
                str(folder),
                "--dataset",
                "trec",
                "--data_dir",
                str(data_dir),
                "--split",
                "test",
            ]
        )
        == 0
    )
    results = json.loads((folder / "eval_results_trec_test.json").read_text())
    names = trec["test"].features["label"].names
    pipeline_accuracy = sum(
        max(row, key=row.get) == names[label] for row, label in zip(expected, trec["test"]["label"])
    ) / len(texts)
    assert results["accuracy"] == pipeline_accuracy


def test_length_batches_put_a_long_document_alone_and_respect_the_token_budget():
    from hf_ulmfit.inference.pipelines import length_batches

    lengths = [3, 20_000, 5, 7, 4, 6]
    batches = length_batches(lengths, batch_size=2, max_batch_tokens=100)
    assert sorted(index for batch in batches for index in batch) == list(range(6))
    assert [1] in batches  # the long document alone: nothing is padded to its length
    assert all(
        len(batch) <= 2 and len(batch) * max(lengths[i] for i in batch) <= 100 for batch in batches if batch != [1]
    )
