"""The length-sorted classification pipeline: results in the order given, equal to the plain pipeline's, and batches
really grouped by length."""

import pytest
import torch
from transformers import pipeline

from hf_ulmfit import AwdLstmConfig, AwdLstmForSequenceClassification
from hf_ulmfit.data import load_text_dataset
from hf_ulmfit.export.pipelines import LengthSortedTextClassificationPipeline, text_classification_pipeline
from hf_ulmfit.tokenization import train_tokenizer


LABELS = ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]


@pytest.fixture(scope="module")
def trec(data_dir):
    return load_text_dataset("trec", data_dir=data_dir)


@pytest.fixture(scope="module")
def folder(tmp_path_factory, trec):
    torch.manual_seed(0)
    tokenizer = train_tokenizer(trec["train"].select(range(1000)), kind="unigram", vocab_size=400)
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
