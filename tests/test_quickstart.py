"""The README's main job, shortened: three ULMFiT stages on TREC-6 beat the same classifier without pretraining."""

import json

from transformers import pipeline

from hf_ulmfit.cli.main import main


def test_shortened_quickstart_beats_the_no_pretraining_baseline(tmp_path, data_dir, capsys):
    out = tmp_path / "quickstart"
    assert (
        main(
            [
                "quickstart",
                "--output_dir",
                str(out),
                "--data_dir",
                str(data_dir),
                "--wikipedia_articles",
                "40",
                "--vocab_size",
                "3000",
                "--embedding_size",
                "64",
                "--hidden_size",
                "128",
                "--finetune_epochs",
                "2",
                "--classifier_epochs",
                "4",
                "--pretrained_lm",
                "none",
            ]
        )
        == 0
    )
    summary = json.loads((out / "quickstart_results.json").read_text())
    # The TREC-6 test set's largest class is 27.6% of it (138 of 500 DESC questions).
    assert summary["ulmfit_test_accuracy"] > 0.35
    assert summary["ulmfit_test_accuracy"] > summary["baseline_test_accuracy"]
    printed = capsys.readouterr().out
    assert "ULMFiT (3 stages)" in printed and "without pretraining" in printed
    assert 'pipeline("text-classification"' in printed
    for stage in ("pretrained-lm", "finetuned-lm", "classifier", "baseline-classifier"):
        assert (out / stage / "model.safetensors").is_file()
    classify = pipeline("text-classification", model=str(out / "classifier"), device="cpu")
    assert classify("Who wrote Hamlet ?")[0]["label"] in {"ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"}

    # Started from a pretrained LM (here the one just made), the quickstart runs the stages' own defaults from it.
    again = tmp_path / "from-pretrained"
    assert (
        main(
            [
                "quickstart",
                "--output_dir",
                str(again),
                "--data_dir",
                str(data_dir),
                "--max_train_samples",
                "300",
                "--pretrained_lm",
                str(out / "pretrained-lm"),
            ]
        )
        == 0
    )
    summary = json.loads((again / "quickstart_results.json").read_text())
    assert summary["pretrained_lm"] == str(out / "pretrained-lm")
    assert not (again / "pretrained-lm").exists()
    assert "== 1/3 fine-tuning the pretrained language model" in capsys.readouterr().out
    record = json.loads((again / "classifier" / "ulmfit_run.json").read_text())
    assert record["training"]["num_train_epochs"] == 5 and record["training"]["gradual_unfreezing"]  # the defaults
    baseline = json.loads((again / "baseline-classifier" / "ulmfit_run.json").read_text())
    assert baseline["model"]["hidden_size"] == 128 and baseline["tokenizer"]["vocab_size"] == 3000


def _fake_model(folder, **config):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "awd_lstm", **config}))
    (folder / "model.safetensors").write_bytes(b"")


def test_quickstart_finds_the_first_forward_language_model_beside_the_data(tmp_path, monkeypatch):
    from hf_ulmfit.recipes.quickstart import find_pretrained_lm

    monkeypatch.delenv("HF_ULMFIT_MODELS", raising=False)
    (tmp_path / "data").mkdir()
    assert find_pretrained_lm(str(tmp_path / "data")) is None
    models = tmp_path / "models"
    _fake_model(models / "a-classifier", architectures=["AwdLstmForSequenceClassification"])
    _fake_model(models / "b-backward-lm", architectures=["AwdLstmForCausalLM"], backwards=True)
    _fake_model(models / "c-forward-lm", architectures=["AwdLstmForCausalLM"])
    _fake_model(models / "d-forward-lm", architectures=["AwdLstmForCausalLM"])
    assert find_pretrained_lm(str(tmp_path / "data")) == str(models / "c-forward-lm")
    monkeypatch.setenv("HF_ULMFIT_MODELS", str(tmp_path / "elsewhere"))
    assert find_pretrained_lm(str(tmp_path / "data")) is None
