"""A demanding user's mistakes (issue 33): each is reproduced and must end in a correct result or one line naming what
to change, with nothing overwritten or lost. Tiny models built in Python; the CLI runs in-process."""

import io
import json
import shutil
import sys

import numpy as np
import pytest
import torch
from cli_flags import QUICK_TRAINING
from safetensors.torch import load_file, save_file
from tiny_models import tiny_config

from hf_ulmfit import AwdLstmConfig, AwdLstmForCausalLM, AwdLstmForSequenceClassification
from hf_ulmfit.cli.main import main
from hf_ulmfit.data import load_text_dataset


LABELS = ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]


def run_cli(*argv) -> int:
    return main([str(arg) for arg in argv])


def one_error_line(capsys) -> str:
    """The error the CLI printed: exactly one line on stderr (besides log lines), no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("hf-ulmfit")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture(scope="module")
def classifiers(tmp_path_factory, tokenizer):
    """A forward and a backward tiny classifier folder (random weights: these tests check the plumbing)."""
    folders = {}
    for direction in ("forward", "backward"):
        torch.manual_seed(0)
        config = tiny_config(
            tokenizer,
            backwards=direction == "backward",
            id2label=dict(enumerate(LABELS)),
            label2id={name: i for i, name in enumerate(LABELS)},
        )
        folder = tmp_path_factory.mktemp(direction)
        AwdLstmForSequenceClassification(config).eval().save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        folders[direction] = folder
    return folders


@pytest.fixture(scope="module")
def language_model(tmp_path_factory, tokenizer):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("lm")
    AwdLstmForCausalLM(tiny_config(tokenizer)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def folder_digest(folder) -> dict:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


# --- 7. export keeps its input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("export_format", ["int8", "onnx"])
def test_export_refuses_to_write_into_its_source_folder(classifiers, tmp_path, capsys, export_format):
    source = tmp_path / "clas"
    shutil.copytree(classifiers["forward"], source)
    before = folder_digest(source)
    for output in (source, tmp_path / "." / "clas"):
        assert (
            run_cli("export", "--format", export_format, "--model_name_or_path", source, "--output_dir", output) == 1
        )
        error = one_error_line(capsys)
        assert "is the model folder itself" in error and "--output_dir" in error
    assert folder_digest(source) == before  # fp32 weights, README and run record untouched


def test_export_refuses_nan_weights_and_names_a_truncated_weights_file(classifiers, tmp_path, capsys):
    broken = tmp_path / "nan"
    shutil.copytree(classifiers["forward"], broken)
    tensors = load_file(broken / "model.safetensors")
    name = sorted(tensors)[0]
    tensors[name].view(-1)[0] = float("nan")
    save_file(tensors, broken / "model.safetensors", metadata={"format": "pt"})
    for export_format in ("int8", "onnx"):
        output = tmp_path / f"out-{export_format}"
        assert (
            run_cli("export", "--format", export_format, "--model_name_or_path", broken, "--output_dir", output) == 1
        )
        assert "NaN or infinite values" in one_error_line(capsys) and not output.exists()

    truncated = tmp_path / "truncated"
    shutil.copytree(classifiers["forward"], truncated)
    weights = truncated / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    assert run_cli("export", "--model_name_or_path", truncated, "--output_dir", tmp_path / "o") == 1
    error = one_error_line(capsys)
    assert f"{weights} is not a readable safetensors file" in error and "truncated" in error


# --- 8. predict keeps one result per input line ------------------------------------------------------------------


def test_predict_input_file_gives_one_result_per_line_without_the_bom(classifiers, tmp_path):
    lines = [
        "Who wrote Hamlet ?",
        "What is\u2028a line separator ?",  # U+2028, a form feed and \x1c-\x1e, \x85 are not line ends here
        "Where is\x0cthe form feed\x1c\x1d\x1e\x85 ?",
        "How far is the moon ?",
    ]
    data = "\ufeff" + "\r\n".join(lines[:2]) + "\n" + "\n".join(lines[2:]) + "\n"
    texts = tmp_path / "texts.txt"
    texts.write_bytes(data.encode("utf-8"))
    output = tmp_path / "out.jsonl"
    assert data.encode("utf-8").count(b"\n") == 4  # `wc -l`
    args = ["predict", "--model_name_or_path", classifiers["forward"], "--input_file", texts, "--output_file", output]
    assert run_cli(*args) == 0
    results = [json.loads(line) for line in output.read_text().splitlines()]
    assert [result["text"] for result in results] == lines
    # The BOM is not part of the first text: its scores are those of the text typed without it.
    alone = tmp_path / "alone.jsonl"
    assert (
        run_cli("predict", "--model_name_or_path", classifiers["forward"], "--texts", lines[0], "--output_file", alone)
        == 0
    )
    assert json.loads(alone.read_text())["scores"] == pytest.approx(results[0]["scores"], rel=1e-5)


def test_predict_input_file_dash_reads_standard_input(classifiers, tmp_path, monkeypatch):
    stdin = io.TextIOWrapper(io.BytesIO("Who wrote Hamlet ?\nWhat is the capital of France ?\n".encode()))
    monkeypatch.setattr(sys, "stdin", stdin)
    output = tmp_path / "out.jsonl"
    assert (
        run_cli(
            "predict", "--model_name_or_path", classifiers["forward"], "--input_file", "-", "--output_file", output
        )
        == 0
    )
    texts = [json.loads(line)["text"] for line in output.read_text().splitlines()]
    assert texts == ["Who wrote Hamlet ?", "What is the capital of France ?"]


# --- 9. flags and inputs that were ignored -----------------------------------------------------------------------


def test_an_ensemble_checks_which_direction_each_model_reads(classifiers, tmp_path, capsys):
    forward, backward = classifiers["forward"], classifiers["backward"]
    for first, second, named in (
        (forward, forward, "--backward_model_name_or_path"),
        (backward, forward, "--model_name_or_path"),
    ):
        assert (
            run_cli(
                "predict", "--model_name_or_path", first, "--backward_model_name_or_path", second, "--texts", "Who ?"
            )
            == 1
        )
        error = one_error_line(capsys)
        assert named in error and "model (its config says backwards=" in error
    output = tmp_path / "ok.jsonl"
    ensemble = ["--model_name_or_path", forward, "--backward_model_name_or_path", backward]
    assert run_cli("predict", *ensemble, "--texts", "Who ?", "--output_file", output) == 0
    assert json.loads(output.read_text())["label"] in LABELS


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["predict", "--model_name_or_path", "x", "--texts", "a", "--batch_size", "0"],
            "--batch_size must be at least 1, got 0",
        ),
        (
            ["predict", "--model_name_or_path", "x", "--texts", "a", "--max_batch_tokens", "-5"],
            "--max_batch_tokens must be at least 1",
        ),
        (
            ["train-classifier", "--output_dir", "o", "--classifier_bptt", "0"],
            "--classifier_bptt must be at least 1, got 0",
        ),
        (
            ["train-classifier", "--output_dir", "o", "--classifier_max_len", "0"],
            "--classifier_max_len must be at least 1, got 0",
        ),
    ],
)
def test_zero_sizes_are_refused_while_parsing(argv, message, capsys):
    assert run_cli(*argv) == 2
    assert message in one_error_line(capsys)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train-classifier", "--bptt", "36"], "--bptt 36 has no effect in train-classifier"),
        (["train-classifier", "--ar_alpha", "3"], "--ar_alpha 3.0 has no effect in train-classifier"),
        (["train-classifier", "--drop_mult", "0.3"], "--classifier_drop_mult"),
        (["train-classifier", "--hidden_size", "0"], "--hidden_size must be at least 1, got 0"),
        (["train-classifier", "--classifier_drop_mult", "10"], "--classifier_drop_mult 10.0 is too large"),
        (["pretrain", "--num_layers", "0"], "--num_layers must be at least 1, got 0"),
        (["pretrain", "--drop_mult", "10"], "--drop_mult 10.0 is too large"),
        (["pretrain", "--label_smoothing_factor", "0.1"], "--label_smoothing_factor 0.1 has no effect in pretrain"),
        (
            ["finetune-lm", "--model_name_or_path", "lm", "--label_smoothing_factor", "0.1"],
            "has no effect in finetune-lm",
        ),
        (["train-classifier", "--fp16", "true"], "--fp16 needs a GPU"),
    ],
)
def test_settings_a_stage_would_ignore_or_reject_late_are_refused_before_any_work(argv, message, tmp_path, capsys):
    output = tmp_path / "out"
    assert run_cli(*argv, "--use_cpu", "true", "--output_dir", output) in (1, 2)
    assert message in one_error_line(capsys)
    assert not output.exists()


def test_an_lm_stage_takes_label_smoothing_0_the_value_unset_means_there(tmp_path):
    from hf_ulmfit.recipes.run_folder import reject_settings_the_stage_ignores
    from hf_ulmfit.training import UlmfitTrainingArguments

    for value in (None, 0.0):
        args = UlmfitTrainingArguments(output_dir=str(tmp_path), label_smoothing_factor=value)
        reject_settings_the_stage_ignores("pretrain", args)  # no error: 0 smooths nothing, as unset does
    with pytest.raises(ValueError, match="--label_smoothing_factor 0.05 has no effect in finetune-lm"):
        args = UlmfitTrainingArguments(output_dir=str(tmp_path), label_smoothing_factor=0.05)
        reject_settings_the_stage_ignores("finetune-lm", args)


def test_a_file_that_belongs_to_no_split_is_refused(tmp_path, capsys):
    folder = tmp_path / "data"
    folder.mkdir()
    rows = [f"question {i} ?,{'AB'[i % 2]}\n" for i in range(40)]
    (folder / "train.csv").write_text("text,label\n" + "".join(rows))
    (folder / "holdout.csv").write_text("text,label\n" + "".join(rows[:10]))
    with pytest.raises(
        ValueError, match=r"holds file\(s\) that belong to no split: holdout.csv \(splits found: train\)"
    ):
        load_text_dataset(folder)
    (folder / "holdout.csv").rename(folder / "validation.csv")
    assert set(load_text_dataset(folder)) == {"train", "validation"}


def test_a_header_only_csv_names_the_file(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("text,label\n")
    with pytest.raises(ValueError, match=r"empty.csv: no rows \(a header only"):
        load_text_dataset(empty)
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "train.csv").write_text("text,label\n")
    with pytest.raises(ValueError, match=r"train.csv: no rows"):
        load_text_dataset(folder)


def test_multi_label_looking_classes_get_a_hint(tmp_path, caplog):
    from hf_ulmfit.recipes.arguments import DataArguments
    from hf_ulmfit.recipes.corpus import load_splits

    path = tmp_path / "multi.csv"
    labels = ["DESC", "HUM", "DESC|HUM", "LOC|HUM", "LOC"]
    path.write_text("text,label\n" + "".join(f"question {i} ?,{labels[i % 5]}\n" for i in range(100)))
    with caplog.at_level("WARNING"):
        dataset = load_splits(DataArguments(dataset=str(path)), labelled=True)
    assert sorted(dataset["train"].features["label"].names) == sorted(labels)
    assert "join several labels with '|'" in caplog.text and "'DESC|HUM'" in caplog.text
    caplog.clear()
    path.write_text("text,label\n" + "".join(f"question {i} ?,{'AB'[i % 2]}\n" for i in range(100)))
    with caplog.at_level("WARNING"):
        load_splits(DataArguments(dataset=str(path)), labelled=True)
    assert "several labels" not in caplog.text


def test_evaluating_two_datasets_with_one_file_stem_keeps_both_results(classifiers, tmp_path):
    results = tmp_path / "results"
    for index, name in enumerate(("a", "b")):
        folder = tmp_path / name / "questions"
        folder.mkdir(parents=True)
        rows = [f"question {i} of set {name} ?,{LABELS[(i + index) % 6]}\n" for i in range(60)]
        (folder / "train.csv").write_text("text,label\n" + "".join(rows))
        (folder / "test.csv").write_text("text,label\n" + "".join(rows[: 12 * (index + 1)]))
    for name in ("a", "b", "a"):  # evaluating a again replaces its own results only
        dataset = tmp_path / name / "questions"
        assert (
            run_cli(
                "evaluate",
                "--model_name_or_path",
                classifiers["forward"],
                "--dataset",
                dataset,
                "--results_dir",
                results,
            )
            == 0
        )
    first = json.loads((results / "eval_results_questions_test.json").read_text())
    second = json.loads((results / "eval_results_questions-2_test.json").read_text())
    assert first["dataset"].endswith("a/questions") and second["dataset"].endswith("b/questions")
    assert sum(map(sum, first["confusion_matrix"])) != sum(map(sum, second["confusion_matrix"]))
    assert sorted(path.name for path in results.glob("eval_results_*")) == [
        "eval_results_questions-2_test.json",
        "eval_results_questions_test.json",
    ]


# --- 10. several text columns ------------------------------------------------------------------------------------


def test_a_row_is_empty_only_when_all_its_text_columns_are(tmp_path):
    path = tmp_path / "mails.csv"
    path.write_text("subject,body,label\nLunch,At noon?,a\n,Pay the invoice.,b\nHello,,a\n,,b\n")
    with pytest.raises(
        ValueError, match=r"column 'subject/body': empty text \(every field blank or missing\) at row\(s\) 3\."
    ):
        load_text_dataset(path, text_column=["subject", "body"], label_column="")
    path.write_text("subject,body,label\nLunch,At noon?,a\n,Pay the invoice.,b\nHello,,a\n")
    dataset = load_text_dataset(path, text_column=["subject", "body"], label_column="")
    assert dataset["train"]["text"][:] == [
        "xxfld Lunchxxfld At noon?",
        "xxfld xxfld Pay the invoice.",
        "xxfld Helloxxfld ",
    ]


# --- 12. cards and run records -----------------------------------------------------------------------------------


def test_cards_and_run_records_name_folders_not_paths_and_record_what_the_run_did(language_model, tmp_path):
    data = tmp_path / "private" / "layout" / "mails"
    data.mkdir(parents=True)
    (data / "train.csv").write_text("text\n" + "".join(f"a message about item {i} and more .\n" for i in range(40)))
    out = tmp_path / "somewhere" / "run"
    argv = ["finetune-lm", "--model_name_or_path", language_model, "--dataset", data, "--max_steps", 2]
    assert run_cli(*argv, "--bptt", 8, "--num_train_epochs", 50, *QUICK_TRAINING, "--output_dir", out) == 0
    record = json.loads((out / "ulmfit_run.json").read_text())
    card = (out / "README.md").read_text()
    for text in (json.dumps(record), card):
        assert str(tmp_path) not in text and "/private/layout" not in text
    assert record["dataset"] == "mails" and record["base_model"] == language_model.name
    assert "output_dir" not in record
    assert record["model_name"] == "mails-awd-lstm-language-model" and "# mails-awd-lstm-language-model" in card
    assert record["trained"]["steps"] == 2 and record["trained"]["ended_by"] == "max_steps"
    assert record["training"]["max_steps"] == 2 and "num_train_epochs" not in record["training"]
    assert 0 < record["trained"]["tokens_seen"] <= 2 * 16 * 8
    assert "2 optimizer steps" in card


# --- Unclear errors ----------------------------------------------------------------------------------------------


def test_library_errors_become_one_line():
    import errno

    from huggingface_hub.errors import StrictDataclassClassValidationError

    from hf_ulmfit.cli.errors import user_error_message

    try:
        AwdLstmConfig(vocab_size=10, hidden_size=0)
    except StrictDataclassClassValidationError as error:
        assert user_error_message(error) == "AwdLstmConfig.hidden_size must be a positive integer, got 0"
    full = user_error_message(OSError(errno.ENOSPC, "No space left on device", "/out/model.safetensors"))
    assert full.startswith("no space left on the device writing /out/model.safetensors")
    writer = RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 57280 vs 57172")
    assert "is the disk full?" in user_error_message(writer)
    assert user_error_message(ConnectionError("[Errno -3] Temporary failure in name resolution")).startswith(
        "could not reach"
    )
    assert user_error_message(KeyError("bug")) is None  # a bug keeps its traceback
    assert user_error_message(ValueError("two\nlines")) == "two lines"


def test_train_distributed_script_with_one_process_runs_the_command_without_a_launcher(tmp_path):
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "train_distributed.sh"
    result = subprocess.run(["bash", str(script), "1"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "usage:" in result.stderr and "Traceback" not in result.stderr
    missing = tmp_path / "missing"
    argv = ["bash", str(script), "1", "predict", "--model_name_or_path", str(missing), "--texts", "Who ?"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"classifier folder '{missing}' does not exist" in result.stderr


def test_a_bare_name_that_is_no_folder_fails_at_once_naming_it(tmp_path, capsys, monkeypatch):
    from huggingface_hub import constants

    assert (
        run_cli("predict", "--model_name_or_path", "typo", "--texts", "Who ?") == 1
    )  # tests run with HF_HUB_OFFLINE=1
    error = one_error_line(capsys)
    assert "'typo' is no folder here" in error and "HF_HUB_OFFLINE=1" in error
    # Online, with nothing listening at the Hub's address: one look-up, then one line naming the address tried.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    assert run_cli("predict", "--model_name_or_path", "typo", "--texts", "Who ?") == 1
    error = one_error_line(capsys)
    assert "'typo' is no folder here, and looking it up on http://127.0.0.1:9 failed" in error
    assert "HF_HUB_OFFLINE=1" in error


def test_push_to_an_unreachable_hub_is_one_line(classifiers, tmp_path, capsys, monkeypatch):
    from huggingface_hub import constants

    folder = tmp_path / "clas"
    shutil.copytree(classifiers["forward"], folder)
    (folder / "README.md").write_text("card")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    assert run_cli("push", "--folder", folder, "--repo_id", "me/clas", "--token", "hf_fake") == 1
    error = one_error_line(capsys)
    assert "could not reach" in error or "the Hub refused" in error


@pytest.fixture
def silent_hub(monkeypatch):
    """A Hub address that accepts connections and never answers (a proxy that hangs), with the Hub online and the
    CLI's wait for an answer set to 2 s."""
    import socket
    import threading

    from huggingface_hub import constants

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted = []

    def accept_and_keep_quiet():
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:  # closed at the end of the test
                return

    threading.Thread(target=accept_and_keep_quiet, daemon=True).start()
    endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}"
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "0")
    monkeypatch.setenv("HF_ULMFIT_HUB_TIMEOUT", "2")
    yield endpoint
    listener.close()
    for connection in accepted:
        connection.close()


def test_a_hub_that_never_answers_fails_push_and_the_named_dataset_fallback_in_one_line(
    classifiers, tmp_path, capsys, monkeypatch, silent_hub
):
    import time

    folder = tmp_path / "clas"
    shutil.copytree(classifiers["forward"], folder)
    (folder / "README.md").write_text("card")
    start = time.monotonic()
    assert run_cli("push", "--folder", folder, "--repo_id", "me/clas", "--token", "hf_fake") == 1
    assert time.monotonic() - start < 60  # without a timeout it waits forever
    error = one_error_line(capsys)
    assert f"could not reach {silent_hub}" in error and "HF_HUB_OFFLINE=1" in error

    monkeypatch.setenv("HF_ULMFIT_DATA", str(tmp_path / "no-data-here"))
    start = time.monotonic()
    assert run_cli("train-classifier", "--dataset", "trec", "--output_dir", tmp_path / "out") == 1
    assert time.monotonic() - start < 60
    error = one_error_line(capsys)
    assert "Dataset 'trec' is not here" in error and f"CogComp/trec on {silent_hub} failed" in error
    assert "HF_HUB_OFFLINE=1" in error


def test_hub_timeout_setting_is_checked(monkeypatch):
    from hf_ulmfit.hub.network import hub_timeout_seconds

    monkeypatch.setenv("HF_ULMFIT_HUB_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="HF_ULMFIT_HUB_TIMEOUT='soon': give a number of seconds"):
        hub_timeout_seconds()
    monkeypatch.setenv("HF_ULMFIT_HUB_TIMEOUT", "0")
    with pytest.raises(ValueError, match="positive number"):
        hub_timeout_seconds()


def test_a_classifier_with_many_labels_gets_a_top_confusions_table_and_no_plot(tokenizer, tmp_path, capsys):
    labels = [f"class{index:02d}" for index in range(40)]
    torch.manual_seed(0)
    config = tiny_config(tokenizer, id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)})
    folder = tmp_path / "many"
    AwdLstmForSequenceClassification(config).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    data = tmp_path / "data"
    data.mkdir()
    rows = [f"question number {i} about {labels[i % 40]} ?,{labels[i % 40]}\n" for i in range(200)]
    (data / "train.csv").write_text("text,label\n" + "".join(rows))
    (data / "test.csv").write_text("text,label\n" + "".join(rows[:80]))
    (data / "validation.csv").write_text("text,label\n" + "".join(rows[:40]))
    assert run_cli("evaluate", "--model_name_or_path", folder, "--dataset", data, "--results_dir", tmp_path / "r") == 0
    printed = capsys.readouterr().out
    assert "most frequent confusions (true -> predicted: count)" in printed
    results = json.loads((tmp_path / "r" / "eval_results_data_test.json").read_text())
    top = results["top_confusions"]
    assert 0 < len(top) <= 20 and [item["count"] for item in top] == sorted(
        (item["count"] for item in top), reverse=True
    )
    matrix = np.asarray(results["confusion_matrix"])
    first = top[0]
    assert matrix[labels.index(first["true"]), labels.index(first["predicted"])] == first["count"]
    assert list((tmp_path / "r").glob("*.png")) == []


class _Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_a_fastai_checkpoint_with_code_is_refused_without_suggesting_weights_only_false(tmp_path):
    from hf_ulmfit.conversion.fastai import FastaiConversionError, load_fastai_state_dict

    torch.save({"0.encoder.weight": torch.zeros(2, 2), "hook": _Payload()}, tmp_path / "evil.pth")
    with pytest.raises(FastaiConversionError) as refusal:
        load_fastai_state_dict(tmp_path / "evil.pth")
    message = str(refusal.value)
    assert "refused by torch.load(weights_only=True)" in message and "could run code" in message
    assert "weights_only=False" not in message and "truncated or corrupt" not in message


def test_a_corrupt_model_onnx_is_one_line_naming_it(classifiers, tmp_path, capsys):
    onnx_folder = tmp_path / "onnx"
    assert run_cli("export", "--model_name_or_path", classifiers["forward"], "--output_dir", onnx_folder) == 0
    graph = onnx_folder / "model.onnx"
    graph.write_bytes(graph.read_bytes()[: graph.stat().st_size // 3])
    assert run_cli("predict", "--model_name_or_path", onnx_folder, "--texts", "Who wrote Hamlet ?") == 1
    error = one_error_line(capsys)
    assert f"{graph} is not a readable ONNX model" in error and "export the model again" in error
