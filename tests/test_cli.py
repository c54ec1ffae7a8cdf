"""The hf-ulmfit command line: each subcommand on real data with a tiny model, folders that load, clear errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_flags import QUICK_TRAINING, TINY_MODEL
from hub_server import FakeHub
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer, pipeline

from hf_ulmfit.cli.main import main
from hf_ulmfit.data import load_text_dataset


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
    assert (
        run_cli(
            "pretrain",
            "--data_dir",
            data_dir,
            "--max_files",
            1,
            "--max_train_samples",
            5,
            "--max_eval_samples",
            2,
            "--tokenizer_kind",
            "word",
            *TINY_MODEL,
            "--num_train_epochs",
            1,
            "--bptt",
            24,
            *QUICK_TRAINING,
            "--output_dir",
            out,
        )
        == 0
    )
    return out


@pytest.fixture(scope="module")
def finetuned_lm(workdir, data_dir, pretrained_lm):
    out = workdir / "finetuned"
    assert (
        run_cli(
            "finetune-lm",
            "--model_name_or_path",
            pretrained_lm,
            "--dataset",
            "trec",
            "--data_dir",
            data_dir,
            "--max_train_samples",
            1000,
            "--max_eval_samples",
            200,
            "--num_train_epochs",
            2,
            "--bptt",
            24,
            "--freeze_all_but_top_epochs",
            1,
            *QUICK_TRAINING,
            "--output_dir",
            out,
        )
        == 0
    )
    return out


@pytest.fixture(scope="module")
def classifier(workdir, data_dir, finetuned_lm):
    out = workdir / "classifier"
    assert (
        run_cli(
            "train-classifier",
            "--model_name_or_path",
            finetuned_lm,
            "--dataset",
            "trec",
            "--data_dir",
            data_dir,
            "--max_train_samples",
            600,
            "--max_eval_samples",
            200,
            "--num_train_epochs",
            2,
            *QUICK_TRAINING,
            "--output_dir",
            out,
        )
        == 0
    )
    return out


def test_pretrain_writes_a_loadable_language_model_with_card(pretrained_lm):
    record = json.loads((pretrained_lm / "ulmfit_run.json").read_text())
    assert record["stage"] == "pretrain" and record["dataset"] == "wikipedia" and record["train_documents"] == 5
    assert record["tokenizer"]["kind"] == "WordLevel"
    assert record["results"]["validation"]["perplexity"] > 1
    # The held-out test split (wikipedia's last 300 articles of wiki-07, here 2 of them: --max_eval_samples 2) is
    # evaluated at the end, per token and per word.
    test = record["results"]["test"]
    assert 1 < test["perplexity"] < test["word_perplexity"] < float("inf")
    assert test["tokens_per_word"] > 1  # a word-level tokenizer splits punctuation off and adds xxbos
    log_word_perplexity = np.log(test["perplexity"]) * test["tokens_per_word"]
    assert test["word_perplexity"] == pytest.approx(np.exp(log_word_perplexity), rel=1e-6)
    model = AutoModelForCausalLM.from_pretrained(pretrained_lm)
    assert model.config.embedding_size == 16
    generate = pipeline("text-generation", model=str(pretrained_lm), device="cpu")
    assert generate("The city", max_new_tokens=3, do_sample=False)[0]["generated_text"].startswith("The city")
    card = (pretrained_lm / "README.md").read_text()
    assert "model-index" in card and "Perplexity" in card and "wikipedia" in card
    assert (
        "split: test" in card
        and "Word perplexity" in card
        and f"word_perplexity {test['word_perplexity']:.4g}" in card
    )


def test_pretrain_with_rnn_type_qrnn_gives_an_awd_qrnn_that_a_classifier_trains_on(workdir, data_dir):
    out = workdir / "pretrained-qrnn"
    assert (
        run_cli(
            "pretrain",
            "--data_dir",
            data_dir,
            "--max_files",
            1,
            "--max_train_samples",
            3,
            "--max_eval_samples",
            2,
            "--tokenizer_kind",
            "word",
            *TINY_MODEL,
            "--num_layers",
            4,
            "--rnn_type",
            "qrnn",
            "--num_train_epochs",
            1,
            "--bptt",
            24,
            *QUICK_TRAINING,
            "--output_dir",
            out,
        )
        == 0
    )
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.config.rnn_type == "qrnn" and model.config.num_layers == 4
    assert [layer.window for layer in model.awd_lstm.layers] == [2, 1, 1, 1]
    assert json.loads((out / "ulmfit_run.json").read_text())["model"]["rnn_type"] == "qrnn"
    classifier = workdir / "classifier-qrnn"
    assert (
        run_cli(
            "train-classifier",
            "--model_name_or_path",
            out,
            "--dataset",
            "trec",
            "--data_dir",
            data_dir,
            "--max_train_samples",
            200,
            "--max_eval_samples",
            50,
            "--num_train_epochs",
            1,
            *QUICK_TRAINING,
            "--output_dir",
            classifier,
        )
        == 0
    )
    trained = AutoModelForSequenceClassification.from_pretrained(classifier)
    assert trained.config.rnn_type == "qrnn"
    pretrained_bottom = model.awd_lstm.layers[0].weight
    assert not torch.equal(trained.awd_lstm.layers[0].weight, pretrained_bottom), "unfrozen and trained to the bottom"


def test_finetune_lm_extends_the_vocabulary_from_the_mean_embedding(pretrained_lm, finetuned_lm):
    record = json.loads((finetuned_lm / "ulmfit_run.json").read_text())
    added = record["tokenizer"]["added_tokens"]
    assert added > 0
    old_tokenizer, new_tokenizer = (
        AutoTokenizer.from_pretrained(pretrained_lm),
        AutoTokenizer.from_pretrained(finetuned_lm),
    )
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
    torch.testing.assert_close(new[old.shape[0] :], old.mean(0).expand(3, -1))
    assert model.decoder.weight.data_ptr() == new.data_ptr()
    torch.testing.assert_close(model.decoder.bias[old.shape[0] :], old_bias.mean().expand(3))


def test_train_classifier_transfers_the_encoder_and_reports_test_metrics(finetuned_lm, classifier, data_dir):
    record = json.loads((classifier / "ulmfit_run.json").read_text())
    assert set(record["results"]) == {"validation", "test"}
    assert [stage["stage"] for stage in record["previous_stages"]] == ["pretrain", "finetune-lm"]
    model = AutoModelForSequenceClassification.from_pretrained(classifier)
    assert list(model.config.id2label.values()) == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    assert model.config.drop_mult == 0.5 and model.config.input_dropout == 0.4
    classify = pipeline("text-classification", model=str(classifier), device="cpu")
    # The recorded test accuracy is the saved model's own on the stage's test rows (--max_eval_samples 200 of them).
    from hf_ulmfit.recipes.arguments import DataArguments
    from hf_ulmfit.recipes.corpus import load_splits

    test = load_splits(DataArguments(dataset="trec", data_dir=str(data_dir), max_eval_samples=200), labelled=True)
    test = test["test"]
    assert len(test) == 200
    names = test.features["label"].names
    predicted = [output["label"] for output in classify(list(test["text"]), batch_size=64)]
    accuracy = sum(p == names[label] for p, label in zip(predicted, test["label"])) / len(test)
    # Within 1%: the trainer batches differently, and a tiny model has near-ties that kernels break either way.
    assert record["results"]["test"]["accuracy"] == pytest.approx(accuracy, abs=0.01)
    assert classify("Who wrote Hamlet ?")[0]["label"] in model.config.id2label.values()
    card = (classifier / "README.md").read_text()
    assert "model-index" in card and "Accuracy" in card and "finetune-lm" in card


def test_evaluate_classifier_writes_metrics_and_confusion_matrix(classifier, data_dir, capsys):
    assert (
        run_cli(
            "evaluate",
            "--model_name_or_path",
            classifier,
            "--dataset",
            "trec",
            "--data_dir",
            data_dir,
            "--split",
            "test",
        )
        == 0
    )
    results = json.loads((classifier / "eval_results_trec_test.json").read_text())
    matrix = results["confusion_matrix"]
    assert len(matrix) == 6 and sum(map(sum, matrix)) == 500
    assert results["accuracy"] == pytest.approx(sum(matrix[i][i] for i in range(6)) / 500)
    assert set(results["per_class"]["HUM"]) == {"precision", "recall"}
    assert (classifier / "confusion_matrix_trec_test.png").stat().st_size > 1000
    assert "confusion matrix" in capsys.readouterr().out


def test_evaluate_ensembles_a_forward_and_a_backward_classifier(classifier, workdir, data_dir, finetuned_lm):
    backward = workdir / "backward-classifier"
    assert (
        run_cli(
            "train-classifier",
            "--tokenizer_name_or_path",
            finetuned_lm,
            "--backwards",
            "true",
            *TINY_MODEL,
            "--dataset",
            "trec",
            "--data_dir",
            data_dir,
            "--max_train_samples",
            300,
            "--max_eval_samples",
            100,
            "--num_train_epochs",
            1,
            "--gradual_unfreezing",
            "false",
            *QUICK_TRAINING,
            "--output_dir",
            backward,
        )
        == 0
    )
    assert AutoModelForSequenceClassification.from_pretrained(backward).config.backwards
    results_dir = workdir / "ensemble-results"
    assert (
        run_cli(
            "evaluate",
            "--model_name_or_path",
            classifier,
            "--backward_model_name_or_path",
            backward,
            "--dataset",
            "trec",
            "--data_dir",
            data_dir,
            "--results_dir",
            results_dir,
        )
        == 0
    )
    results = json.loads((results_dir / "eval_results_trec_test.json").read_text())
    assert results["ensemble"] is True and sum(map(sum, results["confusion_matrix"])) == 500


def test_evaluate_language_model_reports_perplexity(finetuned_lm, data_dir, workdir, capsys):
    assert (
        run_cli(
            "evaluate",
            "--model_name_or_path",
            finetuned_lm,
            "--dataset",
            "trec",
            "--data_dir",
            data_dir,
            "--split",
            "test",
            "--results_dir",
            workdir / "lm-results",
        )
        == 0
    )
    results = json.loads((workdir / "lm-results" / "eval_results_trec_test.json").read_text())
    assert results["perplexity"] == pytest.approx(torch.tensor(results["loss"]).exp().item(), rel=1e-4)
    # Per word: the loss of the split's tokens (xxbos included) over its whitespace-separated words.
    questions = load_text_dataset("trec", data_dir=data_dir)["test"]["text"][:]
    tokenizer = AutoTokenizer.from_pretrained(finetuned_lm)
    tokens_per_word = sum(map(len, tokenizer(questions)["input_ids"])) / sum(len(q.split()) for q in questions)
    assert results["tokens_per_word"] == pytest.approx(tokens_per_word, rel=1e-12)
    assert results["word_perplexity"] == pytest.approx(np.exp(results["loss"] * tokens_per_word), rel=1e-9)
    assert f"word perplexity {results['word_perplexity']:.2f}" in capsys.readouterr().out


def test_predict_and_generate_print_results(classifier, finetuned_lm, workdir, capsys):
    output_file = workdir / "predictions.jsonl"
    assert (
        run_cli(
            "predict",
            "--model_name_or_path",
            classifier,
            "--texts",
            "Who wrote Hamlet ?",
            "What is the capital of France ?",
            "--output_file",
            output_file,
        )
        == 0
    )
    predictions = [json.loads(line) for line in output_file.read_text().splitlines()]
    assert len(predictions) == 2
    assert all(sum(p["scores"].values()) == pytest.approx(1.0, abs=1e-4) for p in predictions)
    assert run_cli("generate", "--model_name_or_path", finetuned_lm, "--prompt", "What is", "--max_new_tokens", 5) == 0
    assert capsys.readouterr().out.strip().startswith("What is")


def test_tokenizer_command_trains_a_loadable_tokenizer(workdir, data_dir):
    out = workdir / "char-tokenizer"
    assert (
        run_cli(
            "tokenizer", "--dataset", "names", "--data_dir", data_dir, "--tokenizer_kind", "char", "--output_dir", out
        )
        == 0
    )
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.decode(tokenizer("Nakamura")["input_ids"], skip_special_tokens=True) == "Nakamura"


def test_recipe_file_gives_the_arguments(workdir, data_dir):
    recipe = workdir / "tokenizer.yaml"
    recipe.write_text(
        f"dataset: trec\ndata_dir: {data_dir}\ntokenizer_kind: unigram\nvocab_size: 300\n"
        f"output_dir: {workdir / 'yaml-tokenizer'}\n"
    )
    assert run_cli("tokenizer", recipe) == 0
    assert len(AutoTokenizer.from_pretrained(workdir / "yaml-tokenizer")) == 300


def test_convert_fastai_command(workdir):
    out = workdir / "converted"
    assert (
        run_cli(
            "convert-fastai",
            "--checkpoint",
            FIXTURES / "lm.pth",
            "--vocab",
            FIXTURES / "itos.pkl",
            "--output_dir",
            out,
        )
        == 0
    )
    assert AutoModelForCausalLM.from_pretrained(out).config.vocab_size == len(AutoTokenizer.from_pretrained(out))


# --- Hub uploads against a loopback server ---------------------------------------------------------------------------


def _hub_env(hub: FakeHub) -> dict:
    env = dict(os.environ, HF_ENDPOINT=hub.endpoint, HF_HUB_OFFLINE="0", HF_TOKEN="hf_loopback_token")
    env.pop("HF_HUB_DISABLE_TELEMETRY", None)
    return env


def test_push_uploads_the_model_folder_and_card(classifier):
    with FakeHub() as hub:
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "hf_ulmfit.cli.main",
                "push",
                "--folder",
                str(classifier),
                "--repo_id",
                "someone/ulmfit-trec",
            ],
            env=_hub_env(hub),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert completed.returncode == 0, completed.stderr[-3000:]
        files = hub.files["someone/ulmfit-trec"]
    assert {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "README.md",
        "modeling_awd_lstm.py",
        "configuration_awd_lstm.py",
    } <= set(files)
    assert not any(name.startswith("checkpoint-") for name in files)
    uploaded = load_file_from_bytes(files["model.safetensors"])
    local = load_file(classifier / "model.safetensors")
    assert uploaded.keys() == local.keys() and all(torch.equal(uploaded[k], local[k]) for k in local)
    card = files["README.md"].decode()
    assert card == (classifier / "README.md").read_text()
    assert "model-index" in card and "ulmfit" in card


@pytest.mark.slow
def test_push_to_hub_flag_uploads_at_the_end_of_training(workdir, data_dir, finetuned_lm):
    out = workdir / "pushed-classifier"
    with FakeHub() as hub:
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "hf_ulmfit.cli.main",
                "train-classifier",
                "--model_name_or_path",
                str(finetuned_lm),
                "--dataset",
                "trec",
                "--data_dir",
                str(data_dir),
                "--max_train_samples",
                "100",
                "--max_eval_samples",
                "50",
                "--num_train_epochs",
                "1",
                *QUICK_TRAINING,
                "--output_dir",
                str(out),
                "--push-to-hub",
                "--hub-model-id",
                "someone/pushed",
            ],
            env=_hub_env(hub),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert completed.returncode == 0, completed.stderr[-3000:]
        files = hub.files["someone/pushed"]
    assert "model.safetensors" in files and "README.md" in files
    assert json.loads(files["ulmfit_run.json"])["stage"] == "train-classifier"
    assert 'pipeline("text-classification", model="someone/pushed"' in files["README.md"].decode()


def load_file_from_bytes(data: bytes) -> dict:
    from safetensors.torch import load

    return load(data)


# --- bad input -------------------------------------------------------------------------------------------------------


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
    assert (
        run_cli(
            "train-classifier",
            "--dataset",
            "trec",
            "--data_dir",
            data_dir,
            "--label_column",
            "topic",
            "--output_dir",
            tmp_path / "c",
        )
        == 1
    )
    assert "topic" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


@pytest.mark.slow
def test_train_classifier_in_two_processes_with_the_distributed_script(tmp_path, data_dir):
    """scripts/train_distributed.sh: two real CPU ranks (accelerate launch, gloo), one output folder. Called from
    another folder with a relative --output_dir, which must be the caller's, not the repository's."""
    out = tmp_path / "ddp-classifier"
    repo = Path(__file__).resolve().parents[1]
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])  # accelerate without .venv
    completed = subprocess.run(
        [
            "bash",
            str(repo / "scripts" / "train_distributed.sh"),
            "2",
            "train-classifier",
            "--dataset",
            "trec",
            "--data_dir",
            str(data_dir),
            "--max_train_samples",
            "200",
            "--max_eval_samples",
            "100",
            "--tokenizer_kind",
            "unigram",
            "--vocab_size",
            "300",
            *TINY_MODEL,
            "--num_train_epochs",
            "2",
            "--per_device_train_batch_size",
            "8",
            "--save_strategy",
            "no",
            "--disable_tqdm",
            "true",
            "--report_to",
            "none",
            "--output_dir",
            "ddp-classifier",
        ],
        # A datasets cache of its own, so that only this run's main process can have tokenised the splits.
        env=dict(os.environ, CPU="1", PATH=path, HF_DATASETS_CACHE=str(tmp_path / "datasets-cache")),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "process 0 of 2: training on cpu" in completed.stderr
    assert "process 1 of 2: training on cpu" in completed.stderr
    assert completed.stderr.count("saved train-classifier") == 1  # only the main process writes
    # The main process trains the tokenizer and saves it; the other process loads that copy.
    assert completed.stderr.count("training a unigram tokenizer") == 1
    # The main process tokenises the three splits; the other process loads that cached result.
    assert completed.stderr.count("Tokenizing") > 0
    # Three bars, counted where each starts: tqdm may print a bar's final "100%" line twice when it closes.
    assert completed.stderr.count("Tokenizing:   0%") == 3, completed.stderr[-3000:]
    record = json.loads((out / "ulmfit_run.json").read_text())
    assert record["stage"] == "train-classifier"
    assert AutoModelForSequenceClassification.from_pretrained(out).config.num_labels == 6


# --- defaults on a new dataset: a CSV folder given as a path ---------------------------------------------------------


@pytest.fixture(scope="module")
def csv_folder(workdir, data_dir):
    """A dataset nobody prepared: train.csv and test.csv with TREC questions, written as plain CSV files."""
    import datasets
    import pyarrow.parquet as pq

    folder = workdir / "my-questions"
    folder.mkdir()
    trec = pq.read_table(data_dir / "trec" / "train.parquet").to_pylist()
    for split, rows in (("train", trec[:400]), ("test", trec[400:500])):
        table = [{"text": row["text"], "label": row["coarse_label"]} for row in rows]
        datasets.Dataset.from_list(table).to_csv(folder / f"{split}.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def scratch_classifier(workdir, csv_folder):
    out = workdir / "scratch-classifier"
    assert (
        run_cli(
            "train-classifier",
            "--dataset",
            csv_folder,
            "--vocab_size",
            300,
            *TINY_MODEL,
            "--num_train_epochs",
            1,
            *QUICK_TRAINING,
            "--output_dir",
            out,
        )
        == 0
    )
    return out


def test_from_scratch_classifier_trains_every_layer_from_the_start(scratch_classifier, csv_folder):
    record = json.loads((scratch_classifier / "ulmfit_run.json").read_text())
    assert record["base_model"] is None and record["dataset"] == csv_folder.name  # a folder name, not a local path
    assert record["training"]["gradual_unfreezing"] is False  # the stage default from scratch


def test_a_run_too_short_to_train_is_stretched_with_its_schedule(tmp_path, finetuned_lm, csv_folder, caplog):
    """360 questions are 23 batches of 16: 2 epochs are 46 steps. With --min_train_steps 80 each epoch of the recipe
    becomes 2 passes over the data (92 steps), and the epoch-end evaluations stay at the ends of those epochs."""
    from hf_ulmfit.training import ClassifierTrainer

    evaluations, original = [], ClassifierTrainer.evaluate

    def counting(self, *args, **kwargs):
        evaluations.append((kwargs.get("metric_key_prefix", "eval"), self.state.global_step))
        return original(self, *args, **kwargs)

    out = tmp_path / "stretched"
    flags = ["--model_name_or_path", finetuned_lm, "--dataset", csv_folder, "--num_train_epochs", 2]
    with pytest.MonkeyPatch.context() as patch, caplog.at_level("WARNING"):
        patch.setattr(ClassifierTrainer, "evaluate", counting)
        assert run_cli("train-classifier", *flags, *QUICK_TRAINING, "--min_train_steps", 80, "--output_dir", out) == 0
    assert evaluations == [("eval", 46), ("eval", 92), ("test", 92)]
    assert "each epoch of the recipe is 2 passes over the data (4 epochs, 92 steps" in caplog.text
    record = json.loads((out / "ulmfit_run.json").read_text())
    assert record["training"]["num_train_epochs"] == 4
    # The arguments a re-run is compared with are those given, not the stretched ones.
    assert json.loads((out / "ulmfit_arguments.json").read_text())["arguments"]["num_train_epochs"] == 2


def test_fewer_epochs_than_layer_groups_still_train_the_embedding(finetuned_lm, classifier):
    """The classifier fixture trains 2 epochs (5 layer groups): the unfreezing is spread, so the embedding trains."""
    record = json.loads((classifier / "ulmfit_run.json").read_text())
    assert record["training"]["gradual_unfreezing"] is True and record["training"]["num_train_epochs"] == 2
    language_model, trained = (
        load_file(finetuned_lm / "model.safetensors"),
        load_file(classifier / "model.safetensors"),
    )
    name = "awd_lstm.embeddings.weight"
    assert trained[name].shape == language_model[name].shape
    assert not torch.equal(trained[name], language_model[name])


def test_every_command_takes_a_dataset_given_as_a_path(workdir, csv_folder, scratch_classifier, pretrained_lm):
    # evaluate: the dataset path must not end up in the file names.
    assert (
        run_cli("evaluate", "--model_name_or_path", scratch_classifier, "--dataset", csv_folder, "--split", "test")
        == 0
    )
    results = json.loads((scratch_classifier / "eval_results_my-questions_test.json").read_text())
    assert sum(map(sum, results["confusion_matrix"])) == 100
    assert (scratch_classifier / "confusion_matrix_my-questions_test.png").stat().st_size > 1000
    # finetune-lm, then evaluate a language model, on the folder.
    lm = workdir / "folder-lm"
    assert (
        run_cli(
            "finetune-lm",
            "--model_name_or_path",
            pretrained_lm,
            "--dataset",
            csv_folder,
            "--num_train_epochs",
            1,
            "--bptt",
            24,
            *QUICK_TRAINING,
            "--output_dir",
            lm,
        )
        == 0
    )
    assert json.loads((lm / "ulmfit_run.json").read_text())["dataset"] == csv_folder.name
    assert run_cli("evaluate", "--model_name_or_path", lm, "--dataset", csv_folder, "--split", "test") == 0
    assert (lm / "eval_results_my-questions_test.json").is_file()
    # pretrain on the folder's text (its labels are ignored).
    assert (
        run_cli(
            "pretrain",
            "--dataset",
            csv_folder,
            "--vocab_size",
            200,
            *TINY_MODEL,
            "--num_train_epochs",
            1,
            "--bptt",
            16,
            *QUICK_TRAINING,
            "--output_dir",
            workdir / "folder-pretrained",
        )
        == 0
    )
    assert (
        json.loads((workdir / "folder-pretrained" / "ulmfit_run.json").read_text())["train_documents"] == 396
    )  # 1% held out
    # tokenizer (train-classifier is the scratch_classifier fixture).
    assert (
        run_cli(
            "tokenizer",
            "--dataset",
            csv_folder / "train.csv",
            "--vocab_size",
            200,
            "--output_dir",
            workdir / "folder-tokenizer",
        )
        == 0
    )
    assert len(AutoTokenizer.from_pretrained(workdir / "folder-tokenizer")) == 200


def test_several_text_columns_are_parsed_and_joined(tmp_path):
    from hf_ulmfit.cli.main import parse

    for flags in (["--text_column", "subject", "body"], ["--text_column", "subject,body"]):
        data_args = parse("train-classifier", [*flags, "--output_dir", str(tmp_path)])[1]
        assert data_args.text_column == ["subject", "body"]
    mails = tmp_path / "mails.csv"
    mails.write_text(
        "subject,body,label\n"
        + (
            "Lunch?,Shall we eat at noon?,personal\nInvoice 42,Please pay by Friday.,work\n"
            "Re: lunch,Yes noon works.,personal\nQ3 report,Numbers attached.,work\n"
        )
        * 4
    )
    from hf_ulmfit.recipes.arguments import DataArguments
    from hf_ulmfit.recipes.corpus import load_splits

    dataset = load_splits(
        DataArguments(dataset=str(mails), text_column=["subject", "body"], validation_size=4), labelled=True
    )
    texts = [text for split in ("train", "validation", "test") for text in dataset[split]["text"]]
    assert len(texts) == 16
    assert "xxfld Lunch?xxfld Shall we eat at noon?" in texts
    assert all(text.startswith("xxfld ") and text.count("xxfld") == 2 for text in texts)


# --- bad input: a clear error before training, naming what and where -------------------------------------------------


def test_single_class_data_is_refused(tmp_path, capsys):
    one_class = tmp_path / "one_class.csv"
    one_class.write_text("text,topic\n" + "".join(f"Who is person {i} ?,HUM\n" for i in range(20)))
    assert (
        run_cli(
            "train-classifier", "--dataset", one_class, "--label_column", "topic", "--output_dir", tmp_path / "out"
        )
        == 1
    )
    error = capsys.readouterr().err
    assert "Label column 'topic'" in error and "single class ('HUM')" in error
    assert not (tmp_path / "out").exists()


def test_missing_model_folders_fail_at_once_naming_them(tmp_path, csv_folder, capsys, monkeypatch):
    from hf_ulmfit.recipes.checks import looks_local

    assert (
        looks_local("./typo")
        and looks_local("/abs/typo")
        and looks_local("a/b/c")
        and looks_local(str(tmp_path / "x"))
    )
    assert not looks_local("someone/model") and not looks_local("gpt2")
    missing = tmp_path / "runs" / "clasifier"
    assert run_cli("evaluate", "--model_name_or_path", missing, "--dataset", csv_folder) == 1
    assert f"model folder '{missing}' does not exist" in capsys.readouterr().err
    assert not missing.exists()  # evaluate creates no folder for a model that is not there
    monkeypatch.chdir(tmp_path)
    commands = [
        ["predict", "--model_name_or_path", "./typo-model", "--texts", "hi"],
        ["generate", "--model_name_or_path", "./typo-model"],
        ["finetune-lm", "--model_name_or_path", "./typo-model", "--output_dir", "out"],
        ["train-classifier", "--model_name_or_path", "./typo-model", "--output_dir", "out"],
        ["train-classifier", "--tokenizer_name_or_path", "./typo-model", "--output_dir", "out"],
    ]
    for command in commands:
        assert run_cli(*command) == 1, command
        assert "'./typo-model' does not exist" in capsys.readouterr().err, command


def test_new_model_settings_with_a_language_model_are_refused(tmp_path, finetuned_lm, capsys):
    assert (
        run_cli(
            "train-classifier",
            "--model_name_or_path",
            finetuned_lm,
            "--vocab_size",
            300,
            "--embedding_size",
            8,
            "--tokenizer_kind",
            "word",
            "--output_dir",
            tmp_path / "out",
        )
        == 1
    )
    error = capsys.readouterr().err
    assert "--tokenizer_kind, --vocab_size, --embedding_size" in error and str(finetuned_lm) in error


def test_a_tokenizer_that_does_not_fit_the_model_is_refused_up_front(tmp_path, finetuned_lm, data_dir, capsys):
    mismatched = tmp_path / "mismatched-lm"
    AutoModelForCausalLM.from_pretrained(finetuned_lm).save_pretrained(mismatched)
    tokenizer = AutoTokenizer.from_pretrained(finetuned_lm)
    tokenizer.add_tokens([f"brandnewword{index}" for index in range(3)])
    tokenizer.save_pretrained(mismatched)
    vocab_size = AutoModelForCausalLM.from_pretrained(finetuned_lm).config.vocab_size
    for command in (
        ["train-classifier", "--model_name_or_path", mismatched, "--output_dir", tmp_path / "out"],
        ["evaluate", "--model_name_or_path", mismatched, "--dataset", "trec", "--data_dir", data_dir],
    ):
        assert run_cli(*command) == 1
        error = capsys.readouterr().err
        assert f"has {vocab_size + 3} tokens but the model's embedding holds {vocab_size}" in error, command


def test_truncated_or_nan_weights_are_refused(tmp_path, classifier, capsys):
    import shutil

    from safetensors.torch import save_file

    truncated = tmp_path / "truncated"
    shutil.copytree(classifier, truncated)
    weights = truncated / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    assert run_cli("predict", "--model_name_or_path", truncated, "--texts", "Who wrote Hamlet ?") == 1
    error = capsys.readouterr().err
    assert f"{weights} is not a readable safetensors file" in error and "truncated" in error

    broken = tmp_path / "nan"
    shutil.copytree(classifier, broken)
    tensors = load_file(broken / "model.safetensors")
    head_weight = next(name for name in sorted(tensors) if name.startswith("head.") and tensors[name].dim() == 2)
    tensors[head_weight][0, 0] = float("nan")
    save_file(tensors, broken / "model.safetensors", metadata={"format": "pt"})
    assert run_cli("predict", "--model_name_or_path", broken, "--texts", "Who wrote Hamlet ?") == 1
    assert "NaN or infinite values" in capsys.readouterr().err


def test_bad_data_flags_and_files_get_one_clear_line(tmp_path, capsys):
    assert run_cli("train-classifier", "--max_train_samples", 0, "--output_dir", tmp_path / "a") == 2
    assert "--max_train_samples must be at least 1, got 0" in capsys.readouterr().err

    unlabelled = tmp_path / "unlabelled.csv"
    unlabelled.write_text("text,source\n" + "".join(f"Question number {i} ?,web\n" for i in range(20)))
    assert run_cli("train-classifier", "--dataset", unlabelled, "--output_dir", tmp_path / "b") == 1
    error = capsys.readouterr().err
    assert "'label' not found" in error and "['text', 'source']" in error and "--label_column" in error

    latin1 = tmp_path / "latin1"
    latin1.mkdir()
    (latin1 / "train.csv").write_bytes(b"text,label\nfine question ?,A\ncaf\xe9 question ?,B\n")
    assert run_cli("tokenizer", "--dataset", latin1, "--output_dir", tmp_path / "c") == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"{latin1 / 'train.csv'} is not valid UTF-8 (line 3, byte 32)" in error

    one_line = tmp_path / "one_line.txt"
    one_line.write_text("A single line of text.\n")
    assert run_cli("tokenizer", "--dataset", one_line, "--output_dir", tmp_path / "d") == 1
    error = capsys.readouterr().err
    assert "has 1 row(s): too few to hold out a 'validation' split" in error and "--validation_size" in error


def test_ensembles_of_classifiers_with_different_labels_are_refused(tmp_path, classifier, data_dir, capsys):
    import shutil

    relabelled = tmp_path / "relabelled"
    shutil.copytree(classifier, relabelled)
    config = json.loads((relabelled / "config.json").read_text())
    config["id2label"]["0"] = "ABBREVIATION"
    config["label2id"] = {label: int(index) for index, label in config["id2label"].items()}
    (relabelled / "config.json").write_text(json.dumps(config))
    for command in (
        ["predict", "--texts", "Who wrote Hamlet ?"],
        ["evaluate", "--dataset", "trec", "--data_dir", data_dir, "--results_dir", tmp_path / "r"],
    ):
        assert (
            run_cli(
                command[0],
                "--model_name_or_path",
                classifier,
                "--backward_model_name_or_path",
                relabelled,
                *command[1:],
            )
            == 1
        )
        error = capsys.readouterr().err
        assert "different labels" in error and "'ABBR'" in error and "'ABBREVIATION'" in error, command


def test_generate_prompt_lookup_and_assistant_print_the_greedy_text(finetuned_lm, pretrained_lm, capsys):
    """Drafting (prompt lookup, or an assistant LM) changes the speed, not the text. The pretrained LM cannot assist
    its fine-tuned self: fine-tuning grew the vocabulary."""
    command = ["generate", "--model_name_or_path", finetuned_lm, "--prompt", "What is the city ? What is the"]
    printed = []
    for drafting in ([], ["--prompt_lookup_num_tokens", 3], ["--assistant_model", finetuned_lm]):
        assert run_cli(*command, "--max_new_tokens", 10, *drafting) == 0
        printed.append(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed[0].startswith("What is the city ?") and printed[1] == printed[0] and printed[2] == printed[0]
    refused = {  # flags -> (exit status: 2 for a value refused while parsing, 1 at run time; the message)
        ("--prompt_lookup_num_tokens", 3, "--num_beams", 2): (1, "--prompt_lookup_num_tokens drafts for one sequence"),
        ("--assistant_model", pretrained_lm, "--prompt_lookup_num_tokens", 2): (1, "not both"),
        ("--prompt_lookup_num_tokens", 0): (2, "--prompt_lookup_num_tokens must be at least 1, got 0"),
        ("--assistant_model", pretrained_lm): (1, f"--assistant_model {pretrained_lm} has a vocabulary of"),
    }
    for flags, (status, message) in refused.items():
        assert run_cli(*command, *flags) == status, flags
        assert message in capsys.readouterr().err, flags


def test_generate_keeps_the_space_between_prompt_and_continuation(finetuned_lm, capsys):
    assert (
        run_cli("generate", "--model_name_or_path", finetuned_lm, "--prompt", "What is the", "--max_new_tokens", 4)
        == 0
    )
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    model, tokenizer = AutoModelForCausalLM.from_pretrained(finetuned_lm), AutoTokenizer.from_pretrained(finetuned_lm)
    sequence = model.generate(**tokenizer("What is the", return_tensors="pt"), max_new_tokens=4, do_sample=False)[0]
    assert printed == tokenizer.decode(sequence, skip_special_tokens=True)  # read as one text, spaces and all
    assert printed.startswith("What is the")
    # The continuation decoded alone loses its leading space ("name of"); joined to the prompt it must keep it.
    from hf_ulmfit.recipes.inference import prompt_with_continuation

    prompt_ids, full_ids = tokenizer("What is the")["input_ids"], tokenizer("What is the name of")["input_ids"]
    assert full_ids[: len(prompt_ids)] == prompt_ids and tokenizer.decode(full_ids[len(prompt_ids) :]) == "name of"
    assert prompt_with_continuation(tokenizer, "What is the", prompt_ids, full_ids) == "What is the name of"


def test_one_long_document_among_short_ones_is_batched_alone(classifier):
    from hf_ulmfit.recipes.inference import class_probabilities

    short = ["Who wrote Hamlet ?", "What is the capital of France ?", "How far is the moon ?", "Name a bird ."]
    long_document = " ".join(["When did the first person walk on the moon and who was it ?"] * 1500)  # ~20k tokens
    texts = short[:2] + [long_document] + short[2:]
    together, labels = class_probabilities(str(classifier), texts, batch_size=8, max_batch_tokens=4000)
    alone = np.concatenate([class_probabilities(str(classifier), [text], 8, 4000)[0] for text in texts])
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-6)  # same predictions, in the input order


def test_predict_names_an_input_file_that_is_not_utf8(classifier, tmp_path, capsys):
    texts = tmp_path / "texts.txt"
    texts.write_bytes(b"Who wrote Hamlet ?\ncaf\xe9 ?\n")
    assert run_cli("predict", "--model_name_or_path", classifier, "--input_file", texts) == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"{texts} is not valid UTF-8 (line 2, byte 22)" in error


@pytest.mark.parametrize(
    ("module", "command", "given"),
    [
        ("pretrain", "pretrain", {}),
        ("finetune_lm", "finetune-lm", {"model_name_or_path": "some/lm"}),
        ("train_classifier", "train-classifier", {"learning_rate": 0.002}),
    ],
)
def test_python_entry_point_resolves_the_same_arguments_as_the_command(tmp_path, monkeypatch, module, command, given):
    """A stage's `main` (flags or a dict) and `hf-ulmfit STAGE` apply the same stage defaults."""
    import importlib

    from hf_ulmfit.cli.main import parse
    from hf_ulmfit.training import UlmfitTrainingArguments

    stage = importlib.import_module(f"hf_ulmfit.recipes.{module}")
    monkeypatch.setattr(stage, "run", lambda *arguments: arguments)  # what main would run, unrun
    given = {**given, "output_dir": str(tmp_path)}
    flags = [str(item) for name, value in given.items() for item in (f"--{name}", value)]
    from_command = parse(command, flags)
    assert stage.main(flags) == from_command
    assert stage.main(given) == from_command
    *_, training_args = from_command
    training_given = {name: value for name, value in given.items() if hasattr(training_args, name)}
    # Defaults that depend on the arguments (train-classifier from scratch) apply alike, under what is given.
    conditional = getattr(stage, "defaults_for", lambda *parsed: {})(*from_command)
    training_conditional = {name: value for name, value in conditional.items() if hasattr(training_args, name)}
    assert training_args == UlmfitTrainingArguments(
        **{**stage.TRAINING_DEFAULTS, **training_conditional, **training_given}
    )
    data_args = from_command[0] if module == "pretrain" else from_command[1]
    assert data_args.dataset == stage.DATA_DEFAULTS["dataset"]


def test_a_stage_evaluates_validation_once_at_its_end(tmp_path, data_dir, monkeypatch):
    """The epoch-end evaluation after the last step is the stage's validation result: the split is not read again."""
    from hf_ulmfit.training import LanguageModelTrainer

    prefixes, original = [], LanguageModelTrainer.evaluate

    def counting(self, *args, **kwargs):
        prefixes.append(kwargs.get("metric_key_prefix", "eval"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LanguageModelTrainer, "evaluate", counting)
    out = tmp_path / "lm"
    flags = ["--data_dir", data_dir, "--max_files", 1, "--max_train_samples", 5, "--max_eval_samples", 2]
    flags += ["--tokenizer_kind", "word", *TINY_MODEL, "--bptt", 24, *QUICK_TRAINING, "--output_dir", out]
    assert run_cli("pretrain", *flags, "--eval_strategy", "epoch") == 0
    assert prefixes == ["eval", "test"]  # the last epoch's validation pass, then the held-out test split
    validation = json.loads((out / "ulmfit_run.json").read_text())["results"]["validation"]
    assert validation["loss"] > 0 and validation["perplexity"] > 1 and validation["word_perplexity"] > 1
