"""Nothing saved that is wrong: each test makes a user's mistake and checks the outcome, a correct result or a
one-line error naming what to change, with nothing overwritten or lost (issue 33, items 1-6)."""

import json
import logging
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from cli_flags import QUICK_TRAINING
from filelock import FileLock

from hf_ulmfit.cli.main import main, parse
from hf_ulmfit.data import load_text_dataset
from hf_ulmfit.models.awd_lstm import AwdLstmForCausalLM, AwdLstmForSequenceClassification
from hf_ulmfit.recipes.arguments import ModelArguments
from hf_ulmfit.recipes.checks import load_pretrained
from hf_ulmfit.recipes.model_setup import new_config
from hf_ulmfit.recipes.output_lock import LOCK_FILE, output_folder_lock
from hf_ulmfit.recipes.outputs import json_text
from hf_ulmfit.tokenization import train_tokenizer


def run_cli(*argv) -> int:
    return main([str(arg) for arg in argv])


def error_line(capsys) -> str:
    """The one line a refused command wrote (progress bars aside): its error, and no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("hf-ulmfit ")]
    assert len(lines) == 1 and ": error: " in lines[0], err
    return lines[0]


def strict_json(path: Path):
    """JSON as other languages' parsers read it: NaN and Infinity are not JSON."""

    def refuse(constant):
        raise ValueError(f"{path} holds {constant}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("safe-runs")


@pytest.fixture(scope="module")
def questions(workdir, data_dir):
    """A CSV folder of TREC questions: 65 training rows (one more than a batch of 64), validation and test."""
    trec = pd.read_parquet(data_dir / "trec" / "train.parquet").sample(n=125, random_state=0)
    trec = trec.rename(columns={"coarse_label": "label"})[["text", "label"]]
    trec = trec[trec["label"].isin(trec["label"].iloc[:65].unique())]
    folder = workdir / "questions"
    folder.mkdir()
    trec.iloc[:65].to_csv(folder / "train.csv", index=False)
    trec.iloc[65:85].to_csv(folder / "validation.csv", index=False)
    trec.iloc[85:].to_csv(folder / "test.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def language_model(workdir, questions):
    """A tiny language model folder (word tokenizer on the questions), as `pretrain` saves one."""
    texts = pd.read_csv(questions / "train.csv")["text"].tolist()
    tokenizer = train_tokenizer(texts, kind="word", vocab_size=400)
    torch.manual_seed(0)
    model = AwdLstmForCausalLM(new_config(ModelArguments(embedding_size=16, hidden_size=32, num_layers=2), tokenizer))
    folder = workdir / "lm"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def classifier(workdir, questions, language_model):
    """Item 1's repro: 65 training rows with the stage's batch of 64 leave a last batch of one document, which
    BatchNorm1d cannot normalise by itself. The run must train through it."""
    out = workdir / "classifier"
    flags = [f for f in QUICK_TRAINING]
    flags[flags.index("--per_device_train_batch_size") + 1] = "64"
    code = run_cli(
        "train-classifier",
        "--model_name_or_path",
        language_model,
        "--dataset",
        questions,
        "--num_train_epochs",
        2,
        *flags,
        "--output_dir",
        out,
    )
    assert code == 0
    return out


# ---- 1. A last batch of one document ------------------------------------------------------------------------------


def test_a_last_batch_of_one_document_trains(classifier):
    record = strict_json(classifier / "ulmfit_run.json")
    assert record["train_documents"] == 65
    assert record["training"]["per_device_train_batch_size"] == 64
    assert 0 <= record["results"]["test"]["accuracy"] <= 1 and math.isfinite(record["results"]["test"]["loss"])


def test_the_head_normalises_a_single_row_with_its_running_statistics():
    torch.manual_seed(0)
    config = new_config(ModelArguments(embedding_size=8, hidden_size=16, num_layers=1), _ToyTokenizer(), num_labels=3)
    model = AwdLstmForSequenceClassification(config).train()
    block = model.head.blocks[0]
    block.batch_norm.running_mean.fill_(0.5)
    features = torch.randn(1, 24)
    normalised = (features - 0.5) / torch.sqrt(torch.tensor(1.0 + block.batch_norm.eps))
    block.dropout.p = 0.0
    expected = block.activation(block.linear(normalised * block.batch_norm.weight + block.batch_norm.bias))
    torch.testing.assert_close(block(features), expected)
    assert block.batch_norm.running_mean.eq(0.5).all()  # one row does not move the statistics
    loss = model(input_ids=torch.tensor([[2, 5, 6, 7]]), labels=torch.tensor([1])).loss
    loss.backward()
    assert torch.isfinite(loss) and model.head.blocks[-1].linear.weight.grad.abs().sum() > 0


def test_batch_size_one_trains(workdir, questions, language_model):
    out = workdir / "batch-of-one"
    flags = [f for f in QUICK_TRAINING]
    flags[flags.index("--per_device_train_batch_size") + 1] = "1"
    code = run_cli(
        "train-classifier",
        "--model_name_or_path",
        language_model,
        "--dataset",
        questions,
        "--max_train_samples",
        6,
        "--num_train_epochs",
        1,
        *flags,
        "--output_dir",
        out,
    )
    assert code == 0
    assert math.isfinite(strict_json(out / "ulmfit_run.json")["results"]["validation"]["loss"])


class _ToyTokenizer:
    pad_token_id, bos_token_id, eos_token_id = 1, 2, 3

    def __len__(self):
        return 10


# ---- 2. Labels of any type round-trip -----------------------------------------------------------------------------


def _stored_labels(dataset) -> dict[str, str]:
    """text -> class name, for every row of every split."""
    return {
        text: split.features["label"].names[label]
        for split in dataset.values()
        for text, label in zip(split["text"], split["label"])
    }


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


@pytest.mark.parametrize(
    "kind, values, file_spelling",
    [
        ("floats", [0.5, 1.0, 1.5, 2.0, 2.5, 3.0], str),
        ("booleans", [True, False], json.dumps),
        ("mixed", [1, "spam", 2, "ham"], str),
    ],
)
def test_every_row_keeps_its_label_whatever_its_type(tmp_path, kind, values, file_spelling):
    rows = {
        split: [{"text": f"{split} text {i}", "label": values[i % len(values)]} for i in range(count)]
        for split, count in (("train", 48), ("test", 12))
    }
    for split, split_rows in rows.items():
        if kind == "floats":
            pd.DataFrame(split_rows).to_csv(tmp_path / f"{split}.csv", index=False)
        else:
            _write_jsonl(tmp_path / f"{split}.jsonl", split_rows)
    stored = _stored_labels(load_text_dataset(tmp_path))
    expected = {row["text"]: file_spelling(row["label"]) for split_rows in rows.values() for row in split_rows}
    assert stored == expected
    assert len(stored) == 60


def test_pandas_star_ratings_and_a_test_file_of_integers_agree(tmp_path):
    """pandas writes a float column of ratings as 1.0-5.0; a test file written as 1-5 reads as the same classes."""
    train = pd.DataFrame({"text": [f"review {i}" for i in range(50)], "label": [float(1 + i % 5) for i in range(50)]})
    train.to_csv(tmp_path / "train.csv", index=False)
    assert (tmp_path / "train.csv").read_text().splitlines()[1] == "review 0,1.0"
    test = pd.DataFrame({"text": [f"held out {i}" for i in range(10)], "label": [1 + i % 5 for i in range(10)]})
    test.to_csv(tmp_path / "test.csv", index=False)
    dataset = load_text_dataset(tmp_path)
    assert dataset["train"].features["label"].names == ["1.0", "2.0", "3.0", "4.0", "5.0"]
    stored = _stored_labels(dataset)
    for frame in (train, test):
        for text, label in zip(frame["text"], frame["label"]):
            assert float(stored[text]) == label


# ---- 3. Recipe files are checked as flags are ---------------------------------------------------------------------


def _recipe(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_recipe_values_are_converted_as_flags_are(tmp_path):
    recipe = _recipe(
        tmp_path,
        "recipe.yaml",
        f"output_dir: {tmp_path / 'out'}\nlearning_rate: 1e-3\ngradual_unfreezing: 'no'\n"
        "overwrite_output_dir: 'false'\nmax_steps: '12'\ntext_column: [subject, body]\nlabel_column: null\n",
    )
    *_, data_args, _, _, training_args = parse("train-classifier", [recipe])
    assert training_args.learning_rate == 0.001 and isinstance(training_args.learning_rate, float)
    assert training_args.gradual_unfreezing is False and training_args.overwrite_output_dir is False
    assert training_args.max_steps == 12
    assert data_args.text_column == ["subject", "body"] and data_args.label_column is None
    as_json = _recipe(tmp_path, "recipe.json", json.dumps({"output_dir": "x", "gradual_unfreezing": "YES"}))
    assert parse("train-classifier", [as_json])[-1].gradual_unfreezing is True


@pytest.mark.parametrize(
    "text, named",
    [
        ('{"output_dir": "x", "max_steps": "ten"}', "--max_steps"),
        ('{"output_dir": "x", "gradual_unfreezing": "maybe"}', "--gradual_unfreezing"),
        ('{"output_dir": "x", "overwrite_output_dir": "t"}', "--overwrite_output_dir"),
        ('{"output_dir": "x", "learning_rate": -1}', "--learning_rate"),
        ('{"output_dir": "x", "lerning_rate": 0.1}', "lerning_rate"),
        ('{"output_dir": "x", "max_steps": [1, 2]}', "max_steps"),
        ('{"output_dir": "x", "learning_rate": 0.1,}', "not valid JSON"),
    ],
)
def test_a_bad_recipe_value_is_one_line_naming_the_file_and_key(tmp_path, capsys, text, named):
    recipe = _recipe(tmp_path, "bad.json", text)
    assert run_cli("train-classifier", recipe) == 2
    line = error_line(capsys)
    assert str(recipe) in line and named in line
    assert not (tmp_path / "x").exists()


def test_a_string_false_in_a_recipe_keeps_the_finished_run(tmp_path, capsys, questions):
    """`"overwrite_output_dir": "false"` once deleted the previous finished run; now it means false."""
    out = tmp_path / "finished"
    out.mkdir()
    (out / "ulmfit_run.json").write_text('{"stage": "train-classifier"}')
    (out / "model.safetensors").write_bytes(b"previous weights")
    recipe = _recipe(
        tmp_path,
        "again.json",
        json.dumps({"dataset": str(questions), "output_dir": str(out), "overwrite_output_dir": "false"}),
    )
    assert run_cli("train-classifier", recipe) == 1
    assert "holds a finished" in error_line(capsys)
    assert (out / "model.safetensors").read_bytes() == b"previous weights"
    assert (out / "ulmfit_run.json").is_file()


def test_flags_take_the_same_booleans_as_recipes(tmp_path, capsys):
    assert (
        parse("train-classifier", ["--output_dir", "x", "--gradual_unfreezing", "0"])[-1].gradual_unfreezing is False
    )
    assert run_cli("train-classifier", "--output_dir", tmp_path, "--gradual_unfreezing", "y") == 2
    assert "--gradual_unfreezing" in error_line(capsys)


# ---- 4. A folder of the wrong kind --------------------------------------------------------------------------------


def test_predict_on_a_language_model_is_refused(language_model, capsys):
    assert run_cli("predict", "--model_name_or_path", language_model, "--texts", "Who wrote Hamlet ?") == 1
    line = error_line(capsys)
    assert "holds a language model" in line and "train-classifier" in line


def test_generate_and_finetune_from_a_classifier_are_refused(classifier, tmp_path, capsys):
    assert run_cli("generate", "--model_name_or_path", classifier, "--prompt", "Who wrote") == 1
    assert "holds a classifier" in error_line(capsys)
    out = tmp_path / "lm-from-classifier"
    assert run_cli("finetune-lm", "--model_name_or_path", classifier, "--output_dir", out) == 1
    assert "holds a classifier" in error_line(capsys)
    assert not out.exists()


def test_an_int8_folder_is_for_inference_only(classifier, workdir, questions, tmp_path, capsys):
    int8 = workdir / "classifier-int8"
    if not int8.exists():
        assert run_cli("export", "--model_name_or_path", classifier, "--format", "int8", "--output_dir", int8) == 0
    capsys.readouterr()
    out = tmp_path / "from-int8"
    assert run_cli("train-classifier", "--model_name_or_path", int8, "--dataset", questions, "--output_dir", out) == 1
    assert "int8 classifier" in error_line(capsys)
    assert not out.exists()
    assert run_cli("predict", "--model_name_or_path", int8, "--texts", "Who wrote Hamlet ?") == 0


def test_export_int8_of_a_language_model_is_refused(language_model, tmp_path, capsys):
    out = tmp_path / "int8"
    assert run_cli("export", "--model_name_or_path", language_model, "--format", "int8", "--output_dir", out) == 1
    assert "holds a language model" in error_line(capsys)
    assert not out.exists()


def test_a_qrnn_config_over_lstm_weights_is_refused(language_model, tmp_path, capsys):
    folder = tmp_path / "relabelled"
    shutil.copytree(language_model, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "rnn_type": "qrnn"}))
    assert run_cli("generate", "--model_name_or_path", folder, "--prompt", "Who wrote") == 1
    line = error_line(capsys)
    assert "lacks weights" in line and "'qrnn'" in line


def test_a_new_head_loads_quietly_and_a_missing_encoder_does_not(language_model, capfd):
    # transformers logs to a handler of its own (the "transformers" logger does not propagate), bound to the stderr
    # of when it was first imported: its records are read here, not from the captured stream.
    records = []
    listener = logging.Handler()
    listener.emit = records.append
    logging.getLogger("transformers").addHandler(listener)
    try:
        model = load_pretrained(
            AwdLstmForSequenceClassification,
            str(language_model),
            "language model",
            kinds=("language model",),
            new_head=True,
            num_labels=3,
        )
    finally:
        logging.getLogger("transformers").removeHandler(listener)
    messages = [record.getMessage() for record in records] + [capfd.readouterr().err]
    # Neither the load report nor transformers 5.25's tensor-parallel check, which warns that every weight of a model
    # without a TP plan went unsharded once the load report's logger is quieted (it runs when that logger's level is
    # WARNING or more).
    assert not any("LOAD REPORT" in message or "not sharded" in message for message in messages), messages
    lm = AwdLstmForCausalLM.from_pretrained(language_model)
    torch.testing.assert_close(model.awd_lstm.embeddings.weight, lm.awd_lstm.embeddings.weight)
    with pytest.raises(ValueError, match="lacks weights"):
        load_pretrained(AwdLstmForSequenceClassification, str(language_model), "classifier", num_labels=3)


# ---- 5. Diverged and empty runs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flags, named",
    [
        (["--learning_rate", "nan"], "--learning_rate"),
        (["--learning_rate", "-1"], "--learning_rate"),
        (["--learning_rate", "0"], "--learning_rate"),
        (["--num_train_epochs", "0"], "--num_train_epochs"),
        (["--discriminative_lr_factor", "0"], "--discriminative_lr_factor"),
    ],
)
def test_runs_that_cannot_train_are_refused_up_front(tmp_path, capsys, flags, named):
    out = tmp_path / "out"
    assert run_cli("train-classifier", *flags, "--output_dir", out) == 2
    assert named in error_line(capsys)
    assert not out.exists()


def test_a_diverged_run_stops_and_keeps_its_last_good_checkpoint(tmp_path, questions, language_model, capsys):
    """A weight turned NaN after step 2: the checkpoint of step 2 is not written (nor anything after it), step 1's
    stays, and the command ends with one line."""
    from hf_ulmfit.training import trainer as trainer_module

    out = tmp_path / "diverged"
    original = trainer_module.UlmfitTrainer.training_step

    def step_then_break(self, model, inputs, *args, **kwargs):
        loss = original(self, model, inputs, *args, **kwargs)
        if self.state.global_step == 1:  # the second step: its update makes the weights NaN
            for parameter in model.parameters():
                parameter.grad = torch.full_like(parameter, float("nan"))
        return loss

    flags = [f for f in QUICK_TRAINING]
    flags[flags.index("--save_strategy") + 1] = "steps"
    trainer_module.UlmfitTrainer.training_step = step_then_break
    try:
        code = run_cli(
            "train-classifier",
            "--model_name_or_path",
            language_model,
            "--dataset",
            questions,
            "--num_train_epochs",
            1,
            *flags,
            "--save_steps",
            1,
            "--max_grad_norm",
            0,
            "--output_dir",
            out,
        )
    finally:
        trainer_module.UlmfitTrainer.training_step = original
    assert code == 1
    line = error_line(capsys)
    assert "training diverged" in line and "checkpoint-1" in line and "--learning_rate" in line
    assert sorted(path.name for path in out.glob("checkpoint-*")) == ["checkpoint-1"]
    assert not (out / "ulmfit_run.json").exists() and not (out / "model.safetensors").exists()
    from safetensors.torch import load_file

    kept = load_file(out / "checkpoint-1" / "model.safetensors")
    assert all(torch.isfinite(tensor).all() for tensor in kept.values())


def test_a_non_finite_loss_stops_training(tmp_path, questions, language_model, capsys):
    out = tmp_path / "nan-loss"
    code = run_cli(
        "train-classifier",
        "--model_name_or_path",
        language_model,
        "--dataset",
        questions,
        "--num_train_epochs",
        1,
        "--learning_rate",
        "1e30",
        "--max_grad_norm",
        0,
        *QUICK_TRAINING,
        "--output_dir",
        out,
    )
    assert code == 1
    assert "training diverged" in error_line(capsys)
    assert not (out / "ulmfit_run.json").exists()


def test_json_records_hold_no_nan(tmp_path):
    path = tmp_path / "record.json"
    path.write_text(json_text({"loss": float("nan"), "scores": [1.0, float("inf")], "lr": 0.01}))
    assert strict_json(path) == {"loss": None, "scores": [1.0, None], "lr": 0.01}


# ---- 6. One run per output folder ---------------------------------------------------------------------------------


def test_a_second_run_into_a_busy_folder_is_refused(tmp_path, questions, language_model, capsys):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "model.safetensors").write_bytes(b"the first run's weights")
    with FileLock(str(out / LOCK_FILE), timeout=0):  # the first run, still training
        code = run_cli(
            "train-classifier", "--model_name_or_path", language_model, "--dataset", questions, "--output_dir", out
        )
    assert code == 1
    line = error_line(capsys)
    assert f"output folder {out} is in use" in line and "--output_dir" in line
    assert sorted(path.name for path in out.iterdir()) == [LOCK_FILE, "model.safetensors"]
    assert (out / "model.safetensors").read_bytes() == b"the first run's weights"


def test_the_lock_of_a_killed_run_is_taken_over_and_released_on_exit(tmp_path):
    folder = tmp_path / "stale"
    folder.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from filelock import FileLock; lock = FileLock(sys.argv[1]); lock.acquire(); "
            "print('held', flush=True); time.sleep(60)",
            str(folder / LOCK_FILE),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(OSError, match="in use"):
            with output_folder_lock(str(folder)):
                pass
    finally:
        holder.kill()
        holder.wait()
    assert (folder / LOCK_FILE).exists()  # left behind by the killed run
    with output_folder_lock(str(folder)):
        pass
    assert not (folder / LOCK_FILE).exists()
    assert not os.listdir(folder)


def test_a_refused_run_leaves_no_new_folder(tmp_path, capsys):
    out = tmp_path / "never-made"
    assert run_cli("train-classifier", "--model_name_or_path", tmp_path / "no-such-lm", "--output_dir", out) == 1
    capsys.readouterr()
    assert not out.exists()


def test_a_config_whose_sizes_differ_from_the_weights_is_refused(language_model, tmp_path, capsys):
    folder = tmp_path / "resized"
    shutil.copytree(language_model, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "hidden_size": 48}))
    assert run_cli("generate", "--model_name_or_path", folder, "--prompt", "Who wrote") == 1
    assert "do not fit its config.json" in error_line(capsys)


def test_quiet_loggers_raise_levels_for_the_block_only():
    import logging

    from hf_ulmfit.quiet_logging import quiet_loggers

    low, high = logging.getLogger("hf_ulmfit_test.low"), logging.getLogger("hf_ulmfit_test.high")
    low.setLevel(logging.INFO)
    high.setLevel(logging.CRITICAL)
    with quiet_loggers("hf_ulmfit_test.low", "hf_ulmfit_test.high", level=logging.WARNING):
        assert (low.level, high.level) == (logging.WARNING, logging.CRITICAL)  # one set higher stays so
    assert (low.level, high.level) == (logging.INFO, logging.CRITICAL)
    try:
        with quiet_loggers("hf_ulmfit_test.low"):
            assert low.level == logging.ERROR
            raise RuntimeError("inside")
    except RuntimeError:
        pass
    assert low.level == logging.INFO  # set back when the block raises too
