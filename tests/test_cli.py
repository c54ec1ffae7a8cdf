"""The hf-ulmfit command line: each subcommand on real data with a tiny model, folders that load, clear errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer, pipeline

from hf_ulmfit.cli.main import main
from hub_server import FakeHub

TINY_MODEL = ["--embedding_size", "16", "--hidden_size", "32"]
QUICK_TRAINING = ["--per_device_train_batch_size", "16", "--per_device_eval_batch_size", "32",
                  "--save_strategy", "no", "--disable_tqdm", "true", "--report_to", "none", "--use_cpu", "true"]
FIXTURES = Path(__file__).parent / "fixtures" / "fastai"


def run_cli(*argv) -> int:
    return main([str(arg) for arg in argv])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def pretrained_lm(workdir, data_dir):
    """Stage 1 on five Wikipedia articles, with a word-level tokenizer (so stage 2 can extend its vocabulary)."""
    out = workdir / "pretrained"
    assert run_cli("pretrain", "--data_dir", data_dir, "--max_files", 1, "--max_train_samples", 5,
                   "--max_eval_samples", 2, "--tokenizer_kind", "word", *TINY_MODEL, "--num_train_epochs", 1,
                   "--bptt", 24, *QUICK_TRAINING, "--output_dir", out) == 0
    return out


@pytest.fixture(scope="module")
def finetuned_lm(workdir, data_dir, pretrained_lm):
    out = workdir / "finetuned"
    assert run_cli("finetune-lm", "--model_name_or_path", pretrained_lm, "--dataset", "trec", "--data_dir", data_dir,
                   "--max_train_samples", 1000, "--max_eval_samples", 200, "--num_train_epochs", 2, "--bptt", 24,
                   "--freeze_all_but_top_epochs", 1, *QUICK_TRAINING, "--output_dir", out) == 0
    return out


@pytest.fixture(scope="module")
def classifier(workdir, data_dir, finetuned_lm):
    out = workdir / "classifier"
    assert run_cli("train-classifier", "--model_name_or_path", finetuned_lm, "--dataset", "trec", "--data_dir",
                   data_dir, "--max_train_samples", 600, "--max_eval_samples", 200, "--num_train_epochs", 2,
                   *QUICK_TRAINING, "--output_dir", out) == 0
    return out


def test_pretrain_writes_a_loadable_language_model_with_card(pretrained_lm):
    record = json.loads((pretrained_lm / "ulmfit_run.json").read_text())
    assert record["stage"] == "pretrain" and record["dataset"] == "wikipedia" and record["train_documents"] == 5
    assert record["tokenizer"]["kind"] == "WordLevel"
    assert record["results"]["validation"]["perplexity"] > 1
    model = AutoModelForCausalLM.from_pretrained(pretrained_lm)
    assert model.config.embedding_size == 16
    generate = pipeline("text-generation", model=str(pretrained_lm), device="cpu")
    assert generate("The city", max_new_tokens=3, do_sample=False)[0]["generated_text"].startswith("The city")
    card = (pretrained_lm / "README.md").read_text()
    assert "model-index" in card and "Perplexity" in card and "wikipedia" in card


def test_finetune_lm_extends_the_vocabulary_from_the_mean_embedding(pretrained_lm, finetuned_lm):
    record = json.loads((finetuned_lm / "ulmfit_run.json").read_text())
    added = record["tokenizer"]["added_tokens"]
    assert added > 0
    old_tokenizer, new_tokenizer = AutoTokenizer.from_pretrained(pretrained_lm), AutoTokenizer.from_pretrained(finetuned_lm)
    assert len(new_tokenizer) == len(old_tokenizer) + added
    # Old ids keep their meaning: the words the pretrained model knew have the same ids.
    old_vocab, new_vocab = old_tokenizer.get_vocab(), new_tokenizer.get_vocab()
    assert all(new_vocab[word] == index for word, index in old_vocab.items())
    model = AutoModelForCausalLM.from_pretrained(finetuned_lm)
    assert model.config.vocab_size == len(new_tokenizer)
    assert record["previous_stages"][0]["stage"] == "pretrain"


def test_vocabulary_extension_starts_new_rows_at_the_mean(pretrained_lm):
    from hf_ulmfit.recipes.finetune_lm import resize_embeddings_from_mean

    model = AutoModelForCausalLM.from_pretrained(pretrained_lm)
    old = model.get_input_embeddings().weight.detach().clone()
    old_bias = model.decoder.bias.detach().clone()
    resize_embeddings_from_mean(model, old.shape[0] + 3)
    new = model.get_input_embeddings().weight
    torch.testing.assert_close(new[: old.shape[0]], old)
    torch.testing.assert_close(new[old.shape[0]:], old.mean(0).expand(3, -1))
    assert model.decoder.weight.data_ptr() == new.data_ptr()
    torch.testing.assert_close(model.decoder.bias[old.shape[0]:], old_bias.mean().expand(3))


def test_train_classifier_transfers_the_encoder_and_reports_test_metrics(finetuned_lm, classifier):
    record = json.loads((classifier / "ulmfit_run.json").read_text())
    assert set(record["results"]) == {"validation", "test"}
    assert 0 <= record["results"]["test"]["accuracy"] <= 1
    assert [stage["stage"] for stage in record["previous_stages"]] == ["pretrain", "finetune-lm"]
    model = AutoModelForSequenceClassification.from_pretrained(classifier)
    assert list(model.config.id2label.values()) == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    assert model.config.drop_mult == 0.5 and model.config.input_dropout == 0.4
    classify = pipeline("text-classification", model=str(classifier), device="cpu")
    assert classify("Who wrote Hamlet ?")[0]["label"] in model.config.id2label.values()
    card = (classifier / "README.md").read_text()
    assert "model-index" in card and "Accuracy" in card and "finetune-lm" in card


def test_evaluate_classifier_writes_metrics_and_confusion_matrix(classifier, data_dir, capsys):
    assert run_cli("evaluate", "--model_name_or_path", classifier, "--dataset", "trec", "--data_dir", data_dir,
                   "--split", "test") == 0
    results = json.loads((classifier / "eval_results_trec_test.json").read_text())
    matrix = results["confusion_matrix"]
    assert len(matrix) == 6 and sum(map(sum, matrix)) == 500
    assert results["accuracy"] == pytest.approx(sum(matrix[i][i] for i in range(6)) / 500)
    assert set(results["per_class"]["HUM"]) == {"precision", "recall"}
    assert (classifier / "confusion_matrix_trec_test.png").stat().st_size > 1000
    assert "confusion matrix" in capsys.readouterr().out


def test_evaluate_ensembles_a_forward_and_a_backward_classifier(classifier, workdir, data_dir, finetuned_lm):
    backward = workdir / "backward-classifier"
    assert run_cli("train-classifier", "--tokenizer_name_or_path", finetuned_lm, "--backwards", "true",
                   *TINY_MODEL, "--dataset", "trec", "--data_dir", data_dir, "--max_train_samples", 300,
                   "--max_eval_samples", 100, "--num_train_epochs", 1, "--gradual_unfreezing", "false",
                   *QUICK_TRAINING, "--output_dir", backward) == 0
    assert AutoModelForSequenceClassification.from_pretrained(backward).config.backwards
    results_dir = workdir / "ensemble-results"
    assert run_cli("evaluate", "--model_name_or_path", classifier, "--backward_model_name_or_path", backward,
                   "--dataset", "trec", "--data_dir", data_dir, "--results_dir", results_dir) == 0
    results = json.loads((results_dir / "eval_results_trec_test.json").read_text())
    assert results["ensemble"] is True and sum(map(sum, results["confusion_matrix"])) == 500


def test_evaluate_language_model_reports_perplexity(finetuned_lm, data_dir, workdir):
    assert run_cli("evaluate", "--model_name_or_path", finetuned_lm, "--dataset", "trec", "--data_dir", data_dir,
                   "--split", "test", "--results_dir", workdir / "lm-results") == 0
    results = json.loads((workdir / "lm-results" / "eval_results_trec_test.json").read_text())
    assert results["perplexity"] == pytest.approx(torch.tensor(results["loss"]).exp().item(), rel=1e-4)


def test_predict_and_generate_print_results(classifier, finetuned_lm, workdir, capsys):
    output_file = workdir / "predictions.jsonl"
    assert run_cli("predict", "--model_name_or_path", classifier, "--texts", "Who wrote Hamlet ?",
                   "What is the capital of France ?", "--output_file", output_file) == 0
    predictions = [json.loads(line) for line in output_file.read_text().splitlines()]
    assert len(predictions) == 2
    assert all(sum(p["scores"].values()) == pytest.approx(1.0, abs=1e-4) for p in predictions)
    assert run_cli("generate", "--model_name_or_path", finetuned_lm, "--prompt", "What is", "--max_new_tokens", 5) == 0
    assert capsys.readouterr().out.strip().startswith("What is")


def test_tokenizer_command_trains_a_loadable_tokenizer(workdir, data_dir):
    out = workdir / "char-tokenizer"
    assert run_cli("tokenizer", "--dataset", "names", "--data_dir", data_dir, "--tokenizer_kind", "char",
                   "--output_dir", out) == 0
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.decode(tokenizer("Nakamura")["input_ids"], skip_special_tokens=True) == "Nakamura"


def test_recipe_file_gives_the_arguments(workdir, data_dir):
    recipe = workdir / "tokenizer.yaml"
    recipe.write_text(f"dataset: trec\ndata_dir: {data_dir}\ntokenizer_kind: unigram\nvocab_size: 300\n"
                      f"output_dir: {workdir / 'yaml-tokenizer'}\n")
    assert run_cli("tokenizer", recipe) == 0
    assert len(AutoTokenizer.from_pretrained(workdir / "yaml-tokenizer")) == 300


def test_convert_fastai_command(workdir):
    out = workdir / "converted"
    assert run_cli("convert-fastai", "--checkpoint", FIXTURES / "lm.pth", "--vocab", FIXTURES / "itos.pkl",
                   "--output_dir", out) == 0
    assert AutoModelForCausalLM.from_pretrained(out).config.vocab_size == len(AutoTokenizer.from_pretrained(out))


# --- Hub uploads against a loopback server -------------------------------------------------------------------------------


def _hub_env(hub: FakeHub) -> dict:
    env = dict(os.environ, HF_ENDPOINT=hub.endpoint, HF_HUB_OFFLINE="0", HF_TOKEN="hf_loopback_token")
    env.pop("HF_HUB_DISABLE_TELEMETRY", None)
    return env


def test_push_uploads_the_model_folder_and_card(classifier):
    with FakeHub() as hub:
        completed = subprocess.run(
            [sys.executable, "-m", "hf_ulmfit.cli.main", "push", "--folder", str(classifier), "--repo_id",
             "someone/ulmfit-trec"], env=_hub_env(hub), capture_output=True, text=True, timeout=300)
        assert completed.returncode == 0, completed.stderr[-3000:]
        files = hub.files["someone/ulmfit-trec"]
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md", "modeling_awd_lstm.py",
            "configuration_awd_lstm.py"} <= set(files)
    assert not any(name.startswith("checkpoint-") for name in files)
    uploaded = load_file_from_bytes(files["model.safetensors"])
    local = load_file(classifier / "model.safetensors")
    assert uploaded.keys() == local.keys() and all(torch.equal(uploaded[k], local[k]) for k in local)
    card = files["README.md"].decode()
    assert card == (classifier / "README.md").read_text()
    assert "model-index" in card and "ulmfit" in card


def test_push_to_hub_flag_uploads_at_the_end_of_training(workdir, data_dir, finetuned_lm):
    out = workdir / "pushed-classifier"
    with FakeHub() as hub:
        completed = subprocess.run(
            [sys.executable, "-m", "hf_ulmfit.cli.main", "train-classifier", "--model_name_or_path", str(finetuned_lm),
             "--dataset", "trec", "--data_dir", str(data_dir), "--max_train_samples", "100", "--max_eval_samples", "50",
             "--num_train_epochs", "1", *QUICK_TRAINING, "--output_dir", str(out),
             "--push-to-hub", "--hub-model-id", "someone/pushed"],
            env=_hub_env(hub), capture_output=True, text=True, timeout=600)
        assert completed.returncode == 0, completed.stderr[-3000:]
        files = hub.files["someone/pushed"]
    assert "model.safetensors" in files and "README.md" in files
    assert json.loads(files["ulmfit_run.json"])["stage"] == "train-classifier"
    assert 'pipeline("text-classification", model="someone/pushed"' in files["README.md"].decode()


def load_file_from_bytes(data: bytes) -> dict:
    from safetensors.torch import load

    return load(data)


# --- bad input ---------------------------------------------------------------------------------------------------------------


def test_unknown_subcommand_and_flags_are_refused(capsys):
    assert run_cli("train") == 2
    assert "unknown subcommand 'train'" in capsys.readouterr().err
    assert run_cli("train-classifier", "--no_such_flag", "1", "--output_dir", "x") == 2
    assert "--no_such_flag" in capsys.readouterr().err


def test_missing_output_dir_is_refused_before_any_work():
    with pytest.raises(SystemExit, match="--output_dir is required"):
        run_cli("pretrain", "--max_train_samples", "1")


def test_bad_data_and_missing_models_stop_with_a_clear_message(tmp_path, data_dir, capsys):
    assert run_cli("train-classifier", "--dataset", tmp_path / "missing.csv", "--output_dir", tmp_path / "a") == 1
    assert "missing.csv" in capsys.readouterr().err
    assert run_cli("finetune-lm", "--model_name_or_path", tmp_path / "no-model", "--output_dir", tmp_path / "b") == 1
    assert "no-model" in capsys.readouterr().err
    assert run_cli("train-classifier", "--dataset", "trec", "--data_dir", data_dir, "--label_column", "topic",
                   "--output_dir", tmp_path / "c") == 1
    assert "topic" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_train_classifier_in_two_processes_with_the_distributed_script(tmp_path, data_dir):
    """scripts/train_distributed.sh: two real CPU ranks (accelerate launch, gloo), one output folder."""
    out = tmp_path / "ddp-classifier"
    repo = Path(__file__).resolve().parents[1]
    completed = subprocess.run(
        ["bash", str(repo / "scripts" / "train_distributed.sh"), "2", "train-classifier", "--dataset", "trec",
         "--data_dir", str(data_dir), "--max_train_samples", "200", "--max_eval_samples", "100", "--vocab_size", "300",
         *TINY_MODEL, "--num_train_epochs", "2", "--per_device_train_batch_size", "8", "--save_strategy", "no",
         "--disable_tqdm", "true", "--report_to", "none", "--output_dir", str(out)],
        env=dict(os.environ, CPU="1"), capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "process 0 of 2: training on cpu" in completed.stderr
    assert "process 1 of 2: training on cpu" in completed.stderr
    assert completed.stderr.count("saved train-classifier") == 1  # only the main process writes
    # The main process trains the tokenizer and saves it; the other process loads that copy.
    assert completed.stderr.count("training a unigram tokenizer") == 1
    record = json.loads((out / "ulmfit_run.json").read_text())
    assert record["stage"] == "train-classifier"
    assert AutoModelForSequenceClassification.from_pretrained(out).config.num_labels == 6
