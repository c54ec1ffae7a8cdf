"""int8 classifier: close to fp32, several times smaller, saved as safetensors (int8 tensors + scales) and loaded by
`from_pretrained`, `pipeline` and `hf-ulmfit predict`; inference only."""

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification, pipeline

from hf_ulmfit import AwdLstmConfig, AwdLstmForSequenceClassification
from hf_ulmfit.cli.main import main
from hf_ulmfit.export.int8 import quantize_classifier
from hf_ulmfit.models.awd_lstm_int8 import AwdLstmInt8ForSequenceClassification


QUESTIONS = ["How far is it from Denver to Aspen ?", "Who wrote Hamlet ?", "What is the capital of France ?"]
LABELS = ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory, tokenizer):
    torch.manual_seed(0)
    config = AwdLstmConfig(
        vocab_size=len(tokenizer),
        embedding_size=32,
        hidden_size=64,
        num_layers=3,
        bptt=8,
        max_len=32,
        id2label=dict(enumerate(LABELS)),
        label2id={name: i for i, name in enumerate(LABELS)},
    )
    model = AwdLstmForSequenceClassification(config).eval()
    fp32_folder = tmp_path_factory.mktemp("fp32")
    model.save_pretrained(fp32_folder)
    tokenizer.save_pretrained(fp32_folder)
    int8_folder = tmp_path_factory.mktemp("int8")
    assert (
        main(
            ["export", "--format", "int8", "--model_name_or_path", str(fp32_folder), "--output_dir", str(int8_folder)]
        )
        == 0
    )
    return model, fp32_folder, int8_folder


def test_int8_export_refuses_a_qrnn_classifier_naming_its_rnn_type(tmp_path, tokenizer, capsys):
    config = AwdLstmConfig(
        vocab_size=len(tokenizer), embedding_size=16, hidden_size=24, num_layers=2, rnn_type="qrnn", num_labels=2
    )
    AwdLstmForSequenceClassification(config).save_pretrained(tmp_path / "qrnn")
    tokenizer.save_pretrained(tmp_path / "qrnn")
    assert (
        main(
            [
                "export",
                "--format",
                "int8",
                "--model_name_or_path",
                str(tmp_path / "qrnn"),
                "--output_dir",
                str(tmp_path / "int8"),
            ]
        )
        == 1
    )
    assert "supports rnn_type='lstm' only; this classifier has rnn_type='qrnn'" in capsys.readouterr().err
    assert not (tmp_path / "int8").exists()


def batch(tokenizer, texts=QUESTIONS):
    return tokenizer(texts, return_tensors="pt", padding=True)


def test_int8_logits_stay_close_to_fp32(folders, tokenizer):
    model, _, _ = folders
    quantized = quantize_classifier(model)
    inputs = batch(tokenizer)
    with torch.no_grad():
        expected, got = model(**inputs).logits, quantized(**inputs).logits
    # Measured about 1% of the logits' spread on this model; 5% leaves room without hiding a broken kernel.
    assert (got - expected).abs().max() <= 0.05 * expected.abs().max()
    assert not torch.equal(got, expected)  # really the int8 path


def test_int8_folder_is_safetensors_of_int8_weights_and_smaller(folders):
    _, fp32_folder, int8_folder = folders
    assert sorted(path.name for path in int8_folder.iterdir() if path.suffix in (".bin", ".pt", ".pkl", ".pth")) == []
    tensors = load_file(int8_folder / "model.safetensors")
    assert tensors["awd_lstm.layers.0.weight_hh_int8"].dtype == torch.int8
    assert tensors["awd_lstm.embeddings.weight_int8"].dtype == torch.int8
    ratio = (fp32_folder / "model.safetensors").stat().st_size / (int8_folder / "model.safetensors").stat().st_size
    # Biases, scales and the fp32 head weigh more in this tiny model than in a real one (3.9x on the shared LM's).
    assert ratio >= 2.5
    assert json.loads((int8_folder / "config.json").read_text())["model_type"] == "awd_lstm_int8"


def test_int8_loads_through_from_pretrained_pipeline_and_predict(folders, tokenizer, tmp_path):
    model, _, int8_folder = folders
    loaded = AutoModelForSequenceClassification.from_pretrained(int8_folder)
    assert isinstance(loaded, AwdLstmInt8ForSequenceClassification) and not loaded.training
    inputs = batch(tokenizer)
    with torch.no_grad():
        assert torch.equal(loaded(**inputs).logits, quantize_classifier(model)(**inputs).logits)
        expected = torch.softmax(loaded(**inputs).logits, -1)
    outputs = pipeline("text-classification", model=str(int8_folder), device="cpu")(QUESTIONS, top_k=None)
    for row, scores in zip(expected, outputs):
        by_label = {entry["label"]: entry["score"] for entry in scores}
        torch.testing.assert_close(torch.tensor([by_label[label] for label in LABELS]), row, atol=1e-3, rtol=0)
    output = tmp_path / "predictions.jsonl"
    assert (
        main(
            ["predict", "--model_name_or_path", str(int8_folder), "--texts", *QUESTIONS, "--output_file", str(output)]
        )
        == 0
    )
    assert len(output.read_text().splitlines()) == len(QUESTIONS)


def test_int8_padding_changes_logits_by_rounding_only(folders, tokenizer):
    """Activations are quantised per call, so a batch's padding shifts a row only within int8 rounding."""
    _, _, int8_folder = folders
    loaded = AutoModelForSequenceClassification.from_pretrained(int8_folder)
    with torch.no_grad():
        padded = loaded(**batch(tokenizer)).logits
        alone = torch.cat([loaded(**batch(tokenizer, [text])).logits for text in QUESTIONS])
    torch.testing.assert_close(padded, alone, atol=0.02 * alone.abs().max().item(), rtol=0)


def test_int8_model_refuses_training(folders):
    _, _, int8_folder = folders
    loaded = AutoModelForSequenceClassification.from_pretrained(int8_folder)
    with pytest.raises(RuntimeError, match="inference only"):
        loaded.train()


def test_export_refuses_an_unknown_format(folders, tmp_path):
    _, fp32_folder, _ = folders
    assert (
        main(["export", "--format", "fp8", "--model_name_or_path", str(fp32_folder), "--output_dir", str(tmp_path)])
        == 1
    )
