"""Same command, same model; crashes lose nothing.

Seeded stages are bit-reproducible; a run into an existing output folder continues only an interrupted run of the same
command (anything else stops before training); a real SIGKILL mid-run or mid-save loses no more than the steps since
the newest complete checkpoint, and the resumed run ends with exactly the weights of an uninterrupted one.
"""

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from cli_flags import TINY_MODEL
from safetensors.torch import load_file

from hf_ulmfit.cli.main import main


KILLED_RUN = Path(__file__).parent / "killed_run.py"
QUIET = ["--disable_tqdm", "true", "--report_to", "none", "--use_cpu", "true", "--eval_strategy", "no"]


def pretrain_command(data_dir, out, *extra) -> list[str]:
    """8 steps over 3 Wikipedia articles (several epochs), a checkpoint every 2 steps."""
    return [
        str(arg)
        for arg in (
            "pretrain",
            "--data_dir",
            data_dir,
            "--max_files",
            1,
            "--max_train_samples",
            3,
            "--max_eval_samples",
            1,
            "--vocab_size",
            300,
            *TINY_MODEL,
            "--bptt",
            16,
            "--per_device_train_batch_size",
            4,
            "--max_steps",
            8,
            "--save_strategy",
            "steps",
            "--save_steps",
            2,
            "--logging_steps",
            1,
            *QUIET,
            "--output_dir",
            out,
            *extra,
        )
    ]


def classifier_command(data_dir, out, language_model, *extra) -> list[str]:
    """3 epochs of 4 steps with gradual unfreezing (one more layer group each epoch), a checkpoint every 2 steps;
    from scratch when `language_model` is None."""
    base_model = ["--model_name_or_path", language_model] if language_model else []
    return [
        str(arg)
        for arg in (
            "train-classifier",
            *base_model,
            "--dataset",
            "trec",
            "--data_dir",
            data_dir,
            "--max_train_samples",
            64,
            "--max_eval_samples",
            32,
            "--per_device_train_batch_size",
            16,
            "--num_train_epochs",
            3,
            "--gradual_unfreezing",
            "true",
            "--save_strategy",
            "steps",
            "--save_steps",
            2,
            "--logging_steps",
            1,
            *QUIET,
            "--output_dir",
            out,
            *extra,
        )
    ]


def killed(point: str, command: list[str]) -> subprocess.CompletedProcess:
    """Run `command` in a new process that SIGKILLs itself at `point` (see killed_run.py)."""
    completed = subprocess.run(
        [sys.executable, str(KILLED_RUN), point, *command], capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == -9, completed.stderr[-3000:]
    return completed


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "model.safetensors")


def assert_same_weights(folder: Path, reference: Path) -> None:
    ours, theirs = weights(folder), weights(reference)
    assert ours.keys() == theirs.keys()
    for name in theirs:
        assert torch.equal(ours[name], theirs[name]), f"{name} differs from {reference}"


def losses(folder: Path, checkpoint: str) -> list[tuple[int, float]]:
    history = json.loads((folder / checkpoint / "trainer_state.json").read_text())["log_history"]
    return [(entry["step"], entry["loss"]) for entry in history if "loss" in entry]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("resume")


@pytest.fixture(scope="module")
def reference_lm(workdir, data_dir) -> Path:
    """The uninterrupted pretraining run every other pretraining run here is compared with."""
    out = workdir / "reference-lm"
    assert main(pretrain_command(data_dir, out)) == 0
    return out


@pytest.fixture(scope="module")
def reference_classifier(workdir, data_dir, reference_lm) -> Path:
    out = workdir / "reference-classifier"
    assert main(classifier_command(data_dir, out, reference_lm)) == 0
    return out


# --- the same command twice ------------------------------------------------------------------------------------------


def test_same_pretrain_command_twice_gives_identical_weights(tmp_path, data_dir, reference_lm):
    assert main(pretrain_command(data_dir, tmp_path / "again")) == 0
    assert_same_weights(tmp_path / "again", reference_lm)
    assert (tmp_path / "again" / "tokenizer.json").read_text() == (reference_lm / "tokenizer.json").read_text()


@pytest.mark.slow
def test_same_classifier_command_twice_gives_identical_weights(tmp_path, data_dir, reference_lm, reference_classifier):
    # The new head (and, from scratch, the whole model and its tokenizer) is drawn from --seed.
    assert main(classifier_command(data_dir, tmp_path / "again", reference_lm)) == 0
    assert_same_weights(tmp_path / "again", reference_classifier)
    for name in ("a", "b"):
        assert main(classifier_command(data_dir, tmp_path / name, None, "--vocab_size", 300, *TINY_MODEL)) == 0
    assert_same_weights(tmp_path / "a", tmp_path / "b")


def test_another_seed_gives_other_initial_weights(tmp_path, data_dir, reference_lm):
    assert main(pretrain_command(data_dir, tmp_path / "seed1", "--max_steps", 1, "--seed", 1)) == 0
    assert main(pretrain_command(data_dir, tmp_path / "seed2", "--max_steps", 1, "--seed", 2)) == 0
    assert not torch.equal(
        weights(tmp_path / "seed1")["awd_lstm.embeddings.weight"],
        weights(tmp_path / "seed2")["awd_lstm.embeddings.weight"],
    )


# --- an existing output folder ---------------------------------------------------------------------------------------


def finished_copy(reference: Path, folder: Path) -> Path:
    shutil.copytree(reference, folder)
    return folder


def as_if_interrupted_after(folder: Path, step: int) -> None:
    """Leave `folder` as a run killed after checkpoint-`step`: no later checkpoints, no final model or record."""
    for checkpoint in folder.glob("checkpoint-*"):
        if int(checkpoint.name.split("-")[1]) > step:
            shutil.rmtree(checkpoint)
    for name in ("model.safetensors", "ulmfit_run.json"):
        (folder / name).unlink()


def test_a_finished_run_is_not_continued(tmp_path, data_dir, reference_lm, capsys):
    out = finished_copy(reference_lm, tmp_path / "finished")
    before = (out / "model.safetensors").read_bytes()
    assert main(pretrain_command(data_dir, out, "--learning_rate", "1e-3")) == 1
    error = capsys.readouterr().err
    assert (
        "finished pretrain run" in error and "--overwrite_output_dir" in error and "--resume_from_checkpoint" in error
    )
    assert main(pretrain_command(data_dir, out)) == 1  # the very same command: it finished, nothing to continue
    assert (out / "model.safetensors").read_bytes() == before
    assert sorted(path.name for path in out.glob("checkpoint-*")) == [f"checkpoint-{s}" for s in (2, 4, 6, 8)]


def test_an_interrupted_run_with_other_arguments_is_not_continued(tmp_path, data_dir, reference_lm, capsys):
    out = finished_copy(reference_lm, tmp_path / "interrupted")
    as_if_interrupted_after(out, 4)
    assert main(pretrain_command(data_dir, out, "--learning_rate", "1e-3")) == 1
    error = capsys.readouterr().err
    assert "other arguments (learning_rate: 0.005 -> 0.001)" in error and "--overwrite_output_dir" in error
    assert not (out / "model.safetensors").exists() and not (out / "checkpoint-6").exists()


def test_checkpoints_without_recorded_arguments_are_not_continued(tmp_path, data_dir, reference_lm, capsys):
    out = finished_copy(reference_lm, tmp_path / "unrecorded")
    as_if_interrupted_after(out, 4)
    (out / "ulmfit_arguments.json").unlink()
    assert main(pretrain_command(data_dir, out)) == 1
    assert "arguments were not recorded" in capsys.readouterr().err


def test_the_same_command_continues_its_interrupted_run(tmp_path, data_dir, reference_lm, caplog):
    out = finished_copy(reference_lm, tmp_path / "continued")
    as_if_interrupted_after(out, 4)
    # Logging and reporting flags may change; the training does not.
    with caplog.at_level(logging.INFO):
        assert main(pretrain_command(data_dir, out, "--logging_steps", 3, "--disable_tqdm", "false")) == 0
    assert "checkpoint-4" in caplog.text and "resuming from" in caplog.text
    assert_same_weights(out, reference_lm)


def test_overwrite_output_dir_trains_afresh(tmp_path, data_dir, reference_lm):
    out = finished_copy(reference_lm, tmp_path / "overwritten")
    assert main(pretrain_command(data_dir, out, "--max_steps", 3, "--overwrite_output_dir", "true")) == 0
    assert sorted(path.name for path in out.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-3"]
    assert main(pretrain_command(data_dir, tmp_path / "fresh", "--max_steps", 3)) == 0
    assert_same_weights(out, tmp_path / "fresh")
    assert json.loads((out / "ulmfit_arguments.json").read_text())["arguments"]["max_steps"] == 3


def test_resume_from_checkpoint_resumes_explicitly(tmp_path, data_dir, reference_lm, capsys):
    out = finished_copy(reference_lm, tmp_path / "explicit")
    (out / "model.safetensors").unlink()
    assert main(pretrain_command(data_dir, out, "--resume_from_checkpoint", out / "checkpoint-2")) == 0
    assert_same_weights(out, reference_lm)
    assert losses(out, "checkpoint-8") == losses(reference_lm, "checkpoint-8")
    missing = pretrain_command(data_dir, tmp_path / "other", "--resume_from_checkpoint", tmp_path / "no-checkpoint")
    assert main(missing) == 1
    assert "no-checkpoint" in capsys.readouterr().err


# --- kill -9 ---------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_pretraining_killed_mid_run_resumes_exactly(tmp_path, data_dir, reference_lm):
    out = tmp_path / "killed"
    command = pretrain_command(data_dir, out)
    killed("step:7", command)  # checkpoint-6 is complete; step 7 is lost
    assert sorted(path.name for path in out.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4", "checkpoint-6"]
    assert not (out / "ulmfit_run.json").exists()
    assert main(command) == 0
    assert_same_weights(out, reference_lm)
    # The resumed history is the interrupted run's (steps 1-6) and then its own, with the same losses.
    assert losses(out, "checkpoint-8") == losses(reference_lm, "checkpoint-8")


@pytest.mark.slow
def test_classifier_with_gradual_unfreezing_killed_mid_run_resumes_exactly(
    tmp_path, data_dir, reference_lm, reference_classifier
):
    out = tmp_path / "killed-classifier"
    command = classifier_command(data_dir, out, reference_lm)
    killed("step:8", command)  # mid-epoch 2 of 3; checkpoint-6 was saved halfway through epoch 2
    assert (out / "checkpoint-6" / "trainer_state.json").is_file() and not (out / "checkpoint-8").exists()
    assert main(command) == 0
    assert_same_weights(out, reference_classifier)


@pytest.mark.slow
def test_a_kill_while_saving_resumes_from_the_newest_complete_checkpoint(tmp_path, data_dir, reference_lm, caplog):
    out = tmp_path / "killed-saving"
    command = pretrain_command(data_dir, out)
    killed("save:6", command)  # checkpoint-6 holds weights and optimizer, but no trainer_state.json
    assert (out / "checkpoint-6" / "model.safetensors").is_file()
    assert not (out / "checkpoint-6" / "trainer_state.json").exists()
    with caplog.at_level(logging.INFO):
        assert main(command) == 0
    assert "skipping the incomplete checkpoint" in caplog.text and "resuming from" in caplog.text
    assert str(out / "checkpoint-4") in caplog.text
    assert_same_weights(out, reference_lm)


def test_a_checkpoint_without_its_carried_state_is_not_resumed_from(tmp_path, data_dir, reference_lm, caplog):
    """A checkpoint whose carried LM state is missing (written by a save that died before it) does not count:
    resuming from it would silently restart the stream's state from zero."""
    out = finished_copy(reference_lm, tmp_path / "no-carried-state")
    as_if_interrupted_after(out, 6)
    (out / "checkpoint-6" / "carried_state_0.safetensors").unlink()
    with caplog.at_level(logging.INFO):
        assert main(pretrain_command(data_dir, out)) == 0
    assert "skipping the incomplete checkpoint" in caplog.text and "carried_state_0.safetensors" in caplog.text
    assert f"resuming from {out / 'checkpoint-4'}" in caplog.text
    assert_same_weights(out, reference_lm)
